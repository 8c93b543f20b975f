"""The mail sections of ``config.toml`` (``[mail]``, ``[intake.imap]``) and their address checks.

Why a module of its own: these are the keys whose mistakes cost the most quietly (a reminder
never sent, a unit's report mailed to nobody), so they get the stricter checks: an address is
accepted only when the mailer can send to it (``spec.addresses.sendable``), a sender filter
takes addresses or domains, and a password in the file is refused with where to put it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import time
from typing import Any

from baocao.spec.addresses import AddressError, is_sendable, sendable
from baocao.spec.config_checks import _bool, _fail, _float_in, _int_in, _one_of, _optional_text, _table, _text
from baocao.spec.settings import ImapSettings, MailSettings

DOMAIN_RE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _email(key: str, value: Any, dotless: bool = False) -> str:
    """An address the mailer can send to (``addresses.sendable``), kept as written."""
    if not isinstance(value, str):
        raise _fail(key, f"{value!r} không phải địa chỉ thư điện tử", "dạng ten@coquan.gov.vn")
    try:
        sendable(value, dotless)
    except AddressError as exc:
        raise _fail(
            key, f"{value!r} không phải địa chỉ thư điện tử ({exc})", "dạng ten@coquan.gov.vn"
        ) from None
    return unicodedata.normalize("NFC", value.strip())


def _emails(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _fail(key, f"giá trị {value!r} không hợp lệ", "một danh sách địa chỉ thư")
    return tuple(_email(f"{key}[{i}]", v) for i, v in enumerate(value))


def _days(key: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(key, f"giá trị {value!r} không hợp lệ", "danh sách số ngày, ví dụ [7, 3, 1]")
    days = tuple(_int_in(0, 366)(f"{key}[{i}]", v) for i, v in enumerate(value))
    return tuple(sorted(set(days), reverse=True))


def _clock(key: str, value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value):
        hour, minute = (int(x) for x in value.split(":"))
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise _fail(key, f"giá trị {value!r} không hợp lệ", 'giờ dạng HH:MM, ví dụ "08:00"')


def _senders(key: str, value: Any) -> tuple[str, ...]:
    """Addresses or domains, lower-cased: ``["pgd@huyen.gov.vn", "langson.gov.vn"]``."""
    if not isinstance(value, list):
        raise _fail(key, f"giá trị {value!r} không hợp lệ", "một danh sách địa chỉ thư hoặc tên miền")
    found = []
    for i, item in enumerate(value):
        text = item.strip().lower().lstrip("@") if isinstance(item, str) else None
        if not text or not (is_sendable(text) or DOMAIN_RE.match(text)):
            raise _fail(
                f"{key}[{i}]",
                f"{item!r} không phải địa chỉ thư hay tên miền",
                "ten@coquan.gov.vn hoặc coquan.gov.vn",
            )
        found.append(text)
    return tuple(found)


def _mail(data: dict[str, Any], org: dict[str, Any]) -> MailSettings:
    """``[mail]``; replies go to the coordinators (and their office's name) unless it says otherwise."""
    if isinstance(data.get("mail"), dict) and "password" in data["mail"]:
        raise _fail(
            "mail.password",
            "không ghi mật khẩu trong tệp cấu hình",
            "biến môi trường BAOCAO_SMTP_PASSWORD hoặc keyring của hệ điều hành",
        )
    mail_values = _table(
        data,
        "mail",
        {
            "backend": _one_of("outbox", "smtp"),
            "host": _text,
            "port": _int_in(1, 65535),
            "security": _one_of("none", "starttls", "ssl"),
            "user": _optional_text,
            "sender": lambda k, v: _email(k, v, dotless=True),
            "sender_name": _text,
            "coordinators": _emails,
            "reminder_days": _days,
            "summary_days_before": _int_in(0, 60),
            "summary_time": _clock,
            "final_summary_days_after": _int_in(0, 60),
            "attach_docx": _bool,
            "timeout_seconds": _float_in(1, 600),
            "keyring_service": _text,
            "reply_to": _emails,
            "reply_to_name": _text,
            "receipts": _bool,
            "copy_parent": _bool,
        },
    )
    mail_values.setdefault("reply_to", mail_values.get("coordinators", ()))
    mail_values.setdefault("reply_to_name", org.get("coordinator", org.get("name", "")))
    mail = MailSettings(**mail_values)
    if mail.backend == "smtp" and "host" not in mail_values:
        raise _fail("mail.host", 'thiếu khi backend = "smtp"', "tên máy chủ SMTP")
    return mail


def _imap(data: dict[str, Any]) -> ImapSettings | None:
    """``[intake.imap]``, or ``None`` when the deployment has no mailbox."""
    intake = _table(data, "intake", {"imap": lambda key, value: value})
    if "imap" not in intake:
        return None
    if isinstance(intake["imap"], dict) and "password" in intake["imap"]:
        raise _fail(
            "intake.imap.password",
            "không ghi mật khẩu trong tệp cấu hình",
            "biến môi trường BAOCAO_IMAP_PASSWORD hoặc keyring của hệ điều hành",
        )
    values = _table(
        {"intake.imap": intake["imap"]},
        "intake.imap",
        {
            "host": _text,
            "port": _int_in(1, 65535),
            "security": _one_of("ssl", "starttls", "none"),
            "user": _text,
            "folder": _text,
            "processed_folder": _text,
            "allowed_senders": _senders,
            "keyring_service": _text,
            "timeout_seconds": _float_in(1, 600),
            "max_message_mb": _float_in(0.1, 1024),
            "max_attachments": _int_in(1, 500),
        },
    )
    for required in ("host", "user"):
        if required not in values:
            raise _fail(f"intake.imap.{required}", "thiếu khóa bắt buộc", "tên máy chủ và tài khoản hộp thư")
    if values.get("folder", "INBOX") == values.get("processed_folder", "Đã xử lý"):
        raise _fail("intake.imap.processed_folder", "trùng với thư mục nhận thư", "một thư mục khác")
    return ImapSettings(**values)
