"""The typed settings of a deployment: what ``config.toml`` says, once checked.

Why a module of its own: nearly every layer reads these frozen dataclasses (the mailer its
``MailSettings``, the mailbox its ``ImapSettings``, rules and summaries a ``PeriodKind``), while
only ``spec.config`` reads the TOML that fills them. Kept apart, the shapes can be read without
the checking code, and the folder rules the loader enforces (``_check_separate``) live beside
the paths they are about, where ``Settings.intake_folder_holding`` applies them again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

from baocao.errors import ConfigError

PATH_KEYS = ("templates", "inbox", "archive", "feedback", "output", "ledger", "outbox", "logs")


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
