"""The summary as plain data: the JSON of ``baocao consolidate --json``, the CSV, and the few
lines of text a terminal or an e-mail shows (pure).

Both are renderings of one ``Summary``, like the workbook and the Word draft, so a script that
reads the JSON sees exactly the figures a leader reads: the total of each field, the like-for-
like comparisons with the unit codes on each side, each unit's status and the target verdicts
with the level they apply at. Field codes are the keys here (machine-facing); the workbook and
the Word draft show labels.
"""

from __future__ import annotations

import csv
import io

from baocao.report.cells import vn_number
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
    # encoded as it is written: a text buffer held every character in 4 bytes, then the text and
    # its encoding were copies of it (10 MB at 10,000 units, issue 13); the BOM comes with the codec
    buffer = io.BytesIO()
    text = io.TextIOWrapper(buffer, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\r\n")
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
    text.flush()
    return buffer.getvalue()


def headline(s: Summary) -> list[str]:
    """Where the period stands in a few Vietnamese sentences: completeness, what the comparisons
    cover (or why there is none), the targets with their coverage, values that could not be used.
    For the terminal (``consolidate``, the demo) and the summary e-mail."""
    out = [s.completeness]
    for c in s.comparisons:
        if not c.comparable:
            out.append(c.reason)
            continue
        text = f"So với {c.words} ({c.period.name}): {c.coverage}"
        left = [f"{len(c.left_out_now)} đơn vị kỳ này", f"{len(c.left_out_then)} đơn vị kỳ đó"]
        counts = [t for t, n in zip(left, (c.left_out_now, c.left_out_then), strict=True) if n]
        if counts:
            text += f"; không tính {' và '.join(counts)} không có số liệu tương ứng"
        out.append(text + ".")
    verdicts = [*s.verdicts, *(v for b in s.blocks for v in b.verdicts)]
    if verdicts:
        v0 = verdicts[0]
        judged = "; ".join(
            f"{v.scope.name} {v.word.lower()} ({vn_number(v.value)}"
            + (f", {v.reported}/{v.expected} đơn vị đã báo cáo" if not v.complete else "")
            + ")"
            for v in verdicts
        )
        estimates = "; số liệu gồm số ước thực hiện" if v0.estimates else ""
        out.append(f"Chỉ tiêu {v0.label[:1].lower()}{v0.label[1:]} {v0.rule_text}{estimates}: {judged}.")
    if s.problems:
        out.append(f"Có {len(s.problems)} giá trị của đơn vị không dùng được (không tính vào tổng).")
    return out
