"""One bad file costs that file only; what stops every file stops the run with a clear message;
feedback workbooks are written within bounds of time and memory."""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import openpyxl
import pytest
from conftest import write_config
from helpers import (
    BEFORE_DEADLINE,
    by_name,
    current,
    die,
    hog,
    inbox,
    make_submission,
    nap,
    slow_feedback,
    stored_files,
)

from baocao import api, judging
from baocao.cli import main
from baocao.errors import StoreError
from baocao.judge.reader import read_workbook
from baocao.model import Issue, Severity
from baocao.store.ledger import Ledger
from baocao.workbook.feedback import ISSUES_SHEET, FeedbackJob, IssuesPage
from baocao.workbook.feedback_writer import FeedbackWriter, unpacked_size
from baocao.workbook.xlsxzip import declared_size
from baocao.workers import BoundedPool, Failed


def test_an_error_while_judging_one_file_costs_that_file_only(config_file, deployment, monkeypatch):
    box = inbox(deployment)
    make_submission(deployment, "DT_TG", "2025-Q1", box / "loi.xlsx")
    make_submission(deployment, "NV_VP", "2025-Q1", box / "tot.xlsx")
    validate = judging.validate

    def breaks_on_dt_tg(raw, context):  # a bug that one unit's file happens to trigger
        if raw.meta.get("unit") == "DT_TG":
            raise ValueError("Exceeds the limit (4300 digits) for integer string conversion")
        return validate(raw, context)

    monkeypatch.setattr(judging, "validate", breaks_on_dt_tg)
    out = io.StringIO()
    code = main(["--config", str(config_file), "collect", "--now", "2025-03-08T09:00"], out=out)
    monkeypatch.undo()
    assert code == 1 and "lỗi xử lý" in out.getvalue()
    files = {f.inbox_path: f for f in stored_files(deployment)}
    assert files["tot.xlsx"].status == "accepted" and set(current(deployment)) == {"NV_VP"}
    failed = files["loi.xlsx"]
    assert failed.status == "failed" and failed.issues[0].code == "internal_error"
    assert "ValueError" in failed.issues[0].message and "chưa cần gửi lại" in failed.issues[0].message
    assert api.collect(deployment, now=BEFORE_DEADLINE).results == []  # not retried on every run
    out = io.StringIO()
    main(["--config", str(config_file), "status", "--period", "2025-Q1"], out=out)
    assert "1 tệp chương trình gặp lỗi khi xử lý" in out.getvalue() and "loi.xlsx" in out.getvalue()


def test_an_error_while_recording_one_outcome_undoes_that_file_only(deployment, monkeypatch):
    box = inbox(deployment)
    make_submission(deployment, "DT_TG", "2025-Q1", box / "a.xlsx")
    make_submission(deployment, "NV_VP", "2025-Q1", box / "b.xlsx")
    record = Ledger.record_outcome

    def store_fails_for_dt_tg(self, file_id, **kw):
        if kw.get("unit") == "DT_TG" and kw["status"] == "accepted":
            record(self, file_id, **kw)  # written, then the rest of the file's work fails
            raise TypeError("cannot store Decimal in the ledger")
        return record(self, file_id, **kw)

    monkeypatch.setattr(Ledger, "record_outcome", store_fails_for_dt_tg)
    results = by_name(api.collect(deployment, now=BEFORE_DEADLINE))
    monkeypatch.undo()
    assert (results["a.xlsx"].status, results["b.xlsx"].status) == ("failed", "accepted")
    assert set(current(deployment)) == {"NV_VP"}  # DT_TG's half-written submission was undone


def test_feedback_that_cannot_be_written_costs_the_feedback_not_the_verdict(tmp_path):
    config = write_config(tmp_path)
    dep = api.load_deployment(config)
    dep.settings.path("feedback").parent.mkdir(parents=True, exist_ok=True)
    dep.settings.path("feedback").write_bytes(b"a file where the feedback folder should be")
    make_submission(dep, "DT_TG", "2025-Q1", inbox(dep) / "a.xlsx", luot_tap_huan=35, lop_tap_huan=0)
    [result] = api.collect(dep, now=BEFORE_DEADLINE).results
    assert result.status == "rejected" and result.feedback is None
    assert stored_files(dep)[0].status == "rejected"


def test_an_unwritable_archive_stops_the_run_with_a_clear_message_and_loses_nothing(config_file, deployment):
    archive = deployment.settings.path("archive")
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(b"")  # a file where the archive folder should be (or a share not mounted)
    path = make_submission(deployment, "DT_TG", "2025-Q1", inbox(deployment) / "a.xlsx")
    with pytest.raises(StoreError, match="Không ghi được vào thư mục lưu trữ"):
        api.collect(deployment, now=BEFORE_DEADLINE)
    err = io.StringIO()
    code = main(["--config", str(config_file), "collect"], out=io.StringIO(), err=err)
    assert code == 2 and "thư mục lưu trữ" in err.getvalue() and "đọc" not in err.getvalue()
    assert path.exists() and stored_files(deployment) == []


# --- bounded workers ----------------------------------------------------------------------------


def test_a_job_over_its_time_is_stopped_and_the_next_job_still_runs():
    started = time.monotonic()
    with BoundedPool(nap, size=1, timeout=1.0) as pool:
        pool.submit("slow", 60)
        pool.submit("quick", 0.01)
        answers = dict(pool.results())
    assert isinstance(answers["slow"], Failed) and "quá 1 giây" in answers["slow"].reason
    assert answers["quick"] == 0.01
    assert time.monotonic() - started < 30


def test_a_worker_that_dies_costs_its_job_only():
    with BoundedPool(die, size=1, timeout=30) as pool:
        pool.submit("a", 3)
        [(tag, answer)] = list(pool.results())
    assert tag == "a" and isinstance(answer, Failed) and "dừng bất thường" in answer.reason


@pytest.mark.skipif(sys.platform != "linux", reason="address-space limit of a worker (POSIX)")
def test_a_job_over_its_memory_fails_inside_its_worker():
    with BoundedPool(hog, size=1, timeout=30, memory_bytes=512 * 2**20) as pool:
        pool.submit("big", 2048)
        pool.submit("small", 8)
        answers = dict(pool.results())
    assert isinstance(answers["big"], Failed) and "bộ nhớ" in answers["big"].reason
    assert answers["small"] == 8 * 2**20


def feedback_job(dep, tmp_path: Path, name: str) -> FeedbackJob:
    path = make_submission(dep, "DT_TG", "2025-Q1", tmp_path / name)
    book = openpyxl.load_workbook(path)
    book["BaoCao"]["B9"].comment = openpyxl.comments.Comment("ghi chú của đơn vị", "Đơn vị")
    book.save(path)  # a sheet with a comment: not patched in place, openpyxl in a worker
    raw = read_workbook(path, dep.catalog.layouts())
    issue = Issue(
        Severity.ERROR, "required", "Ô D12 (Người lập biểu): chưa nhập", "nguoi_lap", "BaoCao", "D12"
    )
    page = IssuesPage("Kết quả kiểm tra", sheet="BaoCao")
    return FeedbackJob(name, path, raw, [issue], tmp_path / "out" / name, page, None)


def test_a_feedback_workbook_that_takes_too_long_becomes_the_list_of_issues(deployment, tmp_path):
    job = feedback_job(deployment, tmp_path, "cham.xlsx")
    started = time.monotonic()
    with FeedbackWriter(1, timeout=1.0, write=slow_feedback) as writer:
        writer.submit(job, "result")
        [(result, path)] = list(writer.finished())
    assert time.monotonic() - started < 30  # not the two minutes the job wanted
    assert result == "result" and path == job.out
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [ISSUES_SHEET] and book[ISSUES_SHEET]["C4"].value == "D12"


def test_a_workbook_too_large_to_mark_up_gets_the_list_of_issues_without_a_worker(deployment, tmp_path):
    job = feedback_job(deployment, tmp_path, "lon.xlsx")
    with FeedbackWriter(1, timeout=30, markup_max_unpacked=1024) as writer:
        writer.submit(job, "result")
        [(_, path)] = list(writer.finished())
        assert writer.pool is None
    assert path is not None and openpyxl.load_workbook(path).sheetnames == [ISSUES_SHEET]


def test_the_size_a_worker_found_decides_without_opening_the_file_again(deployment, tmp_path):
    """A job whose maker held the source's bytes carries their inflated size: the writer goes by
    it (here a size under the limit, so the workbook is marked up although the file is larger)."""
    job = feedback_job(deployment, tmp_path, "da-do.xlsx")
    assert declared_size(job.source.read_bytes()) == unpacked_size(job.source) > 1024
    job.unpacked = 10
    with FeedbackWriter(1, timeout=60, markup_max_unpacked=1024) as writer:
        writer.submit(job, "result")
        [(_, path)] = list(writer.finished())
        assert writer.pool is not None
    assert path is not None and "BaoCao" in openpyxl.load_workbook(path).sheetnames


def test_declared_size_reads_what_zipfile_reads(tmp_path):
    """The inflated size from a zip in memory is the one ``zipfile`` sums, for workbooks saved by
    LibreOffice too; anything that is not a plain zip is left to be measured on disk."""
    for path in sorted((Path(__file__).parent / "fixtures" / "libreoffice").glob("*.xlsx")):
        assert declared_size(path.read_bytes()) == unpacked_size(path), path.name
    ods = Path(__file__).parent / "fixtures" / "libreoffice" / "DT_TG_2025-Q1_saved_by_libreoffice.ods"
    assert declared_size(ods.read_bytes()) == unpacked_size(ods)
    assert declared_size(b"not a zip") is None
    xls = Path(__file__).parent / "fixtures" / "libreoffice" / "DT_TG_2025-Q1_saved_by_libreoffice.xls"
    assert declared_size(xls.read_bytes()) is None


def test_a_marked_up_workbook_through_a_worker(deployment, tmp_path):
    job = feedback_job(deployment, tmp_path, "binh-thuong.xlsx")
    with FeedbackWriter(1, timeout=60) as writer:
        writer.submit(job, "result")
        [(_, path)] = list(writer.finished())
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[0] == ISSUES_SHEET and "BaoCao" in book.sheetnames
    assert book["BaoCao"]["D12"].comment is not None
    assert os.path.getsize(path) > 0
