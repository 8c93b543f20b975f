"""The plain data of a message: what it says, to whom, about which report and by when.

Shared by the composers (``mailtext``), the facts read from a deployment (``letters``) and the
transport (``mail``); no behaviour beyond small derived values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from baocao.model import Issue, Severity


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message; ``mimetype`` like ``application/vnd.ms-excel``."""

    filename: str
    content: bytes
    mimetype: str = "application/octet-stream"


@dataclass(frozen=True)
class OutgoingMessage:
    """One composed message, before it is turned into bytes or sent.

    ``kind`` is ``reminder``, ``feedback``, ``receipt`` or ``summary``; ``unit`` is the unit
    code for unit messages and ``None`` for summaries. ``text`` and ``html`` are the two
    alternative parts. ``cc`` get the same message (one message, not a copy per address);
    ``in_reply_to``/``references`` thread an answer under the message it answers.
    """

    kind: str
    period: str
    unit: str | None
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()
    cc: tuple[str, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class Letterhead:
    """Who writes, about which report, whom to call and where files go: in every message.

    ``report_name`` is the report's short name ("Báo cáo tuyên truyền CCHC"); ``contact`` one
    line naming a person ("Bà Hoàng Thị Lan, Phòng Cải cách hành chính – điện thoại …").
    """

    org_name: str
    report_name: str = "Báo cáo"
    contact: str = ""
    submit_to: str = ""


@dataclass(frozen=True)
class Recipient:
    """A unit and the addresses its message goes to (``cc``: e.g. its department's office).

    ``code`` and ``name`` are empty for a file tied to no unit: the message then goes to whoever
    prepared it (the address typed in the file), and says so.
    """

    code: str
    name: str
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()


@dataclass(frozen=True)
class Due:
    """A period as units read it: its name and its deadline in the one wording used everywhere.

    ``text`` is ``Period.due_text`` ("trước ngày 10/03/2025"); ``last_day`` the last on-time
    day, from which "còn 3 ngày" is counted.
    """

    period_code: str
    period_name: str
    text: str
    last_day: date
    link: str | None = None  # the unit's own web page for the period (``baocao serve``), if any


@dataclass(frozen=True)
class SentFile:
    """A file the unit sent, as the reader of a message knows it."""

    name: str
    received_at: datetime
    issues: tuple[Issue, ...] = ()
    receipt: str = ""  # the number the unit can quote (``BN-000042``), for a recorded file
    sent_from: str = ""  # e-mailed from this address, which is not the unit's registered one

    @property
    def errors(self) -> int:
        return sum(1 for i in self.issues if i.severity == Severity.ERROR)

    @property
    def notes(self) -> int:
        return len(self.issues) - self.errors


@dataclass(frozen=True)
class Returned:
    """The unit's last file, returned, for a reminder: it and its marked-up copy."""

    file: SentFile
    marked: Attachment | None
