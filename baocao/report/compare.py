"""Like-for-like comparison of one level's figures with an earlier period (pure).

A leader reads "−45 % so với cùng kỳ năm trước" as "we did half as much". That is only true
when both sides count the same work: the same units, over periods of the same length. When a
department was merged, split off or closed, the raw totals of the two periods count different
units, and the change says nothing about the work done. So the comparison keeps only the units
present on both sides:

- each unit that reported in the earlier period is followed to the unit that now stands for it
  (``holder_now``: the first of its registry successors that exists now; a closed unit without
  one goes to its department's successor, which is not a reporting unit and so has no match);
- a unit reporting now is *comparable* when it has an accepted report now, at least one earlier
  unit stands behind it, and every one of those earlier units had an accepted report then (a
  merged office is compared with the sum of all the offices it replaced, or not at all);
- the two periods must cover the same number of months (a quarter is not compared with a year).

The result names the units on each side and those left out, so every rendering can say how many
units the figure covers, next to the figure; when nothing is comparable it says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from baocao.spec.periods import Period
from baocao.spec.registry import Registry, Unit

KIND_WORDS = {"previous": "kỳ trước", "last_year": "cùng kỳ năm trước"}


@dataclass(frozen=True)
class Change:
    """One field compared: the comparable units' total now and then, and the change."""

    now: int
    then: int

    @property
    def delta(self) -> int:
        return self.now - self.then

    @property
    def ratio(self) -> float | None:
        """``now / then − 1``; ``None`` when ``then`` is 0 (a rise from nothing has no rate)."""
        return self.now / self.then - 1 if self.then else None


@dataclass(frozen=True)
class Comparison:
    """The level compared with ``period``: which units on each side, and the figures.

    ``reason`` is set (and ``units_now`` empty) when nothing is comparable; it is the sentence a
    rendering prints instead of a column of dashes.
    """

    kind: str  # "previous" | "last_year"
    period: Period
    units_now: tuple[str, ...] = ()
    units_then: tuple[str, ...] = ()
    changes: Mapping[str, Change] | None = None
    left_out_now: tuple[str, ...] = ()  # reported now, no comparable earlier figures
    left_out_then: tuple[str, ...] = ()  # reported then for this level, no comparable unit now
    reason: str = ""
    names: Mapping[str, str] = field(default_factory=dict)  # unit code -> name, for earlier units

    @property
    def comparable(self) -> bool:
        return bool(self.units_now) and self.changes is not None

    @property
    def words(self) -> str:
        """``cùng kỳ năm trước`` / ``kỳ trước``."""
        return KIND_WORDS[self.kind]

    @property
    def title(self) -> str:
        """``Cùng kỳ năm trước (Quý I năm 2024)``."""
        return f"{self.words[:1].upper()}{self.words[1:]} ({self.period.name})"

    @property
    def coverage(self) -> str:
        """``cùng 5 đơn vị`` or ``cùng 5 đơn vị (kỳ trước: 8 đơn vị trước khi sắp xếp)``."""
        n, m = len(self.units_now), len(self.units_then)
        if n == m:
            return f"cùng {n} đơn vị"
        return f"cùng {n} đơn vị; {self.words} là số liệu của {m} đơn vị trước khi sắp xếp"


def holder_now(registry: Registry, code: str | None, then: date, now: date) -> str | None:
    """The unit that stands on ``now`` for unit ``code`` as it was on ``then``.

    The first code of its successor chain (``Registry.successors``) that exists on ``now``;
    when the chain ends at a closed unit, its department at the time is followed the same way.
    """
    seen: set[str] = set()
    while code and code not in seen:
        seen.add(code)
        for candidate in registry.successors(code):
            if registry.get(candidate, now) is not None:
                return candidate
        old = registry.get(code, then) or registry.latest(code)
        code = old.parent if old else None
    return None


def _sum(rows: Sequence[Mapping[str, object]], codes: Sequence[str]) -> dict[str, int]:
    return {
        c: sum(v for r in rows if isinstance(v := r.get(c), int) and not isinstance(v, bool)) for c in codes
    }


def compare(
    kind: str,
    *,
    registry: Registry,
    period: Period,
    other: Period,
    level: Unit,
    units: Sequence[Unit],
    now_values: Mapping[str, Mapping[str, object]],
    then_values: Mapping[str, Mapping[str, object]] | None,
    codes: Sequence[str],
) -> Comparison:
    """Compare the level's units (``units``: reporting now, in display order) with ``other``.

    ``now_values``: the usable figures of the units with an accepted report now, by unit code;
    ``then_values``: the accepted figures of ``other`` by unit code (``None``: the ledger holds
    no report for it at all).
    """
    if other.month_count != period.month_count:
        return Comparison(
            kind,
            other,
            reason=(
                f"Không so sánh với {KIND_WORDS[kind]} ({other.name}): kỳ đó gồm {other.month_count} "
                f"tháng, kỳ này gồm {period.month_count} tháng."
            ),
        )
    if not then_values:
        return Comparison(
            kind,
            other,
            reason=f"Không có số liệu {KIND_WORDS[kind]} ({other.name}) để so sánh: sổ theo dõi "
            "không có báo cáo nào được tiếp nhận của kỳ đó.",
        )
    day_now, day_then = registry.reference_day(period), registry.reference_day(other)
    here = {u.code for u in units}
    top = level.parent is None or level.kind == "province"
    inside = set() if top else {u.code for u in registry.subtree(level.code, day_now)}
    behind: dict[str, list[str]] = {}  # unit now -> the earlier units it stands for
    counted_then: list[str] = []  # earlier units that count towards this level
    for unit in registry.reporting_units(other):
        holder = holder_now(registry, unit.code, day_then, day_now)
        if holder in here:
            behind.setdefault(holder, []).append(unit.code)
        if (top or holder in here or holder in inside) and unit.code in then_values:
            counted_then.append(unit.code)
    units_now, units_then = [], []
    for unit in units:
        earlier = behind.get(unit.code, [])
        if unit.code in now_values and earlier and all(code in then_values for code in earlier):
            units_now.append(unit.code)
            units_then += earlier
    left_now = tuple(u.code for u in units if u.code in now_values and u.code not in units_now)
    left_then = tuple(c for c in counted_then if c not in units_then)
    if not units_now:
        return Comparison(
            kind,
            other,
            left_out_now=left_now,
            left_out_then=left_then,
            names=_names(registry, left_then),
            reason=f"Không so sánh được với {KIND_WORDS[kind]} ({other.name}): không có đơn vị nào có "
            "số liệu ở cả hai kỳ (kể cả qua đơn vị kế thừa).",
        )
    now_sum = _sum([now_values[c] for c in units_now], codes)
    then_sum = _sum([then_values[c] for c in units_then], codes)
    return Comparison(
        kind,
        other,
        units_now=tuple(units_now),
        units_then=tuple(units_then),
        changes={c: Change(now_sum[c], then_sum[c]) for c in codes},
        left_out_now=left_now,
        left_out_then=left_then,
        names=_names(registry, [*units_then, *left_then]),
    )


def _names(registry: Registry, codes: Sequence[str]) -> dict[str, str]:
    return {code: unit.name for code in codes if (unit := registry.latest(code)) is not None}
