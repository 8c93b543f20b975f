"""Sample inputs for any form: valid ones, and ones with a chosen flaw, from the form spec alone.

Why here: the demo, the benchmark and the tests all need filled reports. Written by hand, each
of them listed every field of the CCHC form, so a second form or a new field meant editing
three places. These functions read the spec (types, bounds, choices, roles, rules) and make
values that the validator accepts without a single issue, or that carry exactly one named flaw
whose issue code is known in advance. They are pure: the random generator is passed in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from baocao.spec.form import Field, Form
from baocao.spec.periods import Period, date_bound

PEOPLE = ("Nguyễn Thị Hương", "Hoàng Văn Nam", "Lương Thị Mai", "Vi Văn Thắng", "Nông Thị Lan")
SENTENCES = (
    "Duy trì đăng tin, bài về cải cách hành chính trên Trang thông tin điện tử của đơn vị.",
    "Hướng dẫn người dân nộp hồ sơ trực tuyến tại bộ phận một cửa; niêm yết đầy đủ thủ tục.",
    "Lồng ghép nội dung cải cách hành chính trong các cuộc họp giao ban hằng tháng.",
    "Một số tin, bài còn chậm so với kế hoạch; cần bố trí thêm người phụ trách.",
    "Đề nghị tổ chức tập huấn kỹ năng viết tin, bài về cải cách hành chính.",
)
# The flaws a sample can carry, and the issue code the validator gives each (``FLAWS[kind]``).
FLAWS = {
    "text_in_number": "bad_integer",  # "12 tin" where a whole number is expected
    "negative": "bad_integer",
    "missing_required": "required",
    "bad_phone": "bad_phone",
    "bad_email": "bad_email",
    "bad_date": "bad_date",
    "rule": "requires_positive",  # or required_if, whichever rule the form has
    "warning": "warn_if_equals",  # accepted but flagged (or a unit-level target missed)
}


@dataclass(frozen=True)
class Flaw:
    """What ``with_flaw`` broke: the flaw's kind, the field, and the issue the validator must give."""

    kind: str
    field: str
    code: str
    severity: str = "error"


def _integer(f: Field, rng: random.Random) -> int:
    """A plausible count for one unit and period: a few dozen at most (rules adjust pairs)."""
    low = f.min or 0
    high = f.max if f.max is not None else low + 30
    return rng.randint(low, max(low, min(high, low + 30)))


def _date(f: Field, period: Period, today: date, rng: random.Random) -> date:
    """The report's own date is ``today``; any other date lies within the field's bounds."""
    low = (date_bound(f.not_before, period, today) if f.not_before else None) or period.start
    high = min((date_bound(f.not_after, period, today) if f.not_after else None) or period.end, today)
    if f.role == "prepared_on" or high <= low:
        return max(low, min(today, high))
    return low + timedelta(days=rng.randint(0, (high - low).days))


def _text(f: Field, rng: random.Random, unit: str) -> str:
    if f.role == "preparer":
        return rng.choice(PEOPLE)
    if f.multiline or f.min_length:
        text = rng.choice(SENTENCES)
        while f.min_length and len(text) < f.min_length:
            text += " " + rng.choice(SENTENCES)
        return text
    return f"{rng.randint(1, 99)}/KH-{unit.split('_')[0] or 'DV'}"


def _value(f: Field, period: Period, today: date, rng: random.Random, unit: str) -> object:
    if f.type == "integer":
        return _integer(f, rng)
    if f.type == "date":
        return _date(f, period, today, rng)
    if f.type == "choice":
        return f.choices[0]
    if f.type == "phone":
        return "09" + "".join(str(rng.randint(0, 9)) for _ in range(8))
    if f.type == "email":
        return f"{unit.lower().replace('_', '.') or 'donvi'}.baocao@langson.example"
    return _text(f, rng, unit)


def sample_values(
    form: Form,
    rng: random.Random,
    period: Period,
    *,
    today: date | None = None,
    unit: str = "DV",
    level: str = "unit",
) -> dict[str, object]:
    """Valid input values for every field a unit fills (pre-filled fields left out).

    The validator accepts them without an issue when the unit has no history: every required
    field is filled, numbers are within bounds, a choice never triggers a ``warn_if_equals``
    rule, the figures a rule ties together agree, and a target set at ``level`` (the registry
    kind of the unit that reports: ``unit``, or ``department`` for a roll-up) is met.
    ``today`` is the report's date (default: the period's last on-time day); ``unit`` only
    flavours the texts and the address.
    """
    today = today or period.last_on_time_day()
    values: dict[str, object] = {
        f.code: _value(f, period, today, rng, unit) for f in form.fields if not f.locked
    }
    for rule in form.rules:
        p = rule.params
        if rule.kind == "warn_if_equals":
            choices = [c for c in form.field(p["field"]).choices if c != p["equals"]]
            values[p["field"]] = choices[0] if choices else None
        elif rule.kind == "requires_positive":
            # "participants need a class": a few events, each with tens of people (or none at all)
            events = rng.randint(0, 4)
            values[p["other"]] = events
            values[p["field"]] = events * rng.randint(10, 60)
        elif rule.kind == "min_per_month" and rule.level == level:
            target = round(p["per_month"] * period.month_count)
            current = values[p["field"]]
            if not isinstance(current, int) or current < target:
                values[p["field"]] = target + rng.randint(0, target)
    return values


def with_flaw(
    form: Form, values: dict[str, object], kind: str, rng: random.Random
) -> tuple[dict[str, object], Flaw]:
    """``values`` with one flaw of ``kind`` (a key of ``FLAWS``) in a field chosen by ``rng``.

    Returns the new values and the ``Flaw``, whose ``code`` is the issue the validator reports
    on ``field``. Raises ``ValueError`` when the form has nothing that flaw can apply to.
    """
    out = dict(values)
    inputs = [f for f in form.fields if not f.locked]

    def pick(candidates: list[Field]) -> Field:
        if not candidates:
            raise ValueError(f"biểu mẫu {form.id} không có trường nào cho lỗi {kind}")
        return rng.choice(candidates)

    if kind in ("text_in_number", "negative"):
        f = pick([f for f in inputs if f.type == "integer"])
        out[f.code] = f"{rng.randint(2, 9)} {f.measure.lower() or 'cái'}" if kind == "text_in_number" else -1
        return out, Flaw(kind, f.code, FLAWS[kind])
    if kind == "missing_required":
        f = pick([f for f in inputs if f.required])
        out[f.code] = None
        return out, Flaw(kind, f.code, FLAWS[kind])
    if kind in ("bad_phone", "bad_email", "bad_date"):
        f = pick([f for f in inputs if f.type == kind.removeprefix("bad_") and f.required])
        out[f.code] = {"bad_phone": "0912-345", "bad_email": "khong-phai-dia-chi", "bad_date": "31/02/2025"}[
            kind
        ]
        return out, Flaw(kind, f.code, FLAWS[kind])
    if kind == "rule":
        for rule in form.rules:
            p = rule.params
            if rule.kind == "requires_positive":
                out[p["field"]], out[p["other"]] = rng.randint(5, 60), 0
                return out, Flaw(kind, p["field"], "requires_positive")
            if rule.kind == "required_if" and rule.severity == "error":
                out[p["when"]], out[p["field"]] = p["equals"], None
                return out, Flaw(kind, p["field"], "required_if")
        raise ValueError(f"biểu mẫu {form.id} không có quy tắc chéo nào")
    if kind == "warning":
        for rule in form.rules:
            p = rule.params
            if rule.kind == "warn_if_equals":
                out[p["field"]] = p["equals"]
                return out, Flaw(kind, p["field"], "warn_if_equals", "warning")
        raise ValueError(f"biểu mẫu {form.id} không có quy tắc cảnh báo nào")
    raise ValueError(f"không có loại lỗi {kind!r}; cần một trong {', '.join(FLAWS)}")
