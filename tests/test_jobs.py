"""run-due: a simulated quarter against a real SMTP server; each message exactly once."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from conftest import REGISTRY, REPO, config_text
from helpers import make_submission
from smtp_server import SmtpServer

from baocao import api
from baocao.cli import main
from baocao.jobs import due_events
from baocao.store import open_store
from baocao.store.ledger import Ledger
from baocao.store.messages import ClaimLost

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
COORDINATORS = ["cchc@snv.langson.example", "lanhdao@snv.langson.example"]


def smtp_config(folder: Path, server: SmtpServer | None, backend: str = "smtp") -> Path:
    mail = f"""
[mail]
backend = "{backend}"
host = "127.0.0.1"
port = {server.port if server else 2525}
security = "none"
sender = "baocao@snv.langson.example"
coordinators = {json.dumps(COORDINATORS)}
timeout_seconds = 5
attach_docx = true
"""
    path = folder / "config.toml"
    path.write_text(config_text(extra=mail), encoding="utf-8")
    return path


@pytest.fixture
def server():
    with SmtpServer() as smtp:
        yield smtp


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=TZ)


def received(server: SmtpServer) -> Counter:
    """(kind, unit, recipients) of every message the server got, counted."""
    return Counter(
        (m.message["X-Baocao-Kind"], m.message["X-Baocao-Unit"], tuple(m.rcpt_tos)) for m in server.messages
    )


def test_due_events_follow_the_configured_lead_times(tmp_path):
    dep = api.load_deployment(smtp_config(tmp_path, None, backend="outbox"))

    def events(moment):
        return sorted((e.kind, e.period.code, e.stage) for e in due_events(dep, moment))

    assert events(at("2025-03-03", 7)) == []
    assert events(at("2025-03-03", 8)) == [("reminder", "2025-Q1", "7")]
    assert events(at("2025-03-08", 8)) == [("reminder", "2025-Q1", "3"), ("summary", "2025-Q1", "truoc-han")]
    assert events(at("2025-03-09", 23)) == [("reminder", "2025-Q1", "1"), ("summary", "2025-Q1", "truoc-han")]
    # past the deadline no reminder goes out, whatever was missed; the final summary is due
    assert events(at("2025-03-10", 8)) == [("summary", "2025-Q1", "sau-han")]
    assert events(at("2025-04-01", 8)) == []


def test_a_simulated_quarter_sends_exactly_the_expected_messages(tmp_path, server):
    dep = api.load_deployment(smtp_config(tmp_path, server))
    box = dep.settings.path("inbox")
    arrivals = {
        at("2025-03-02", 10): [("NV_VP", {"ngay_lap": datetime(2025, 3, 1)}, "nv_vp.xlsx")],
        at("2025-03-05", 15): [("DT_TG", {}, "dt_tg.xlsx")],
        at("2025-03-06", 9): [("DT_VP", {"luot_tap_huan": 35, "lop_tap_huan": 0}, "dt_vp.xlsx")],
        at("2025-03-08", 14): [("DT_VP", {}, "dt_vp_sua.xlsx")],
        at("2025-03-11", 10): [("NV_CCHC", {}, "nv_cchc.xlsx")],
    }
    # every hour from a week before the first reminder (3 March) to past the final summary
    moment = datetime(2025, 2, 24, tzinfo=TZ)
    end = datetime(2025, 3, 15, tzinfo=TZ)
    calls = 0
    while moment <= end:
        for when, items in arrivals.items():
            if when - timedelta(hours=1) < moment <= when:
                for unit, overrides, name in items:
                    make_submission(dep, unit, "2025-Q1", box / name, **overrides)
        api.run_due(dep, now=moment)
        calls += 1
        moment += timedelta(hours=1)
    assert calls == 19 * 24 + 1

    units = {u.code: u.email for u in dep.registry.reporting_units(dep.period("2025-Q1"))}
    typed = "an.nv@donvi.langson.example"  # the address typed in every test file
    everyone = set(units)
    expected = Counter()
    for stage_units in (
        everyone - {"NV_VP"},  # 7 days before (3 March): NV_VP has reported
        everyone - {"NV_VP", "DT_TG"},  # 3 days before: DT_VP was only rejected
        everyone - {"NV_VP", "DT_TG", "DT_VP"},  # 1 day before
    ):
        for unit in stage_units:
            expected[("reminder", unit, (units[unit],))] += 1
    # the rejected file: one message to the unit's registered address and the one typed in it
    expected[("feedback", "DT_VP", (units["DT_VP"], typed))] += 1
    # a receipt for every accepted file, once
    for unit in ("NV_VP", "DT_TG", "DT_VP", "NV_CCHC"):
        expected[("receipt", unit, (units[unit], typed))] += 1
    for coordinator in COORDINATORS:
        expected[("summary", None, (coordinator,))] += 2  # provisional (8 March) and final (10 March)
    assert received(server) == expected

    reminder = next(m for m in server.messages if m.message["X-Baocao-Unit"] == "DT_CSDT")
    assert reminder.message["X-Baocao-Period"] == "2025-Q1"
    assert "trước ngày 10/03/2025" in reminder.message["Subject"]
    attachment = next(reminder.message.iter_attachments())
    book = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    ((sheet, ref),) = book.defined_names["ma_don_vi"].destinations
    assert book[sheet][ref.replace("$", "")].value == "DT_CSDT"
    # DT_VP, returned on 6 March, is reminded on 7 March with its own marked file, not the template
    before, returned = [
        m for m in server.messages
        if m.message["X-Baocao-Unit"] == "DT_VP" and m.message["X-Baocao-Kind"] == "reminder"
    ]  # fmt: skip
    assert "chưa nhận được báo cáo nào" in before.message.get_body(("plain",)).get_content()
    assert "bản gửi ngày 06/03/2025 bị trả lại" in returned.message["Subject"]
    [marked] = list(returned.message.iter_attachments())
    assert marked.get_filename() == "DT_VP_2025-Q1_phan-hoi_20250306-0900.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(marked.get_content()))
    assert book.sheetnames[0] == "Lỗi cần sửa" and book["BaoCao"]["D27"].value == 35

    final = [m for m in server.messages if m.message["X-Baocao-Kind"] == "summary"][-1]
    body = final.message.get_body(("plain",)).get_content()
    assert "chính thức" in body
    # the summary e-mail says what the workbook says: its counts, its lists, its sentences
    assert "Chưa gửi báo cáo (6):" in body and "bản đạt (" not in body  # DT_VP sent a good one
    assert "Không so sánh với kỳ trước (Năm 2024)" in body
    names = [part.get_filename() for part in final.message.iter_attachments()]
    assert any(n.endswith(".xlsx") for n in names) and any(n.endswith(".docx") for n in names)
    with open_store(dep.settings) as ledger:
        assert ledger.messages("pending") == []
        assert len(ledger.messages("sent")) == sum(expected.values())


def test_smtp_down_then_up_nothing_lost_nothing_twice(tmp_path, server):
    dep = api.load_deployment(smtp_config(tmp_path, server))
    server.stop()
    report = api.run_due(dep, now=at("2025-03-03", 8))
    assert report.sent == [] and len(report.failed) == 9
    with open_store(dep.settings) as ledger:
        pending = ledger.messages("pending")
    assert len(pending) == 9
    for row in pending:  # the exact sentence, with the reason the system gave
        assert (row.last_error or "").startswith(
            f"Không gửi được thư: không kết nối được máy chủ thư 127.0.0.1:{server.port} "
            "(lý do kỹ thuật: ConnectionRefusedError: "
        ), row.last_error
    api.run_due(dep, now=at("2025-03-03", 9))  # still down: still pending, retried later
    server.start()
    report = api.run_due(dep, now=at("2025-03-03", 10))
    assert len(report.sent) == 9
    api.run_due(dep, now=at("2025-03-03", 11))
    assert sum(received(server).values()) == 9
    ids = [m.message["Message-ID"] for m in server.messages]
    assert len(set(ids)) == 9


def test_one_refused_recipient_does_not_block_the_others(tmp_path, server):
    dep = api.load_deployment(smtp_config(tmp_path, server))
    server.refuse("csdt@sdttg.langson.example")
    report = api.run_due(dep, now=at("2025-03-03", 8))
    assert len(report.sent) == 8 and len(report.failed) == 1
    api.run_due(dep, now=at("2025-03-03", 9))  # a permanent refusal is not retried
    assert sum(received(server).values()) == 8
    with open_store(dep.settings) as ledger:
        [failed] = ledger.messages("failed")
    assert failed.recipient == "csdt@sdttg.langson.example"
    assert failed.last_error == "csdt@sdttg.langson.example: 550 5.1.1 Mailbox unavailable"


def test_no_reminder_after_the_deadline_even_if_the_machine_was_off(tmp_path, server):
    dep = api.load_deployment(smtp_config(tmp_path, server))
    api.run_due(dep, now=at("2025-03-12", 9))
    kinds = Counter(m.message["X-Baocao-Kind"] for m in server.messages)
    assert kinds == Counter({"summary": 2})  # the final summary only


def test_dry_run_changes_nothing(tmp_path, server):
    config = smtp_config(tmp_path, server)
    dep = api.load_deployment(config)
    make_submission(dep, "DT_VP", "2025-Q1", dep.settings.path("inbox") / "x.xlsx")
    out = io.StringIO()
    assert main(["--config", str(config), "run-due", "--now", "2025-03-08T09:00", "--dry-run"], out=out) == 0
    assert "1 tệp trong thư mục nộp" in out.getvalue() and "reminder" in out.getvalue()
    assert server.messages == []
    assert (dep.settings.path("inbox") / "x.xlsx").exists()
    with open_store(dep.settings) as ledger:
        assert ledger.messages() == [] and ledger.files() == []


def test_outbox_backend_writes_eml_files(tmp_path):
    dep = api.load_deployment(smtp_config(tmp_path, None, backend="outbox"))
    report = api.run_due(dep, now=at("2025-03-03", 8))
    files = sorted(dep.settings.path("outbox").glob("*.eml"))
    assert len(files) == len(report.sent) == 9
    assert all(f.name.startswith("20250303-reminder-") for f in files)


@pytest.mark.skipif(os.name == "nt", reason="SIGTERM is a POSIX signal")
def test_run_loop_stops_cleanly_on_sigterm(tmp_path):
    config = smtp_config(tmp_path, None, backend="outbox")
    proc = subprocess.Popen(
        [sys.executable, "-m", "baocao", "--config", str(config), "run"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    log = tmp_path / "workbooks" / "logs" / "baocao.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        log.exists() and "run-due:" in log.read_text(encoding="utf-8")
    ):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    text = log.read_text(encoding="utf-8")
    assert "bắt đầu" in text and "dừng theo yêu cầu" in text


def test_feedback_is_not_mailed_for_files_judged_long_ago(tmp_path, server):
    dep = api.load_deployment(smtp_config(tmp_path, server))
    make_submission(dep, "DT_VP", "2025-Q1", dep.settings.path("inbox") / "x.xlsx", nguoi_lap=None)
    api.collect(dep, now=at("2025-01-20", 9))  # collected by hand, before the scheduler ran
    api.run_due(dep, now=at("2025-02-05", 9))
    assert server.messages == []
    make_submission(dep, "DT_TG", "2025-Q1", dep.settings.path("inbox") / "y.xlsx", nguoi_lap=None)
    api.run_due(dep, now=at("2025-02-06", 9))
    assert {m.message["X-Baocao-Unit"] for m in server.messages} == {"DT_TG"}


# --- reminders per level, routing, receipts -----------------------------------------------

PER_LEVEL = 'due_before = { department = "05/03", province = "10/03" }'


def level_config(folder: Path, server: SmtpServer, extra_mail: str = "") -> Path:
    """Units report to their department before 05/03; a department with no units of its own in the
    registry (Sở Xây dựng) reports itself to the province, before 10/03."""
    registry = folder / "don-vi.csv"
    registry.write_text(
        REGISTRY.read_text(encoding="utf-8")
        + "SXD,Sở Xây dựng,LANGSON,department,vanphong@sxd.langson.example,2025-01-01,,\n",
        encoding="utf-8",
    )
    path = smtp_config(folder, server)
    text = path.read_text(encoding="utf-8").replace(str(REGISTRY.as_posix()), registry.as_posix())
    text = text.replace('due_before = "10/03"', PER_LEVEL, 1).replace("[mail]\n", f"[mail]\n{extra_mail}", 1)
    path.write_text(text, encoding="utf-8")
    return path


def test_reminders_count_from_the_deadline_of_each_units_level_and_stop_after_it(tmp_path, server):
    dep = api.load_deployment(level_config(tmp_path, server))
    phong = {u.code for u in dep.registry.reporting_units(dep.period("2025-Q1"))} - {"SXD"}

    def reminded(day: str) -> set[str]:
        server.clear()
        api.run_due(dep, now=at(day, 8))
        return {
            m.message["X-Baocao-Unit"] for m in server.messages if m.message["X-Baocao-Kind"] == "reminder"
        }

    assert reminded("2025-02-25") == set()
    assert reminded("2025-02-26") == phong  # 7 days before 05/03; the Sở not yet
    assert reminded("2025-03-02") == phong  # 3 days before 05/03
    assert reminded("2025-03-03") == {"SXD"}  # 7 days before 10/03
    assert reminded("2025-03-04") == phong  # the phòngs' last day
    assert reminded("2025-03-05") == set()  # past the phòngs' deadline: never again; SXD's next is 07/03
    assert reminded("2025-03-07") == {"SXD"}
    subject = next(m for m in server.messages).message["Subject"]
    assert "nộp trước ngày 10/03/2025 (còn 3 ngày)" in subject
    server.clear()
    api.run_due(dep, now=at("2025-02-27", 8))
    assert not [m for m in server.messages if m.message["X-Baocao-Kind"] == "reminder"]  # once per slot


def test_reminders_and_feedback_can_copy_the_departments_office(tmp_path, server):
    dep = api.load_deployment(level_config(tmp_path, server, "copy_parent = true\n"))
    make_submission(dep, "DT_TG", "2025-Q1", dep.settings.path("inbox") / "x.xlsx", nguoi_lap=None)
    api.run_due(dep, now=at("2025-02-26", 8))
    by_kind = {(m.message["X-Baocao-Kind"], m.message["X-Baocao-Unit"]): m for m in server.messages}
    feedback = by_kind[("feedback", "DT_TG")]
    assert feedback.rcpt_tos == [
        "tongiao@sdttg.langson.example", "an.nv@donvi.langson.example", "vanphong@sdttg.langson.example"
    ]  # fmt: skip
    assert feedback.message["Cc"] == "vanphong@sdttg.langson.example"
    assert by_kind[("reminder", "NV_VP")].rcpt_tos == [
        "vp@snv.langson.example",
        "vanphong@snv.langson.example",
    ]
    assert ("reminder", "SXD") not in by_kind  # a department has no office above it to copy


def test_receipts_can_be_switched_off(tmp_path, server):
    dep = api.load_deployment(level_config(tmp_path, server, "receipts = false\n"))
    make_submission(dep, "DT_TG", "2025-Q1", dep.settings.path("inbox") / "ok.xlsx")
    report = api.run_due(dep, now=at("2025-03-06", 8))  # accepted (late for its 05/03 deadline)
    assert report.collected.count("accepted") == 1
    assert [m.message["X-Baocao-Kind"] for m in server.messages] == ["reminder"]  # to SXD, no receipt


# --- one failing step or message costs that only -----------------------------------------


def test_run_due_still_reminds_when_collect_fails(tmp_path, server):
    config = smtp_config(tmp_path, server)
    dep = api.load_deployment(config)
    inbox = dep.settings.path("inbox")
    inbox.parent.mkdir(parents=True, exist_ok=True)
    inbox.write_text("a file where the inbox folder should be", encoding="utf-8")  # collect raises
    out, err = io.StringIO(), io.StringIO()
    assert main(["--config", str(config), "run-due", "--now", "2025-03-03T08:30"], out=out, err=err) == 1
    assert sum(received(server).values()) == 9  # every reminder went out all the same
    assert "lỗi: Thu nhận:" in out.getvalue()
    # the console gets one line; the traceback is kept in the deployment's log file
    assert "Traceback" not in err.getvalue() and "Traceback" not in out.getvalue()
    log = (dep.settings.path("logs") / "baocao.log").read_text(encoding="utf-8")
    assert "Traceback" in log


def test_a_summary_that_cannot_be_made_skips_itself_only(tmp_path, server):
    dep = api.load_deployment(smtp_config(tmp_path, server))
    output = dep.settings.path("output")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("not a folder", encoding="utf-8")  # consolidate cannot write
    report = api.run_due(dep, now=at("2025-03-08", 8))
    kinds = Counter(m.message["X-Baocao-Kind"] for m in server.messages)
    assert kinds == Counter({"reminder": 9})
    assert [e.split(":")[0] for e in report.errors] == ["tổng hợp 2025-Q1"]
    output.unlink()
    api.run_due(dep, now=at("2025-03-08", 9))  # the next run makes and sends it
    assert Counter(m.message["X-Baocao-Kind"] for m in server.messages)["summary"] == 2


def test_a_bad_address_in_one_units_file_costs_that_address_only(tmp_path, server):
    dep = api.load_deployment(smtp_config(tmp_path, server))
    box = dep.settings.path("inbox")
    make_submission(dep, "DT_TG", "2025-Q1", box / "a.xlsx", nguoi_lap=None)
    make_submission(dep, "DT_VP", "2025-Q1", box / "b.xlsx", nguoi_lap=None)
    api.collect(dep, now=at("2025-03-03", 8))
    with open_store(dep.settings) as ledger:  # as an older, laxer validator let it in
        ledger.db.execute("UPDATE files SET contact='an..nv@donvi.vn' WHERE original_name='a.xlsx'")
    report = api.run_due(dep, now=at("2025-03-03", 9))
    feedback = {
        m.message["X-Baocao-Unit"]: m.rcpt_tos
        for m in server.messages
        if m.message["X-Baocao-Kind"] == "feedback"
    }
    assert feedback == {
        "DT_TG": ["tongiao@sdttg.langson.example"],
        "DT_VP": ["vp@sdttg.langson.example", "an.nv@donvi.langson.example"],
    }
    assert any("an..nv@donvi.vn" in note and "bỏ qua địa chỉ" in note for note in report.notes)
    assert sum(received(server).values()) == 2 + 9  # both answers and every unit's reminder


# --- exactly once: overlapping runs and a sender killed mid-send --------------------------


def run_due_process(config: Path, now: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "baocao", "--config", str(config), "run-due", "--now", now],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def test_two_overlapping_runs_against_a_slow_server_send_each_message_once(tmp_path, server):
    config = smtp_config(tmp_path, server)
    server.hold_seconds = 0.4  # 9 reminders: ~4 s of sending, long enough to overlap
    first = run_due_process(config, "2025-03-03T08:30")
    deadline = time.monotonic() + 60
    while not server.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    second = run_due_process(config, "2025-03-03T08:30")  # starts while the first is sending
    outputs = [p.communicate(timeout=120) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    assert sum(received(server).values()) == 9 and set(received(server).values()) == {1}
    assert "Một lần chạy khác đang gửi thư" in outputs[1][0].decode("utf-8")


def test_a_sender_killed_while_the_server_holds_a_message_never_sends_it_twice(tmp_path, server):
    config = smtp_config(tmp_path, server)
    # three messages go through; the server records the fourth, then keeps the sender waiting
    server.hold_seconds, server.hold_after = 30, 3
    proc = run_due_process(config, "2025-03-03T08:30")
    deadline = time.monotonic() + 60
    while len(server.messages) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.kill()  # SIGKILL (TerminateProcess on Windows) mid-send: no cleanup runs
    proc.wait(timeout=30)
    server.hold_seconds = 0
    held = {server.messages[3].message["X-Baocao-Unit"]}
    restart = subprocess.run(
        [sys.executable, "-m", "baocao", "--config", str(config), "run-due", "--now", "2025-03-03T09:30"],
        cwd=REPO, capture_output=True, timeout=120,
    )  # fmt: skip
    units = Counter(m.message["X-Baocao-Unit"] for m in server.messages)
    assert set(units.values()) == {1} and len(units) == 9  # nothing twice, everyone once
    out = restart.stdout.decode("utf-8")
    assert restart.returncode == 1 and out.count("không chắc đã gửi:") == len(held)
    dep = api.load_deployment(config)
    with open_store(dep.settings) as ledger:
        uncertain = {r.unit for r in ledger.messages("uncertain")}
        assert uncertain == held and ledger.messages("pending") == [] and ledger.messages("sending") == []
        assert len(ledger.messages("sent")) == 8


def test_claims_are_taken_by_one_process_only(tmp_path):
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as a, Ledger(path) as b:
        now = at("2025-03-03", 8)
        a.plan_message("k", kind="reminder", period="2025-Q1", unit="X", recipients=["x@y.vn"],
                       now=now, subject="s", body=b"m")  # fmt: skip
        assert a.claim_message("k", "A", now) and not b.claim_message("k", "B", now)
        a.message_committing("k", "A")
        with pytest.raises(ClaimLost):
            b.message_committing("k", "B")
        assert [r.key for r in b.messages("sending")] == ["k"]
        assert b.release_claims(now) == ["k"]  # a dead sender after the commit mark: uncertain
        assert a.message("k").status == "uncertain"


def test_a_marked_file_that_is_gone_costs_the_attachment_only(tmp_path, server):
    dep = api.load_deployment(smtp_config(tmp_path, server))
    make_submission(dep, "DT_TG", "2025-Q1", dep.settings.path("inbox") / "x.xlsx", nguoi_lap=None)
    [result] = api.collect(dep, now=at("2025-03-03", 8)).results
    result.feedback.unlink()  # removed by hand, or the feedback share is gone
    report = api.run_due(dep, now=at("2025-03-03", 9))
    assert not report.errors
    mine = {
        m.message["X-Baocao-Kind"]: m.message
        for m in server.messages
        if m.message["X-Baocao-Unit"] == "DT_TG"
    }
    assert list(mine["feedback"].iter_attachments()) == []
    assert "Mở lại tệp “x.xlsx” đơn vị đã gửi." in mine["feedback"].get_body(("plain",)).get_content()
    # the reminder falls back to the blank template
    [template] = list(mine["reminder"].iter_attachments())
    assert template.get_filename() == "DT_TG_2025-Q1_phong-quan-ly-ton-giao.xlsx"
    assert "bị trả lại" in mine["reminder"]["Subject"]


def test_messages_of_an_older_ledger_keep_their_recipient_and_state(tmp_path):
    """m008 on a ledger made before it: every message kept, its one recipient in ``recipients``."""
    import sqlite3

    from baocao.store.migrations import MIGRATIONS

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    for step in MIGRATIONS[:7]:
        step.apply(db)
        db.execute("INSERT INTO _migrations VALUES (?, NULL)", (step.name,))
    db.execute("PRAGMA user_version = 7")
    db.execute(
        "INSERT INTO messages (key, kind, period, unit, recipient, status, created_at, body) "
        "VALUES ('r|2025-Q1|DT_TG|a@b.vn|truoc-7-ngay', 'reminder', '2025-Q1', 'DT_TG', 'a@b.vn', "
        "'sent', '2025-03-03T08:00:00+07:00', x'00')"
    )
    db.close()
    with Ledger(path) as ledger:
        [row] = ledger.messages()
        assert (row.status, row.recipient, row.recipients) == ("sent", "a@b.vn", ("a@b.vn",))
        assert ledger.claim_message(row.key, "me", at("2025-03-03")) is False  # sent stays sent


def test_a_unit_with_a_mistyped_address_costs_its_own_reminder_only(tmp_path, server, capsys):
    """A typo in one unit's address in the registry used to refuse the whole registry: no collect,
    no reminder, no summary for anyone. Now that unit is kept without an address, every command
    says which line to mend, and the others are reminded as usual."""
    registry = tmp_path / "don-vi.csv"
    text = REGISTRY.read_text(encoding="utf-8")
    assert "vp@snv.langson.example" in text
    registry.write_text(text.replace("vp@snv.langson.example", "vp@@snv.langson"), encoding="utf-8")
    mail = smtp_config(tmp_path, server).read_text(encoding="utf-8").split("[mail]", 1)[1]
    config = tmp_path / "config.toml"
    config.write_text(config_text(registry=registry, extra="[mail]" + mail), encoding="utf-8")

    dep = api.load_deployment(config)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith("NV_VP,"))
    why = dep.registry.bad_addresses["NV_VP"]
    assert f"don-vi.csv dòng {line}" in why and "'vp@@snv.langson'" in why
    assert dep.unit("NV_VP", dep.period("2025-Q1")).email == ""

    report = api.run_due(dep, now=at("2025-03-03", 8))
    reminded = {
        m.message["X-Baocao-Unit"] for m in server.messages if m.message["X-Baocao-Kind"] == "reminder"
    }
    expected = {u.code for u in dep.registry.reporting_units(dep.period("2025-Q1")) if u.email}
    assert "NV_VP" not in reminded and len(expected) > 3 and reminded == expected
    assert any("NV_VP" in note and "vp@@snv.langson" in note for note in report.notes)

    capsys.readouterr()
    assert main(["--config", str(config), "info"]) == 0
    shown = capsys.readouterr()
    assert f"Cần sửa    : don-vi.csv dòng {line}" in shown.out
    assert "vp@@snv.langson" in shown.err  # and every command warns until it is mended
