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
from smtp_server import SmtpServer  # tests/ is on sys.path (pytest rootdir-less prepend mode)
from tls_cert import self_signed_certificate

from baocao.errors import DeliveryError
from baocao.model import Issue, Severity
from baocao.notify.mail import (
    Attachment,
    OutgoingMessage,
    compose_feedback,
    compose_reminder,
    compose_summary,
    deliver,
    smtp_password,
    to_email,
)
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


# what every unit message is addressed with
UNIT_ARGS = dict(
    org_name="Sở Nội vụ tỉnh Ninh Bình",
    unit_code="PGD01",
    unit_name="Phòng Giáo dục và Đào tạo",
    email=UNIT_EMAIL,
    period_code="2025-Q1",
    period_name="Quý I năm 2025",
)


def reminder(**overrides) -> OutgoingMessage:
    args = dict(
        **UNIT_ARGS,
        deadline=dt.date(2025, 3, 9),
        today=dt.date(2025, 3, 6),
        template=xlsx("Mẫu báo cáo PGD01"),
        inbox_hint=r"\\fileserver\baocao\inbox",
    )
    return compose_reminder(**(args | overrides))


def feedback(**overrides) -> OutgoingMessage:
    issues = [
        Issue(Severity.WARNING, "below_target", "Thấp hơn chỉ tiêu", "f1", "BaoCao", "D20"),
        Issue(Severity.ERROR, "required", "Ô bắt buộc chưa nhập", "f2", "BaoCao", "D14"),
    ]
    args = dict(
        **UNIT_ARGS,
        original_name="báo cáo quý 1 (bản sửa).xlsx",
        accepted=False,
        issues=issues,
        feedback_workbook=xlsx("Phản hồi PGD01"),
    )
    return compose_feedback(**(args | overrides))


def summary(**overrides) -> OutgoingMessage:
    args = dict(
        org_name="Sở Nội vụ tỉnh Ninh Bình",
        recipients=["vanphong@sonoivu.example.gov.vn", "lanhdao@sonoivu.example.gov.vn"],
        period_code="2025-Q1",
        period_name="Quý I năm 2025",
        final=False,
        made_at=NOW,
        expected=45,
        reported=38,
        on_time=35,
        late=3,
        rejected=2,
        missing=5,
        headline_totals=[("Số tin bài tuyên truyền", 12345), ("Số hội nghị", 17)],
        missing_units=["UBND xã Gia Viễn", "Trường THPT Hoa Lư"],
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


def test_reminder_subject_states_deadline_and_days_left():
    assert reminder().subject == "[Nhắc báo cáo] Quý I năm 2025 – hạn 09/03/2025 (còn 3 ngày)"
    late = reminder(today=dt.date(2025, 3, 11))
    assert late.subject.endswith("(đã quá hạn 2 ngày)")
    assert "\\\\fileserver\\baocao\\inbox" in reminder().text


def test_feedback_lists_errors_first_with_cell_locations():
    message = feedback()
    assert message.subject.startswith("[Báo cáo bị trả lại] Quý I năm 2025")
    error_at = message.text.index("[Lỗi] BaoCao!D14: Ô bắt buộc chưa nhập")
    warning_at = message.text.index("[Lưu ý] BaoCao!D20: Thấp hơn chỉ tiêu")
    assert error_at < warning_at
    accepted = feedback(accepted=True, issues=[Issue(Severity.WARNING, "x", "Lưu ý")])
    assert accepted.subject.startswith("[Đã tiếp nhận]")


def test_summary_has_figures_totals_and_missing_units():
    message = summary()
    assert message.subject.startswith("[Tổng hợp] Quý I năm 2025")
    assert "12.345" in message.text and "<td" in message.html
    assert "Trường THPT Hoa Lư" in message.text and message.unit is None


def test_inputs_are_nfc_normalised():
    decomposed = unicodedata.normalize("NFD", "Phòng Tư pháp")
    message = reminder(unit_name=decomposed)
    assert "Kính gửi: Phòng Tư pháp" in message.text
    assert unicodedata.is_normalized("NFC", message.text + message.html + message.subject)


def test_message_id_is_stable_per_key():
    a = to_email(reminder(), sender="bc@sonv.gov.vn", sender_name="x", message_id_key="k1")
    b = to_email(reminder(), sender="bc@sonv.gov.vn", sender_name="x", message_id_key="k1")
    c = to_email(reminder(), sender="bc@sonv.gov.vn", sender_name="x", message_id_key="k2")
    assert a["Message-ID"] == b["Message-ID"] != c["Message-ID"]
    assert a["Message-ID"].endswith("@sonv.gov.vn>")


# --- delivery over a real SMTP server ------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "kind", "unit", "subject_start", "sheet_marker"),
    [
        (reminder, "reminder", "PGD01", "[Nhắc báo cáo] Quý I", "Mẫu báo cáo PGD01"),
        (feedback, "feedback", "PGD01", "[Báo cáo bị trả lại] Quý I", "Phản hồi PGD01"),
        (summary, "summary", None, "[Tổng hợp] Quý I", "Tổng hợp 2025-Q1"),
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
    hostile = "Phòng X\r\nBcc: attacker@example.com\r\n<script>alert(1)</script>"
    message = feedback(
        unit_name=hostile,
        original_name="a\nX-Evil: 1.xlsx",
        issues=[Issue(Severity.ERROR, "x", "<script>bad()</script>\r\nBcc: b@example.com")],
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
    with pytest.raises(DeliveryError, match="Không gửi được thư: không kết nối được"):
        deliver(reminder(), settings, outbox=Path("unused"), message_id_key="k")
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
