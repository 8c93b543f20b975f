"""The year's scorecard: how each unit did, period by period, its on-time rate, score and rank (pure).

Coordinators use it for the annual CCHC assessment of units ("chấm điểm"). One row per unit that
reports in any period of the year, one column per period. A cell is:
- ``on_time`` / ``late`` (with days late): from the unit's first accepted file (``status``),
  judged against the deadline of the level the unit reports to;
- ``rejected``: it sent files but none was accepted;
- ``missing``: nothing sent and its deadline has passed;
- ``not_due``: nothing accepted yet and its deadline is after ``now`` (not counted against it);
- ``absent`` ("—"): the unit did not report in that period (did not exist yet, closed, merged).

Score (``SCORE_RULE``, printed on the sheet): the mean over the periods already due of
100 for on time, 100 − 10 × days late for late (at least 50), 0 for rejected or missing.
On-time rate: periods on time / periods due. Rank: by score, then on-time rate, highest first;
units equal on both share a rank (1, 2, 2, 4); a unit with no period due yet has neither.

Rows come in the order of status and summary (``status.order_key``), each unit placed as it was
in the last period it reported in; department counts add up each period under the department
the unit belonged to *in that period*.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from baocao.model import FileRecord, Submission
from baocao.report.status import STATUS_LABELS, order_key, period_status
from baocao.spec.periods import Period
from baocao.spec.registry import Registry

KINDS = ("on_time", "late", "rejected", "missing", "not_due")
DUE = ("on_time", "late", "rejected", "missing")
LABELS = {**STATUS_LABELS, "absent": "—"}
SCORE_RULE = (
    "Điểm = trung bình các kỳ đã đến hạn: đúng hạn 100 điểm; chậm hạn 100 − 10 × số ngày chậm "
    "(tối thiểu 50 điểm); bị trả lại hoặc chưa nộp 0 điểm. Tỷ lệ đúng hạn = số kỳ đúng hạn / số kỳ "
    "đã đến hạn. Xếp hạng theo điểm, bằng điểm thì theo tỷ lệ đúng hạn; bằng cả hai thì cùng hạng."
)


@dataclass(frozen=True)
class Cell:
    status: str  # one of KINDS or "absent"
    days_late: int = 0

    @property
    def label(self) -> str:
        return f"Chậm {self.days_late} ngày" if self.status == "late" else LABELS[self.status]

    @property
    def points(self) -> float | None:
        """The cell's score (``None``: not due or absent, not counted)."""
        if self.status == "on_time":
            return 100.0
        if self.status == "late":
            return float(max(50, 100 - 10 * self.days_late))
        return 0.0 if self.status in ("rejected", "missing") else None


@dataclass
class ScoreRow:
    code: str
    name: str
    department: str
    department_name: str
    cells: dict[str, Cell] = field(default_factory=dict)
    order: tuple = ()
    rank: int | None = None

    def counts(self) -> dict[str, int]:
        return {k: sum(1 for c in self.cells.values() if c.status == k) for k in KINDS}

    @property
    def due(self) -> int:
        return sum(1 for c in self.cells.values() if c.status in DUE)

    @property
    def on_time_rate(self) -> float | None:
        return self.counts()["on_time"] / self.due if self.due else None

    @property
    def score(self) -> float | None:
        points = [p for c in self.cells.values() if (p := c.points) is not None]
        return round(sum(points) / len(points), 1) if points else None


@dataclass(frozen=True)
class Scorecard:
    year: int
    made_at: datetime
    periods: tuple[Period, ...]
    rows: tuple[ScoreRow, ...]
    departments: dict[str, dict]  # code -> {"name", "counts", "on_time_rate"}

    def to_dict(self) -> dict:
        return {
            "year": self.year,
            "made_at": self.made_at.isoformat(),
            "rule": SCORE_RULE,
            "periods": [{"code": p.code, "name": p.name} for p in self.periods],
            "units": [
                {
                    "code": r.code,
                    "name": r.name,
                    "department": r.department,
                    "periods": {
                        code: {"status": c.status, "days_late": c.days_late, "label": c.label}
                        for code, c in r.cells.items()
                    },
                    "counts": r.counts(),
                    "due": r.due,
                    "on_time_rate": r.on_time_rate,
                    "score": r.score,
                    "rank": r.rank,
                }
                for r in self.rows
            ],
            "departments": self.departments,
        }


def build_scorecard(
    *,
    registry: Registry,
    year: int,
    periods: Sequence[Period],
    files: Mapping[str, list[FileRecord]],
    current: Mapping[str, Mapping[str, Submission]],
    tz: ZoneInfo,
    inclusive: bool,
    now: datetime,
) -> Scorecard:
    """The scorecard of ``year`` (pure): ``files`` and ``current`` are the ledger's file records
    and submissions in force, by period code."""
    key = order_key(registry)
    rows: dict[str, ScoreRow] = {}
    departments: dict[str, dict] = {}
    for p in periods:
        day = registry.reference_day(p)
        units = registry.reporting_units(p)
        levels = {u.code: registry.reports_to(u.code, day) for u in units}
        statuses = period_status(
            p, units, files.get(p.code, []), dict(current.get(p.code, {})), tz, inclusive, levels, now=now
        )
        for st in statuses:
            dept = registry.group_of(st.unit.code, day)
            dcode, dname = (dept.code, dept.name) if dept else ("", "")
            row = rows.setdefault(st.unit.code, ScoreRow(st.unit.code, st.unit.name, dcode, dname))
            row.name, row.department, row.department_name = st.unit.name, dcode, dname
            row.order = key(st.unit.code, day)
            due = now > p.deadline(tz, inclusive, levels[st.unit.code])
            status = st.status if st.reported or due else "not_due"
            row.cells[p.code] = Cell(status, st.days_late)
            entry = departments.setdefault(dcode, {"name": dname, "counts": dict.fromkeys(KINDS, 0)})
            entry["counts"][status] += 1
    for row in rows.values():
        row.cells = {p.code: row.cells.get(p.code, Cell("absent")) for p in periods}
    for entry in departments.values():
        c = entry["counts"]
        periods_due = sum(c[k] for k in DUE)
        entry["on_time_rate"] = c["on_time"] / periods_due if periods_due else None
    ordered = sorted(rows.values(), key=lambda r: r.order)
    _rank(ordered)
    return Scorecard(year, now, tuple(periods), tuple(ordered), departments)


def _rank(rows: list[ScoreRow]) -> None:
    """Competition ranking (1, 2, 2, 4) by score, then on-time rate; unscored rows get none."""
    scored = sorted(
        (r for r in rows if r.score is not None),
        key=lambda r: (-(r.score or 0), -(r.on_time_rate or 0)),
    )
    previous: tuple | None = None
    for place, row in enumerate(scored, start=1):
        standing = (row.score, row.on_time_rate)
        row.rank = place if standing != previous else scored[place - 2].rank
        previous = standing
