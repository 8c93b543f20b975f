"""Period codes, the months they cover, deadlines and on-time/late arithmetic.

A period code is ``YYYY-KIND`` (``2025-Q1``, ``2025-H1``, ``2025-Q3``, ``2025-Y``); which kinds
exist, which months they cover and their deadlines are configuration (``[periods.*]`` in
config.toml), never code, because a province may change them.

"Before 10 March" means the last on-time moment is the end of 9 March, local time, unless the
deployment sets ``inclusive_deadline = true``. All arithmetic here is pure: the clock is passed in.
"""

from __future__ import annotations

import calendar
import re
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
    """One reporting period of one year, e.g. Quý I năm 2025."""

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
        return date(self.year, self.kind.months[0], 1)

    @property
    def end(self) -> date:
        last = self.kind.months[-1]
        return date(self.year, last, calendar.monthrange(self.year, last)[1])

    @property
    def due_before(self) -> date:
        """The date the plans name: the report is due *before* this day."""
        return date(self.year, self.kind.due_month, self.kind.due_day)

    def last_on_time_day(self, inclusive: bool = False) -> date:
        """The last calendar day on which a submission still counts as on time."""
        return self.due_before if inclusive else self.due_before - timedelta(days=1)

    def deadline(self, tz: ZoneInfo, inclusive: bool = False) -> datetime:
        """The last on-time moment as an aware datetime: the end of the last on-time day."""
        day = self.last_on_time_day(inclusive)
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


def days_late(received_at: datetime, period: Period, tz: ZoneInfo, inclusive: bool = False) -> int:
    """0 when on time, else how many calendar days (local time) after the last on-time day."""
    local_day = received_at.astimezone(tz).date()
    return max(0, (local_day - period.last_on_time_day(inclusive)).days)
