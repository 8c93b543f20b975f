"""Period arithmetic: months, deadlines "before the 10th", lateness in local days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from baocao.spec.periods import (
    PeriodError,
    contained_periods,
    days_late,
    parse_period,
    previous_period,
    same_period_last_year,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def kinds(deployment):
    return deployment.settings.period_kinds


def test_names_months_and_deadlines(kinds):
    q1 = parse_period("2025-Q1", kinds)
    assert (q1.name, q1.start, q1.end, q1.month_count) == (
        "Quý I năm 2025",
        date(2025, 1, 1),
        date(2025, 3, 31),
        3,
    )
    assert q1.last_on_time_day() == date(2025, 3, 9)
    assert q1.last_on_time_day(inclusive=True) == date(2025, 3, 10)
    assert parse_period("2024-Y", kinds).name == "Năm 2024"
    assert parse_period("2024-h1", kinds).code == "2024-H1"


def test_lateness_counts_local_calendar_days(kinds):
    q1 = parse_period("2025-Q1", kinds)
    # 9 March 23:30 in Hanoi is 16:30 UTC: still on time
    assert days_late(datetime(2025, 3, 9, 16, 30, tzinfo=UTC), q1, TZ) == 0
    # 10 March 00:30 in Hanoi is 9 March 17:30 UTC: one day late
    assert days_late(datetime(2025, 3, 9, 17, 30, tzinfo=UTC), q1, TZ) == 1
    assert days_late(datetime(2025, 3, 20, 9, 0, tzinfo=TZ), q1, TZ) == 11


def test_relations_between_periods(kinds):
    h1, q1, y = (parse_period(c, kinds) for c in ("2025-H1", "2025-Q1", "2025-Y"))
    assert h1.contains(q1) and not q1.contains(h1)
    assert [p.code for p in contained_periods(y, kinds)] == ["2025-Q1", "2025-H1", "2025-Q3"]
    assert previous_period(q1, kinds).code == "2024-Y"
    assert previous_period(h1, kinds).code == "2025-Q1"
    assert same_period_last_year(q1).code == "2024-Q1"


@pytest.mark.parametrize(
    ("code", "message"), [("2025-Q2", "không có trong cấu hình"), ("Q1-2025", "không đúng dạng")]
)
def test_bad_period_codes(kinds, code, message):
    with pytest.raises(PeriodError, match=message):
        parse_period(code, kinds)
