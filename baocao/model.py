"""Plain data passed between the rooms of the pipeline.

These types carry no behaviour that touches files, the clock or the network, so every room
can be tested with values built by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """An error rejects the submission; a warning is accepted but flagged."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Issue:
    """One thing wrong (or worth a look) in a submission.

    ``code`` is a stable machine identifier (``required``, ``not_integer``, ``below_target``…),
    ``message`` the Vietnamese sentence shown to the unit, ``sheet``/``cell`` where to look
    (empty when the issue concerns the file as a whole). ``also`` holds the other cells of the
    same sheet a cross-field rule compared (``D26`` for "35 lượt người nhưng số lớp là 0" at
    ``D27``), so the feedback marks both.
    """

    severity: Severity
    code: str
    message: str
    field: str = ""
    sheet: str = ""
    cell: str = ""
    also: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        """``BaoCao!D14``, or ``""`` when the issue is not tied to a cell."""
        if not self.cell:
            return self.sheet
        return f"{self.sheet}!{self.cell}" if self.sheet else self.cell

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "severity": str(self.severity),
            "code": self.code,
            "field": self.field,
            "sheet": self.sheet,
            "cell": self.cell,
            "message": self.message,
        }
        if self.also:  # only when present: older ledgers and JSON consumers see the same keys
            data["also"] = list(self.also)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Issue:
        return cls(
            severity=Severity(data["severity"]),
            code=data["code"],
            message=data["message"],
            field=data.get("field", ""),
            sheet=data.get("sheet", ""),
            cell=data.get("cell", ""),
            also=tuple(data.get("also", ())),
        )

    @property
    def label_and_detail(self) -> tuple[str, str] | None:
        """(field label, what is wrong) of a message worded by ``cell_issue`` (``Ô D14 (label):
        detail``), so a list that already shows the cell need not repeat it; None otherwise."""
        prefix = f"Ô {self.cell} ("
        if not self.cell or not self.message.startswith(prefix):
            return None
        rest = self.message[len(prefix) :]
        end = rest.find("): ")
        return (rest[:end], rest[end + 3 :]) if end >= 0 else None


def cell_issue(severity: Severity, code: str, field, cell, detail: str, also: tuple[str, ...] = ()) -> Issue:
    """An issue worded as ``Ô D14 (label): detail`` when tied to a cell, else just ``detail``.

    ``field`` is a form field (``code``, ``label``) and ``cell`` a ``RawCell``; either may be None.
    ``also``: other cells of the same sheet the issue concerns (see ``Issue.also``).
    """
    if field is None or cell is None:
        return Issue(severity, code, detail)
    return Issue(
        severity, code, f"Ô {cell.cell} ({field.label}): {detail}", field.code, cell.sheet, cell.cell, also
    )


@dataclass(frozen=True)
class CellRef:
    """A single cell of a workbook: sheet name and A1 address (``BaoCao``, ``D14``)."""

    sheet: str
    cell: str

    def __str__(self) -> str:
        return f"{self.sheet}!{self.cell}"


@dataclass(frozen=True)
class RawCell:
    """A value as read from a workbook, before any judgement.

    ``value`` is what the reader found: ``str`` (NFC-normalised), ``int``, ``float``, ``bool``,
    ``datetime.date``/``datetime.datetime`` or ``None`` for an empty cell.
    ``formula_without_value`` is true when the cell holds a formula whose result was never
    calculated and saved, which must be reported rather than read as zero.
    """

    value: object
    sheet: str
    cell: str
    formula_without_value: bool = False


@dataclass
class RawWorkbook:
    """Everything the reader extracted from one file: cells by field code and hidden metadata."""

    format: str
    cells: dict[str, RawCell] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    used_defined_names: bool = True
    form_version: str = ""
    sheets: tuple[str, ...] = ()  # the workbook's sheet names (to tell a deleted data sheet)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled with its cells as rows of plain values: a worker process sends one per file,
        and pickling ~40 ``RawCell`` dataclasses one by one cost the worker about as much as
        reading a field of every cell, and the collecting process as much again to load them."""
        cells = self.cells
        if not all(type(cell) is RawCell for cell in cells.values()):
            return super().__reduce__()  # type: ignore[return-value]  # never: cells are RawCells
        rows = [(c.value, c.sheet, c.cell, c.formula_without_value) for c in cells.values()]
        fields = (self.format, tuple(cells), rows, self.meta, self.used_defined_names, self.form_version)
        return (_raw_workbook, (*fields, self.sheets))


def _raw_workbook(
    fmt: str,
    codes: tuple[str, ...],
    rows: list[tuple[object, str, str, bool]],
    meta: dict[str, str],
    used_defined_names: bool,
    form_version: str,
    sheets: tuple[str, ...],
) -> RawWorkbook:
    """A ``RawWorkbook`` as ``RawWorkbook.__reduce__`` pickled it, its cells shared with earlier
    workbooks where they hold the same (``shared_cell``, as the readers make them)."""
    cells = {code: shared_cell(*row) for code, row in zip(codes, rows, strict=True)}
    return RawWorkbook(fmt, cells, meta, used_defined_names, form_version, sheets)


def shared_cell(value: object, sheet: str, address: str, formula_without_value: bool = False) -> RawCell:
    """``RawCell(...)``, shared with earlier ones that hold the same: a frozen dataclass costs
    more to build than to look up, and most cells repeat across a period's reports (the zeros,
    the choices, the pre-filled header), both where a reader reads them and where the
    collecting process loads them from a worker. Only for types whose equal values are the same
    value (not 1 and True, not datetimes of two time zones: the type is part of the key)."""
    kind = type(value)
    if kind not in _SAME_WHEN_EQUAL:
        return _new_cell(value, sheet, address, formula_without_value)
    key = (kind, value, sheet, address, formula_without_value)
    cell = _SHARED_CELLS.get(key)
    if cell is None:
        if len(_SHARED_CELLS) >= 8192:
            _SHARED_CELLS.clear()
        cell = _SHARED_CELLS[key] = _new_cell(value, sheet, address, formula_without_value)
    return cell


def _new_cell(value: object, sheet: str, address: str, formula_without_value: bool) -> RawCell:
    """A ``RawCell`` made as pickle makes one (its fields set, the frozen ``__init__`` not run:
    a third of the cost)."""
    cell = object.__new__(RawCell)
    cell.__dict__.update(value=value, sheet=sheet, cell=address, formula_without_value=formula_without_value)
    return cell


_SAME_WHEN_EQUAL = frozenset({str, int, float, bool, date, type(None)})  # equal values, same value
_SHARED_CELLS: dict[tuple[object, ...], RawCell] = {}  # (type, value, sheet, address, formula) -> cell


# --- what the store remembers (row types shared by the store, the stages and the reports) ---


# What a file turned out to be. ``archived``: taken, not judged yet; ``container``: an e-mail
# (or other envelope) kept as received, its attachments recorded as files of their own;
# ``locked``: judged, but its period was closed (final summary) and it supersedes nothing;
# ``failed``: the program failed on it (a bug or a broken disk), kept for the coordinator;
# ``held``: it names a unit without proving it (template signature), waiting for the coordinator.
FILE_STATUSES = ("archived", "accepted", "rejected", "duplicate", "held", "locked", "failed", "container")


@dataclass(frozen=True)
class MailThread:
    """The e-mail a file came in, as far as answering it goes.

    Answers thread under ``message_id`` (In-Reply-To, and References after ``references``);
    ``answer_to`` is the sender's address when an answer may go to it, ``""`` when nobody may
    be answered (a machine, a mailing list, a sender outside ``allowed_senders``).
    """

    message_id: str = ""
    references: tuple[str, ...] = ()
    subject: str = ""
    answer_to: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "references": list(self.references),
            "subject": self.subject,
            "answer_to": self.answer_to,
        }

    @classmethod
    def from_dict(cls, data: dict) -> MailThread:
        return cls(
            message_id=str(data.get("message_id") or ""),
            references=tuple(str(r) for r in data.get("references") or ()),
            subject=str(data.get("subject") or ""),
            answer_to=str(data.get("answer_to") or ""),
        )


@dataclass
class FileRecord:
    """One arrival taken by an intake, as the store remembers it.

    ``inbox_path`` says where it sat (the path below the inbox folder, or an intake's own
    description of where it came from); ``arrival_key`` is the intake's key for "already
    taken"; ``parent_id`` links an attachment to the e-mail it came in; ``archive_path`` is
    empty when nothing was archived (a file refused before it was copied, e.g. too large).
    ``removed_from_inbox``: the intake has released the original (deleted it from the folder,
    moved the message out of the mailbox's inbox), or there is nothing left to release.
    """

    sha256: str
    original_name: str
    inbox_path: str
    archive_path: str
    size: int
    received_at: datetime
    status: str = "archived"
    id: int | None = None
    removed_from_inbox: bool = False
    processed_at: datetime | None = None
    unit: str | None = None
    period: str | None = None
    form_version: str | None = None
    issues: list[Issue] = field(default_factory=list)
    duplicate_of: int | None = None
    feedback_path: str | None = None
    contact: str | None = None
    source: str = "folder"
    sender: str | None = None
    parent_id: int | None = None
    arrival_key: str | None = None
    proof: str | None = None  # what the file proved about its unit (``spec.identity.Proof``)
    claimed_unit: str | None = None  # the unit it named, even when it is filed under none
    mail: MailThread | None = None  # the e-mail it came in (intake ``imap``)

    def to_dict(self) -> dict[str, object]:
        return {
            "file_id": self.id,
            "name": self.original_name,
            "inbox_path": self.inbox_path,
            "received_at": self.received_at.isoformat(),
            "status": self.status,
            "unit": self.unit,
            "claimed_unit": self.claimed_unit,
            "period": self.period,
            "proof": self.proof,
            "contact": self.contact,
            "source": self.source,
            "sender": self.sender,
            "message_id": self.mail.message_id if self.mail else None,
            "issues": [i.to_dict() for i in self.issues],
        }

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def saved_id(self) -> int:
        """The ledger id of a record that has been stored (``ValueError`` before it is)."""
        if self.id is None:
            raise ValueError(f"file record {self.original_name!r} has not been stored yet")
        return self.id


@dataclass(frozen=True)
class Submission:
    """The accepted values of one file for one unit and period."""

    id: int
    file_id: int
    unit: str
    period: str
    form_version: str
    received_at: datetime
    values: dict[str, object]
    warnings: tuple[Issue, ...]
    superseded_by: int | None = None


@dataclass(frozen=True)
class Sighting:
    """A file seen in the inbox folder and not taken yet (for the stability wait and its
    received time): when it was first seen, when it last changed, and the last inbox scan that
    did not see it (``not_seen_at``, the earliest it can have arrived)."""

    inbox_path: str
    size: int
    mtime_ns: int
    first_seen: datetime
    last_seen: datetime
    not_seen_at: datetime | None = None


@dataclass(frozen=True)
class MessageRecord:
    """One message baocao decided to send, with its exact bytes and its delivery state."""

    key: str
    kind: str
    period: str
    unit: str | None
    recipient: str  # the first envelope recipient (for lists)
    status: str  # pending | sending | sent | failed | uncertain (``MESSAGE_STATUSES``)
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    message_id: str | None
    outbox_file: str | None
    file_id: int | None
    subject: str | None
    body: bytes
    recipients: tuple[str, ...] = ()  # every envelope recipient: To then Cc


@dataclass(frozen=True)
class Reopening:
    """A coordinator's decision to let one more file of a closed period in for one unit
    (``baocao reopen``); ``file_id`` is the file it let in, once one was."""

    id: int
    period: str
    unit: str
    opened_at: datetime
    file_id: int | None = None


@dataclass(frozen=True)
class Action:
    """A coordinator's deliberate act that changed state (reopen a unit, resend feedback), as
    the ledger keeps it: who, when, what, on which period/unit/file, and what came of it."""

    id: int
    at: datetime
    actor: str
    action: str
    period: str | None = None
    unit: str | None = None
    file_id: int | None = None
    detail: str = ""
