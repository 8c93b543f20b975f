"""What the people who e-mail a report get back: real run-due against a real Dovecot (the
mailbox) and a real SMTP server on 127.0.0.1 (aiosmtpd), every message read as a mail client
reads it.

Answers to a file go to its sender and to the unit's registered address, threaded under the
sender's message; a message with no usable report gets one polite reply; machines are never
answered; a sender gets a bounded number of answers a day, so no loop with an auto-responder
can last.
"""

from __future__ import annotations

import email
import email.policy
import io
import itertools
from datetime import datetime, timedelta
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pytest
from dovecot import PASSWORD
from helpers import TZ, mailbox_config, make_submission
from mail_samples import fake_xlsx, message, raw
from smtp_server import SmtpServer

from baocao import api, mailanswers
from baocao.intake.mailbox import PASSWORD_ENV

STRANGER = "chuyenvien.tongiao@gmail.example"  # not DT_TG's registered address
DT_TG = "tongiao@sdttg.langson.example"  # DT_TG's registered address
TYPED = "an.nv@donvi.langson.example"  # the contact typed in every test file
SENT = datetime(2025, 3, 6, 10, 0, tzinfo=TZ)
RUN = datetime(2025, 3, 6, 11, 0, tzinfo=TZ)
NUMBERS = itertools.count()


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def user(dovecot, monkeypatch) -> str:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return dovecot.new_user()


def smtp_table(smtp: SmtpServer, more: str = "") -> str:
    """``[mail]`` sending through the test SMTP server."""
    return f"""
[mail]
backend = "smtp"
host = "127.0.0.1"
port = {smtp.port}
security = "none"
sender = "baocao@snv.langson.example"
timeout_seconds = 5
{more}
"""


@pytest.fixture
def dep(tmp_path, dovecot, user, smtp) -> api.Deployment:
    return api.load_deployment(mailbox_config(tmp_path, dovecot, user, extra=smtp_table(smtp)))


def report(dep, tmp_path: Path, unit: str = "DT_TG", **values) -> bytes:
    """The bytes of ``unit``'s filled template (typed contact ``TYPED``), made in ``tmp_path``."""
    out = tmp_path / "made" / f"{next(NUMBERS)}.xlsx"
    return make_submission(dep, unit, "2025-Q1", out, ngay_lap=SENT.date(), **values).read_bytes()


def mail(attachments=(), *, sender=STRANGER, ident="<bc-1@gmail.example>", **kwargs) -> bytes:
    return raw(message(attachments=list(attachments), sender=sender, message_id=ident, **kwargs))


def answers(smtp: SmtpServer, kinds=("receipt", "feedback", "held", "mail-reply")) -> list:
    return [m for m in smtp.messages if m.message["X-Baocao-Kind"] in kinds]


def text(received) -> str:
    return received.message.get_body(("plain",)).get_content()


# --- answers to a file --------------------------------------------------------------------------


def test_a_report_from_another_address_is_answered_to_both_threaded_and_the_unit_is_told(
    dep, dovecot, user, smtp, tmp_path
):
    good = report(dep, tmp_path)
    wrong = report(dep, tmp_path, nguoi_lap=None)
    dovecot.append(user, mail([("Báo cáo.xlsx", good)], ident="<tot@gmail.example>"), SENT)
    reply_to_feedback = mail(
        [("Báo cáo sửa.xlsx", wrong)],
        ident="<sua@gmail.example>",
        subject="Re: [Đã tiếp nhận] báo cáo",
        headers={
            "In-Reply-To": "<tot@gmail.example>",
            "References": "<goc@gmail.example> <tot@gmail.example>",
        },
    )
    dovecot.append(user, reply_to_feedback, SENT + timedelta(minutes=5))
    api.run_due(dep, now=RUN)
    receipt, feedback = sorted(answers(smtp), key=lambda m: m.message["X-Baocao-Kind"], reverse=True)
    for answer in (receipt, feedback):
        assert sorted(answer.rcpt_tos) == sorted([DT_TG, TYPED, STRANGER])
        assert answer.message["Auto-Submitted"] == "auto-generated"
        assert f"từ địa chỉ {STRANGER}, không phải địa chỉ đã đăng ký" in text(answer)
    assert receipt.message["X-Baocao-Kind"] == "receipt"
    assert receipt.message["In-Reply-To"] == "<tot@gmail.example>"
    assert receipt.message["References"] == "<tot@gmail.example>"
    assert feedback.message["In-Reply-To"] == "<sua@gmail.example>"
    assert feedback.message["References"] == "<goc@gmail.example> <tot@gmail.example> <sua@gmail.example>"
    assert any(p.get_filename().endswith(".xlsx") for p in feedback.message.iter_attachments())
    api.run_due(dep, now=RUN + timedelta(hours=1))
    assert len(answers(smtp)) == 2  # each answered once


def test_a_report_from_the_units_own_address_is_answered_once_without_a_warning(
    dep, dovecot, user, smtp, tmp_path
):
    dovecot.append(user, mail([("bc.xlsx", report(dep, tmp_path))], sender=DT_TG.upper()), SENT)
    api.run_due(dep, now=RUN)
    [receipt] = answers(smtp)
    assert sorted(receipt.rcpt_tos) == sorted([DT_TG, TYPED])  # the sender once, whatever its case
    assert "không phải địa chỉ đã đăng ký" not in text(receipt)


def test_a_held_file_tells_the_unit_it_names_and_its_sender(dep, dovecot, user, smtp, tmp_path):
    import openpyxl

    path = tmp_path / "forged.xlsx"
    path.write_bytes(report(dep, tmp_path))
    book = openpyxl.load_workbook(path)
    meta = book["_meta"]
    for row in range(1, meta.max_row + 1):
        if meta.cell(row, 1).value == "signature":
            meta.cell(row, 2).value = "0" * 32
    book.save(path)
    dovecot.append(user, mail([("bc.xlsx", path.read_bytes())]), SENT)
    [result] = api.run_due(dep, now=RUN).collected.results  # type: ignore[union-attr]
    assert result.status == "held"
    notices = answers(smtp)
    assert sorted(r for m in notices for r in m.rcpt_tos) == sorted([DT_TG, TYPED, STRANGER])
    assert all(m.message["In-Reply-To"] == "<bc-1@gmail.example>" for m in notices)
    to_unit = next(m for m in notices if m.rcpt_tos == [DT_TG])
    assert f"từ địa chỉ {STRANGER}" in text(to_unit)


def test_a_file_for_no_unit_goes_back_to_the_sender_only(dep, dovecot, user, smtp, tmp_path):
    unknown = report(dep, tmp_path, ma_don_vi="XYZ")
    dovecot.append(user, mail([("la.xlsx", unknown)]), SENT)
    api.run_due(dep, now=RUN)
    [feedback] = answers(smtp)
    assert feedback.rcpt_tos == [STRANGER]  # not the address typed in the file, nor a unit's
    assert feedback.message["In-Reply-To"] == "<bc-1@gmail.example>"


def test_a_workbook_that_is_not_the_template_is_answered_as_such_not_as_cells_to_fix(
    dep, dovecot, user, smtp, tmp_path
):
    """A random workbook once got "[Bị trả lại] … (không rõ kỳ) – người lập báo cáo: 1 lỗi",
    "sửa các ô nêu trên" and a marked-up copy of itself: none of which had happened."""
    book = openpyxl.Workbook()
    book.active["A1"] = "Danh sách cán bộ"
    buffer = io.BytesIO()
    book.save(buffer)
    dovecot.append(user, mail([("danh-sach.xlsx", buffer.getvalue())]), SENT)
    api.run_due(dep, now=RUN)
    [answer] = answers(smtp)
    strict = email.message_from_bytes(answer.raw, policy=email.policy.strict)
    subject = str(make_header(decode_header(" ".join(strict.get("Subject").split()))))
    assert (
        subject == "[Bị trả lại] Báo cáo tuyên truyền CCHC: tệp “danh-sach.xlsx” không phải biểu mẫu báo cáo"
    )
    body = " ".join(text(answer).split())
    assert (
        "Tệp này không phải biểu mẫu Báo cáo tuyên truyền CCHC, nên chưa có báo cáo nào được ghi nhận" in body
    )
    assert "Dùng biểu mẫu điền sẵn của đơn vị" in body
    for wrong in ("lỗi dưới đây", "Sửa các ô", "không rõ kỳ", "(kỳ -)", "Bản gửi sau thay thế"):
        assert wrong not in body
    assert list(answer.message.iter_attachments()) == []
    assert answer.rcpt_tos == [STRANGER] and answer.message["In-Reply-To"] == "<bc-1@gmail.example>"


# --- the intake's own replies -------------------------------------------------------------------------


def test_a_message_without_a_usable_report_gets_one_polite_reply(dep, dovecot, user, smtp):
    dovecot.append(user, mail([("cong-van.pdf", b"%PDF-1.4")], subject="Báo cáo quý I"), SENT)
    dovecot.append(user, mail([("cong-van.pdf", b"%PDF-1.4")], subject="Báo cáo quý I"), SENT)  # twice
    api.run_due(dep, now=RUN)
    [reply] = answers(smtp)
    assert reply.rcpt_tos == [STRANGER] and reply.message["X-Baocao-Kind"] == "mail-reply"
    assert reply.message["Subject"] == "Re: Báo cáo quý I"
    assert reply.message["In-Reply-To"] == "<bc-1@gmail.example>"
    assert reply.message["Auto-Submitted"] == "auto-generated"
    body = text(reply)
    assert "không có tệp báo cáo (bảng tính) đính kèm" in body and "cong-van.pdf" in body
    assert "lúc 10:00 ngày 06/03/2025" in body  # when the server received it
    api.run_due(dep, now=RUN + timedelta(hours=1))
    assert len(answers(smtp)) == 1


@pytest.mark.parametrize(
    ("kind", "attachments", "expected"),
    [
        ("tnef", [("winmail.dat", b"\x78\x9f\x3e\x22tnef")], "winmail.dat"),
        ("too_many", [(f"bc-{i}.xlsx", fake_xlsx(str(i))) for i in range(25)], "mỗi báo cáo trong một thư"),
    ],
)
def test_outlook_tnef_and_too_many_files_get_the_matching_reply(
    dep, dovecot, user, smtp, kind, attachments, expected
):
    dovecot.append(user, mail(attachments), SENT)
    api.run_due(dep, now=RUN)
    [reply] = answers(smtp)
    assert expected in text(reply)


def bounce() -> bytes:
    """A delivery failure report (multipart/report) carrying one of our answers back."""
    ours = message(sender="baocao@snv.langson.example", attachments=[("phan-hoi.xlsx", fake_xlsx("fb"))])
    notice = EmailMessage()
    notice["From"] = "Mail Delivery System <MAILER-DAEMON@mx.gmail.example>"
    notice["To"] = "cchc@snv.langson.example"
    notice["Subject"] = "Undelivered Mail Returned to Sender"
    notice["Message-ID"] = "<bounce@mx.gmail.example>"
    notice.set_content("This is the mail system at host mx.gmail.example. I'm sorry to have to inform you...")
    notice.add_attachment(ours)
    notice.replace_header(
        "Content-Type", notice["Content-Type"].replace("multipart/mixed", "multipart/report")
    )
    return raw(notice)


def test_machines_are_never_answered(dep, dovecot, user, smtp, tmp_path):
    own = raw(
        message(
            sender="baocao@snv.langson.example", message_id="<baocao.0123456789abcdef0123456789abcdef@snv>"
        )
    )
    machines = [
        bounce(),
        mail(subject="Tôi đang nghỉ phép", ident="<n@x>", headers={"Auto-Submitted": "auto-replied"}),
        mail(ident="<l@x>", headers={"List-Id": "<cchc.lists.example>"}),
        own,
    ]
    for number, data in enumerate(machines):
        dovecot.append(user, data, SENT + timedelta(minutes=number))
    # an auto-reply that carries a report: the report counts, the machine is not answered
    auto = mail(
        [("bc.xlsx", report(dep, tmp_path))], ident="<a@x>", headers={"Auto-Submitted": "auto-generated"}
    )
    dovecot.append(user, auto, SENT + timedelta(minutes=9))
    due = api.run_due(dep, now=RUN)
    assert [r.status for r in due.collected.results] == ["accepted"]  # type: ignore[union-attr]
    [receipt] = answers(smtp)
    assert STRANGER not in receipt.rcpt_tos and DT_TG in receipt.rcpt_tos


def test_a_sender_gets_at_most_three_replies_a_day(dep, dovecot, user, smtp):
    for number in range(5):
        dovecot.append(user, mail(ident=f"<trong-{number}@x>"), SENT + timedelta(minutes=number))
    api.run_due(dep, now=RUN)
    assert len(answers(smtp)) == 3
    api.run_due(dep, now=RUN + timedelta(hours=2))
    assert len(answers(smtp)) == 3  # still today
    api.run_due(dep, now=RUN + timedelta(days=1))
    assert len(answers(smtp)) == 5  # a new day: the two left are answered, once each


def test_an_auto_responder_without_markers_cannot_keep_a_loop_going(
    dep, dovecot, user, smtp, tmp_path, monkeypatch
):
    """A responder that answers every message we send with a new (rejected) file and hides every
    sign of being a machine: the loop stops at the daily cap on answers to one address."""
    monkeypatch.setattr(mailanswers, "DAILY_FILE_ANSWERS", 3)
    now = RUN
    dovecot.append(user, mail([("bc.xlsx", report(dep, tmp_path, nguoi_lap=None))], ident="<vong-0@x>"), SENT)
    for round_ in range(1, 6):
        api.run_due(dep, now=now)
        ours = [m for m in answers(smtp) if STRANGER in m.rcpt_tos]
        last = ours[-1].message["Message-ID"] if ours else "<none@x>"
        echo = mail(
            [("bc.xlsx", report(dep, tmp_path, nguoi_lap=None, tin_bai_cong_ttdt=round_))],
            ident=f"<vong-{round_}@x>",
            subject="Re: báo cáo",
            headers={"In-Reply-To": last},
        )
        dovecot.append(user, echo, now + timedelta(minutes=1))
        now += timedelta(minutes=15)
    to_responder = [m for m in answers(smtp) if STRANGER in m.rcpt_tos]
    assert len(to_responder) == 3
    # the unit's registered address still hears about every file sent in its name
    assert len([m for m in answers(smtp) if DT_TG in m.rcpt_tos]) == 5


def test_without_receipts_a_unit_is_still_told_of_a_report_from_a_stranger(tmp_path, dovecot, user, smtp):
    table = smtp_table(smtp, "receipts = false")
    dep = api.load_deployment(mailbox_config(tmp_path, dovecot, user, extra=table))
    dovecot.append(user, mail([("a.xlsx", report(dep, tmp_path))], ident="<la@x>"), SENT)
    dovecot.append(
        user, mail([("b.xlsx", report(dep, tmp_path, "NV_VP"))], sender="vp@snv.langson.example"), SENT
    )
    api.run_due(dep, now=RUN)
    [told] = answers(smtp)  # NV_VP's own address sent its own report: no receipt asked for
    assert DT_TG in told.rcpt_tos and f"từ địa chỉ {STRANGER}" in text(told)
