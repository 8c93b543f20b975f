"""The roll-up: a department's own report for the level above, built from its summary (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from baocao.report.summary import Summary, has_text

PHONE_PLACEHOLDER = "(cần điền số điện thoại)"
MAX_CELL_TEXT = 32000  # Excel holds 32,767 characters in a cell


def combined_text(summary: Summary, code: str, required: bool) -> str:
    """One "Tên đơn vị: nội dung" line per unit that wrote something (bare "Không" skipped)."""
    lines = [
        f"{r.unit.name}: {' '.join(r.texts[code].split())}"
        for r in summary.rows
        if r.reported and has_text(r.texts.get(code, ""))
    ]
    text = "\n".join(lines) or ("Không" if required else "")
    return text if len(text) <= MAX_CELL_TEXT else text[: MAX_CELL_TEXT - 1] + "…"


def rollup_values(
    summary: Summary,
    submissions: Sequence[Mapping[str, object]],
    *,
    preparer: str,
    email: str,
    phone: str | None,
    today: date,
) -> dict[str, object]:
    """The input values of the department's own template (pure).

    Figures are the level's totals; narratives are combined per unit; ``co_ke_hoach`` is "Có"
    only when every unit that reported said "Có" (one unit without a plan is worth a warning at
    the level above), and the plan's number and date are the ones most units cite (ties: the
    earliest), since units usually implement the department's plan. Without ``phone`` the phone
    cell holds a marked placeholder that the validator rejects, so the file cannot be accepted
    unfinished.
    """
    form = summary.form
    values: dict[str, object] = dict(summary.totals)
    for f in form.text_fields:
        values[f.code] = combined_text(summary, f.code, f.required)
    plans = [s for s in submissions if s.get("co_ke_hoach")]
    has_plan = bool(plans) and all(s.get("co_ke_hoach") == "Có" for s in plans)
    values["co_ke_hoach"] = "Có" if has_plan else "Không"
    if has_plan:
        cited: dict[tuple[str, str], int] = {}
        for s in plans:
            key = (str(s.get("so_ke_hoach") or ""), str(s.get("ngay_ke_hoach") or ""))
            cited[key] = cited.get(key, 0) + 1
        number, day = min(cited, key=lambda k: (-cited[k], k[1], k[0]))
        values["so_ke_hoach"] = number
        values["ngay_ke_hoach"] = date.fromisoformat(day) if day else None
    values.update(nguoi_lap=preparer, email=email, dien_thoai=phone or PHONE_PLACEHOLDER, ngay_lap=today)
    return {k: v for k, v in values.items() if k in form.codes}
