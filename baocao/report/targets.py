"""Targets judged where the plan puts them (pure).

A target rule of the form (``min_per_month``) says at which level it applies: ``unit`` (each
report on its own), ``department`` (the department's total: the 2025 plan's "ít nhất 04 tin,
bài mỗi tháng trên trang thông tin điện tử của sở" is the department's website, not each
phòng's) or ``province`` (the province's total). A verdict always carries its coverage (how
many of the units that make up the total have reported) and whether the figure includes
estimates, because "Đạt" on half the units, or on figures estimated before the month ended, is
not the same statement as "Đạt" on the final figures.

Months are counted honestly: the target is ``per_month`` × the months the figure stands for.
When the period's figures include estimates (the report is due before its data window ends),
the figure stands for every month and the verdict says it rests on estimates; when they are
actual figures up to the report's date, only the months completed by then count.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from baocao.report.cells import vn_number
from baocao.spec.form import Form, Rule
from baocao.spec.periods import Period
from baocao.spec.registry import Unit

LEVEL_WORDS = {"unit": "từng đơn vị", "department": "tổng của sở", "province": "tổng của tỉnh"}


@dataclass(frozen=True)
class Verdict:
    """One target judged on one scope (a unit, a department or the province)."""

    field: str
    label: str
    measure: str
    level: str
    scope: Unit
    per_month: float
    months: int
    value: int
    reported: int  # units with an accepted report among those that make up ``value``
    expected: int
    estimates: bool  # the figure includes estimates (số ước thực hiện)
    estimated_to: date | None = None

    @property
    def required(self) -> int:
        return round(self.per_month * self.months)

    @property
    def met(self) -> bool | None:
        """True/False; ``None`` when no unit of the scope has reported (nothing to judge)."""
        return None if self.reported == 0 else self.value >= self.required

    @property
    def complete(self) -> bool:
        return self.reported == self.expected

    @property
    def word(self) -> str:
        """``Đạt`` / ``Chưa đạt`` / ``Chưa có số liệu``."""
        return {True: "Đạt", False: "Chưa đạt", None: "Chưa có số liệu"}[self.met]

    @property
    def rule_text(self) -> str:
        """``≥ 12 tin, bài (4 mỗi tháng × 3 tháng), tính trên tổng của sở``."""
        return (
            f"≥ {vn_number(self.required)} {self.measure} ({self.per_month:g} mỗi tháng × "
            f"{self.months} tháng), tính trên {LEVEL_WORDS[self.level]}"
        )

    @property
    def caveat(self) -> str:
        """What the verdict rests on: coverage and estimates (empty for a complete unit report)."""
        notes = []
        if self.level != "unit":
            notes.append(f"{self.reported}/{self.expected} đơn vị đã báo cáo")
        if self.estimates:
            until = f" đến {self.estimated_to:%d/%m/%Y}" if self.estimated_to else ""
            notes.append(f"gồm số ước thực hiện{until}")
        return "; ".join(notes)

    def to_dict(self) -> dict[str, object]:
        return {
            "field": self.field,
            "level": self.level,
            "scope": self.scope.code,
            "scope_name": self.scope.name,
            "per_month": self.per_month,
            "months": self.months,
            "required": self.required,
            "value": self.value,
            "met": self.met,
            "reported": self.reported,
            "expected": self.expected,
            "includes_estimates": self.estimates,
        }


def months_counted(period: Period) -> int:
    """The months a figure of ``period`` stands for (see the module docstring)."""
    if period.includes_estimates:
        return period.month_count
    cut = min(period.end, period.last_on_time_day(inclusive=True))
    done = [m for m in period.months if date(period.year, m, calendar.monthrange(period.year, m)[1]) <= cut]
    return max(1, len(done)) if cut < period.end else period.month_count


def judge(
    rule: Rule,
    form: Form,
    period: Period,
    scope: Unit,
    rows: Sequence[Mapping[str, int | None] | None],
) -> Verdict:
    """The verdict of ``rule`` on ``scope``, whose units' figures are ``rows`` (``None`` for a
    unit without an accepted report, a ``None`` value for a figure the summary could not use)."""
    code = rule.params["field"]
    f = form.field(code)
    reported = [r for r in rows if r is not None]
    return Verdict(
        field=code,
        label=f.label,
        measure=lower_first(f.measure),
        level=rule.level,
        scope=scope,
        per_month=rule.params["per_month"],
        months=months_counted(period),
        value=sum(r.get(code) or 0 for r in reported),
        reported=len(reported),
        expected=len(rows),
        estimates=period.includes_estimates,
        estimated_to=period.end if period.includes_estimates else None,
    )


def lower_first(text: str) -> str:
    """``Tin, bài`` -> ``tin, bài`` for use inside a sentence; acronyms (``TTHC``) stay."""
    return text if text[:2].isupper() else text[:1].lower() + text[1:]
