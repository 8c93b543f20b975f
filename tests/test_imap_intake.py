"""The mailbox as an intake, through real collects against a real Dovecot on 127.0.0.1.

Units' e-mails arrive by IMAP APPEND with a chosen INTERNALDATE; each test has its own mailbox
user and its own deployment in ``tmp_path``. What is checked is what a coordinator relies on:
the message archived whole before anything else, its spreadsheets judged like files, the
message moved only after the ledger commit, arrival time from the server, duplicates
recognised, and a mailbox that fails costing the mailbox only.
"""

from __future__ import annotations

import base64
import io
import json
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import REPO, config_text
from dovecot import PASSWORD, CuttingProxy
from helpers import (
    BEFORE_DEADLINE,
    TZ,
    current,
    inbox,
    mailbox_config,
    mailed_report,
    make_submission,
    stored_files,
)
from mail_samples import fake_xlsx, message, raw, zipped

from baocao import api
from baocao.cli import main
from baocao.intake.mailbox import PASSWORD_ENV
from baocao.store.archive import JOURNAL

SENDER = "vanthu@donvi.langson.example"
AFTER_DEADLINE = datetime(2025, 3, 12, 9, 0, tzinfo=TZ)  # 2025-Q1 units' deadline: end of 09/03


@pytest.fixture
def user(dovecot, monkeypatch) -> str:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return dovecot.new_user()


@pytest.fixture
def dep(tmp_path, dovecot, user) -> api.Deployment:
    return api.load_deployment(mailbox_config(tmp_path, dovecot, user))


def archived(dep: api.Deployment, suffix: str) -> list[Path]:
    return sorted(p for p in dep.settings.path("archive").rglob(f"*{suffix}") if p.is_file())


def journal(dep: api.Deployment) -> list[dict]:
    lines = []
    for path in sorted(dep.settings.path("archive").rglob(JOURNAL)):
        lines += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return lines


# --- one report by e-mail, end to end ------------------------------------------------------------


def test_an_emailed_report_is_archived_whole_judged_like_a_file_and_then_filed_away(
    dep, dovecot, user, tmp_path
):
    sent = mailed_report(dep, "DT_TG", "2025-Q1", tmp_path / "made")
    dovecot.append(user, sent, BEFORE_DEADLINE)
    # collected three days after the deadline (the machine was off): on time by INTERNALDATE
    report = api.collect(dep, now=AFTER_DEADLINE)
    [result] = report.results
    assert (result.status, result.unit, result.received_at) == ("accepted", "DT_TG", BEFORE_DEADLINE)
    assert result.name == f"Báo cáo CCHC.xlsx (thư của {SENDER})"
    assert report.unavailable == [] and report.skipped == []
    container, child = stored_files(dep)
    assert container.status == "container" and container.source == "imap" and container.sender == SENDER
    assert container.arrival_key == f"imap:{_uidvalidity(dovecot, user)}:1"
    assert (dep.settings.path("archive") / container.archive_path).read_bytes() == sent  # the raw message
    assert child.parent_id == container.id and child.sender == SENDER and child.source == "imap"
    assert child.mail is not None and child.mail.answer_to == SENDER
    assert child.mail.message_id.startswith("<DT_TG.2025-Q1.")
    assert child.original_name == "Báo cáo CCHC.xlsx" and container.removed_from_inbox
    assert dovecot.uids(user, "INBOX") == [] and dovecot.uids(user, "Đã xử lý") == [1]
    [status] = [s for s in api.status(dep, "2025-Q1") if s.unit.code == "DT_TG"]
    assert status.status == "on_time" and status.source == "imap" and status.sender == SENDER
    # the journal lets a rebuild give back the message, its attachment and the thread to answer
    lines = journal(dep)
    assert [line["container"] for line in lines] == [True, False]
    assert lines[1]["parent_key"] == lines[0]["arrival_key"] and lines[1]["mail"]["answer_to"] == SENDER
    again = api.collect(dep, now=AFTER_DEADLINE + timedelta(hours=1))
    assert again.results == [] and len(stored_files(dep)) == 2


def _uidvalidity(dovecot, user: str) -> int:
    client = dovecot.client(user)
    try:
        return int(client.select_folder("INBOX", readonly=True)[b"UIDVALIDITY"])
    finally:
        client.logout()


def test_arrival_time_is_the_servers_not_the_date_header(dep, dovecot, user, tmp_path):
    late = AFTER_DEADLINE - timedelta(days=1)
    sent = mailed_report(dep, "DT_TG", "2025-Q1", tmp_path / "made")
    backdated = sent.replace(b"Date: Wed, 05 Mar 2025", b"Date: Wed, 26 Feb 2025")  # a week early
    assert backdated != sent
    dovecot.append(user, backdated, late)
    [result] = api.collect(dep, now=AFTER_DEADLINE).results
    assert result.received_at == late
    [status] = [s for s in api.status(dep, "2025-Q1") if s.unit.code == "DT_TG"]
    assert (status.status, status.days_late) == ("late", 2)


def test_a_report_is_judged_as_of_the_day_it_arrived_not_the_day_the_mailbox_was_read(
    dep, dovecot, user, tmp_path
):
    """A report dated after it reached the mailbox is dated in the future, however late it is
    read (as it would have been in the folder on that day): the verdict does not depend on
    when the coordinator's machine was on."""
    arrived = datetime(2025, 3, 2, 10, tzinfo=TZ)
    dated_later = mailed_report(dep, "DT_TG", "2025-Q1", tmp_path / "a", ngay_lap=datetime(2025, 3, 5))
    dated_before = mailed_report(dep, "NV_VP", "2025-Q1", tmp_path / "b", ngay_lap=datetime(2025, 3, 1))
    dovecot.append(user, dated_later, arrived)
    dovecot.append(user, dated_before, arrived)
    results = {r.unit: r for r in api.collect(dep, now=AFTER_DEADLINE).results}
    assert results["NV_VP"].status == "accepted"
    assert results["DT_TG"].status == "rejected"
    assert "ngày 05/03/2025 muộn hơn 02/03/2025" in results["DT_TG"].issues[0].message


def test_the_same_message_delivered_twice_and_the_same_file_sent_twice_count_once(
    dep, dovecot, user, tmp_path
):
    sent = mailed_report(dep, "DT_TG", "2025-Q1", tmp_path / "made")
    dovecot.append(user, sent, BEFORE_DEADLINE)
    dovecot.append(user, sent, BEFORE_DEADLINE + timedelta(minutes=1))  # delivered twice
    attachment = _attachment_of(sent)
    forwarded = raw(message(attachments=[("gui lai.xlsx", attachment)], message_id="<gui-lai@donvi>"))
    dovecot.append(user, forwarded, BEFORE_DEADLINE + timedelta(hours=2))  # the same file, a new e-mail
    report = api.collect(dep, now=BEFORE_DEADLINE + timedelta(hours=3))
    assert sorted(r.status for r in report.results) == ["accepted", "duplicate", "duplicate"]
    files = stored_files(dep)
    children = [f for f in files if f.status != "container"]
    assert len({f.parent_id for f in children}) == 3  # each e-mail kept, each file linked to its own
    first, twice, again = children
    assert twice.duplicate_of == first.id and again.duplicate_of == first.id
    assert twice.arrival_key == first.arrival_key != again.arrival_key  # Message-ID + hash
    assert len(archived(dep, ".xlsx")) == 1 and len(current(dep)) == 1
    assert dovecot.uids(user, "INBOX") == []


def _attachment_of(sent: bytes) -> bytes:
    import email
    import email.policy

    msg = email.message_from_bytes(sent, policy=email.policy.default)
    [part] = list(msg.iter_attachments())  # type: ignore[attr-defined]
    return part.get_content()


# --- a mailbox that fails costs the mailbox only ---------------------------------------------------


def test_a_mailbox_that_refuses_the_login_costs_the_mailbox_only(dep, dovecot, user, monkeypatch):
    make_submission(dep, "NV_VP", "2025-Q1", inbox(dep) / "a.xlsx")
    dovecot.append(user, raw(message(attachments=[("a.xlsx", fake_xlsx("x"))])), BEFORE_DEADLINE)
    monkeypatch.setenv(PASSWORD_ENV, "sai-mat-khau")
    report = api.collect(dep, now=BEFORE_DEADLINE)
    assert [(r.status, r.unit) for r in report.results] == [("accepted", "NV_VP")]  # the folder
    [(source, why)] = report.unavailable
    assert source == "imap" and "từ chối đăng nhập" in why and "lần chạy sau" in why
    assert report.had_problems and dovecot.uids(user, "INBOX") == [1]


def test_a_mailbox_that_is_down_is_reported_by_collect_and_run_due_goes_on(tmp_path, dovecot, user):
    config = mailbox_config(tmp_path, _Down(), user)  # nothing listens on that port
    dep = api.load_deployment(config)
    make_submission(dep, "NV_VP", "2025-Q1", inbox(dep) / "a.xlsx", nguoi_lap=None)
    out, err = io.StringIO(), io.StringIO()
    code = main(["--config", str(config), "run-due", "--now", "2025-03-08T09:00"], out=out, err=err)
    assert code == 1, err.getvalue()
    text = out.getvalue()
    assert "chưa đọc được hộp thư: Không đọc được hộp thư" in text and "không kết nối được" in text
    assert "Thu nhận: 0 tiếp nhận, 1 trả lại" in text  # the folder was collected
    assert "Đã gửi" in text and "Đã gửi 0 thư" not in text  # and what was due went out


class _Down:
    host = "127.0.0.1"

    def __init__(self) -> None:
        from smtp_server import free_port

        self.port = free_port()


def test_a_connection_dropped_mid_fetch_leaves_the_message_for_the_next_run(tmp_path, dovecot, user):
    proxy = CuttingProxy(dovecot.port, keep=300)
    proxied = type("Proxied", (), {"host": "127.0.0.1", "port": proxy.port})()
    config = mailbox_config(tmp_path, proxied, user)
    dep = api.load_deployment(config)
    dovecot.append(user, mailed_report(dep, "DT_TG", "2025-Q1", tmp_path / "made"), BEFORE_DEADLINE)
    report = api.collect(dep, now=BEFORE_DEADLINE)
    assert proxy.cut.is_set()
    assert report.results == [] and [s for s, _ in report.unavailable] == ["imap"]
    assert "mất kết nối" in report.unavailable[0][1] and len(report.waiting) == 1
    assert stored_files(dep) == [] and archived(dep, ".eml") == []
    assert dovecot.uids(user, "INBOX") == [1]
    dep = api.load_deployment(mailbox_config(tmp_path, dovecot, user))
    [result] = api.collect(dep, now=BEFORE_DEADLINE + timedelta(hours=1)).results
    assert (result.status, result.received_at) == ("accepted", BEFORE_DEADLINE)
    assert dovecot.uids(user, "INBOX") == []


def test_collect_source_chooses_one_intake(dep, dovecot, user, tmp_path):
    config = dep.settings.config_file
    make_submission(dep, "NV_VP", "2025-Q1", inbox(dep) / "a.xlsx")
    dovecot.append(user, mailed_report(dep, "DT_TG", "2025-Q1", tmp_path / "made"), BEFORE_DEADLINE)
    out = io.StringIO()
    args = ["--config", str(config), "collect", "--now", "2025-03-08T09:00", "--json"]
    assert main([*args, "--source", "imap"], out=out) == 0
    assert [f["unit"] for f in json.loads(out.getvalue())["files"]] == ["DT_TG"]
    out = io.StringIO()
    assert main([*args, "--source", "folder"], out=out) == 0
    assert [f["unit"] for f in json.loads(out.getvalue())["files"]] == ["NV_VP"]
    out = io.StringIO()
    assert main(["--config", str(config), "status", "--period", "2025-Q1"], out=out) == 0
    rows = {line.split()[0]: line for line in out.getvalue().splitlines() if line[:5] in ("DT_TG", "NV_VP")}
    assert f"thư {SENDER}" in rows["DT_TG"] and "thư mục" in rows["NV_VP"]
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.toml").write_text(config_text(), encoding="utf-8")
    err = io.StringIO()
    code = main(["--config", str(plain / "config.toml"), "collect", "--source", "imap"], err=err)
    assert code == 2 and "[intake.imap]" in err.getvalue()


def test_the_processed_folder_deleted_by_a_person_is_made_again(dep, dovecot, user, tmp_path):
    dovecot.append(user, mailed_report(dep, "DT_TG", "2025-Q1", tmp_path / "a"), BEFORE_DEADLINE)
    api.collect(dep, now=BEFORE_DEADLINE)
    client = dovecot.client(user)
    client.delete_folder("Đã xử lý")
    client.logout()
    dovecot.append(user, mailed_report(dep, "NV_VP", "2025-Q1", tmp_path / "b"), BEFORE_DEADLINE)
    [result] = api.collect(dep, now=BEFORE_DEADLINE + timedelta(hours=1)).results
    assert result.status == "accepted"
    assert dovecot.uids(user, "Đã xử lý") == [1] and dovecot.uids(user, "INBOX") == []


# --- hostile and odd messages cost one message -------------------------------------------------------


def test_hostile_and_odd_messages_cost_that_message_only(dep, dovecot, user, tmp_path):
    good = mailed_report(dep, "DT_TG", "2025-Q1", tmp_path / "made")
    bomb = zipped({"bom.zip": zipped({"a.xlsx": bytes(50 * 2**20)})})
    odd = {
        "no-attachment": raw(message(message_id="<khong-dinh-kem@donvi>")),
        "thirty": raw(
            message(
                attachments=[(f"bc-{i}.xlsx", fake_xlsx(str(i))) for i in range(30)],
                message_id="<ba-muoi@donvi>",
            )
        ),
        "zip-in-zip": raw(message(attachments=[("bao-cao.zip", bomb)], message_id="<zip@donvi>")),
        "malformed": b"From: x@donvi.langson.example\r\nContent-Type: multipart/mixed; boundary=zz\r\n"
        b"Message-ID: <hong@donvi>\r\n\r\n--zz\r\nContent-Type: application/vnd.ms-excel\r\n"
        b"Content-Disposition: attachment; filename=a.xls\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!",
        "bounce": raw(
            message(
                sender="MAILER-DAEMON@mail.langson.example",
                attachments=[("Báo cáo CCHC.xlsx", _attachment_of(good))],
                message_id="<bounce@mail>",
            )
        ),
        "auto-reply": raw(message(subject="Tôi đang nghỉ phép", headers={"Auto-Submitted": "auto-replied"})),
    }
    for number, data in enumerate(odd.values()):
        dovecot.append(user, data, BEFORE_DEADLINE + timedelta(minutes=number))
    dovecot.append(user, good, BEFORE_DEADLINE + timedelta(hours=1))
    report = api.collect(dep, now=BEFORE_DEADLINE + timedelta(hours=2))
    assert [(r.status, r.unit) for r in report.results] == [("accepted", "DT_TG")]
    reasons = dict(report.skipped)
    assert len(reasons) == 4, reasons  # the bounce and the auto-reply are not a person's problem
    text = " | ".join(reasons.values())
    assert "không có bảng tính" in text and "30 bảng tính" in text and "lồng nhau" in text
    assert "cấu trúc MIME" in text
    assert len(archived(dep, ".eml")) == len(odd) + 1  # every message kept as it came
    assert dovecot.uids(user, "INBOX") == []  # and filed away: each was recorded


def test_a_windows_1258_name_and_another_periods_template_are_taken_like_files(dep, dovecot, user, tmp_path):
    """A real report whose name is raw windows-1258 bytes (an old webmail), and NV_VP's template
    of last year's annual report: each judged like a file in the folder, by its content."""

    data = make_submission(dep, "DT_TG", "2025-Q1", tmp_path / "a.xlsx").read_bytes()
    raw_1258 = (
        b"From: vanthu@donvi.langson.example\r\nTo: cchc@snv.langson.example\r\nSubject: bc\r\n"
        b"Message-ID: <cu@donvi>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
        b"--XX\r\nContent-Type: text/plain\r\n\r\nxin gui\r\n--XX\r\n"
        b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="'
        b'B\xe1o c\xe1o Quy\xec I.xlsx"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.encodebytes(data).replace(b"\n", b"\r\n")
        + b"--XX--\r\n"
    )
    dovecot.append(user, raw_1258, BEFORE_DEADLINE)
    last_year = make_submission(dep, "NV_VP", "2024-Y", tmp_path / "b.xlsx", ngay_lap=datetime(2024, 12, 5))
    dovecot.append(
        user, raw(message(attachments=[("bao-cao-nam.xlsx", last_year.read_bytes())])), BEFORE_DEADLINE
    )
    results = {r.unit: r for r in api.collect(dep, now=BEFORE_DEADLINE).results}
    assert results["DT_TG"].status == "accepted"
    assert results["DT_TG"].name == f"Báo cáo Quý I.xlsx (thư của {SENDER})"  # NFC, decoded
    assert results["NV_VP"].period == "2024-Y"  # filed by what it is, not when it came
    assert {s.unit.code: s.status for s in api.status(dep, "2025-Q1")}["NV_VP"] == "missing"


def test_a_message_over_the_size_limit_is_kept_as_its_first_bytes_and_filed_away(tmp_path, dovecot, user):
    dep = api.load_deployment(mailbox_config(tmp_path, dovecot, user, imap="max_message_mb = 0.1"))
    big = raw(
        message(attachments=[("Báo cáo.xlsx", fake_xlsx("x") + bytes(300_000))], message_id="<to@donvi>")
    )
    dovecot.append(user, big, BEFORE_DEADLINE)
    report = api.collect(dep, now=BEFORE_DEADLINE)
    assert report.results == [] and "quá lớn" in report.skipped[0][1]
    [eml] = archived(dep, ".eml")
    assert eml.name.endswith("-phan-dau.eml") and big.startswith(eml.read_bytes())
    assert eml.stat().st_size == int(0.1 * 2**20)
    assert dovecot.uids(user, "Đã xử lý") == [1]  # the whole message is still on the server


# --- a collect killed at any point loses nothing and takes nothing twice ---------------------------

CRASH = Path(__file__).with_name("crash_collect.py")
# what a killed run leaves: (files in the ledger, messages still in INBOX, messages filed away)
LEFT_BEHIND = {
    "archived": (0, 2, 0),
    "children": (0, 2, 0),
    "committed": (2, 2, 0),
    "moved": (2, 1, 1),
}  # killed between release and judging: the folder's test_collect.py covers that generic point


@pytest.mark.parametrize("point", list(LEFT_BEHIND))
def test_a_collect_killed_at_any_point_loses_nothing_and_takes_nothing_twice(
    point, dep, dovecot, user, tmp_path
):
    for number, unit in enumerate(("DT_TG", "NV_VP")):
        dovecot.append(
            user,
            mailed_report(dep, unit, "2025-Q1", tmp_path / unit),
            BEFORE_DEADLINE + timedelta(minutes=number),
        )
    args = ["--config", str(dep.settings.config_file), "collect", "--now", "2025-03-08T10:00"]
    killed = subprocess.run([sys.executable, str(CRASH), point, *args], cwd=REPO, capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    files, waiting, moved = LEFT_BEHIND[point]
    assert len(stored_files(dep)) == files
    assert len(dovecot.uids(user, "INBOX")) == waiting and len(dovecot.uids(user, "Đã xử lý")) == moved
    assert archived(dep, ".eml"), "the raw message is archived before anything else"

    report = api.collect(dep, now=BEFORE_DEADLINE + timedelta(hours=1))
    assert report.unavailable == [] and report.skipped == []
    records = stored_files(dep)
    assert sorted(r.status for r in records) == ["accepted", "accepted", "container", "container"]
    assert sorted(r.unit for r in records if r.unit) == ["DT_TG", "NV_VP"]
    assert all(r.removed_from_inbox for r in records if r.status == "container")
    assert dovecot.uids(user, "INBOX") == [] and len(dovecot.uids(user, "Đã xử lý")) == 2
    assert len(archived(dep, ".eml")) == 2 and len(archived(dep, ".xlsx")) == 2
    assert list(dep.settings.path("archive").rglob(".tmp-*")) == []
    assert {s.unit.code: s.status for s in api.status(dep, "2025-Q1")}["NV_VP"] == "on_time"
    # the archive alone gives the same ledger back (a journal line a killed run wrote counts once)
    rebuilt = api.ledger_rebuild(dep, now=BEFORE_DEADLINE + timedelta(hours=2), force=True)
    assert rebuilt.counts == {"accepted": 2, "container": 2}
    again = {(r.original_name, r.status, r.unit, r.sender, r.received_at) for r in stored_files(dep)}
    assert again == {(r.original_name, r.status, r.unit, r.sender, r.received_at) for r in records}


def test_info_names_the_mailbox_it_reads(tmp_path):
    table = '[intake.imap]\nhost = "mail.langson.example"\nuser = "cchc@snv.langson.example"\n'
    (tmp_path / "config.toml").write_text(config_text(extra=table), encoding="utf-8")
    out = io.StringIO()
    assert main(["--config", str(tmp_path / "config.toml"), "info"], out=out) == 0
    assert (
        "Hộp thư nhận : cchc@snv.langson.example tại mail.langson.example:993 (ssl), đọc 'INBOX'"
        in out.getvalue()
    )
    assert "'Đã xử lý'" in out.getvalue()
