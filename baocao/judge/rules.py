"""The rules of a form spec, interpreted: cross-field errors and warnings that need history.

A rule is data in the form's TOML (a ``kind`` and its parameters, see ``form.RULE_PARAMS``);
this module is the only place that knows what each kind means. Nothing from the spec is ever
evaluated as code: messages fill ``{name}`` placeholders and nothing else.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator
from typing import Any

from baocao.judge.convert import MAX_INTEGER
from baocao.model import Issue, RawWorkbook, Severity, cell_issue
from baocao.spec.config import PeriodKind
from baocao.spec.form import Form, Rule
from baocao.spec.periods import Period, PeriodError, parse_period


def _fmt(template: str, **values: Any) -> str:
    """Fill ``{name}`` placeholders (only names, no attribute access: the spec is data)."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m[1], m[0])), template)


def _rule_issue(rule: Rule, form: Form, raw: RawWorkbook, code: str, default: str, **values: Any) -> Issue:
    f = form.field(code)
    detail = _fmt(rule.message or default, label=f.label, **values)
    cell = raw.cells.get(code)
    # the other field a cross-field rule compared, marked too when it sits on the same sheet
    others = (raw.cells.get(rule.params.get(key, "")) for key in ("other", "when"))
    also = tuple(o.cell for o in others if o is not None and cell is not None and o.sheet == cell.sheet)
    return cell_issue(Severity(rule.severity), rule.kind, f, cell, detail, also)


def check_rules(
    form: Form,
    raw: RawWorkbook,
    values: dict,
    period: Period | None,
    history: dict[str, dict[str, Any]],
    kinds: dict[str, PeriodKind],
    level: str = "unit",
) -> Iterator[Issue]:
    """Issues from the rules declared in the form spec, given the typed ``values``.

    ``history`` maps the unit's other reported periods to their accepted values; ``kinds`` are
    the deployment's period kinds (to read those period codes); ``level`` is the registry kind
    of the unit that sent the report (``unit``, ``department``…): a target declared for another
    level is judged there (on that level's total, by the summary), never on this report.
    """
    past = _past(history, kinds)
    for rule in form.rules:
        p = rule.params
        if rule.kind == "required_if":
            if values.get(p["when"]) == p["equals"] and values.get(p["field"]) in (None, ""):
                yield _rule_issue(rule, form, raw, p["field"], "bắt buộc khi '{when}' là '{equals}'", **p)
        elif rule.kind == "requires_positive":
            value, other = values.get(p["field"]), values.get(p["other"])
            if isinstance(value, int) and isinstance(other, int) and value > 0 and other == 0:
                other_label = form.field(p["other"]).label
                yield _rule_issue(
                    rule,
                    form,
                    raw,
                    p["field"],
                    "là {value} nhưng '{other_label}' là 0",
                    value=value,
                    other_label=other_label,
                )
        elif rule.kind == "warn_if_equals":
            if values.get(p["field"]) == p["equals"]:
                yield _rule_issue(rule, form, raw, p["field"], "là '{equals}'", **p)
        elif rule.kind == "min_per_month" and period is not None and rule.level == level:
            value = values.get(p["field"])
            target = round(p["per_month"] * period.month_count)
            if isinstance(value, int) and value < target:
                yield _rule_issue(
                    rule,
                    form,
                    raw,
                    p["field"],
                    "{value} thấp hơn chỉ tiêu {target}",
                    value=value,
                    target=target,
                    per_month=p["per_month"],
                    months=period.month_count,
                )
        elif rule.kind == "outlier" and period is not None:
            yield from _outliers(rule, form, raw, values, period, past)
        elif rule.kind == "cumulative_not_below" and period is not None:
            yield from _below_contained(rule, form, raw, values, period, past)


def _count(value: Any) -> int | None:
    """A figure the rules can compute with: a whole number in range (the history in the ledger
    may hold a figure accepted before that range was checked; it is skipped, not divided)."""
    whole = isinstance(value, int) and not isinstance(value, bool)
    return value if whole and abs(value) <= MAX_INTEGER else None


def _past(history: dict[str, dict[str, Any]], kinds: dict[str, PeriodKind]) -> list[tuple[Period, dict]]:
    """The unit's earlier reports as (period, values), skipping codes no longer configured."""
    past = []
    for code, old in history.items():
        try:
            past.append((parse_period(code, kinds), old))
        except PeriodError:
            continue
    return past


def _outliers(
    rule: Rule, form: Form, raw: RawWorkbook, values: dict, period: Period, past: list[tuple[Period, dict]]
) -> Iterator[Issue]:
    """A figure far above the unit's own past, compared per month so Q1 and a year compare fairly."""
    factor = rule.params.get("factor", 5)
    min_value = rule.params.get("min_value", 20)
    min_history = rule.params.get("min_history", 2)
    if len(past) < min_history:
        return
    for code in rule.fields:
        value = values.get(code)
        rates = [count / p.month_count for p, old in past if (count := _count(old.get(code))) is not None]
        if not isinstance(value, int) or value < min_value or len(rates) < min_history:
            continue
        median = statistics.median(rates)
        if value / period.month_count > factor * max(median, 1):
            yield _rule_issue(
                rule,
                form,
                raw,
                code,
                "{value} cao bất thường so với các kỳ trước",
                value=value,
                factor=factor,
                median=round(median * period.month_count),
            )


def _below_contained(
    rule: Rule, form: Form, raw: RawWorkbook, values: dict, period: Period, past: list[tuple[Period, dict]]
) -> Iterator[Issue]:
    """A cumulative period (6 months, year) below a period it contains (Q1 inside H1)."""
    for inner, old in past:
        if not period.contains(inner):
            continue
        for code in rule.fields:
            value, before = _count(values.get(code)), _count(old.get(code))
            if value is not None and before is not None and value < before:
                yield _rule_issue(
                    rule,
                    form,
                    raw,
                    code,
                    "{value} thấp hơn số đã báo cáo trong {contained} ({other_value})",
                    value=value,
                    other_value=before,
                    contained=inner.name,
                )
