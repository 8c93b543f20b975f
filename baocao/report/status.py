"""Who has reported for a period, on time or late, from what the ledger recorded (pure).

A unit's status follows its *first* accepted submission: on time if that arrived by the
deadline of the level it reports to, even when a later file corrects it (the correction's values
are used). Without an accepted file it is ``rejected`` if it sent something that was refused,
else ``missing``; once that deadline has passed, ``days_overdue`` counts the days since.

Every list of units that leaders read (status, summary, scorecard) comes in one order,
``unit_order``: departments in registry order, their units in registry order.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from baocao.model import FileRecord, Issue, Submission
from baocao.spec.periods import Period, days_late
from baocao.spec.registry import Registry, Unit

NO_EXTRA: Mapping = MappingProxyType({})
ZONES: dict = {}  # the fixed offsets met in the ledger's times (a handful: +07:00, UTC)


def shared_zone(moment: datetime, zones: dict) -> datetime:
    """``moment`` with its time zone object shared with every equal one in ``zones``: the
    ledger's ISO times parse to a new offset (and its timedelta) for each, 72 bytes per time
    that a summary holds for every unit and file (issue 13). The same moment, the same offset."""
    zone = moment.tzinfo
    if zone is None:
        return moment
    same = zones.setdefault((type(zone), zone, zone.tzname(None)), zone)
    return moment if same is zone else moment.replace(tzinfo=same)


STATUSES = ("on_time", "late", "rejected", "missing")
STATUS_LABELS = {
    "on_time": "Đúng hạn",
    "late": "Chậm",
    "rejected": "Bị trả lại",
    "missing": "Chưa nộp",
    "not_due": "Chưa đến hạn",
}


@dataclass(frozen=True, slots=True)
class UnitStatus:
    """One unit's standing for one period (slots: a summary holds one per unit, 10,000 of them)."""

    unit: Unit
    status: str
    received_at: datetime | None = None
    days_late: int = 0
    issues: tuple[Issue, ...] = ()
    last_file: str | None = None
    last_received_at: datetime | None = None
    submission: Submission | None = None
    files: int = 0
    corrected: bool = False
    extra: Mapping = field(default_factory=lambda: NO_EXTRA)  # shared, not a dict per unit
    deadline: date | None = None  # the last on-time day of the level the unit reports to
    days_overdue: int = 0  # rejected or missing: days since that deadline (0 before it)
    source: str | None = None  # where the last file came from: folder, imap (e-mail), web
    sender: str | None = None  # the address it was e-mailed from

    @property
    def label(self) -> str:
        label = STATUS_LABELS[self.status]
        return f"{label} {self.days_late} ngày" if self.status == "late" else label

    @property
    def overdue_label(self) -> str:
        """``Bị trả lại, quá hạn 2 ngày`` once the deadline has passed; else the plain label."""
        if self.days_overdue and not self.reported:
            return f"{STATUS_LABELS[self.status]}, quá hạn {self.days_overdue} ngày"
        return self.label

    @property
    def reported(self) -> bool:
        return self.status in ("on_time", "late")

    def to_dict(self) -> dict:
        return {
            "unit": self.unit.code,
            "name": self.unit.name,
            "parent": self.unit.parent,
            "status": self.status,
            "received_at": self.received_at.isoformat() if self.received_at else None,
            "days_late": self.days_late,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "days_overdue": self.days_overdue,
            "last_file": self.last_file,
            "last_received_at": self.last_received_at.isoformat() if self.last_received_at else None,
            "source": self.source,
            "sender": self.sender,
            "files": self.files,
            "corrected": self.corrected,
            "issues": [i.to_dict() for i in self.issues],
        }


def period_status(
    period: Period,
    units: list[Unit],
    files: Iterable[FileRecord],
    current: dict[str, Submission],
    tz: ZoneInfo,
    inclusive: bool = False,
    levels: Mapping[str, str | None] | None = None,
    now: datetime | None = None,
) -> list[UnitStatus]:
    """The status of each of ``units`` for ``period`` from the period's files and submissions.

    ``levels`` maps a unit code to the level it reports to (``Deployment.level_of``): lateness
    counts from that level's deadline; a unit not in it uses the period's top deadline. With
    ``now``, a unit without an accepted report gets ``days_overdue`` past that deadline.
    """
    seen: dict[str, _Files] = {}
    for rec in files:
        if rec.unit and rec.period == period.code and rec.status in ("accepted", "rejected"):
            seen.setdefault(rec.unit, _Files()).add(rec)
    out = []
    deadlines: dict[str | None, date] = {}  # one per level, not one per unit
    for unit in units:
        got = seen.get(unit.code, NO_FILES)
        last = got.last
        common: dict[str, Any] = {
            "last_file": last.original_name if last else None,
            "last_received_at": last.received_at if last else None,
            "source": last.source if last else None,
            "sender": last.sender if last else None,
            "files": got.count,
        }
        level = (levels or {}).get(unit.code)
        if level not in deadlines:
            deadlines[level] = period.last_on_time_day(inclusive, level)
        common["deadline"] = deadlines[level]
        overdue = days_late(now, period, tz, inclusive, level) if now is not None else 0
        if got.first_accepted is not None:
            first = got.first_accepted
            late = days_late(first.received_at, period, tz, inclusive, level)
            sub = current.get(unit.code)
            out.append(
                UnitStatus(
                    unit=unit,
                    status="late" if late else "on_time",
                    received_at=first.received_at,
                    days_late=late,
                    issues=tuple(sub.warnings) if sub else (),
                    submission=sub,
                    corrected=got.accepted > 1,
                    **common,
                )
            )
        elif last is not None:
            out.append(
                UnitStatus(
                    unit=unit,
                    status="rejected",
                    received_at=last.received_at,
                    issues=tuple(last.errors),
                    days_overdue=overdue,
                    **common,
                )
            )
        else:
            out.append(UnitStatus(unit=unit, status="missing", days_overdue=overdue, **common))
    return out


@dataclass(frozen=True, slots=True)
class _File:
    """The little of a file record a status shows (the record itself also holds hashes, paths,
    every issue: kept for each unit's last file it held the whole period's records at once)."""

    key: tuple[datetime, int]  # the order of arrival: received, then ledger id
    received_at: datetime
    original_name: str
    source: str | None
    sender: str | None
    errors: tuple[Issue, ...]

    @classmethod
    def of(cls, rec: FileRecord) -> _File:
        received = shared_zone(rec.received_at, ZONES)
        key = (received, rec.id or 0)
        source = sys.intern(rec.source) if rec.source else rec.source  # a few words, for every file
        return cls(key, received, rec.original_name, source, rec.sender, tuple(rec.errors))


@dataclass(slots=True)
class _Files:
    """A unit's judged files of the period, folded one record at a time: how many, how many
    accepted, the first accepted and the last (in order of arrival; of equal keys, the first
    accepted is the earlier record met and the last the later one, as a stable sort has them)."""

    count: int = 0
    accepted: int = 0
    first_accepted: _File | None = None
    last: _File | None = None

    def add(self, rec: FileRecord) -> None:
        key = (rec.received_at, rec.id or 0)
        self.count += 1
        if rec.status == "accepted":
            self.accepted += 1
            if self.first_accepted is None or key < self.first_accepted.key:
                self.first_accepted = _File.of(rec)
        if self.last is None or key >= self.last.key:
            self.last = _File.of(rec)


NO_FILES = _Files()


def counts(statuses: list[UnitStatus]) -> dict[str, int]:
    """How many units are in each status, plus ``expected`` and ``reported``."""
    result = {s: 0 for s in STATUSES}
    for st in statuses:
        result[st.status] += 1
    result["expected"] = len(statuses)
    result["reported"] = result["on_time"] + result["late"]
    return result


def order_key(registry: Registry) -> Callable[[str, date], tuple[int, int]]:
    """The sort key of every list leaders read, for unit ``code`` as it is on ``day``: its
    department's first row in the registry, then its own row (units without a department last)."""
    position: dict[str, int] = {}
    for index, row in enumerate(registry.units):
        position.setdefault(row.code, index)
    top = len(registry.units)

    def key(code: str, day: date) -> tuple[int, int]:
        group = registry.group_of(code, day)
        return (position.get(group.code, top) if group else top, position.get(code, top))

    return key


def unit_order(registry: Registry, units: list[Unit], day: date) -> list[Unit]:
    """``units`` grouped by their department on ``day`` (departments in registry order), each
    group in registry order: the one order of status, summary and scorecard."""
    key = order_key(registry)
    return sorted(units, key=lambda u: key(u.code, day))
