"""The ``[periods.*]`` tables of ``config.toml``: kinds of reporting period and their deadlines.

Why a module of its own: a period's dates are written as day/month text (``"10/03"``), a
deadline may differ per level the report goes to (Decree 09/2019 art. 8.5) and a data cut-off
window may start in the previous year; getting any of these wrong moves every deadline the
reminders and summaries use, so their checks are kept together and apart from the loader.
"""

from __future__ import annotations

import calendar
import re
from typing import Any

from baocao.spec.config_checks import _bool, _fail, _table, _text
from baocao.spec.settings import LEVELS, DayMonth, PeriodKind

_DAY_MONTH_RE = re.compile(r"(\d{1,2})/(\d{1,2})")


def _day_month(key: str, value: Any, upto: int = 31) -> DayMonth:
    """ "10/03" -> (10, 3); a day that exists in every year (29/02 does not)."""
    match = _DAY_MONTH_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match:
        day, month = int(match[1]), int(match[2])
        if 1 <= month <= 12 and 1 <= day <= min(upto, calendar.monthrange(2001, month)[1]):
            return day, month
    raise _fail(key, f"giá trị {value!r} không hợp lệ", 'ngày/tháng như "10/03"')


def _due(key: str, value: Any) -> tuple[DayMonth, dict[str, DayMonth]]:
    """``due_before``: one date for every level, or a table per level the report goes to."""
    if isinstance(value, dict):
        if not value or set(value) - set(LEVELS):
            raise _fail(
                key, f"giá trị {value!r} không hợp lệ", f"bảng theo cấp nhận báo cáo: {', '.join(LEVELS)}"
            )
        by_level = {level: _day_month(f"{key}.{level}", v, upto=28) for level, v in value.items()}
        top = by_level.get("province") or max(by_level.values(), key=lambda dm: (dm[1], dm[0]))
        return top, by_level
    return _day_month(key, value, upto=28), {}


def _window(key: str, value: Any) -> tuple[DayMonth, DayMonth]:
    if not isinstance(value, list) or len(value) != 2:
        raise _fail(key, f"giá trị {value!r} không hợp lệ", 'hai ngày/tháng, ví dụ ["15/12", "14/03"]')
    return _day_month(f"{key}[0]", value[0]), _day_month(f"{key}[1]", value[1])


def _period_kind(code: str, raw: Any) -> PeriodKind:
    prefix = f"periods.{code}"
    if not re.fullmatch(r"[A-Z][A-Z0-9]{0,3}", code):
        raise _fail(prefix, "mã kỳ không hợp lệ", "chữ in hoa và số, ví dụ Q1, H1, Q3, Y")
    schema = {
        "label": _text,
        "months": lambda k, v: v,
        "due_before": _due,
        "estimates": _bool,
        "window": _window,
    }
    values = _table({prefix: raw}, prefix, schema)
    for required in ("label", "months", "due_before"):
        if required not in values:
            raise _fail(f"{prefix}.{required}", "thiếu khóa bắt buộc", "khai báo khóa này")
    months = values["months"]
    if (
        not isinstance(months, list)
        or not months
        or any(isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 12 for m in months)
        or months != sorted(set(months))
    ):
        raise _fail(f"{prefix}.months", f"giá trị {months!r} không hợp lệ", "các tháng 1–12 tăng dần")
    if "{year}" not in values["label"]:
        raise _fail(f"{prefix}.label", "thiếu chỗ điền năm", 'chuỗi có "{year}", ví dụ "Quý I năm {year}"')
    (due_day, due_month), by_level = values["due_before"]
    return PeriodKind(
        code=code,
        label=values["label"],
        months=tuple(months),
        due_day=due_day,
        due_month=due_month,
        estimates=values.get("estimates"),
        due_by_level=tuple(sorted(by_level.items())),
        window=values.get("window"),
    )


def _periods(data: dict[str, Any]) -> dict[str, PeriodKind]:
    """``[periods.*]``: at least one kind, each checked by ``_period_kind``."""
    raw_periods = data.get("periods")
    if not isinstance(raw_periods, dict) or not raw_periods:
        raise _fail("periods", "thiếu hoặc rỗng", "các bảng [periods.Q1], [periods.H1]…")
    kinds = {code: _period_kind(code, raw) for code, raw in raw_periods.items()}
    return kinds
