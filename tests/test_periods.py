"""Period arithmetic: months, deadlines "before the 10th", lateness in local days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import config_text

from baocao.spec.config import load_config
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


def kinds_from(tmp_path, q1: str):
    """The demo's period kinds with ``[periods.Q1]`` replaced by ``q1``."""
    text = config_text()
    start = text.index("[periods.Q1]")
    end = text.index("[periods.H1]")
    path = tmp_path / "config.toml"
    path.write_text(text[:start] + q1 + "\n" + text[end:], encoding="utf-8")
    return load_config(path).period_kinds


def test_the_data_window_defaults_to_the_months_and_can_follow_decree_09(kinds, tmp_path):
    q1 = parse_period("2025-Q1", kinds)
    assert (q1.start, q1.end) == (date(2025, 1, 1), date(2025, 3, 31))
    assert q1.window_text == "số liệu từ 01/01/2025 đến 31/03/2025"
    # due before 10/3, counted to 31/3: the figures after the report's date are estimates
    assert q1.includes_estimates
    decree = kinds_from(
        tmp_path,
        '[periods.Q1]\nlabel = "Quý I năm {year}"\nmonths = [1, 2, 3]\ndue_before = "20/03"\n'
        'window = ["15/12", "14/03"]',
    )
    q1 = parse_period("2025-Q1", decree)
    assert (q1.start, q1.end, q1.month_count) == (date(2024, 12, 15), date(2025, 3, 14), 3)
    assert not q1.includes_estimates  # the window closes before the report is due


def test_each_level_of_the_chain_can_have_its_own_deadline(tmp_path):
    kinds = kinds_from(
        tmp_path,
        '[periods.Q1]\nlabel = "Quý I năm {year}"\nmonths = [1, 2, 3]\n'
        'due_before = { department = "05/03", province = "10/03" }',
    )
    q1 = parse_period("2025-Q1", kinds)
    assert q1.due_before == date(2025, 3, 10)  # the top of the chain
    assert q1.last_on_time_day(level="department") == date(2025, 3, 4)
    assert q1.last_on_time_day(level="province") == date(2025, 3, 9)
    late = datetime(2025, 3, 6, 10, tzinfo=TZ)
    assert days_late(late, q1, TZ, level="department") == 2
    assert days_late(late, q1, TZ, level="province") == 0


def test_a_unit_reports_to_its_parents_level(deployment):
    q1 = deployment.period("2025-Q1")
    assert deployment.level_of("DT_TG", q1) == "department"
    assert deployment.level_of("SDTTG", q1) == "province"
    assert deployment.level_of("LANGSON", q1) is None
