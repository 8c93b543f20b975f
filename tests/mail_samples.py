"""E-mails as units send them, built with the standard library's email package (real MIME bytes).

Shared by the MIME, reply-policy and mailbox tests. Hand-written raw bytes for malformed and
odd-charset messages live next to the tests that use them, so each shows exactly what arrives.
"""

from __future__ import annotations

import email.policy
import io
import zipfile
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime

VN = timezone(timedelta(hours=7))
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
UNIT_SENDER = "vanthu@pgd.huyen.langson.gov.vn"


def fake_xlsx(tag: str) -> bytes:
    """Bytes that stand for a workbook (the MIME layer never opens them): a real zip, distinct per tag."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", f"<Types><!-- {tag} --></Types>")
    return buffer.getvalue()


def message(
    *,
    attachments: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...] = (),
    sender: str = UNIT_SENDER,
    subject: str = "Báo cáo tuyên truyền CCHC quý I",
    body: str = "Kính gửi Sở Nội vụ, đơn vị gửi báo cáo quý I.",
    message_id: str | None = "<abc123@pgd.huyen.langson.gov.vn>",
    date: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A unit's message: UTF-8 text body, attachments with RFC 2231 names (as Thunderbird and
    Gmail write non-ASCII names)."""
    msg = EmailMessage()
    msg["From"] = f"Văn thư PGD <{sender}>"
    msg["To"] = "cchc@sonoivu.langson.gov.vn"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime(2025, 3, 5, 9, 30, tzinfo=VN))
    if message_id:
        msg["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    for name, data in attachments:
        maintype, subtype = XLSX_TYPE if name.lower().endswith(".xlsx") else ("application", "octet-stream")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def raw(msg: EmailMessage) -> bytes:
    """The bytes as they travel (CRLF line ends), which is also what an IMAP server hands back."""
    return msg.as_bytes(policy=email.policy.SMTP)


def zipped(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()
