"""The roll-up: a department's own report for the level above, built from its summary (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from baocao.report.cells import MAX_CELL_TEXT
from baocao.report.summary import Summary, has_text
from baocao.spec.form import Form


def combined_text(summary: Summary, code: str, required: bool) -> str:
    """One "Tên đơn vị: nội dung" line per unit that wrote something (bare "Không" skipped)."""
    lines = [
        f"{r.unit.name}: {' '.join(texts[code].split())}"
        for r, texts in summary.texts_by_row()
        if r.reported and has_text(texts.get(code, ""))
    ]
    text = "\n".join(lines) or ("Không" if required else "")
    return text if len(text) <= MAX_CELL_TEXT else text[: MAX_CELL_TEXT - 1] + "…"


def combined_value(how: str, values: Sequence[object]) -> object | None:
    """``most_common`` (the value most units gave; ``None`` on a tie, since picking one of two
    units' answers would state something only that unit said) or ``all_equal`` (the value only
    when every unit that answered gave it) of the units' values; ``None`` leaves the field for
    the department's office."""
    given = [v for v in values if v not in (None, "")]
    if not given:
        return None
    if how == "all_equal":
        return given[0] if all(v == given[0] for v in given) else None
    counts: dict[str, tuple[int, object]] = {}
    for value in given:
        n, _ = counts.get(str(value), (0, value))
        counts[str(value)] = (n + 1, value)
    ranked = sorted((n for n, _ in counts.values()), reverse=True)
    if len(ranked) > 1 and ranked[0] == ranked[1]:
        return None
    return max(counts.values(), key=lambda entry: entry[0])[1]


def _typed(value: object, field_type: str) -> object:
    """Ledger values come back from JSON: dates as ISO text."""
    if field_type == "date" and isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return value


def rollup_values(
    summary: Summary,
    submissions: Sequence[Mapping[str, object]],
    *,
    today: date,
    phone: str | None = None,
) -> dict[str, object]:
    """The input values of the department's own template (pure), field by field as the form's
    ``rollup`` says: figures are the level's totals (``sum``), narratives one line per unit
    (``join``), ``most_common``/``all_equal`` over the units' answers, and ``blank`` fields —
    who prepared it, their phone and address — are left for the department's office to fill,
    so the file cannot be accepted unfinished (the validator rejects the blanks). ``phone``, when
    given, fills the ``phone`` role; the ``prepared_on`` role is ``today``.
    """
    form = summary.form
    values: dict[str, object] = {}
    for f in form.fields:
        if f.prefill:
            continue
        if f.rollup == "sum":
            values[f.code] = summary.totals.get(f.code, 0)
        elif f.rollup == "join":
            values[f.code] = combined_text(summary, f.code, f.required)
        elif f.rollup in ("most_common", "all_equal"):
            values[f.code] = _typed(combined_value(f.rollup, [s.get(f.code) for s in submissions]), f.type)
    for role, value in (("phone", phone), ("prepared_on", today)):
        field = form.role(role)
        if field is not None and value is not None:
            values[field.code] = value
    return values


def blank_for_office(form: Form, values: Mapping[str, object]) -> list[str]:
    """Labels of the fields the roll-up leaves for the department's office to fill: required
    ones, and those taken from the units' answers where the units did not agree."""
    return [
        f.label
        for f in form.fields
        if (f.required or f.rollup in ("most_common", "all_equal"))
        and not f.prefill
        and values.get(f.code) in (None, "")
    ]
