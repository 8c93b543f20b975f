"""Feedback workbooks on disk: one name per workbook, never half a file, durable before recorded.

Where one call flushes a whole file system (Linux ``syncfs``), the workers write feedback
workbooks without an fsync each and ``FeedbackWriter.finished`` syncs them, and their folders,
before it hands any path back to be recorded; a batch that cannot be synced is not recorded.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import openpyxl
import pytest
from helpers import make_submission

from baocao.files import TEMP_PREFIX
from baocao.model import Issue, Severity
from baocao.workbook import feedback, feedback_writer
from baocao.workbook.feedback import ISSUES_SHEET, FeedbackJob, IssuesPage, write_feedback
from baocao.workbook.feedback_writer import FeedbackWriter
from baocao.workers import Inline

ISSUE = Issue(Severity.ERROR, "required", "Ô D13 (Người lập biểu): chưa nhập", "nguoi_lap", "BaoCao", "D13")
PAGE = IssuesPage("Kết quả kiểm tra", sheet="BaoCao")


def job(deployment, tmp_path: Path, unit: str) -> FeedbackJob:
    path = make_submission(deployment, unit, "2025-Q1", tmp_path / f"{unit}.xlsx")
    out = tmp_path / "phan-hoi" / "2025-Q1" / f"{unit}_phan-hoi.xlsx"
    return FeedbackJob(path.name, path, None, [ISSUE], out, PAGE, None)  # type: ignore[arg-type]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="one syncfs per batch: Linux")
def test_the_batch_is_synced_once_before_any_path_is_handed_back(deployment, tmp_path, monkeypatch):
    jobs = [job(deployment, tmp_path, unit) for unit in ("DT_TG", "DT_VP")]
    written: list[FeedbackJob] = []
    synced: list[set[Path]] = []

    def write(item: FeedbackJob) -> Path:
        written.append(item)
        return feedback.write_feedback_job(item)

    def sync(folders, file_system):
        folders = set(folders)
        assert all(f.is_file() for folder in folders for f in folder.iterdir())  # all written first
        synced.append(folders)
        real_sync(folders, file_system)

    real_sync = feedback_writer.sync_folders
    monkeypatch.setattr(feedback_writer, "sync_folders", sync)
    with FeedbackWriter(1, 30, pool=Inline(write)) as writer:
        for item in jobs:
            writer.submit(item, item.original_name)
        assert synced == []  # not yet: only when the paths are asked for
        done = dict(writer.finished())
    assert [item.sync for item in written] == [False, False]  # no fsync each in the workers
    assert synced == [{jobs[0].out.parent}]
    assert done == {item.original_name: item.out for item in jobs}
    for item in jobs:
        assert openpyxl.load_workbook(item.out).sheetnames[0] == ISSUES_SHEET


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="one syncfs per batch: Linux")
def test_a_batch_that_cannot_be_made_durable_is_not_recorded(deployment, tmp_path, monkeypatch, caplog):
    item = job(deployment, tmp_path, "DT_TG")

    def disk_gone(folders, file_system):
        raise OSError(errno.EIO, "Input/output error", str(next(iter(folders))))

    monkeypatch.setattr(feedback_writer, "sync_folders", disk_gone)
    with FeedbackWriter(1, 30, pool=Inline(feedback.write_feedback_job)) as writer:
        writer.submit(item, "ket-qua")
        assert list(writer.finished()) == [("ket-qua", None)]
    assert "Không lưu chắc chắn được các tệp phản hồi" in caplog.text


def test_a_job_outside_a_batch_is_fsynced_by_its_writer(deployment, tmp_path, monkeypatch):
    item = job(deployment, tmp_path, "DT_TG")
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    assert feedback.write_feedback_job(item) == item.out  # e.g. checking a file by hand: sync=True
    assert synced


def test_names_stay_unique_without_hard_links(deployment, tmp_path, monkeypatch):
    """On a file system without hard links (FAT, some shares) the name is claimed by creating
    it exclusively, and the same rules hold: a new name for other content, the same file for
    the same content, no temporary file left behind."""
    source = make_submission(deployment, "DT_TG", "2025-Q1", tmp_path / "bad.xlsx")

    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    out = tmp_path / "fb" / "DT_TG_2025-Q1_phan-hoi_20250308-0900.xlsx"
    first = write_feedback(source, None, [ISSUE], out, page=PAGE)
    other = write_feedback(source, None, [ISSUE, ISSUE], out, page=PAGE)
    again = write_feedback(source, None, [ISSUE], out, page=PAGE)
    assert (first, other.name, again) == (out, "DT_TG_2025-Q1_phan-hoi_20250308-0900-2.xlsx", out)
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([out.name, other.name])
    assert openpyxl.load_workbook(other)[ISSUES_SHEET]["C5"].value == "D13"


def test_no_temporary_file_is_left_and_the_file_is_readable_by_others(deployment, tmp_path):
    source = make_submission(deployment, "DT_TG", "2025-Q1", tmp_path / "bad.xlsx")
    out = write_feedback(source, None, [ISSUE], tmp_path / "fb" / "a.xlsx", page=PAGE)
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(TEMP_PREFIX)] == []
    assert out.stat().st_nlink == 1  # the temporary name is gone, the file stays
    if os.name == "posix":
        mask = os.umask(0o022)
        os.umask(mask)
        assert out.stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.skipif(sys.platform.startswith("win"), reason="symbolic links need privileges on Windows")
def test_a_feedback_path_never_leads_outside_the_feedback_folder(deployment, tmp_path):
    """The feedback workbook goes to ``feedback/<period>/<name>``; a period folder that is a
    link to elsewhere is refused, as a name within it would be."""
    from datetime import datetime

    from baocao.judge.context import judging_context
    from baocao.judge.reader import read_workbook
    from baocao.judge.validate import validate
    from baocao.model import FileRecord
    from baocao.workbook.answer import feedback_job

    path = make_submission(deployment, "DT_TG", "2025-Q1", tmp_path / "a.xlsx", nguoi_lap=None)
    raw = read_workbook(path, deployment.catalog.layouts())
    received = datetime(2025, 3, 5, 9, 30, tzinfo=deployment.settings.timezone)
    outcome = validate(raw, judging_context(deployment, raw, received.date(), None))
    assert outcome.issues and outcome.period == "2025-Q1"
    rec = FileRecord("", path.name, "", "", 0, received)
    root = deployment.settings.path("feedback")
    made = feedback_job(deployment, rec, raw, outcome, path)
    assert made.out.parent == root / "2025-Q1" and made.out.name.startswith("DT_TG_2025-Q1_phan-hoi_")
    root.mkdir(parents=True, exist_ok=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "2025-Q1").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(ValueError, match="outside"):
        feedback_job(deployment, rec, raw, outcome, path)
