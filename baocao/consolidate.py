"""Consolidation: the edge that turns the ledger into the summary files of one period and level.

It opens the ledger, builds the pure ``report.summary.Summary``, hands it to the renderers
(``report.xlsx``, ``report.docx``) and places the files; ``baocao consolidate`` calls it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from baocao.errors import UsageError
from baocao.files import write_output
from baocao.names import inside
from baocao.report import docx as summary_docx
from baocao.report import xlsx as summary_xlsx
from baocao.report.rollup import blank_for_office, rollup_values
from baocao.report.summary import Summary, build_summary, level_unit
from baocao.spec.periods import previous_period, same_period_last_year
from baocao.store.ledger import Ledger
from baocao.workbook.template import render_template, template_context, template_filename


def render_rollup(dep, summary: Summary, *, phone: str | None, now: datetime) -> tuple[bytes, list[str]]:
    """The department's filled template (xlsx bytes) and notes for the person who runs it."""
    with Ledger(dep.settings.path("ledger")) as ledger:
        current = ledger.current_submissions(summary.period.code)
    reported = {r.unit.code for r in summary.rows if r.reported}
    subs = [s.values for code, s in current.items() if code in reported]
    values = rollup_values(summary, subs, phone=phone, today=now.astimezone(dep.settings.timezone).date())
    ctx = replace(template_context(dep, summary.level, summary.period), values=values)
    notes = []
    blanks = blank_for_office(summary.form, values)
    if blanks:
        notes.append(
            f"Báo cáo gửi cấp trên còn để trống để văn phòng điền trước khi gửi: {', '.join(blanks)}"
        )
    missing = summary.counts.get("expected", 0) - summary.counts.get("reported", 0)
    if missing:
        notes.append(f"Còn {missing} đơn vị chưa có báo cáo được tiếp nhận; số liệu tổng hợp chưa đủ")
    return render_template(summary.form, ctx), notes


# --- the edge ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsolidationResult:
    """What ``baocao consolidate`` made: files written, completeness counts, notes for the user."""

    period: str
    level: str
    xlsx: Path
    csv: Path
    docx: Path | None = None
    rollup: Path | None = None
    counts: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    messages: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "period": self.period,
            "level": self.level,
            "xlsx": str(self.xlsx),
            "csv": str(self.csv),
            "docx": str(self.docx) if self.docx else None,
            "rollup": str(self.rollup) if self.rollup else None,
            "counts": self.counts,
            "totals": self.totals,
            "messages": list(self.messages),
        }


def summary_for(dep, period: str, *, unit: str | None = None, now: datetime) -> Summary:
    """Open the ledger and build the summary (what ``consolidate`` writes, without writing)."""
    p = dep.period(period)
    level = level_unit(dep.registry, p, unit)
    kinds = dep.settings.period_kinds
    with Ledger(dep.settings.path("ledger")) as ledger:
        earlier = {
            other.code: ledger.current_submissions(other.code)
            for other in (previous_period(p, kinds), same_period_last_year(p))
        }
        return build_summary(
            form=dep.form,
            registry=dep.registry,
            period=p,
            level=level,
            organisation=dep.settings.organisation,
            files=ledger.files(p.code),
            current=ledger.current_submissions(p.code),
            earlier=earlier,
            kinds=kinds,
            tz=dep.settings.timezone,
            inclusive=dep.settings.inclusive_deadline,
            now=now,
        )


def consolidate(
    dep,
    period: str,
    *,
    unit: str | None = None,
    out: Path | None = None,
    docx: bool = False,
    as_submission: bool = False,
    phone: str | None = None,
    now: datetime,
) -> ConsolidationResult:
    """Write the summary of ``period`` for the province (or department ``unit``).

    Files: ``<output>/<period>/tong-hop_<period>_<LEVEL>.xlsx`` (or ``out``), a ``.csv`` beside
    it, with ``docx`` a Word draft, with ``as_submission`` the department's own filled template
    (its roll-up for the level above; ``phone`` fills its telephone field). A file open in Excel
    is left alone and a new name is used (the result's ``messages`` say so). Raises
    ``UsageError`` for an unknown period or unit, or ``as_submission`` without a department.
    """

    summary = summary_for(dep, period, unit=unit, now=now)
    if as_submission and (unit is None or summary.level.kind != "department"):
        raise UsageError("--as-submission cần --unit là mã một sở (đơn vị cấp trung gian)")
    tz = dep.settings.timezone
    target = out or inside(
        dep.settings.path("output"),
        summary.period.code,
        f"tong-hop_{summary.period.code}_{summary.level.code}.xlsx",
    )
    messages: list[str] = []

    def place(content: bytes, path: Path) -> Path:
        written = write_output(path, content)
        if written != path:
            messages.append(f"Tệp {path.name} đang được mở (Excel); đã ghi sang {written.name}")
        return written

    xlsx = place(summary_xlsx.render_summary(summary, tz), target)
    csv_path = place(summary_xlsx.render_csv(summary), target.with_suffix(".csv"))
    docx_path = None
    if docx:
        docx_path = place(summary_docx.render_docx(summary, dep.settings, tz), target.with_suffix(".docx"))
    rollup_path = None
    if as_submission:
        content, notes = render_rollup(dep, summary, phone=phone, now=now)
        rollup_path = place(content, inside(target.parent, template_filename(summary.level, summary.period)))
        messages += notes
    return ConsolidationResult(
        period=summary.period.code,
        level=summary.level.code,
        xlsx=xlsx,
        csv=csv_path,
        docx=docx_path,
        rollup=rollup_path,
        counts=summary.counts,
        totals=summary.totals,
        messages=tuple(messages),
    )
