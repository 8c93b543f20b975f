"""Tests of baocao.mail: composed messages delivered to a real SMTP server on loopback and to
the outbox, read back with the standard library and the attachments opened with openpyxl."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import io
import socket
import ssl
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import openpyxl
import pytest
import xlsxwriter
from helpers import strict_headers
from smtp_server import SmtpServer  # tests/ is on sys.path (pytest rootdir-less prepend mode)
from tls_cert import self_signed_certificate

from baocao.errors import DeliveryError
from baocao.model import Issue, Severity
from baocao.notify.headers import header_line
from baocao.notify.mail import (
    Attachment,
    OutgoingMessage,
    UncertainDelivery,
    compose_feedback,
    compose_held,
    compose_receipt,
    compose_reminder,
    compose_summary,
    deliver,
    message_bytes,
    smtp_password,
    split_addresses,
    to_email,
)
from baocao.notify.mailtext import Due, Letterhead, Recipient, Returned, SentFile
from baocao.spec.addresses import sendable
from baocao.spec.config import MailSettings

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TZ = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2025, 3, 6, 8, 0, tzinfo=TZ)
UNIT_EMAIL = "phonggd@quan1.example.gov.vn"


def xlsx(marker: str) -> Attachment:
    """A real small workbook, so the test can open what the server received."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("BaoCao")
    sheet.write("A1", marker)
    sheet.write("D14", 42)
    workbook.close()
    return Attachment(f"{marker}.xlsx", buffer.getvalue(), XLSX)


LETTER = Letterhead(
    org_name="Sở Nội vụ tỉnh Ninh Bình",
    report_name="Báo cáo tuyên truyền CCHC",
    contact="Bà Trần Thị Hoa, Phòng Cải cách hành chính – điện thoại 0229 3871 234",
    submit_to=r"\\fileserver\baocao\inbox",
)
UNIT = Recipient("PGD01", "Phòng Giáo dục và Đào tạo", (UNIT_EMAIL,))
DUE = Due("2025-Q1", "Quý I năm 2025", "trước ngày 10/03/2025", dt.date(2025, 3, 9))
ISSUES = (
    Issue(
        Severity.WARNING, "below_target", "Ô D20 (Số tin, bài): 1 thấp hơn chỉ tiêu 12", "f1", "BaoCao", "D20"
    ),
    Issue(Severity.ERROR, "required", "Ô D14 (Người lập biểu): chưa nhập", "nguoi_lap", "BaoCao", "D14"),
)
SENT = SentFile("báo cáo quý 1 (bản sửa).xlsx", dt.datetime(2025, 3, 6, 9, 15, tzinfo=TZ), ISSUES)


def reminder(**overrides) -> OutgoingMessage:
    args = dict(
        letter=LETTER, unit=UNIT, due=DUE, today=dt.date(2025, 3, 6), template=xlsx("Mẫu báo cáo PGD01")
    )
    return compose_reminder(**(args | overrides))


def feedback(**overrides) -> OutgoingMessage:
    args = dict(
        letter=LETTER, unit=UNIT, due=DUE, today=dt.date(2025, 3, 6), sent=SENT,
        marked=xlsx("Phản hồi PGD01"), numbers={"nguoi_lap": "I.3"},
    )  # fmt: skip
    return compose_feedback(**(args | overrides))


def receipt(**overrides) -> OutgoingMessage:
    args = dict(letter=LETTER, unit=UNIT, due=DUE, sent=SENT, days_late=0, marked=xlsx("Lưu ý PGD01"))
    return compose_receipt(**(args | overrides))


def summary(**overrides) -> OutgoingMessage:
    args = dict(
        letter=LETTER,
        recipients=["vanphong@sonoivu.example.gov.vn", "lanhdao@sonoivu.example.gov.vn"],
        due=DUE,
        final=False,
        made_at=NOW,
        expected=45,
        on_time=35,
        late=3,
        headline_totals=[("Số tin bài tuyên truyền", 12345), ("Số hội nghị", 17)],
        missing_units=["UBND xã Gia Viễn", "Trường THPT Hoa Lư"],
        rejected_units=["Phòng Tư pháp"],
        late_units=["Phòng Nội vụ (chậm 2 ngày)"],
        attachments=[xlsx("Tổng hợp 2025-Q1")],
    )
    return compose_summary(**(args | overrides))


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A plain relay (no TLS, no login): the common case of an internal government server."""
    with SmtpServer() as server:
        yield server


def parts(message: email.message.EmailMessage) -> tuple[str, str]:
    """(text, html) with wire CRLFs back to the ``\n`` the composer wrote."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text.replace("\r\n", "\n"), html.replace("\r\n", "\n")


def opened_attachment(message: email.message.EmailMessage) -> openpyxl.Workbook:
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == XLSX
    return openpyxl.load_workbook(io.BytesIO(attachment.get_content()))


# --- composition (pure) -------------------------------------------------------------------


def test_reminder_to_a_unit_that_sent_nothing_attaches_the_template():
    message = reminder()
    assert message.subject == (
        "[Nhắc hạn] Báo cáo tuyên truyền CCHC Quý I năm 2025 – nộp trước ngày 10/03/2025 (còn 4 ngày)"
    )
    assert "chưa nhận được báo cáo nào của đơn vị" in message.text
    assert [a.filename for a in message.attachments] == ["Mẫu báo cáo PGD01.xlsx"]
    assert "Gửi trước ngày 10/03/2025 vào: \\\\fileserver\\baocao\\inbox." in message.text
    assert reminder(today=dt.date(2025, 3, 9)).subject.endswith("(hôm nay là ngày cuối)")


def test_reminder_to_a_unit_whose_file_was_returned_says_so_and_gives_its_own_file_back():
    returned = Returned(
        SentFile("bc.xlsx", dt.datetime(2025, 3, 5, 14, 0, tzinfo=TZ), ISSUES), xlsx("Của đơn vị")
    )
    message = reminder(returned=returned, numbers={"nguoi_lap": "I.3"})
    assert message.subject == (
        "[Nhắc hạn] Báo cáo tuyên truyền CCHC Quý I năm 2025 – bản gửi ngày 05/03/2025 bị trả lại, "
        "nộp lại trước ngày 10/03/2025 (còn 4 ngày)"
    )
    assert "Bản gửi ngày 05/03/2025 (tệp “bc.xlsx”) bị trả lại (1 lỗi)" in message.text
    assert "chưa nhận được báo cáo" not in message.text
    assert [a.filename for a in message.attachments] == ["Của đơn vị.xlsx"]  # not the blank template
    assert "  - Ô D14 (mục I.3 – Người lập biểu): chưa nhập" in message.text


def test_feedback_says_what_to_do_by_when_and_where_and_names_each_cell_once():
    message = feedback()
    assert message.subject == (
        "[Bị trả lại] Báo cáo tuyên truyền CCHC Quý I năm 2025 – Phòng Giáo dục và Đào tạo: "
        "1 lỗi, gửi lại trước ngày 10/03/2025"
    )
    text = message.text
    assert "  - Ô D14 (mục I.3 – Người lập biểu): chưa nhập" in text  # not "BaoCao!D14: Ô D14 (…)"
    assert text.count("D14") == 1
    assert text.index("Lỗi cần sửa (1):") < text.index("Lưu ý, nên xem lại (1):")
    assert "Mở tệp đính kèm “Phản hồi PGD01.xlsx”: đó là chính tệp đơn vị đã gửi" in text
    assert "3. Gửi trước ngày 10/03/2025 vào: \\\\fileserver\\baocao\\inbox." in text
    assert "Cần hỏi thêm, xin liên hệ Bà Trần Thị Hoa" in text
    late = feedback(today=dt.date(2025, 3, 11)).text
    assert "Hạn nộp (trước ngày 10/03/2025) đã qua" in late


def test_feedback_is_one_message_to_every_address_of_the_unit():
    unit = Recipient("PGD01", "Phòng GD", (UNIT_EMAIL, "nguoilap@gmail.example"), ("vanphong@so.example",))
    message = feedback(unit=unit)
    assert message.to == (UNIT_EMAIL, "nguoilap@gmail.example") and message.cc == ("vanphong@so.example",)


def test_receipt_confirms_an_accepted_file_and_lists_its_notes():
    clean = receipt(sent=SentFile("bc.xlsx", SENT.received_at), marked=None)
    assert clean.kind == "receipt"
    assert (
        clean.subject == "[Đã tiếp nhận] Báo cáo tuyên truyền CCHC Quý I năm 2025 – Phòng Giáo dục và Đào tạo"
    )
    assert "đã tiếp nhận tệp “bc.xlsx” lúc 09:15 ngày 06/03/2025" in clean.text
    assert "(nộp đúng hạn). Đơn vị không cần gửi lại." in clean.text and not clean.attachments
    noted = receipt(days_late=2)
    assert noted.subject.endswith("– 1 lưu ý")
    assert "(nộp chậm 2 ngày; hạn nộp trước ngày 10/03/2025)" in noted.text
    assert "Ô D20 (Số tin, bài): 1 thấp hơn chỉ tiêu 12" in noted.text
    assert [a.filename for a in noted.attachments] == ["Lưu ý PGD01.xlsx"]


def test_summary_counts_are_the_lengths_of_its_lists():
    message = summary()
    assert message.subject == (
        "[Tổng hợp] Báo cáo tuyên truyền CCHC Quý I năm 2025 – số liệu tạm thời: 38/45 đơn vị đã báo cáo"
    )
    text = message.text
    assert "  Bị trả lại, chưa gửi lại bản đạt  1\n  Chưa gửi báo cáo                  2" in text
    assert "Chưa gửi báo cáo (2):\n  - UBND xã Gia Viễn\n  - Trường THPT Hoa Lư" in text
    assert "Bị trả lại, chưa gửi lại bản đạt (1):\n  - Phòng Tư pháp" in text
    assert "Một số chỉ tiêu chính (cộng của 38/45 đơn vị đã báo cáo)" in text and "12.345" in text
    assert "<td" in message.html and message.unit is None
    noted = summary(findings=["So với cùng kỳ năm trước (Quý I năm 2024): cùng 4 đơn vị."]).text
    assert "\n\nSo với cùng kỳ năm trước (Quý I năm 2024): cùng 4 đơn vị.\n\n" in noted


def test_inputs_are_nfc_normalised():
    decomposed = unicodedata.normalize("NFD", "Phòng Tư pháp")
    message = reminder(unit=Recipient("TP", decomposed, (UNIT_EMAIL,)))
    assert "Kính gửi: Phòng Tư pháp" in message.text
    assert unicodedata.is_normalized("NFC", message.text + message.html + message.subject)


def test_message_id_is_stable_per_key():
    a = to_email(reminder(), sender="bc@sonv.gov.vn", sender_name="x", message_id_key="k1")
    b = to_email(reminder(), sender="bc@sonv.gov.vn", sender_name="x", message_id_key="k1")
    c = to_email(reminder(), sender="bc@sonv.gov.vn", sender_name="x", message_id_key="k2")
    assert a["Message-ID"] == b["Message-ID"] != c["Message-ID"]
    assert a["Message-ID"].endswith("@sonv.gov.vn>")


# --- headers as strict clients read them (raw bytes, not Python's lenient parser) -------------

LONG_SENDER = "Sở Nội vụ tỉnh Lạng Sơn – Hệ thống tổng hợp báo cáo"
COORDINATOR = "Phòng Cải cách hành chính, Sở Nội vụ"


@pytest.mark.parametrize(
    "build",
    [
        reminder,
        lambda: reminder(returned=Returned(SENT, xlsx("x"))),
        feedback,
        receipt,
        summary,
        lambda: compose_held(letter=LETTER, unit=UNIT, claimed="PGD01", due=DUE, sent=SENT),
        lambda: feedback(
            unit=Recipient("X", "Thanh tra Sở Dân tộc và Tôn giáo – Đội kiểm tra số 1 " * 3, (UNIT_EMAIL,))
        ),
    ],
    ids=["reminder", "reminder-returned", "feedback", "receipt", "summary", "held", "very-long-name"],
)
def test_every_header_decodes_exactly_in_a_strict_decoder(build):
    message = build()
    raw = message_bytes(
        to_email(
            message, sender="baocao@snv.langson.example", sender_name=LONG_SENDER, message_id_key="k",
            date=NOW, reply_to=("cchc@snv.langson.example",), reply_to_name=COORDINATOR,
        )
    )  # fmt: skip
    headers = dict(strict_headers(raw))
    assert headers["Subject"] == message.subject  # "Hệ thống", never "Hệthống"
    assert headers["From"] == f"{LONG_SENDER} <baocao@snv.langson.example>"
    assert headers["Reply-To"] == f"{COORDINATOR} <cchc@snv.langson.example>"
    assert headers["To"] == ", ".join(message.to)
    assert headers["X-Baocao-Kind"] == message.kind and headers["X-Baocao-Period"] == "2025-Q1"
    # and Python's lenient parser agrees (it puts a space between the encoded words of a display
    # name: words are cut at spaces, so that at worst doubles one)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == message.subject
    assert " ".join(parsed["Reply-To"].addresses[0].display_name.split()) == COORDINATOR
    assert " ".join(parsed["From"].addresses[0].display_name.split()) == LONG_SENDER


def test_header_words_carry_their_spaces_so_nothing_is_glued_at_a_fold():
    text = "Hệ thống " * 12
    line = header_line("Subject", text)
    assert line.count("\r\n ") >= 2  # folded
    import email.header as strict

    assert str(strict.make_header(strict.decode_header(line.split(":", 1)[1]))) == " ".join(text.split())
    assert (
        header_line("Subject", "Plain ASCII =?not-a-word?= stays safe")
        != "Subject: Plain ASCII =?not-a-word?= stays safe\r\n"
    )


def test_a_reply_threads_under_the_message_it_answers():
    answer = dataclasses.replace(
        feedback(), in_reply_to="<CAF00@mail.example>", references=("<A1@x.example>",)
    )
    raw = message_bytes(to_email(answer, sender="bc@x.example", sender_name="x", message_id_key="k"))
    headers = dict(strict_headers(raw))
    assert headers["In-Reply-To"] == "<CAF00@mail.example>"
    assert headers["References"] == "<A1@x.example> <CAF00@mail.example>"


# --- addresses: what the validator accepts is what the mailer sends ----------------------------


@pytest.mark.parametrize(
    ("typed", "wire"),
    [
        ("an.nv@donvi.gov.vn", "an.nv@donvi.gov.vn"),
        ("An.NV@DonVi.Gov.VN", "An.NV@donvi.gov.vn"),
        ("vanthu@sởnộivụ.vn", "vanthu@xn--sniv-6y5a8a8b.vn"),
    ],
)
def test_accepted_addresses_are_sent_in_their_wire_form(typed, wire):
    from baocao.judge.validate import to_email as validate_email

    assert validate_email(typed) == (typed, None)
    assert sendable(typed) == wire


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("an..nv@donvi.vn", "phần trước dấu @ có ký tự không hợp lệ"),
        ("nguyễn@donvi.vn", "phần trước dấu @ chỉ được dùng chữ không dấu"),
        ("an nv@donvi.vn", "phần trước dấu @ có ký tự không hợp lệ"),
        ("an@donvi", "không hợp lệ (cần dạng coquan.gov.vn)"),
        ("an@-donvi.vn", "có ký tự không hợp lệ"),
    ],
)
def test_what_the_mailer_cannot_send_the_validator_refuses(typed, why):
    from baocao.judge.validate import to_email as validate_email

    value, problem = validate_email(typed)
    assert value is None and why in problem
    assert split_addresses([typed, UNIT_EMAIL]) == ((UNIT_EMAIL,), {typed: problem.split("hợp lệ: ", 1)[1]})


# --- delivery over a real SMTP server ------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "kind", "unit", "subject_start", "sheet_marker"),
    [
        (reminder, "reminder", "PGD01", "[Nhắc hạn] Báo cáo tuyên truyền CCHC Quý I", "Mẫu báo cáo PGD01"),
        (feedback, "feedback", "PGD01", "[Bị trả lại] Báo cáo tuyên truyền CCHC Quý I", "Phản hồi PGD01"),
        (receipt, "receipt", "PGD01", "[Đã tiếp nhận] Báo cáo tuyên truyền CCHC Quý I", "Lưu ý PGD01"),
        (summary, "summary", None, "[Tổng hợp] Báo cáo tuyên truyền CCHC Quý I", "Tổng hợp 2025-Q1"),
    ],
)
def test_each_kind_is_delivered_over_plain_smtp(smtp, build, kind, unit, subject_start, sheet_marker):
    message = build()
    result = deliver(message, smtp.mail_settings(), outbox=Path("unused"), message_id_key=kind, now=NOW)
    assert result.accepted == message.to and result.refused == {}
    [received] = smtp.messages
    assert received.rcpt_tos == list(message.to)
    assert received.mail_from == "baocao@sonoivu.example.gov.vn"
    got = received.message
    assert got["Subject"].startswith(subject_start)
    assert got["X-Baocao-Kind"] == kind and got["X-Baocao-Period"] == "2025-Q1"
    assert got["X-Baocao-Unit"] == unit
    assert got["Message-ID"] == result.message_id
    assert got["From"].addresses[0].display_name == "Hệ thống báo cáo Sở Nội vụ"
    text, html = parts(got)
    assert text == message.text and html == message.html
    assert opened_attachment(got)["BaoCao"]["A1"].value == sheet_marker
    assert all(b < 128 for b in received.raw), "bytes must be 7-bit clean"


def test_outbox_file_is_the_same_message_as_smtp(smtp, tmp_path):
    message = feedback()
    key = "feedback:2025-Q1:PGD01:sha256-of-file"
    deliver(message, smtp.mail_settings(), outbox=tmp_path, message_id_key=key, now=NOW)
    settings = smtp.mail_settings(backend="outbox")
    result = deliver(message, settings, outbox=tmp_path, message_id_key=key, now=NOW)
    assert result.outbox_file is not None
    assert result.outbox_file.name.startswith("20250306-feedback-PGD01-")
    assert [p.name for p in tmp_path.iterdir()] == [result.outbox_file.name]  # no temp files
    raw = result.outbox_file.read_bytes()
    from_file = email.message_from_bytes(raw, policy=email.policy.default)
    from_smtp = smtp.messages[0].message
    assert from_file.items() == from_smtp.items()
    assert parts(from_file) == parts(from_smtp)
    assert raw.rstrip(b"\r\n") == smtp.messages[0].raw.rstrip(b"\r\n")
    again = deliver(message, settings, outbox=tmp_path, message_id_key=key, now=NOW)
    assert again.outbox_file == result.outbox_file and len(list(tmp_path.iterdir())) == 1


def test_unit_text_cannot_inject_headers_or_html(smtp):
    hostile = "Phòng X\r\nBcc: attacker@example.com\r\n<script>alert(1)</script>\udcff"
    message = feedback(
        unit=Recipient("PGD01", hostile, (UNIT_EMAIL,)),
        sent=SentFile(
            "a\nX-Evil: 1.xlsx",
            SENT.received_at,
            (Issue(Severity.ERROR, "x", "<script>bad()</script>\r\nBcc: b@example.com"),),
        ),
    )
    deliver(message, smtp.mail_settings(), outbox=Path("unused"), message_id_key="k")
    [received] = smtp.messages
    assert received.rcpt_tos == [UNIT_EMAIL]
    assert "Bcc" not in received.message and "X-Evil" not in received.message
    assert "\n" not in received.message["Subject"]
    assert "Bcc: attacker@example.com" in received.message["Subject"]  # harmless, on one line
    _, html = parts(received.message)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_server_down_raises_then_delivers_when_back(smtp):
    settings = smtp.mail_settings()
    smtp.stop()
    with pytest.raises(DeliveryError) as down:
        deliver(reminder(), settings, outbox=Path("unused"), message_id_key="k")
    assert str(down.value).startswith(
        f"Không gửi được thư: không kết nối được máy chủ thư 127.0.0.1:{smtp.port} "
        "(lý do kỹ thuật: ConnectionRefusedError: "
    )
    smtp.start()
    result = deliver(reminder(), settings, outbox=Path("unused"), message_id_key="k")
    assert result.accepted == (UNIT_EMAIL,) and len(smtp.messages) == 1


def test_refused_recipient_is_reported_and_others_delivered(smtp):
    smtp.refuse("lanhdao@sonoivu.example.gov.vn")
    result = deliver(summary(), smtp.mail_settings(), outbox=Path("x"), message_id_key="k")
    assert result.accepted == ("vanphong@sonoivu.example.gov.vn",)
    assert list(result.refused) == ["lanhdao@sonoivu.example.gov.vn"]
    assert result.refused["lanhdao@sonoivu.example.gov.vn"].startswith("550")
    assert not result.complete
    assert smtp.messages[0].rcpt_tos == ["vanphong@sonoivu.example.gov.vn"]


def test_all_recipients_refused_is_a_result_not_an_error(smtp):
    smtp.refuse(UNIT_EMAIL)
    result = deliver(reminder(), smtp.mail_settings(), outbox=Path("x"), message_id_key="k")
    assert result.accepted == () and UNIT_EMAIL in result.refused
    assert smtp.messages == []


def test_silent_server_times_out_as_delivery_error():
    with socket.socket() as listener:  # accepts connections (backlog) but never greets
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        settings = MailSettings(
            backend="smtp", host="127.0.0.1", port=listener.getsockname()[1], timeout_seconds=0.3
        )
        with pytest.raises(DeliveryError, match="hết thời gian chờ"):
            deliver(reminder(), settings, outbox=Path("x"), message_id_key="k")


def test_a_refusal_gives_the_exact_sentence_and_the_servers_own_reason(smtp):
    smtp.reject_data = "554 5.6.0 Noi dung bi tu choi boi bo loc"
    with pytest.raises(DeliveryError) as refused:
        deliver(reminder(), smtp.mail_settings(), outbox=Path("x"), message_id_key="k")
    assert str(refused.value) == (
        f"Không gửi được thư: máy chủ thư 127.0.0.1:{smtp.port} từ chối nội dung thư "
        "(máy chủ trả lời: 554 5.6.0 Noi dung bi tu choi boi bo loc)"
    )
    assert smtp.messages == []


def test_a_server_that_keeps_the_message_and_never_answers_is_uncertain_not_failed(smtp):
    """After the final dot the server has the message: a lost answer must not lead to a resend."""
    smtp.hold_seconds = 3
    settings = smtp.mail_settings(timeout_seconds=1)
    with pytest.raises(UncertainDelivery) as unsure:
        deliver(reminder(), settings, outbox=Path("x"), message_id_key="k")
    assert str(unsure.value).startswith(
        f"Không chắc thư đã được gửi: máy chủ thư 127.0.0.1:{smtp.port} đã nhận nội dung nhưng không trả lời"
    )
    assert len(smtp.messages) == 1  # it did arrive


def test_one_message_reaches_to_and_cc_and_international_domains_go_as_idna(smtp):
    unit = Recipient("PGD01", "Phòng GD", (UNIT_EMAIL, "vanthu@sởnộivụ.vn"), ("vanphong@so.example",))
    result = deliver(feedback(unit=unit), smtp.mail_settings(), outbox=Path("x"), message_id_key="k")
    [received] = smtp.messages
    assert received.rcpt_tos == [UNIT_EMAIL, "vanthu@xn--sniv-6y5a8a8b.vn", "vanphong@so.example"]
    assert result.accepted == tuple(received.rcpt_tos)
    headers = dict(strict_headers(received.raw))
    assert (
        headers["To"] == f"{UNIT_EMAIL}, vanthu@xn--sniv-6y5a8a8b.vn"
        and headers["Cc"] == "vanphong@so.example"
    )


def test_replies_go_to_the_coordinators_not_the_robot(smtp):
    settings = smtp.mail_settings(reply_to=("cchc@snv.example",), reply_to_name=COORDINATOR)
    deliver(reminder(), settings, outbox=Path("x"), message_id_key="k")
    assert dict(strict_headers(smtp.messages[0].raw))["Reply-To"] == f"{COORDINATOR} <cchc@snv.example>"


def test_bad_address_is_a_delivery_error(tmp_path):
    message = dataclasses.replace(reminder(), to=("a@b.vn\r\nBcc: c@d.vn",))
    with pytest.raises(DeliveryError, match="không hợp lệ"):
        deliver(message, MailSettings(), outbox=tmp_path, message_id_key="k")


# --- passwords, TLS and login ---------------------------------------------------------------


def test_password_comes_from_env_then_keyring_never_config(monkeypatch, memory_keyring):
    assert "password" not in {f.name for f in dataclasses.fields(MailSettings)}
    settings = MailSettings(user="vanphong", keyring_service="baocao-test")
    monkeypatch.delenv("BAOCAO_SMTP_PASSWORD", raising=False)
    assert smtp_password(settings) is None
    memory_keyring.set_password("baocao-test", "vanphong", "from-keyring")
    assert smtp_password(settings) == "from-keyring"
    monkeypatch.setenv("BAOCAO_SMTP_PASSWORD", "from-env")
    assert smtp_password(settings) == "from-env"


def test_missing_keyring_backend_means_no_password(monkeypatch):
    monkeypatch.delenv("BAOCAO_SMTP_PASSWORD", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        assert smtp_password(MailSettings(user="vanphong")) is None
    finally:
        keyring.set_keyring(previous)


def test_login_without_password_fails_before_connecting(monkeypatch, memory_keyring):
    monkeypatch.delenv("BAOCAO_SMTP_PASSWORD", raising=False)
    settings = MailSettings(backend="smtp", port=1, user="vanphong")
    with pytest.raises(DeliveryError, match="Chưa có mật khẩu SMTP"):
        deliver(reminder(), settings, outbox=Path("x"), message_id_key="k")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it): a self-signed cert for 127.0.0.1."""
    cert = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    return cert.server_context(), cert.client_context()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # implicit TLS
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_and_login_with_plain_user_name(monkeypatch, certificate, security):
    server_ctx, client_ctx = certificate
    monkeypatch.setenv("BAOCAO_SMTP_PASSWORD", "s3cret-pw")
    implicit = security == "ssl"
    with SmtpServer(tls_context=server_ctx, implicit_tls=implicit, logins={"vanphong": "s3cret-pw"}) as srv:
        settings = srv.mail_settings(security=security, user="vanphong")
        result = deliver(reminder(), settings, outbox=Path("x"), message_id_key="k", tls_context=client_ctx)
        assert result.accepted == (UNIT_EMAIL,)
        assert srv.auth_attempts[0][0] == "vanphong"  # not yagmail's "vanphong@gmail.com"
        with pytest.raises(DeliveryError, match="từ chối đăng nhập"):
            deliver(
                reminder(), settings, outbox=Path("x"), message_id_key="k",
                password="sai", tls_context=client_ctx,
            )  # fmt: skip
        with pytest.raises(DeliveryError, match="ngoài ASCII"):  # smtplib AUTH is ASCII-only
            deliver(
                reminder(), settings, outbox=Path("x"), message_id_key="k",
                password="mật-khẩu", tls_context=client_ctx,
            )  # fmt: skip
        with pytest.raises(DeliveryError, match="TLS"):  # default context: cert not trusted
            deliver(reminder(), settings, outbox=Path("x"), message_id_key="k")
    assert len(srv.messages) == 1
