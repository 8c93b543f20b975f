"""collect end to end: real templates filled and dropped in a real inbox, a real SQLite ledger."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import unicodedata
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from conftest import REPO
from filelock import FileLock
from helpers import (
    BEFORE_DEADLINE,
    TZ,
    by_name,
    collect_command,
    current,
    deployment_with,
    hostile_files,
    inbox,
    make_submission,
    sha,
    stored_files,
)

from baocao import api
from baocao.cli import main
from baocao.collect import _Taker, lock_path
from baocao.errors import LockedError
from baocao.intake.folder import ASIDE, list_inbox
from baocao.intake.sources import folder_intake
from baocao.judging import CollectReport
from baocao.store import archive_of, open_store

LO = Path(__file__).parent / "fixtures" / "libreoffice"


def test_a_mixed_batch_hostile_files_do_not_stop_good_ones(deployment, tmp_path):
    box = inbox(deployment)
    make_submission(deployment, "NV_VP", "2025-Q1", box / "nv_vp.xlsx")
    make_submission(deployment, "NV_CCHC", "2025-Q1", box / "Phòng CCHC" / "BAO CAO QUY 1.XLSX")
    shutil.copy(LO / "DT_TG_2025-Q1_saved_by_libreoffice.ods", box / "dt_tg.ods")
    shutil.copy(LO / "DT_TG_2025-Q1_saved_by_libreoffice.xls", box / "dt_tg_cu.xls")
    good = make_submission(deployment, "DT_VP", "2025-Q1", tmp_path / "good.xlsx")
    hostile = hostile_files(good, box)
    (box / "ghi chu.docx").write_bytes(b"not a report")
    for ignored in ("~$nv_vp.xlsx", ".~lock.nv_vp.xlsx#", "desktop.ini", "Thumbs.db", "._nv_vp.xlsx"):
        (box / ignored).write_bytes(b"x")

    report = api.collect(deployment, now=BEFORE_DEADLINE)
    results = by_name(report)
    assert results["nv_vp.xlsx"].status == "accepted"
    assert results["Phòng CCHC/BAO CAO QUY 1.XLSX"].status == "accepted"
    assert results["dt_tg.ods"].status == "accepted" and results["dt_tg.ods"].unit == "DT_TG"
    # same unit and period again, different bytes (xls): accepted and it supersedes the ods
    assert results["dt_tg_cu.xls"].status == "accepted"
    for name, path in hostile.items():
        result = results[path.name]
        assert result.status == "rejected", name
        assert result.issues[0].code == "unreadable" and path.name in result.issues[0].message
    assert "mật khẩu" in results[hostile["encrypted"].name].issues[0].message
    assert results["ghi chu.docx"].issues[0].code == "unsupported_format"
    assert sorted(p.name for p in box.rglob("*") if p.is_file()) == sorted(
        ["~$nv_vp.xlsx", ".~lock.nv_vp.xlsx#", "desktop.ini", "Thumbs.db", "._nv_vp.xlsx"]
    )
    assert report.had_problems


def test_every_file_is_archived_unmodified_and_recorded(deployment):
    box = inbox(deployment)
    made = [make_submission(deployment, u, "2025-Q1", box / f"{u}.xlsx") for u in ("NV_VP", "DT_TG")]
    hashes = {sha(p) for p in made}
    api.collect(deployment, now=BEFORE_DEADLINE)
    files = stored_files(deployment)
    archive = deployment.settings.path("archive")
    assert {f.sha256 for f in files} == hashes
    assert all(sha(archive / f.archive_path) == f.sha256 for f in files)
    assert all(f.removed_from_inbox and f.received_at == BEFORE_DEADLINE for f in files)


def test_nfd_file_names_and_text(deployment):
    name = unicodedata.normalize("NFD", "Báo cáo quý I - Phòng Tôn giáo.xlsx")
    make_submission(
        deployment,
        "DT_TG",
        "2025-Q1",
        inbox(deployment) / name,
        nguoi_lap=unicodedata.normalize("NFD", "Lê Thị Ánh"),
    )
    report = api.collect(deployment, now=BEFORE_DEADLINE)
    assert report.results[0].status == "accepted"
    assert report.results[0].name == unicodedata.normalize("NFC", name)
    values = current(deployment)["DT_TG"].values
    assert values["nguoi_lap"] == "Lê Thị Ánh" and unicodedata.is_normalized("NFC", values["nguoi_lap"])


def test_resubmission_supersedes_and_status_follows_the_first_accepted(deployment):
    box = inbox(deployment)
    make_submission(deployment, "DT_TG", "2025-Q1", box / "v1.xlsx", tin_bai_cong_ttdt=13)
    api.collect(deployment, now=BEFORE_DEADLINE)
    make_submission(deployment, "DT_TG", "2025-Q1", box / "v2.xlsx", tin_bai_cong_ttdt=21)
    api.collect(deployment, now=datetime(2025, 3, 10, 7, 0, tzinfo=TZ))  # late, before the final summary
    rows = {r.unit.code: r for r in api.status(deployment, "2025-Q1")}
    dt = rows["DT_TG"]
    assert (dt.status, dt.received_at, dt.corrected) == ("on_time", BEFORE_DEADLINE, True)
    assert dt.submission.values["tin_bai_cong_ttdt"] == 21
    assert [f.status for f in stored_files(deployment)] == ["accepted", "accepted"]


def test_late_rejected_and_missing(deployment):
    box = inbox(deployment)
    make_submission(deployment, "NV_VP", "2025-Q1", box / "late.xlsx")
    make_submission(deployment, "DT_TG", "2025-Q1", box / "bad.xlsx", luot_tap_huan=35, lop_tap_huan=0)
    report = api.collect(deployment, now=datetime(2025, 3, 12, 8, 0, tzinfo=TZ))
    rows = {r.unit.code: r for r in api.status(deployment, "2025-Q1")}
    assert (rows["NV_VP"].status, rows["NV_VP"].days_late) == ("late", 3)
    assert rows["DT_TG"].status == "rejected"
    assert (
        rows["DT_TG"]
        .issues[0]
        .message.startswith("Ô D27 (Số lượt người tham gia tập huấn, bồi dưỡng): có 35")
    )
    assert rows["DT_CSDT"].status == "missing"
    feedback = by_name(report)["bad.xlsx"].feedback
    book = openpyxl.load_workbook(feedback)
    assert book.sheetnames[0] == "Lỗi cần sửa"
    cell = book["BaoCao"]["D27"]
    assert cell.fill.start_color.rgb.endswith("FFC7CE") and "có 35 lượt người" in cell.comment.text
    places = [row[2].value for row in book["Lỗi cần sửa"].iter_rows(min_row=2)]
    assert "D27 – mục II.5" in places  # the cell, with the item number the template prints


def test_identical_file_again_is_a_duplicate(deployment):
    box = inbox(deployment)
    first = make_submission(deployment, "DT_TG", "2025-Q1", box / "a.xlsx")
    copy = first.read_bytes()
    api.collect(deployment, now=BEFORE_DEADLINE)
    (box / "a (copy).xlsx").write_bytes(copy)
    report = api.collect(deployment, now=BEFORE_DEADLINE)
    assert [r.status for r in report.results] == ["duplicate"]
    files = stored_files(deployment)
    assert [f.status for f in files] == ["accepted", "duplicate"] and files[1].duplicate_of == files[0].id


def test_a_file_still_being_copied_is_left_for_the_next_run(tmp_path):
    dep = deployment_with(tmp_path, stable_seconds=1)
    source = make_submission(dep, "DT_TG", "2025-Q1", tmp_path / "src.xlsx").read_bytes()
    target = inbox(dep) / "dang-chep.xlsx"
    stop = threading.Event()

    def slow_copy():  # a network copy that is still writing while collect looks
        with target.open("wb") as out:  # small steps: still writing however slow collect is
            for i in range(0, len(source), 16):
                out.write(source[i : i + 16])
                out.flush()
                if stop.wait(0.05):
                    break
            out.write(source[out.tell() :] if out.tell() < len(source) else b"")

    writer = threading.Thread(target=slow_copy)
    writer.start()
    time.sleep(0.2)
    report = api.collect(dep)
    assert report.results == [] and report.waiting == ["dang-chep.xlsx"]
    assert target.exists()
    stop.set()
    writer.join()
    report = api.collect(dep)
    assert [r.status for r in report.results] == ["accepted"]


def test_a_second_collect_exits_with_a_clear_message(deployment, config_file):
    with FileLock(lock_path(deployment)):
        with pytest.raises(LockedError, match="Một lần thu nhận khác đang chạy"):
            api.collect(deployment, now=BEFORE_DEADLINE)
        err = io.StringIO()
        code = main(["--config", str(config_file), "collect"], out=io.StringIO(), err=err)
    assert code == 2 and "Một lần thu nhận khác đang chạy" in err.getvalue()


def test_two_concurrent_collect_processes(deployment, config_file):
    box = inbox(deployment)
    for i, unit in enumerate(("NV_VP", "NV_CCHC", "DT_TG", "DT_VP")):
        make_submission(deployment, unit, "2025-Q1", box / f"{i}.xlsx")
    cmd = collect_command(config_file)
    procs = [
        subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes in ([0, 0], [0, 2]), outs
    assert sorted(f.status for f in stored_files(deployment)) == ["accepted"] * 4
    if codes == [0, 2]:
        assert any("Một lần thu nhận khác đang chạy" in err.decode() for _, err in outs)


def test_a_collect_killed_in_the_middle_loses_nothing(deployment, config_file):
    box = inbox(deployment)
    made = {}
    template = make_submission(deployment, "DT_TG", "2025-Q1", deployment.settings.path("output") / "t.xlsx")
    book = openpyxl.load_workbook(template)
    for i in range(40):  # 40 distinct files: same unit, different figures, each a correction
        ((sheet, ref),) = book.defined_names["tthc_niem_yet"].destinations
        book[sheet][ref.replace("$", "")].value = 100 + i
        path = box / f"ban_{i:02d}.xlsx"
        book.save(path)
        made[path.name] = sha(path)
    cmd = collect_command(config_file)
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    archive = deployment.settings.path("archive")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(archive.rglob("*.xlsx"))) < 8 and proc.poll() is None:
        time.sleep(0.005)
    proc.kill()
    assert proc.wait() != 0, "collect finished before it could be killed: the test proved nothing"
    assert 0 < len(stored_files(deployment)) < 40  # killed with work done and work left
    api.collect(deployment, now=BEFORE_DEADLINE)
    files = stored_files(deployment)
    assert list(archive.rglob(".tmp-*")) == []  # a half-written copy of the killed run is swept
    assert sorted(f.sha256 for f in files) == sorted(made.values())
    assert all(f.status == "accepted" and f.removed_from_inbox for f in files)
    assert [p for p in box.rglob("*") if p.is_file()] == []
    assert current(deployment)["DT_TG"].values["tthc_niem_yet"] == 139


CRASH = Path(__file__).with_name("crash_collect.py")


def test_a_collect_killed_while_deleting_an_original_leaves_no_hidden_file(deployment, config_file):
    """Killed between moving an archived original aside and deleting it: the next run gives it
    its name back and deletes it, so nothing stays hidden in the inbox and nothing is taken twice."""
    box = inbox(deployment)
    for unit in ("DT_TG", "NV_VP"):
        make_submission(deployment, unit, "2025-Q1", box / f"{unit}.xlsx")
    killed = subprocess.run(
        [sys.executable, str(CRASH), "aside", *collect_command(config_file)[3:]],
        cwd=REPO,
        capture_output=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    [aside] = [p.name for p in box.iterdir() if p.name.startswith(ASIDE)]
    assert aside.endswith(tuple(f.original_name for f in stored_files(deployment)))  # committed first

    api.collect(deployment, now=BEFORE_DEADLINE)
    assert list(box.iterdir()) == []
    files = stored_files(deployment)
    assert sorted((f.original_name, f.status) for f in files) == [
        ("DT_TG.xlsx", "accepted"),
        ("NV_VP.xlsx", "accepted"),
    ]
    assert all(f.removed_from_inbox for f in files), aside


def test_a_save_left_moved_aside_by_a_killed_run_is_taken(deployment):
    """A unit's save that landed while a killed run had the name moved aside is not lost: the
    next run gives it its name back and takes it."""
    box = inbox(deployment)
    made = make_submission(deployment, "DT_TG", "2025-Q1", box / f"{ASIDE}0a1b2c3d-bao cao.xlsx")
    assert list_inbox(box) == []  # a dry run looks, and changes nothing
    report = api.collect(deployment, now=BEFORE_DEADLINE)
    assert [(r.name, r.status) for r in report.results] == [("bao cao.xlsx", "accepted")]
    assert list(box.iterdir()) == [] and not made.exists()


def test_an_original_linked_back_by_a_killed_run_is_not_taken_twice(deployment):
    """Killed inside the putting back, between the link to its name and the removal of the
    temporary name: one file with two names, taken once."""
    box = inbox(deployment)
    made = make_submission(deployment, "DT_TG", "2025-Q1", box / "bao cao.xlsx")
    os.link(made, box / f"{ASIDE}0a1b2c3d-bao cao.xlsx")
    report = api.collect(deployment, now=BEFORE_DEADLINE)
    assert [(r.name, r.status) for r in report.results] == [("bao cao.xlsx", "accepted")]
    assert list(box.iterdir()) == []


def test_status_json_lists_every_unit(config_file, deployment):
    make_submission(deployment, "DT_TG", "2025-Q1", inbox(deployment) / "a.xlsx")
    main(
        ["--config", str(config_file), "collect", "--now", "2025-03-08T09:00"],
        out=io.StringIO(),
        err=io.StringIO(),
    )
    out = io.StringIO()
    assert main(["--config", str(config_file), "status", "--period", "2025-Q1", "--json"], out=out) == 0
    data = json.loads(out.getvalue())
    assert data["held"] == [] and data["unattributed"] == []
    rows = data["units"]
    assert {r["unit"]: r["status"] for r in rows}["DT_TG"] == "on_time"
    assert {"unit", "name", "status", "received_at", "issues"} <= set(rows[0])
    assert [r["status"] for r in rows].count("missing") == 8
    assert rows == [r.to_dict() for r in api.status(deployment, "2025-Q1")]


def test_collect_exit_code_is_1_when_a_file_was_rejected(config_file, deployment):
    make_submission(deployment, "DT_TG", "2025-Q1", inbox(deployment) / "a.xlsx", nguoi_lap=None)
    out = io.StringIO()
    code = main(
        ["--config", str(config_file), "collect", "--now", "2025-03-08T09:00"], out=out, err=io.StringIO()
    )
    assert code == 1 and "trả lại" in out.getvalue() and "Người lập biểu" in out.getvalue()


def test_unjudged_files_from_an_interrupted_run_are_judged_next_time(deployment):
    # the state a crash after archiving and before judging leaves behind, made for real
    path = make_submission(deployment, "DT_TG", "2025-Q1", inbox(deployment) / "a.xlsx")
    with open_store(deployment.settings) as store:
        intake = folder_intake(deployment, store, BEFORE_DEADLINE, True)
        report = CollectReport()
        taker = _Taker(store, archive_of(deployment.settings), report, 2**20)
        taker.take_all(intake, intake.arrivals())
        assert [f.status for f in store.files()] == ["archived"]
    assert not path.exists()
    report = api.collect(deployment, now=BEFORE_DEADLINE)
    assert [r.status for r in report.results] == ["accepted"]
    assert os.listdir(deployment.settings.path("inbox")) == []


def test_with_two_workers_every_feedback_workbook_is_written_and_recorded(tmp_path):
    dep = deployment_with(tmp_path, workers=2)
    box = inbox(dep)
    make_submission(dep, "DT_TG", "2025-Q1", box / "loi.xlsx", luot_du_thi=5, cuoc_thi=0)
    make_submission(dep, "NV_VP", "2025-Q1", box / "canh-bao.xlsx", co_ke_hoach="Không")
    make_submission(dep, "DT_VP", "2025-Q1", box / "tot.xlsx")
    report = api.collect(dep, now=BEFORE_DEADLINE)
    results = by_name(report)
    assert results["tot.xlsx"].feedback is None
    recorded = {f.inbox_path: f.feedback_path for f in stored_files(dep)}
    for name, colour in (("loi.xlsx", "FFC7CE"), ("canh-bao.xlsx", "F4B084")):
        path = results[name].feedback
        assert path is not None and path.is_file() and recorded[name] == str(path)
        book = openpyxl.load_workbook(path)
        marked = [c for row in book["BaoCao"].iter_rows() for c in row if c.comment is not None]
        assert marked and all(c.fill.start_color.rgb.endswith(colour) for c in marked)


def test_status_shows_refused_files_that_name_no_unit(config_file, deployment):
    box = inbox(deployment)
    (box / "bao cao hong.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    make_submission(deployment, "DT_TG", "2025-Q1", box / "a.xlsx")
    api.collect(deployment, now=BEFORE_DEADLINE)
    [stray] = api.unattributed(deployment, "2025-Q1")
    assert stray.inbox_path == "bao cao hong.xlsx" and stray.issues[0].code == "unreadable"
    out = io.StringIO()
    assert main(["--config", str(config_file), "status", "--period", "2025-Q1"], out=out) == 0
    assert "1 tệp bị trả lại không tính cho đơn vị nào (chỉ báo lại người gửi)" in out.getvalue()
    assert "bao cao hong.xlsx" in out.getvalue()
