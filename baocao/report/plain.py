"""The summary as plain data: the JSON of ``baocao consolidate --json`` and the CSV (pure).

Both are renderings of one ``Summary``, like the workbook and the Word draft, so a script that
reads the JSON sees exactly the figures a leader reads: the total of each field, the like-for-
like comparisons with the unit codes on each side, each unit's status and the target verdicts
with the level they apply at. Field codes are the keys here (machine-facing); the workbook and
the Word draft show labels.
"""

from __future__ import annotations

import csv
import io

from baocao.report.compare import Comparison
from baocao.report.summary import Summary, UnitRow

CSV_FIXED = (
    "period",
    "window_start",
    "window_end",
    "unit_code",
    "unit_name",
    "parent_code",
    "status",
    "days_late",
    "days_overdue",
)


def _unit(row: UnitRow, department: str | None) -> dict[str, object]:
    st = row.status
    return {
        "code": row.unit.code,
        "name": row.unit.name,
        "department": department,
        "status": st.status,
        "label": st.overdue_label,
        "deadline": st.deadline.isoformat() if st.deadline else None,
        "received_at": st.received_at.isoformat() if st.received_at else None,
        "days_late": st.days_late,
        "days_overdue": st.days_overdue,
        "corrected": st.corrected,
        "values": dict(row.values) if row.values is not None else None,
    }


def _comparison(c: Comparison) -> dict[str, object]:
    return {
        "kind": c.kind,
        "period": c.period.code,
        "period_name": c.period.name,
        "comparable": c.comparable,
        "reason": c.reason or None,
        "units_now": list(c.units_now),
        "units_then": list(c.units_then),
        "left_out_now": list(c.left_out_now),
        "left_out_then": list(c.left_out_then),
        "fields": {
            code: {"now": ch.now, "then": ch.then, "delta": ch.delta, "ratio": ch.ratio}
            for code, ch in (c.changes or {}).items()
        },
    }


def summary_data(s: Summary) -> dict[str, object]:
    """Everything the summary says, as JSON-ready data (dates ISO, figures by field code)."""
    p = s.period
    return {
        "form": {"id": s.form.id, "version": s.form.version, "title": s.form.title},
        "period": {
            "code": p.code,
            "name": p.name,
            "window_start": p.start.isoformat(),
            "window_end": p.end.isoformat(),
            "window": p.window_text,
            "includes_estimates": p.includes_estimates,
            "deadlines": {level or "top": day.isoformat() for level, day in sorted(s.deadlines.items())},
        },
        "level": {"code": s.level.code, "name": s.level.name, "kind": s.level.kind},
        "organisation": s.organisation,
        "made_at": s.made_at.isoformat(),
        "provisional": s.provisional,
        "counts": dict(s.counts),
        "fields": [
            {"code": f.code, "label": f.label, "measure": f.measure, "group": f.group}
            for f in s.form.quantitative_fields
        ],
        "totals": dict(s.totals),
        "units": [_unit(r, b.department.code if b.department else None) for b in s.blocks for r in b.rows],
        "departments": [
            {
                "code": b.department.code,
                "name": b.department.name,
                "units": [r.unit.code for r in b.rows],
                "reported": b.reported,
                "expected": len(b.rows),
                "totals": dict(b.totals),
            }
            for b in s.blocks
            if b.department is not None
        ],
        "comparisons": [_comparison(c) for c in s.comparisons],
        "targets": [v.to_dict() for v in s.all_verdicts],
        "problems": [p.to_dict() for p in s.problems],
        "warnings": [
            {"unit": row.unit.code, "field": issue.field, "cell": issue.cell, "message": issue.message}
            for row, issue in s.warnings
        ],
    }


def render_csv(s: Summary) -> bytes:
    """One row per unit: period and data window, unit, status, then every figure (UTF-8 with BOM,
    so Excel opens the Vietnamese names right). A figure the summary could not use is empty."""
    codes = [f.code for f in s.form.quantitative_fields]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*CSV_FIXED, *codes])
    p = s.period
    for r in s.rows:
        st = r.status
        figures = [("" if (v := r.values.get(c)) is None else v) if r.values else "" for c in codes]
        writer.writerow(
            [
                p.code,
                p.start.isoformat(),
                p.end.isoformat(),
                r.unit.code,
                r.unit.name,
                r.unit.parent or "",
                st.status,
                st.days_late,
                st.days_overdue,
                *figures,
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
