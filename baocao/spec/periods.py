"""Period codes, the months they cover, deadlines and on-time/late arithmetic.

A period code is ``YYYY-KIND`` (``2025-Q1``, ``2025-H1``, ``2025-Q3``, ``2025-Y``); which kinds
exist, which months they cover and their deadlines are configuration (``[periods.*]`` in
config.toml), never code, because a province may change them.

"Before 10 March" means the last on-time moment is the end of 9 March, local time, unless the
deployment sets ``inclusive_deadline = true``. A level of the chain may have its own deadline
(units report to their department before the department reports up), and a period has a data
window that may differ from its months. This module is the one place for that arithmetic; all
of it is pure: the clock is passed in.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from baocao.errors import UsageError
from baocao.spec.config import PeriodKind

PERIOD_RE = re.compile(r"^(\d{4})-([A-Z][A-Z0-9]{0,3})$")


class PeriodError(UsageError):
    """A period code that is malformed or names a kind the deployment does not configure."""


@dataclass(frozen=True)
class Period:
    """One reporting period of one year, e.g. Quý I năm 2025.

    ``start``/``end`` are the data window (thời gian chốt số liệu): by default the months
    covered, or the window the deployment configures (Decree 09/2019 art. 12: a quarter from
    the 15th of the month before it to the 14th of its last month). ``months`` stay the months
    the period is named for: targets and per-month comparisons count them.
    """

    year: int
    kind: PeriodKind

    @property
    def code(self) -> str:
        return f"{self.year}-{self.kind.code}"

    @property
    def name(self) -> str:
        """The period in words as printed on forms: ``Quý I năm 2025``."""
        return self.kind.label.replace("{year}", str(self.year))

    @property
    def months(self) -> tuple[int, ...]:
        return self.kind.months

    @property
    def month_count(self) -> int:
        return len(self.kind.months)

    @property
    def start(self) -> date:
        """The first day of the data window."""
        if self.kind.window is None:
            return date(self.year, self.kind.months[0], 1)
        (day, month), (end_day, end_month) = self.kind.window
        previous_year = (month, day) > (end_month, end_day)
        return date(self.year - 1 if previous_year else self.year, month, day)

    @property
    def end(self) -> date:
        """The last day of the data window."""
        if self.kind.window is None:
            last = self.kind.months[-1]
            return date(self.year, last, calendar.monthrange(self.year, last)[1])
        day, month = self.kind.window[1]
        return date(self.year, month, min(day, calendar.monthrange(self.year, month)[1]))

    @property
    def window_text(self) -> str:
        """``số liệu từ 01/01/2025 đến 31/03/2025``: the words every template and output uses."""
        return f"số liệu từ {self.start:%d/%m/%Y} đến {self.end:%d/%m/%Y}"

    @property
    def includes_estimates(self) -> bool:
        """True when the window ends after the report is due: figures after the report's date are
        estimates (số ước thực hiện), and the forms and outputs must say so."""
        if self.kind.estimates is not None:
            return self.kind.estimates
        return self.end > self.last_on_time_day(inclusive=True)

    def due_before_for(self, level: str | None = None) -> date:
        """The date the plans name for reports going to ``level`` (the kind of the level a unit
        reports to: ``department``, ``province``); ``None``: the top of the chain."""
        day, month = dict(self.kind.due_by_level).get(level or "", (self.kind.due_day, self.kind.due_month))
        return date(self.year, month, day)

    @property
    def due_before(self) -> date:
        """The date the plans name for the top of the chain: the report is due *before* this day."""
        return self.due_before_for(None)

    def due_text(self, inclusive: bool = False, level: str | None = None) -> str:
        """The deadline of reports going to ``level`` in the one wording every template, e-mail
        subject and body uses: ``trước ngày 10/03/2025`` (or, with an inclusive deadline,
        ``đến hết ngày 10/03/2025``)."""
        due = self.due_before_for(level)
        return f"đến hết ngày {due:%d/%m/%Y}" if inclusive else f"trước ngày {due:%d/%m/%Y}"

    def last_on_time_day(self, inclusive: bool = False, level: str | None = None) -> date:
        """The last calendar day on which a submission to ``level`` still counts as on time."""
        due = self.due_before_for(level)
        return due if inclusive else due - timedelta(days=1)

    def deadline(self, tz: ZoneInfo, inclusive: bool = False, level: str | None = None) -> datetime:
        """The last on-time moment as an aware datetime: the end of the last on-time day."""
        day = self.last_on_time_day(inclusive, level)
        return datetime.combine(day, time(23, 59, 59, 999999), tzinfo=tz)

    def contains(self, other: Period) -> bool:
        """True when ``other`` is a shorter period of the same year inside this one (Q1 in H1)."""
        return (
            other.year == self.year
            and other.month_count < self.month_count
            and set(other.months) <= set(self.months)
        )

    def __str__(self) -> str:
        return self.code


def parse_period(code: str, kinds: dict[str, PeriodKind]) -> Period:
    """Turn ``2025-Q1`` into a ``Period``; raise ``PeriodError`` (in Vietnamese) otherwise."""
    match = PERIOD_RE.match(str(code).strip().upper())
    if not match:
        raise PeriodError(f"Kỳ báo cáo '{code}' không đúng dạng NĂM-KỲ, ví dụ 2025-Q1")
    year, kind_code = int(match[1]), match[2]
    if kind_code not in kinds:
        known = ", ".join(f"{year}-{k}" for k in kinds)
        raise PeriodError(f"Kỳ báo cáo '{code}' không có trong cấu hình; các kỳ: {known}")
    if not 2000 <= year <= 2100:
        raise PeriodError(f"Năm của kỳ báo cáo '{code}' không hợp lệ")
    return Period(year, kinds[kind_code])


def periods_of_year(year: int, kinds: dict[str, PeriodKind]) -> list[Period]:
    """All periods of ``year``, in deadline order."""
    return sorted((Period(year, k) for k in kinds.values()), key=lambda p: p.due_before)


def previous_period(period: Period, kinds: dict[str, PeriodKind]) -> Period:
    """The period whose deadline comes just before this one's (Q1 follows last year's Y)."""
    earlier = [p for p in periods_of_year(period.year, kinds) if p.due_before < period.due_before]
    return earlier[-1] if earlier else periods_of_year(period.year - 1, kinds)[-1]


def same_period_last_year(period: Period) -> Period:
    return Period(period.year - 1, period.kind)


def contained_periods(period: Period, kinds: dict[str, PeriodKind]) -> list[Period]:
    """Shorter periods of the same year that lie inside ``period`` (for H1: Q1)."""
    return [p for p in periods_of_year(period.year, kinds) if period.contains(p)]


def days_late(
    received_at: datetime, period: Period, tz: ZoneInfo, inclusive: bool = False, level: str | None = None
) -> int:
    """0 when on time, else how many calendar days (local time) after the last on-time day of
    reports going to ``level``."""
    local_day = received_at.astimezone(tz).date()
    return max(0, (local_day - period.last_on_time_day(inclusive, level)).days)


def date_bound(name: str, period: Period | None, today: date) -> date | None:
    """The date a form's declarative date bound (``period_start``, ``today``…) stands for;
    None when it needs a period and there is none."""
    if name == "today":
        return today
    if period is None:
        return None
    return _BOUNDS[name](period)  # only the bound asked for: a period's end asks the calendar


_BOUNDS: dict[str, Callable[[Period], date]] = {
    "period_start": lambda period: period.start,
    "period_end": lambda period: period.end,
    "year_start": lambda period: date(period.year, 1, 1),
    "previous_year_start": lambda period: date(period.year - 1, 1, 1),
    "year_end": lambda period: date(period.year, 12, 31),
}
