"""baocao.intake.replies: who the intake answers, with what, and why a storm cannot start."""

from __future__ import annotations

import pytest
from mail_samples import UNIT_SENDER, fake_xlsx, message, raw

from baocao.intake.mime import MailLimits, parse_message
from baocao.intake.replies import DAILY_CAP, due_reply, no_reply_reason, sender_allowed

OURS = "<baocao.0123456789abcdef0123456789abcdef@sonoivu.langson.gov.vn>"


def parsed(**kwargs):
    limits = kwargs.pop("limits", None)
    complete = kwargs.pop("complete", True)
    data = raw(message(**kwargs))
    return parse_message(data if complete else data[:400], limits, complete=complete)


def test_a_message_with_a_spreadsheet_gets_no_intake_reply_its_answer_is_the_feedback():
    assert due_reply(parsed(attachments=[("bc.xlsx", fake_xlsx("a"))])) is None


def test_no_attachment_gets_one_threaded_what_to_attach_reply_to_the_sender():
    msg = parsed(attachments=[("cong van.pdf", b"%PDF")], headers={"References": "<older@pgd>"})
    reply = due_reply(msg)
    assert reply is not None
    assert reply.kind == "no_attachment"
    assert reply.to == UNIT_SENDER
    assert reply.subject == "Re: Báo cáo tuyên truyền CCHC quý I"
    assert reply.in_reply_to == "<abc123@pgd.huyen.langson.gov.vn>"
    assert reply.references == ("<older@pgd>", "<abc123@pgd.huyen.langson.gov.vn>")
    assert reply.key == f"intake-reply:<abc123@pgd.huyen.langson.gov.vn>:{UNIT_SENDER}"


def test_tnef_gets_the_resend_reply():
    msg = message()
    msg.add_attachment(b"x\x9f>\x22", maintype="application", subtype="ms-tnef", filename="winmail.dat")
    reply = due_reply(parse_message(raw(msg)))
    assert reply is not None and reply.kind == "tnef"


def test_too_large_and_too_many_have_their_own_replies():
    reply = due_reply(parsed(complete=False))
    assert reply is not None and reply.kind == "too_large"
    many = [(f"{i}.xlsx", fake_xlsx(str(i))) for i in range(3)]
    reply = due_reply(parsed(attachments=many, limits=MailLimits(max_attachments=2)))
    assert reply is not None and reply.kind == "too_many_attachments"
    assert "3 bảng tính" in reply.reasons[0]


@pytest.mark.parametrize(
    ("headers", "sender", "why"),
    [
        ({"Auto-Submitted": "auto-replied"}, UNIT_SENDER, "trả lời tự động"),
        ({"X-Baocao-Kind": "reminder"}, UNIT_SENDER, "chính hệ thống"),
        ({}, "MAILER-DAEMON@mx.langson.gov.vn", "báo lỗi chuyển phát"),
        ({"List-Id": "<tin.sonoivu>"}, UNIT_SENDER, "danh sách thư"),
        ({"Precedence": "junk"}, UNIT_SENDER, "danh sách thư"),
        ({"In-Reply-To": OURS}, UNIT_SENDER, "tránh vòng lặp"),  # an out-of-office without its header
    ],
)
def test_machines_are_never_answered(headers, sender, why):
    msg = parsed(sender=sender, headers=headers, body="Tôi đang nghỉ phép đến hết tuần.")
    assert due_reply(msg) is None
    assert why in no_reply_reason(msg)


def test_a_reply_to_our_message_with_a_new_file_is_a_normal_submission():
    msg = parsed(headers={"In-Reply-To": OURS}, attachments=[("bc sua.xlsx", fake_xlsx("fix"))])
    assert no_reply_reason(msg) == ""


def test_strangers_outside_the_allowed_senders_are_not_answered():
    msg = parsed(sender="ke-la@spam.example.com")
    assert due_reply(msg, allowed_senders=("langson.gov.vn",)) is None
    assert "không thuộc danh sách" in no_reply_reason(msg, allowed_senders=("langson.gov.vn",))
    assert due_reply(parsed(), allowed_senders=("langson.gov.vn",)) is not None


@pytest.mark.parametrize(
    ("sender", "allowed", "ok"),
    [
        ("vt@pgd.huyen.langson.gov.vn", ("langson.gov.vn",), True),  # subdomain
        ("vt@langson.gov.vn", ("langson.gov.vn",), True),
        ("vt@xlangson.gov.vn", ("langson.gov.vn",), False),  # not a subdomain
        ("vt@langson.gov.vn.evil.com", ("langson.gov.vn",), False),
        ("VT@Pgd.Example.vn", ("vt@pgd.example.vn",), True),  # exact address, any case
        ("other@pgd.example.vn", ("vt@pgd.example.vn",), False),
        ("anyone@anywhere.vn", (), True),  # no list: everyone
    ],
)
def test_sender_allowed(sender, allowed, ok):
    assert sender_allowed(sender, allowed) is ok


def test_a_storm_is_impossible_one_key_per_message_and_a_daily_cap_per_sender():
    first = parsed(message_id="<1@pgd>")
    again = parse_message(b"Received: from mx2\r\n" + raw(message(message_id="<1@pgd>")))
    assert due_reply(first).key == due_reply(again).key  # type: ignore[union-attr] - same message, one reply
    assert due_reply(parsed(message_id="<2@pgd>")).key != due_reply(first).key  # type: ignore[union-attr]
    assert due_reply(first, sent_today=DAILY_CAP - 1) is not None
    assert due_reply(first, sent_today=DAILY_CAP) is None
    assert "tối đa" in no_reply_reason(first, sent_today=DAILY_CAP)


def test_no_usable_sender_no_reply():
    msg = parse_message(b"From: khong co dia chi\r\nSubject: x\r\n\r\nbody\r\n")
    assert due_reply(msg) is None
    assert "không có địa chỉ người gửi" in no_reply_reason(msg)
