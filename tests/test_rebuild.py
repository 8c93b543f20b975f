"""A lost or damaged ledger: collect refuses to start afresh, ``ledger rebuild`` gives it back
from the archive (files, outcomes, received times, closed periods and reopenings)."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import datetime, timedelta

import pytest
from conftest import write_config
from helpers import BEFORE_DEADLINE, TZ, inbox, make_submission, stored_files

from baocao import api
from baocao.cli import main
from baocao.errors import StoreError, UsageError
from baocao.store import open_store

CLOSES = datetime(2025, 3, 10, 8, 0, tzinfo=TZ)


def snapshot(dep: api.Deployment) -> dict:
    """Everything a rebuild must give back, independent of ledger ids."""
    with open_store(dep.settings) as store:
        files = sorted(
            (
                f.sha256,
                f.original_name,
                f.inbox_path,
                f.received_at,
                f.status,
                f.unit,
                f.period,
                f.archive_path,
            )
            for f in store.files()
        )
        values = {u: s.values for u, s in store.current_submissions("2025-Q1").items()}
    statuses = [(r.unit.code, r.status, r.received_at, r.corrected) for r in api.status(dep, "2025-Q1")]
    return {"files": files, "values": values, "status": statuses}


def remove_ledger(dep: api.Deployment) -> None:
    for suffix in ("", "-wal", "-shm"):
        path = dep.settings.path("ledger").with_name(dep.settings.path("ledger").name + suffix)
        path.unlink(missing_ok=True)


def cli(config, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--config", str(config), *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_a_lost_ledger_stops_collect_and_is_rebuilt_from_the_archive(tmp_path):
    config = write_config(tmp_path, extra='[mail]\ncoordinators = ["cchc@snv.langson.example"]\n')
    dep = api.load_deployment(config)
    box = inbox(dep)
    first = make_submission(dep, "DT_TG", "2025-Q1", box / "Báo cáo quý I.xlsx", tin_bai_cong_ttdt=13)
    (box / "ban sao.xlsx").write_bytes(first.read_bytes())  # the same bytes twice: a duplicate
    make_submission(dep, "NV_VP", "2025-Q1", box / "nv_vp.xlsx", luot_tap_huan=35, lop_tap_huan=0)
    (box / "hong.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    before = api.run_due(dep, now=BEFORE_DEADLINE)  # collects, and mails feedback to NV_VP
    assert any(key.startswith("feedback|") for key in before.sent)
    make_submission(dep, "DT_TG", "2025-Q1", box / "sua.xlsx", tin_bai_cong_ttdt=21)
    api.collect(dep, now=datetime(2025, 3, 9, 10, 0, tzinfo=TZ))
    make_submission(dep, "DT_TG", "2025-Q1", box / "sau-khoa.xlsx", tin_bai_cong_ttdt=34)
    api.collect(dep, now=CLOSES + timedelta(days=2))  # kept: the period had closed
    api.reopen(dep, "2025-Q1", "DT_TG", now=CLOSES + timedelta(days=3))
    api.collect(dep, now=CLOSES + timedelta(days=3, hours=1))  # let in on purpose
    expected = snapshot(dep)
    assert expected["values"]["DT_TG"]["tin_bai_cong_ttdt"] == 34

    new = make_submission(dep, "DT_VP", "2025-Q1", tmp_path / "moi.xlsx")
    remove_ledger(dep)
    new.rename(box / "moi.xlsx")
    with pytest.raises(StoreError, match="ledger rebuild"):
        api.collect(dep, now=CLOSES + timedelta(days=4))
    for command in (["collect"], ["run-due"], ["status", "--period", "2025-Q1"]):
        code, _, err = cli(config, *command)
        assert code == 2 and "Không tìm thấy sổ theo dõi" in err and "baocao ledger rebuild" in err
    assert (box / "moi.xlsx").exists() and not dep.settings.path("ledger").exists()

    code, out, _ = cli(config, "ledger", "rebuild", "--now", "2025-03-14T09:00")
    assert code == 0 and "Đã dựng lại sổ theo dõi" in out and "Đã áp dụng lại 1 lần mở lại kỳ" in out
    assert snapshot(dep) == expected

    report = api.run_due(dep, now=datetime(2025, 3, 14, 10, 0, tzinfo=TZ))
    assert not any(key.startswith("feedback|") and "NV_VP" in key for key in report.sent)  # not again
    assert [r.name for r in report.collected.results] == ["moi.xlsx"]


def test_a_readable_ledger_is_rebuilt_only_on_purpose_and_the_old_one_is_kept(config_file, deployment):
    make_submission(deployment, "DT_TG", "2025-Q1", inbox(deployment) / "a.xlsx")
    api.collect(deployment, now=BEFORE_DEADLINE)
    with pytest.raises(UsageError, match="--force"):
        api.ledger_rebuild(deployment)
    result = api.ledger_rebuild(deployment, now=BEFORE_DEADLINE + timedelta(days=1), force=True)
    assert result.old_ledger is not None and result.old_ledger.exists()
    assert result.counts == {"accepted": 1}
    assert [f.status for f in stored_files(deployment)] == ["accepted"]


def test_a_damaged_ledger_gets_a_clear_message_and_can_be_rebuilt(config_file, deployment):
    make_submission(deployment, "DT_TG", "2025-Q1", inbox(deployment) / "a.xlsx")
    api.collect(deployment, now=BEFORE_DEADLINE)
    remove_ledger(deployment)
    deployment.settings.path("ledger").write_bytes(b"\x00garbage" * 512)
    code, _, err = cli(config_file, "status", "--period", "2025-Q1")
    assert code == 2 and "bị hỏng" in err and "lỗi không lường trước" not in err
    code, _, _ = cli(config_file, "ledger", "rebuild")  # unreadable: no --force needed
    assert code == 0
    assert [(f.status, f.unit) for f in stored_files(deployment)] == [("accepted", "DT_TG")]


def test_an_archive_made_before_the_journal_is_rebuilt_from_names_and_times(deployment, tmp_path):
    made = make_submission(deployment, "DT_TG", "2025-Q1", tmp_path / "x.xlsx")
    data = made.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    day = deployment.settings.path("archive") / "2025-03-08"  # as baocao 0.1 archived it
    day.mkdir(parents=True)
    copy = day / f"{digest[:12]}_bao-cao-dt-tg.xlsx"
    copy.write_bytes(data)
    os.utime(copy, (BEFORE_DEADLINE.timestamp(), BEFORE_DEADLINE.timestamp()))
    result = api.ledger_rebuild(deployment)
    assert result.counts == {"accepted": 1}
    [rec] = stored_files(deployment)
    assert (rec.original_name, rec.received_at, rec.sha256) == ("bao-cao-dt-tg.xlsx", BEFORE_DEADLINE, digest)
