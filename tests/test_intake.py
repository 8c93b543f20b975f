"""The shared-folder intake, through real collects on a real inbox: what is taken, when it is
deemed received, what is refused before it is opened, and when an original may be deleted."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers import (
    BEFORE_DEADLINE,
    TZ,
    by_name,
    current,
    deployment_with,
    inbox,
    make_submission,
    stored_files,
    undeletable,
)

from baocao import api
from baocao.intake.folder import FolderIntake, display_name, received_time
from baocao.store.archive import Archive


def archived(dep: api.Deployment) -> list[Path]:
    return [p for p in dep.settings.path("archive").rglob("*") if p.is_file() and p.suffix != ".jsonl"]


# --- data loss: what leaves the inbox ----------------------------------------------------------


def test_a_file_saved_over_between_archiving_and_removal_stays_for_the_next_run(
    deployment, tmp_path, monkeypatch
):
    box = inbox(deployment)
    make_submission(deployment, "DT_TG", "2025-Q1", box / "bao-cao.xlsx", tin_bai_cong_ttdt=13)
    newer = make_submission(deployment, "DT_TG", "2025-Q1", tmp_path / "newer.xlsx", tin_bai_cong_ttdt=21)
    release = FolderIntake.release

    def excel_saves_just_before(self, arrival):  # Excel: write a temporary file, rename it over
        shutil.copy(newer, box / "~WRL0001.tmp")
        os.replace(box / "~WRL0001.tmp", box / "bao-cao.xlsx")
        return release(self, arrival)

    monkeypatch.setattr(FolderIntake, "release", excel_saves_just_before)
    first = api.collect(deployment, now=BEFORE_DEADLINE)
    monkeypatch.undo()
    assert [r.status for r in first.results] == ["accepted"]
    assert (box / "bao-cao.xlsx").read_bytes() == newer.read_bytes()  # the new save is not lost
    assert stored_files(deployment)[0].removed_from_inbox  # nothing left to do for the old one
    second = api.collect(deployment, now=BEFORE_DEADLINE + timedelta(hours=1))
    assert [r.status for r in second.results] == ["accepted"]
    assert current(deployment)["DT_TG"].values["tin_bai_cong_ttdt"] == 21
    assert not (box / "bao-cao.xlsx").exists()


def test_a_file_that_changes_while_it_is_copied_is_not_recorded(deployment, monkeypatch):
    box = inbox(deployment)
    path = make_submission(deployment, "DT_TG", "2025-Q1", box / "a.xlsx")
    copy = Archive.copy

    def unit_saves_during_copy(self, source, received_at, limit=None):
        made = copy(self, source, received_at, limit)
        with path.open("ab") as handle:  # the unit's program writes while the copy is made
            handle.write(b"\0")
        return made

    monkeypatch.setattr(Archive, "copy", unit_saves_during_copy)
    report = api.collect(deployment, now=BEFORE_DEADLINE)
    assert report.results == [] and report.waiting == ["a.xlsx"]
    assert path.exists() and stored_files(deployment) == [] and archived(deployment) == []


def test_an_undeletable_original_is_recorded_once_and_removed_when_it_can_be(deployment):
    box = inbox(deployment)
    make_submission(deployment, "DT_TG", "2025-Q1", box / "a.xlsx")
    with undeletable(box):  # a read-only share, or the file open in Excel on Windows
        first = api.collect(deployment, now=BEFORE_DEADLINE)
        assert [r.status for r in first.results] == ["accepted"] and (box / "a.xlsx").exists()
        again = api.collect(deployment, now=BEFORE_DEADLINE + timedelta(minutes=15))
        assert again.results == []  # not copied and recorded again on every run
    [rec] = stored_files(deployment)
    assert not rec.removed_from_inbox
    later = api.collect(deployment, now=BEFORE_DEADLINE + timedelta(minutes=30))
    assert later.results == [] and not (box / "a.xlsx").exists()
    [rec] = stored_files(deployment)
    assert rec.removed_from_inbox and len(archived(deployment)) == 1


# --- received time -------------------------------------------------------------------------------


def test_received_time_is_when_the_file_reached_the_share_not_when_it_was_collected(deployment):
    path = make_submission(deployment, "DT_TG", "2025-Q1", inbox(deployment) / "a.xlsx")
    filed = datetime.fromtimestamp(os.stat(path).st_ctime, TZ)
    later = filed + timedelta(days=3)  # the collecting machine was off for three days
    [result] = api.collect(deployment, now=later).results
    assert result.received_at == filed
    assert stored_files(deployment)[0].received_at == filed


def test_received_time_is_no_earlier_than_the_last_scan_that_did_not_see_the_file(deployment, tmp_path):
    now = datetime.now(TZ)
    api.collect(deployment, now=now + timedelta(days=1))  # a scan of the empty inbox
    made = make_submission(deployment, "DT_TG", "2025-Q1", tmp_path / "a.xlsx")
    os.replace(made, inbox(deployment) / "a.xlsx")  # moved in: keeps the time it was made elsewhere
    [result] = api.collect(deployment, now=now + timedelta(days=2)).results
    assert result.received_at == now + timedelta(days=1)


def test_received_time_bounds():
    t = datetime(2025, 3, 8, 9, 0, tzinfo=TZ)
    hour = timedelta(hours=1)
    assert received_time(t, first_seen=t + hour, not_seen_at=None, now=t + 2 * hour) == t
    assert received_time(t, first_seen=t + hour, not_seen_at=t + hour / 2, now=t + 2 * hour) == t + hour / 2
    assert received_time(t + 3 * hour, first_seen=t + hour, not_seen_at=None, now=t + 2 * hour) == t + hour
    assert received_time(t, first_seen=t, not_seen_at=None, now=t - hour) == t - hour  # a replay


# --- special files, sizes, leftovers ---------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="symlinks and FIFOs as on a POSIX share")
def test_links_fifos_and_folders_elsewhere_are_refused_before_they_are_opened(deployment, tmp_path):
    box = inbox(deployment)
    secret = tmp_path / "secret.txt"
    secret.write_text("mật khẩu", encoding="utf-8")
    (box / "zero.xlsx").symlink_to("/dev/zero")
    (box / "secret.xlsx").symlink_to(secret)
    (box / "etc").symlink_to("/etc", target_is_directory=True)
    os.mkfifo(box / "fifo.xlsx")
    make_submission(deployment, "DT_TG", "2025-Q1", box / "that.xlsx")
    report = api.collect(deployment, now=BEFORE_DEADLINE)
    assert [(r.name, r.status) for r in report.results] == [("that.xlsx", "accepted")]
    skipped = dict(report.skipped)
    assert set(skipped) == {"zero.xlsx", "secret.xlsx", "fifo.xlsx", "etc"}
    assert "liên kết" in skipped["zero.xlsx"] and "FIFO" in skipped["fifo.xlsx"]
    assert len(archived(deployment)) == 1 and report.had_problems
    assert all(os.path.lexists(box / name) for name in skipped)  # left for the coordinator


def test_a_file_over_the_size_limit_is_refused_before_copying_and_recorded_once(tmp_path):
    dep = deployment_with(tmp_path, max_file_mb=1)
    big = inbox(dep) / "to.xlsx"
    big.write_bytes(os.urandom(3 * 2**20))
    [result] = api.collect(dep, now=BEFORE_DEADLINE).results
    assert result.status == "rejected" and result.issues[0].code == "too_large"
    assert "vượt giới hạn 1 MB" in result.issues[0].message
    assert archived(dep) == [] and big.exists()
    assert api.collect(dep, now=BEFORE_DEADLINE + timedelta(hours=1)).results == []
    assert len(stored_files(dep)) == 1


def test_temporary_copies_left_by_a_killed_run_are_swept(deployment):
    day = deployment.settings.path("archive") / "2025-03-07"
    day.mkdir(parents=True)
    (day / ".tmp-abc123").write_bytes(b"half a copy")
    api.collect(deployment, now=BEFORE_DEADLINE)
    assert not (day / ".tmp-abc123").exists()


# --- names ---------------------------------------------------------------------------------------


@pytest.mark.skipif(os.name == "nt", reason="POSIX file names are bytes")
def test_a_windows_1258_file_name_is_decoded_and_costs_nobody_else_anything(deployment, tmp_path):
    box = inbox(deployment)
    made = make_submission(deployment, "DT_TG", "2025-Q1", tmp_path / "x.xlsx")
    # "Báo cáo quý I" as Windows writes it in windows-1258: base letters and combining tone marks
    raw = os.fsencode(box) + b"/Ba\xeco ca\xeco quy\xec I.xlsx"
    with open(raw, "wb") as handle:
        handle.write(made.read_bytes())
    make_submission(deployment, "NV_VP", "2025-Q1", box / "Văn phòng.xlsx")
    (box / "hỏng.xlsx").write_bytes(b"not a workbook")
    results = by_name(api.collect(deployment, now=BEFORE_DEADLINE))
    assert set(results) == {"Báo cáo quý I.xlsx", "Văn phòng.xlsx", "hỏng.xlsx"}
    assert results["Báo cáo quý I.xlsx"].status == "accepted"
    assert results["Văn phòng.xlsx"].status == "accepted"
    assert "'hỏng.xlsx'" in results["hỏng.xlsx"].issues[0].message
    assert not os.path.exists(raw)


def test_display_name():
    assert display_name("Ba\u0301o ca\u0301o.xlsx") == "Báo cáo.xlsx"  # NFC
    if os.name != "nt":
        assert display_name(os.fsdecode(b"Qu\xf4\xecc pho\xccng.xlsx")) == "Quốc phòng.xlsx"
        assert display_name(os.fsdecode(b"\x81\x8d.xlsx")).endswith(".xlsx")  # undecodable: shown as �


# --- siblings ----------------------------------------------------------------------------------


def test_a_new_file_under_a_name_just_taken_counts_from_its_own_arrival(deployment):
    box = inbox(deployment)
    make_submission(deployment, "DT_TG", "2025-Q1", box / "a.xlsx", tin_bai_cong_ttdt=13)
    api.collect(deployment, now=BEFORE_DEADLINE)
    make_submission(deployment, "DT_TG", "2025-Q1", box / "a.xlsx", tin_bai_cong_ttdt=21)
    two_days_later = BEFORE_DEADLINE + timedelta(days=2)
    [result] = api.collect(deployment, now=two_days_later).results
    assert result.received_at == two_days_later  # not the first file's sighting, two days earlier


def test_a_file_that_cannot_be_read_is_reported_not_waited_for(deployment, monkeypatch):
    box = inbox(deployment)
    locked = make_submission(deployment, "DT_TG", "2025-Q1", box / "khoa.xlsx")
    make_submission(deployment, "NV_VP", "2025-Q1", box / "mo.xlsx")
    real_open = os.open

    def no_permission(path, flags, *args):  # what a share gives an account without read access
        if os.fsdecode(path) == str(locked):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", no_permission)
    report = api.collect(deployment, now=BEFORE_DEADLINE)
    monkeypatch.undo()
    assert [(r.name, r.status) for r in report.results] == [("mo.xlsx", "accepted")]
    assert report.waiting == [] and "không có quyền đọc" in dict(report.skipped)["khoa.xlsx"]
    assert locked.exists()


def test_temporary_files_of_a_killed_feedback_write_are_swept(deployment):
    folder = deployment.settings.path("feedback") / "2025-Q1"
    folder.mkdir(parents=True)
    (folder / ".tmp-x1.xlsx").write_bytes(b"half")
    api.collect(deployment, now=BEFORE_DEADLINE)
    assert list(folder.iterdir()) == []
