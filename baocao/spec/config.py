"""Loading and checking ``config.toml``: one typed ``Settings`` object for a deployment.

Why strict: a coordinator edits this file by hand, often months after it was written. A typo
that is silently ignored (``reminder_day`` instead of ``reminder_days``) would mean reminders
never go out. So every unknown key is an error, and every wrong value names the key, what is
wrong and what is expected, in one line.

Paths are resolved relative to the folder of the config file, so a deployment folder can be
moved (or mounted on another drive letter on Windows) without editing it.
"""

from __future__ import annotations

import calendar
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from baocao.errors import ConfigError
from baocao.names import ascii_slug
from baocao.spec.addresses import AddressError, is_sendable, sendable
from baocao.spec.tomlfile import BACKSLASH_ADVICE, read_toml

PATH_KEYS = ("templates", "inbox", "archive", "feedback", "output", "ledger", "outbox", "logs")
DOMAIN_RE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


DayMonth = tuple[int, int]  # (day, month), as written "10/03"
LEVELS = ("department", "province")  # the levels a report can go *to* (the parent's kind)


@dataclass(frozen=True)
class PeriodKind:
    """One kind of reporting period (Q1, H1, Q3, Y) as the deployment configures it.

    ``due_day``/``due_month``: the report is due *before* this day ("trước ngày 10/3"),
    so with ``inclusive_deadline = false`` the last on-time moment is the end of the day before.
    That is the deadline of the top of the chain; ``due_by_level`` gives a level its own one
    (Decree 09/2019 art. 8.5: units report to their department earlier than the department
    reports to Sở Nội vụ), keyed by the kind of the level the report goes to.
    ``window`` is the data cut-off window (thời gian chốt số liệu, Decree 09/2019 art. 12) as
    (start, end) day/month pairs, a start after the end lying in the previous year; ``None``
    means the months covered. ``estimates`` overrides whether the figures include estimates
    (by default: when the window ends after the deadline).
    """

    code: str
    label: str
    months: tuple[int, ...]
    due_day: int
    due_month: int
    estimates: bool | None = None
    due_by_level: tuple[tuple[str, DayMonth], ...] = ()  # hashable: periods key caches
    window: tuple[DayMonth, DayMonth] | None = None


@dataclass(frozen=True)
class MailSettings:
    """The ``[mail]`` table. The SMTP password is never here: see ``mail.smtp_password``."""

    backend: str = "outbox"
    host: str = "localhost"
    port: int = 25
    security: str = "none"
    user: str | None = None
    sender: str = "baocao@localhost"
    sender_name: str = "baocao"
    coordinators: tuple[str, ...] = ()
    reminder_days: tuple[int, ...] = (7, 3, 1)
    summary_days_before: int = 2
    summary_time: time = time(8, 0)
    final_summary_days_after: int = 1
    attach_docx: bool = True
    timeout_seconds: float = 30.0
    keyring_service: str = "baocao"
    reply_to: tuple[str, ...] = ()  # where units' replies go; default: the coordinators
    reply_to_name: str = ""  # display name of reply_to; default: [organisation] coordinator
    receipts: bool = True  # a receipt for every accepted file
    copy_parent: bool = False  # Cc reminders and feedback to the unit's department (its office)


@dataclass(frozen=True)
class ScheduleSettings:
    """The ``[schedule]`` table: how often the long-running ``baocao run`` wakes up."""

    interval_minutes: int = 15
    log_max_kb: int = 1024
    log_backups: int = 5


@dataclass(frozen=True)
class CollectSettings:
    """The ``[collect]`` table: inbox stability wait, worker processes and safety limits."""

    stable_seconds: float = 5.0
    workers: int = 0
    max_file_mb: float = 20.0
    max_unpacked_mb: float = 200.0
    read_timeout_seconds: float = 60.0


@dataclass(frozen=True)
class WebSettings:
    """The ``[web]`` table: ``baocao serve``, the web desk (units upload, coordinators watch).

    ``base_url`` is the address units and coordinators type (``https://baocao.snv.example``): the
    per-unit links printed in reminders and receipts start with it, and an ``https`` address
    makes the session cookie ``Secure``. ``users_file`` holds the coordinators' accounts (names
    and argon2 hashes, written by ``baocao web-user``), never a password.
    """

    base_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    users_file: Path | None = None  # resolved by load_config: beside the ledger by default
    session_minutes: int = 480
    login_attempts: int = 5  # failed logins per account and address in 15 minutes
    upload_wait_seconds: float = 20.0  # how long an upload waits for a running collect
    link_version: int = 1  # raise it to revoke every unit's link at once (spec.links)

    @property
    def https(self) -> bool:
        return bool(self.base_url and self.base_url.startswith("https://"))


@dataclass(frozen=True)
class ReportSettings:
    """The ``[report]`` table: what the Word draft of a summary prints in the administrative form
    of Nghị định 30/2020/NĐ-CP. An empty value is printed as a highlighted placeholder, so an
    unfinished draft stands out and is not sent by mistake.

    The cơ quan chủ quản is ``organisation.issuing_body`` (``UBND TỈNH LẠNG SƠN``); ``agency`` is
    the cơ quan ban hành as it is actually named (``Sở Nội vụ``, printed ``SỞ NỘI VỤ``).
    """

    agency: str = ""  # cơ quan ban hành: "Sở Nội vụ"
    number_suffix: str = ""  # ký hiệu after the number: "BC-SNV" -> "Số:      /BC-SNV"
    plan: str = ""  # "Kế hoạch số 25/KH-SNV ngày 20/01/2025 của Sở Nội vụ về …": the opening sentence
    recipients: tuple[str, ...] = ()  # Nơi nhận, one line each: "UBND tỉnh (b/c)", "Lưu: VT, CCHC"
    signer_authority: str = ""  # thẩm quyền ký: "KT. GIÁM ĐỐC" (empty when the head signs)
    signer_title: str = ""  # "PHÓ GIÁM ĐỐC"
    signer_name: str = ""


@dataclass(frozen=True)
class ImapSettings:
    """The ``[intake.imap]`` table: a mailbox that units e-mail their reports to.

    The password is never here: see ``intake.mailbox.imap_password``. ``allowed_senders``
    holds addresses (``ten@donvi.gov.vn``) and domains (``langson.gov.vn``, which also matches
    its subdomains); empty means anyone may send. ``port`` 0 means the usual port of
    ``security`` (993 for ssl, 143 otherwise).
    """

    host: str
    user: str
    port: int = 0
    security: str = "ssl"
    folder: str = "INBOX"
    processed_folder: str = "Đã xử lý"
    allowed_senders: tuple[str, ...] = ()
    keyring_service: str = "baocao"
    timeout_seconds: float = 60.0
    max_message_mb: float = 30.0
    max_attachments: int = 20

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        return 993 if self.security == "ssl" else 143


@dataclass(frozen=True)
class Settings:
    """Everything a deployment configures, with paths already resolved to absolute paths."""

    config_file: Path
    organisation: str
    coordinator: str
    issuing_body: str
    province: str
    timezone: ZoneInfo
    inclusive_deadline: bool
    submit_to: str
    paths: dict[str, Path]
    form_file: Path
    registry_file: Path
    period_kinds: dict[str, PeriodKind]
    mail: MailSettings = field(default_factory=MailSettings)
    contact_name: str = ""  # a person units can call, printed in every e-mail and on templates
    contact_phone: str = ""
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    collect: CollectSettings = field(default_factory=CollectSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    imap: ImapSettings | None = None
    web: WebSettings = field(default_factory=WebSettings)
    key_name: str = ""  # which signing key (spec.identity); the organisation's slug by default

    def path(self, key: str) -> Path:
        return self.paths[key]

    def intake_folder_holding(self, path: Path) -> str | None:
        """``"inbox"`` or ``"archive"`` when ``path`` lies in (or is) that folder, else None:
        the rule ``_check_separate`` applies to the configured folders, for an output a
        command is asked to write (collect would take it, or the archive would hold a stray)."""
        resolved = path.resolve()
        for key in ("inbox", "archive"):
            if _within(resolved, self.paths[key].resolve()):
                return key
        return None

    @property
    def contact(self) -> str:
        """``Bà Hoàng Thị Lan, Phòng CCHC – điện thoại 0205 … – thư điện tử cchc@…``: whom a unit
        can call, printed in every e-mail and on every template (``contact_name`` and
        ``contact_phone`` of ``[organisation]``, else the coordinating office; where replies go)."""
        parts = [self.contact_name or self.coordinator]
        if self.contact_phone:
            parts.append(f"điện thoại {self.contact_phone}")
        if self.mail.reply_to:
            parts.append(f"thư điện tử {', '.join(self.mail.reply_to)}")
        return " – ".join(parts)


# --- small checkers: each returns the converted value or raises ConfigError with the key ---


def _fail(key: str, problem: str, expected: str) -> ConfigError:
    return ConfigError(f"config.toml: khóa '{key}': {problem}; cần {expected}")


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(key, f"giá trị {value!r} không hợp lệ", "một chuỗi không rỗng")
    return unicodedata.normalize("NFC", value.strip())


def _path_text(key: str, value: Any) -> str:
    """A path. One with a control character came from a Windows path between double quotes whose
    backslashes TOML read as escapes (``"D:\\baocao\\new"``: ``\\b`` and ``\\n`` are valid ones)."""
    text = _text(key, value)
    if any(ch < " " for ch in text):
        raise ConfigError(f"config.toml: khóa '{key}': {BACKSLASH_ADVICE}")
    return text


def _int_in(lo: int, hi: int) -> Callable[[str, Any], int]:
    def check(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise _fail(key, f"giá trị {value!r} không hợp lệ", f"số nguyên từ {lo} đến {hi}")
        return value

    return check


def _float_in(lo: float, hi: float) -> Callable[[str, Any], float]:
    def check(key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise _fail(key, f"giá trị {value!r} không hợp lệ", f"số từ {lo:g} đến {hi:g}")
        return float(value)

    return check


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(key, f"giá trị {value!r} không hợp lệ", "true hoặc false")
    return value


def _one_of(*choices: str) -> Callable[[str, Any], str]:
    def check(key: str, value: Any) -> str:
        if value not in choices:
            raise _fail(key, f"giá trị {value!r} không hợp lệ", "một trong " + ", ".join(choices))
        return value

    return check


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


def _blank_or_text(key: str, value: Any) -> str:
    """A string that may be empty (an empty value is a deliberate "leave it for a person")."""
    if not isinstance(value, str):
        raise _fail(key, f"giá trị {value!r} không hợp lệ", "một chuỗi (có thể rỗng)")
    return unicodedata.normalize("NFC", value.strip())


def _texts(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _fail(key, f"giá trị {value!r} không hợp lệ", 'một danh sách chuỗi, ví dụ ["UBND tỉnh (b/c)"]')
    return tuple(_text(f"{key}[{i}]", v) for i, v in enumerate(value))


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


def _base_url(key: str, value: Any) -> str:
    text = _text(key, value).rstrip("/")
    if not re.fullmatch(r"https?://[A-Za-z0-9.\-]+(:\d{1,5})?(/[A-Za-z0-9._~\-/]*)?", text):
        raise _fail(key, f"giá trị {value!r} không hợp lệ", 'địa chỉ dạng "https://baocao.snv.example"')
    return text


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


def _optional_text(key: str, value: Any) -> str | None:
    return None if value in (None, "") else _text(key, value)


def _table(data: dict[str, Any], name: str, schema: dict[str, Callable[[str, Any], Any]]):
    """Check one TOML table against ``schema``; return the converted values present."""
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise _fail(name, "phải là một bảng", f"[{name}]")
    for key in table:
        if key not in schema:
            known = ", ".join(schema)
            raise _fail(f"{name}.{key}", "khóa không được hỗ trợ", f"một trong: {known}")
    return {key: schema[key](f"{name}.{key}", value) for key, value in table.items()}


_DAY_MONTH_RE = re.compile(r"(\d{1,2})/(\d{1,2})")


def _day_month(key: str, value: Any, upto: int = 31) -> DayMonth:
    """ "10/03" -> (10, 3); a day that exists in every year (29/02 does not)."""
    match = _DAY_MONTH_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match:
        day, month = int(match[1]), int(match[2])
        if 1 <= month <= 12 and 1 <= day <= min(upto, calendar.monthrange(2001, month)[1]):
            return day, month
    raise _fail(key, f"giá trị {value!r} không hợp lệ", 'ngày/tháng như "10/03"')


def _due(key: str, value: Any) -> tuple[DayMonth, dict[str, DayMonth]]:
    """``due_before``: one date for every level, or a table per level the report goes to."""
    if isinstance(value, dict):
        if not value or set(value) - set(LEVELS):
            raise _fail(
                key, f"giá trị {value!r} không hợp lệ", f"bảng theo cấp nhận báo cáo: {', '.join(LEVELS)}"
            )
        by_level = {level: _day_month(f"{key}.{level}", v, upto=28) for level, v in value.items()}
        top = by_level.get("province") or max(by_level.values(), key=lambda dm: (dm[1], dm[0]))
        return top, by_level
    return _day_month(key, value, upto=28), {}


def _window(key: str, value: Any) -> tuple[DayMonth, DayMonth]:
    if not isinstance(value, list) or len(value) != 2:
        raise _fail(key, f"giá trị {value!r} không hợp lệ", 'hai ngày/tháng, ví dụ ["15/12", "14/03"]')
    return _day_month(f"{key}[0]", value[0]), _day_month(f"{key}[1]", value[1])


def _period_kind(code: str, raw: Any) -> PeriodKind:
    prefix = f"periods.{code}"
    if not re.fullmatch(r"[A-Z][A-Z0-9]{0,3}", code):
        raise _fail(prefix, "mã kỳ không hợp lệ", "chữ in hoa và số, ví dụ Q1, H1, Q3, Y")
    schema = {
        "label": _text,
        "months": lambda k, v: v,
        "due_before": _due,
        "estimates": _bool,
        "window": _window,
    }
    values = _table({prefix: raw}, prefix, schema)
    for required in ("label", "months", "due_before"):
        if required not in values:
            raise _fail(f"{prefix}.{required}", "thiếu khóa bắt buộc", "khai báo khóa này")
    months = values["months"]
    if (
        not isinstance(months, list)
        or not months
        or any(isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 12 for m in months)
        or months != sorted(set(months))
    ):
        raise _fail(f"{prefix}.months", f"giá trị {months!r} không hợp lệ", "các tháng 1–12 tăng dần")
    if "{year}" not in values["label"]:
        raise _fail(f"{prefix}.label", "thiếu chỗ điền năm", 'chuỗi có "{year}", ví dụ "Quý I năm {year}"')
    (due_day, due_month), by_level = values["due_before"]
    return PeriodKind(
        code=code,
        label=values["label"],
        months=tuple(months),
        due_day=due_day,
        due_month=due_month,
        estimates=values.get("estimates"),
        due_by_level=tuple(sorted(by_level.items())),
        window=values.get("window"),
    )


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


PATH_LABELS = {
    "inbox": "thư mục nộp báo cáo",
    "archive": "thư mục lưu trữ",
    "templates": "thư mục biểu mẫu",
    "feedback": "thư mục phản hồi",
    "output": "thư mục kết quả",
    "outbox": "thư mục thư đi",
    "logs": "thư mục nhật ký",
    "ledger": "sổ theo dõi",
}


def _within(inner: Path, outer: Path) -> bool:
    """``inner`` is ``outer`` or below it (case-insensitive where the system is, e.g. Windows)."""
    a, b = os.path.normcase(str(inner)), os.path.normcase(str(outer))
    return a == b or a.startswith(b.rstrip("\\/") + os.sep)


def _check_separate(paths: dict[str, Path]) -> None:
    """The inbox and the archive share no folder with anything else (either way round).

    Why: collect takes every file below the inbox, so an archive, feedback or output folder
    inside it would be collected again (its own archive eaten, feedback judged as reports); a
    rebuild reads every file below the archive as an original.
    """
    for key in ("inbox", "archive"):
        for other, path in paths.items():
            if other == key or (key == "archive" and other == "inbox"):
                continue
            if _within(path, paths[key]) or _within(paths[key], path):
                where = (
                    "trùng với"
                    if _within(path, paths[key]) and _within(paths[key], path)
                    else ("nằm trong" if _within(path, paths[key]) else "chứa")
                )
                raise ConfigError(
                    f"config.toml: [paths] {other} ({PATH_LABELS[other]} {path}) {where} [paths] {key} "
                    f"({PATH_LABELS[key]} {paths[key]}); hai thư mục này phải tách riêng, nếu không "
                    + (
                        "baocao sẽ thu nhận lại chính các tệp của mình"
                        if key == "inbox"
                        else "tệp khác sẽ bị coi là bản lưu trữ"
                    )
                )


TOP_KEYS = {
    "organisation",
    "paths",
    "form",
    "registry",
    "periods",
    "mail",
    "schedule",
    "collect",
    "report",
    "intake",
    "web",
}


def load_config(path: str | Path) -> Settings:
    """Read and check a deployment's ``config.toml``.

    Returns a ``Settings`` whose paths are absolute. Raises ``ConfigError`` with one line
    naming the key for a missing file, bad TOML, an unknown key or a wrong value.
    """
    config_file = Path(path).resolve()
    data = read_toml(config_file)
    for key in data:
        if key not in TOP_KEYS:
            raise _fail(key, "khóa không được hỗ trợ", "một trong: " + ", ".join(sorted(TOP_KEYS)))
    base = config_file.parent

    org = _table(
        data,
        "organisation",
        {
            "name": _text,
            "coordinator": _text,
            "issuing_body": _text,
            "province": _text,
            "timezone": _text,
            "inclusive_deadline": _bool,
            "submit_to": _text,
            "contact_name": _text,
            "contact_phone": _text,
            "key_name": _text,
        },
    )
    if "name" not in org:
        raise _fail("organisation.name", "thiếu khóa bắt buộc", "tên cơ quan tổng hợp")
    tz_name = org.get("timezone", "Asia/Ho_Chi_Minh")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(
            "organisation.timezone", f"không biết múi giờ {tz_name!r}", 'ví dụ "Asia/Ho_Chi_Minh"'
        ) from None

    path_values = _table(data, "paths", {key: _path_text for key in PATH_KEYS})
    paths = {key: (base / path_values.get(key, f"workbooks/{key}")).resolve() for key in PATH_KEYS}
    if "ledger" not in path_values:
        paths["ledger"] = (base / "workbooks/ledger.sqlite").resolve()
    _check_separate(paths)

    for key in ("form", "registry"):
        if key not in data:
            raise _fail(key, "thiếu khóa bắt buộc", "đường dẫn tới tệp")
    form_file = (base / _path_text("form", data["form"])).resolve()
    registry_file = (base / _path_text("registry", data["registry"])).resolve()

    raw_periods = data.get("periods")
    if not isinstance(raw_periods, dict) or not raw_periods:
        raise _fail("periods", "thiếu hoặc rỗng", "các bảng [periods.Q1], [periods.H1]…")
    kinds = {code: _period_kind(code, raw) for code, raw in raw_periods.items()}

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

    schedule = ScheduleSettings(
        **_table(
            data,
            "schedule",
            {
                "interval_minutes": _int_in(1, 1440),
                "log_max_kb": _int_in(16, 1024 * 1024),
                "log_backups": _int_in(0, 100),
            },
        )
    )
    collect = CollectSettings(
        **_table(
            data,
            "collect",
            {
                "stable_seconds": _float_in(0, 3600),
                "workers": _int_in(0, 64),
                "max_file_mb": _float_in(0.01, 1024),
                "max_unpacked_mb": _float_in(0.1, 8192),
                "read_timeout_seconds": _float_in(1, 3600),
            },
        )
    )
    report = ReportSettings(
        **_table(
            data,
            "report",
            {
                "agency": _blank_or_text,
                "number_suffix": _blank_or_text,
                "plan": _blank_or_text,
                "recipients": _texts,
                "signer_authority": _blank_or_text,
                "signer_title": _blank_or_text,
                "signer_name": _blank_or_text,
            },
        )
    )
    web_values = _table(
        data,
        "web",
        {
            "base_url": _base_url,
            "host": _text,
            "port": _int_in(1, 65535),
            "users_file": _text,
            "session_minutes": _int_in(5, 7 * 24 * 60),
            "login_attempts": _int_in(1, 100),
            "upload_wait_seconds": _float_in(0, 600),
            "link_version": _int_in(1, 1_000_000),
        },
    )
    users_file = web_values.pop("users_file", None)
    default_users = paths["ledger"].parent / "tai-khoan-web.txt"
    web = WebSettings(**web_values, users_file=(base / users_file).resolve() if users_file else default_users)
    return Settings(
        config_file=config_file,
        organisation=org["name"],
        coordinator=org.get("coordinator", org["name"]),
        issuing_body=org.get("issuing_body", ""),
        province=org.get("province", ""),
        timezone=tz,
        inclusive_deadline=org.get("inclusive_deadline", False),
        submit_to=org.get("submit_to", str(paths["inbox"])),
        paths=paths,
        form_file=form_file,
        registry_file=registry_file,
        period_kinds=kinds,
        mail=mail,
        contact_name=org.get("contact_name", ""),
        contact_phone=org.get("contact_phone", ""),
        schedule=schedule,
        collect=collect,
        report=report,
        imap=_imap(data),
        web=web,
        key_name=org.get("key_name") or ascii_slug(org["name"], 60),
    )
