"""The summary of one period for one level (province or department): the model and how it is built.

``build_summary`` is pure: registry + form + the ledger's records in, a ``Summary`` out. It never
reads a unit's workbook again; what the ledger accepted is what counts. The renderers
(``report.xlsx``, ``report.docx``…) take a ``Summary``; ``baocao.consolidate`` is the edge that
opens the ledger, builds it and places the files.

Who counts: the units *reporting* in the period according to the registry (active leaves on the
period's reference day), under the level asked for, grouped by their department on that day.
So 2024 periods consolidate with the 2024 structure and 2025 periods with the 2025 one. A
submission from a unit that does not report at this level (a department's own roll-up when its
units are in this registry) is not counted: its figures are already in its units' rows.

Comparison rule (previous period, same period last year): an earlier submission of unit U counts
towards this level when the unit that now stands for U lies inside the level. The unit that now
stands for U is the first code of U's successor chain (``Registry.successors``) that exists for
the current period; when the chain ends at a closed unit, U's department at the time is followed
the same way (a closed unit without successor counts where its department went). At the top
level every earlier submission counts, since the province holds everything that was in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from baocao.errors import UsageError
from baocao.model import FileRecord, Issue, Submission
from baocao.report.status import UnitStatus, counts, period_status
from baocao.spec.config import PeriodKind
from baocao.spec.form import Form, Rule
from baocao.spec.periods import Period, previous_period, same_period_last_year
from baocao.spec.registry import Registry, Unit

NO_TEXT = {"", "không", "không có", "khong"}


@dataclass(frozen=True)
class Target:
    """The per-month minimum of one field (the form's ``min_per_month`` rule) for a period."""

    field: str
    label: str
    measure: str
    per_month: float
    months: int

    @property
    def value(self) -> float:
        return self.per_month * self.months


@dataclass(frozen=True)
class UnitRow:
    """One reporting unit's line: its status and, when accepted, its figures and texts."""

    unit: Unit
    status: UnitStatus
    values: dict[str, int] | None  # None: no accepted submission
    texts: dict[str, str]
    meets_target: bool | None  # None: no submission or no target rule

    @property
    def reported(self) -> bool:
        return self.values is not None


@dataclass(frozen=True)
class Block:
    """The units of one department with their subtotal; ``department`` None: directly under the level."""

    department: Unit | None
    rows: tuple[UnitRow, ...]
    totals: dict[str, int]

    @property
    def name(self) -> str:
        return self.department.name if self.department else "Đơn vị trực thuộc"


@dataclass(frozen=True)
class Comparison:
    """The level's totals in an earlier period, or ``totals`` None when the ledger has none."""

    kind: str  # "previous" | "last_year"
    title: str
    period: Period
    totals: dict[str, int] | None
    units: int


@dataclass(frozen=True)
class Summary:
    form: Form
    period: Period
    level: Unit
    organisation: str
    made_at: datetime
    provisional: bool  # made before the deadline: later files are not in it
    blocks: tuple[Block, ...]
    totals: dict[str, int]
    counts: dict[str, int]
    target: Target | None
    comparisons: tuple[Comparison, ...] = ()
    warnings: tuple[tuple[UnitRow, Issue], ...] = field(default=())

    @property
    def rows(self) -> list[UnitRow]:
        return [r for b in self.blocks for r in b.rows]

    @property
    def target_met(self) -> int:
        return sum(1 for r in self.rows if r.meets_target)

    @property
    def target_judged(self) -> int:
        return sum(1 for r in self.rows if r.meets_target is not None)


def target_of(form: Form, period: Period) -> Target | None:
    """The portal target from the form's ``min_per_month`` rule (the first one), if any."""
    rule: Rule | None = next((r for r in form.rules if r.kind == "min_per_month"), None)
    if rule is None:
        return None
    code = rule.params["field"]
    f = form.field(code)
    return Target(code, f.label, lower_first(f.measure), rule.params["per_month"], period.month_count)


def lower_first(text: str) -> str:
    """``Tin, bài`` -> ``tin, bài`` for use inside a sentence; acronyms (``TTHC``) stay."""
    return text if text[:2].isupper() else text[:1].lower() + text[1:]


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def sum_values(rows: Sequence[Mapping[str, object]], codes: tuple[str, ...]) -> dict[str, int]:
    return {c: sum(_int(v.get(c)) for v in rows) for c in codes}


def has_text(text: str) -> bool:
    """False for blanks and a bare "Không" (the accepted way of saying "nothing to report")."""
    return text.strip().rstrip(".").strip().casefold() not in NO_TEXT


def level_unit(registry: Registry, period: Period, unit: str | None) -> Unit:
    day = registry.reference_day(period)
    level = registry.root(day) if unit is None else registry.get(unit, day)
    if level is None:
        raise UsageError(f"Đơn vị '{unit}' không có trong danh mục cho kỳ {period.code}")
    if level.kind == "unit":
        raise UsageError(f"'{level.code}' là đơn vị báo cáo, không phải cấp tổng hợp (sở hoặc tỉnh)")
    return level


def _is_top(level: Unit) -> bool:
    return level.kind == "province" or level.parent is None


def build_summary(
    *,
    form: Form,
    registry: Registry,
    period: Period,
    level: Unit,
    organisation: str,
    files: list[FileRecord],
    current: Mapping[str, Submission],
    earlier: Mapping[str, Mapping[str, Submission]],
    kinds: dict[str, PeriodKind],
    tz,
    inclusive: bool,
    now: datetime,
) -> Summary:
    """The summary of ``period`` at ``level`` (pure).

    ``current``: the ledger's submissions in force for the period; ``files``: its file records
    (for status); ``earlier``: submissions in force for other periods by period code (used for
    the comparisons, missing periods mean "no data").
    """
    day = registry.reference_day(period)
    under = None if _is_top(level) else level.code
    units = registry.reporting_units(period, under=under)
    levels = {u.code: registry.reports_to(u.code, day) for u in units}
    statuses = period_status(period, units, files, dict(current), tz, inclusive, levels)
    codes = tuple(f.code for f in form.quantitative_fields)
    texts = tuple(f.code for f in form.text_fields)
    target = target_of(form, period)
    grouped: dict[str | None, list[UnitRow]] = {}
    departments: dict[str | None, Unit | None] = {}
    warnings: list[tuple[UnitRow, Issue]] = []
    for st in statuses:
        sub = st.submission
        values = {c: _int(sub.values.get(c)) for c in codes} if sub else None
        meets = None
        if values is not None and target is not None:
            meets = values[target.field] >= target.value
        row = UnitRow(
            unit=st.unit,
            status=st,
            values=values,
            texts={c: str(sub.values.get(c) or "") for c in texts} if sub else {},
            meets_target=meets,
        )
        dept = registry.group_of(st.unit.code, day)
        key = None if dept is None or dept.code == level.code else dept.code
        departments[key] = None if key is None else dept
        grouped.setdefault(key, []).append(row)
        warnings += [(row, issue) for issue in (sub.warnings if sub else ())]
    blocks = tuple(
        Block(departments[k], tuple(rows), sum_values([r.values for r in rows if r.values], codes))
        for k, rows in grouped.items()
    )
    totals = sum_values([r.values for b in blocks for r in b.rows if r.values], codes)
    comparisons = []
    for kind, other in (
        ("previous", previous_period(period, kinds)),
        ("last_year", same_period_last_year(period)),
    ):
        subs = _mapped(registry, period, level, other, earlier.get(other.code, {}))
        title = ("Kỳ trước: " if kind == "previous" else "Cùng kỳ năm trước: ") + other.name
        comparisons.append(
            Comparison(
                kind, title, other, sum_values([s.values for s in subs], codes) if subs else None, len(subs)
            )
        )
    return Summary(
        form=form,
        period=period,
        level=level,
        organisation=organisation if _is_top(level) else level.name,
        made_at=now,
        provisional=now <= period.deadline(tz, inclusive),
        blocks=blocks,
        totals=totals,
        counts=counts(statuses),
        target=target,
        comparisons=tuple(comparisons),
        warnings=tuple(warnings),
    )


def holder_now(registry: Registry, code: str | None, then: date, now: date) -> str | None:
    """The unit that stands today (``now``) for unit ``code`` as it was on ``then`` (see module doc)."""
    seen: set[str] = set()
    while code and code not in seen:
        seen.add(code)
        for candidate in registry.successors(code):
            if registry.get(candidate, now) is not None:
                return candidate
        old = registry.get(code, then) or registry.latest(code)
        code = old.parent if old else None
    return None


def _mapped(
    registry: Registry, period: Period, level: Unit, other: Period, subs: Mapping[str, Submission]
) -> list[Submission]:
    """The submissions of ``other`` that count towards ``level`` in ``period``'s structure."""
    if _is_top(level):
        return list(subs.values())
    now, then = registry.reference_day(period), registry.reference_day(other)
    inside = {u.code for u in registry.subtree(level.code, now)}
    out = []
    for code, sub in subs.items():
        holder = holder_now(registry, code, then, now)
        if holder in inside:
            out.append(sub)
    return out
