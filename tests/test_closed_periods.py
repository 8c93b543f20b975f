"""After its final summary a period is closed: later files are kept and shown, but replace
nothing until the coordinator reopens the period for that unit (``baocao reopen``)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from helpers import BEFORE_DEADLINE, TZ, current, inbox, make_submission, stored_files

from baocao import api
from baocao.cli import main
from baocao.errors import UsageError

CLOSES = datetime(2025, 3, 10, 8, 0, tzinfo=TZ)  # 2025-Q1: due before 10/03, final summary a day later


def test_the_period_closes_at_the_final_summary_moment(deployment):
    assert deployment.closes_at(deployment.period("2025-Q1")) == CLOSES


def test_a_file_after_the_final_summary_is_kept_and_replaces_nothing_until_reopened(
    config_file, deployment, monkeypatch
):
    box = inbox(deployment)
    make_submission(deployment, "DT_TG", "2025-Q1", box / "v1.xlsx", tin_bai_cong_ttdt=13)
    api.collect(deployment, now=BEFORE_DEADLINE)
    # a year later the unit sends the old period again (last year's file, re-sent by mistake)
    make_submission(deployment, "DT_TG", "2025-Q1", box / "v2.xlsx", tin_bai_cong_ttdt=21)
    [kept] = api.collect(deployment, now=CLOSES + timedelta(days=300)).results
    assert kept.status == "locked" and kept.issues[-1].code == "period_locked"
    assert "đã khóa sổ từ 08:00 10/03/2025" in kept.issues[-1].message
    assert current(deployment)["DT_TG"].values["tin_bai_cong_ttdt"] == 13
    status = {r.unit.code: r for r in api.status(deployment, "2025-Q1")}
    assert status["DT_TG"].status == "on_time" and status["DT_TG"].files == 1

    out = io.StringIO()
    monkeypatch.setenv("COLUMNS", "120")
    assert main(["--config", str(config_file), "status", "--period", "2025-Q1"], out=out) == 0
    assert "1 tệp gửi sau khi kỳ đã khóa sổ" in out.getvalue() and "v2.xlsx" in out.getvalue()
    assert max(len(line) for line in out.getvalue().splitlines()) <= 120  # the list fits as the table does

    out = io.StringIO()
    args = ["--config", str(config_file), "reopen", "--period", "2025-Q1", "--unit", "DT_TG"]
    assert main([*args, "--now", "2026-01-05T09:00"], out=out) == 0
    assert "Tệp 'v2.xlsx'" in out.getvalue() and "lần thu nhận tới" in out.getvalue()
    [let_in] = api.collect(deployment, now=CLOSES + timedelta(days=301)).results
    assert let_in.name == "v2.xlsx" and let_in.status == "accepted"
    assert current(deployment)["DT_TG"].values["tin_bai_cong_ttdt"] == 21
    assert api.locked(deployment, "2025-Q1") == []

    make_submission(deployment, "DT_TG", "2025-Q1", box / "v3.xlsx", tin_bai_cong_ttdt=34)
    [again] = api.collect(deployment, now=CLOSES + timedelta(days=302)).results
    assert again.status == "locked"  # one reopening lets one file in
    assert current(deployment)["DT_TG"].values["tin_bai_cong_ttdt"] == 21


def test_a_first_report_after_the_final_summary_is_accepted_as_late(deployment):
    make_submission(deployment, "NV_VP", "2025-Q1", inbox(deployment) / "a.xlsx")
    [result] = api.collect(deployment, now=CLOSES + timedelta(days=2)).results
    assert result.status == "accepted"  # it replaces nothing: the unit had no report
    status = {r.unit.code: r for r in api.status(deployment, "2025-Q1")}
    assert status["NV_VP"].status == "late"


def test_a_reopening_with_nothing_kept_lets_the_units_next_file_in(deployment):
    box = inbox(deployment)
    make_submission(deployment, "DT_TG", "2025-Q1", box / "v1.xlsx", tin_bai_cong_ttdt=13)
    api.collect(deployment, now=BEFORE_DEADLINE)
    result = api.reopen(deployment, "2025-Q1", "DT_TG", now=CLOSES + timedelta(days=5))
    assert result.file is None
    make_submission(deployment, "DT_TG", "2025-Q1", box / "v2.xlsx", tin_bai_cong_ttdt=21)
    [late] = api.collect(deployment, now=CLOSES + timedelta(days=6)).results
    assert late.status == "accepted"
    assert current(deployment)["DT_TG"].values["tin_bai_cong_ttdt"] == 21


def test_reopen_is_refused_for_a_period_still_open_and_for_an_unknown_unit(deployment, config_file):
    with pytest.raises(UsageError, match="chưa khóa sổ"):
        api.reopen(deployment, "2025-Q1", "DT_TG", now=BEFORE_DEADLINE)
    err = io.StringIO()
    args = ["--config", str(config_file), "reopen", "--period", "2025-Q1", "--unit", "KHONG_CO"]
    assert main([*args, "--now", "2025-04-01T09:00"], out=io.StringIO(), err=err) == 2
    assert "KHONG_CO" in err.getvalue()
    assert stored_files(deployment) == []
