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
from conftest import REPO, config_text
from helpers import make_submission
from smtp_server import SmtpServer

from baocao import api
from baocao.cli import main
from baocao.jobs import due_events
from baocao.store import open_store

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
    """(kind, unit, recipient) of every message the server got, counted."""
    return Counter(
        (m.message["X-Baocao-Kind"], m.message["X-Baocao-Unit"], m.rcpt_tos[0]) for m in server.messages
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
    moment = datetime(2025, 2, 1, tzinfo=TZ)
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
    assert calls == 42 * 24 + 1

    units = {u.code: u.email for u in dep.registry.reporting_units(dep.period("2025-Q1"))}
    everyone = set(units)
    expected = Counter()
    for stage_units in (
        everyone - {"NV_VP"},  # 7 days before (3 March): NV_VP has reported
        everyone - {"NV_VP", "DT_TG"},  # 3 days before: DT_VP was only rejected
        everyone - {"NV_VP", "DT_TG", "DT_VP"},  # 1 day before
    ):
        for unit in stage_units:
            expected[("reminder", unit, units[unit])] += 1
    # the rejected file: feedback to the unit's registered address and to the one typed in it
    expected[("feedback", "DT_VP", units["DT_VP"])] += 1
    expected[("feedback", "DT_VP", "an.nv@donvi.langson.example")] += 1
    for coordinator in COORDINATORS:
        expected[("summary", None, coordinator)] += 2  # provisional (8 March) and final (10 March)
    assert received(server) == expected

    reminder = next(m for m in server.messages if m.message["X-Baocao-Unit"] == "DT_CSDT")
    assert reminder.message["X-Baocao-Period"] == "2025-Q1"
    assert "09/03/2025" in reminder.message["Subject"]
    attachment = next(reminder.message.iter_attachments())
    book = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    ((sheet, ref),) = book.defined_names["ma_don_vi"].destinations
    assert book[sheet][ref.replace("$", "")].value == "DT_CSDT"

    final = [m for m in server.messages if m.message["X-Baocao-Kind"] == "summary"][-1]
    body = final.message.get_body(("plain",)).get_content()
    assert "chính thức" in body
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
        assert len(pending) == 9 and all("SMTP" in (r.last_error or "") or r.last_error for r in pending)
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
    assert failed.recipient == "csdt@sdttg.langson.example" and (failed.last_error or "").startswith("550")


def test_no_reminder_after_the_deadline_even_if_the_machine_was_off(tmp_path, server):
    dep = api.load_deployment(smtp_config(tmp_path, server))
    api.run_due(dep, now=at("2025-03-12", 9))
    kinds = Counter(m.message["X-Baocao-Kind"] for m in server.messages)
    assert kinds == Counter({"summary": 2})  # the final summary only


def test_a_restart_in_the_middle_sends_nothing_twice(tmp_path, server):
    config = smtp_config(tmp_path, server)
    dep = api.load_deployment(config)
    make_submission(dep, "DT_VP", "2025-Q1", dep.settings.path("inbox") / "x.xlsx", nguoi_lap=None)
    cmd = [sys.executable, "-m", "baocao", "--config", str(config), "run-due", "--now", "2025-03-08T08:30"]
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=120)
    assert first.returncode == 0, first.stderr.decode()
    count = sum(received(server).values())
    assert count == 9 + 2 + 2  # 9 reminders (DT_VP rejected), feedback to 2 addresses, 2 summaries
    second = subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=120)
    assert second.returncode == 0
    later = subprocess.run([*cmd[:-1], "2025-03-08T15:00"], cwd=REPO, capture_output=True, timeout=120)
    assert later.returncode == 0
    assert sum(received(server).values()) == count


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
