"""Consolidation: the edge that turns the ledger into the summary files of one period and level,
and into the year's scorecard.

It opens the ledger, hands the rows to the pure builders (``report.summary.build_summary``,
``report.scorecard.build_scorecard``), passes the result to the renderers (``report.xlsx``,
``report.plain``, ``report.docx``, ``report.scorecard_xlsx``) and places the files; nothing in
``report/`` opens the ledger or writes a file. ``baocao consolidate`` and ``baocao scorecard``
call it.

Where the files go (``--out``): nothing given, ``<output>/<period>/tong-hop_<period>_<LEVEL>.xlsx``;
a folder, the same names in it; a ``.xlsx`` name, the workbook there. The CSV, the Word draft
and the department's roll-up always go beside the workbook (same name, their own extension; the
roll-up under its template name), so one ``--out`` can never make one output overwrite another:
any other extension, or two outputs on one path, is refused with one message.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from baocao.errors import UsageError
from baocao.files import write_output
from baocao.model import Submission
from baocao.names import inside
from baocao.report.plain import headline, render_csv, summary_data
from baocao.report.rollup import blank_for_office, rollup_values
from baocao.report.scorecard import Scorecard, build_scorecard
from baocao.report.summary import Summary, build_summary, level_unit
from baocao.spec.config import PATH_LABELS, Settings
from baocao.spec.deployment import Deployment
from baocao.spec.periods import periods_of_year, previous_period, same_period_last_year
from baocao.store import Store, open_store
from baocao.workbook.template import render_template, template_context, template_filename


@dataclass(frozen=True)
class ConsolidationResult:
    """What ``baocao consolidate`` made: the summary, the files written, notes for the user."""

    period: str
    level: str
    xlsx: Path
    csv: Path
    docx: Path | None = None
    rollup: Path | None = None
    counts: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    messages: tuple[str, ...] = ()
    summary: Summary | None = field(default=None, compare=False, repr=False)

    def headline(self) -> list[str]:
        """Where the period stands in a few sentences (``report.plain.headline``): for the
        terminal and the summary e-mail, beside ``summary.headline_totals()``."""
        return headline(self.summary) if self.summary is not None else []

    def to_dict(self) -> dict:
        """The summary as data (``report.plain.summary_data``), the files and the notes."""
        data = summary_data(self.summary) if self.summary is not None else {}
        files = {"xlsx": self.xlsx, "csv": self.csv, "docx": self.docx, "rollup": self.rollup}
        return {
            **data,
            "files": {kind: str(path) if path else None for kind, path in files.items()},
            "messages": list(self.messages),
        }


def summary_for(dep: Deployment, period: str, *, unit: str | None = None, now: datetime) -> Summary:
    """Open the ledger and build the summary (what ``consolidate`` writes, without writing): one
    that holds everything it shows, the narratives included, once the ledger is closed."""
    with open_store(dep.settings) as ledger:
        return _summary(dep, ledger, period, unit=unit, now=now, texts_from_ledger=False)


def _summary(
    dep: Deployment, ledger: Store, period: str, *, unit: str | None, now: datetime, texts_from_ledger: bool
) -> Summary:
    """The summary from ``ledger``; with ``texts_from_ledger`` one whose rows keep no narratives
    and that reads them again from the ledger when they are rendered (``Summary.texts_by_row``:
    keep the ledger open)."""
    p = dep.period(period)
    level = level_unit(dep.registry, p, unit)
    kinds = dep.settings.period_kinds
    # the builder reads the submissions as they come
    return build_summary(
        form=dep.form,
        registry=dep.registry,
        period=p,
        level=level,
        organisation=dep.settings.organisation,
        files=ledger.each_file(p.code),
        current=ledger.each_current_submission(p.code),
        earlier={
            other.code: ledger.each_current_submission(other.code)
            for other in (previous_period(p, kinds), same_period_last_year(p))
        },
        kinds=kinds,
        tz=dep.settings.timezone,
        inclusive=dep.settings.inclusive_deadline,
        now=now,
        narratives=ledger.each_submission_values if texts_from_ledger else None,
    )


def render_rollup(
    dep: Deployment, summary: Summary, current: dict[str, Submission], *, phone: str | None, now: datetime
) -> tuple[bytes, list[str]]:
    """The department's filled template (xlsx bytes) and notes for the person who runs it.

    Its heading names the issuing body as a unit's template does for a department that reports
    to the province (``organisation.issuing_body``, "UBND TỈNH LẠNG SƠN"), not the province's
    registry row.
    """
    reported = {r.unit.code for r in summary.rows if r.reported}
    subs = [s.values for code, s in current.items() if code in reported]
    values = rollup_values(summary, subs, phone=phone, today=now.astimezone(dep.settings.timezone).date())
    ctx = replace(template_context(dep, summary.level, summary.period), values=values)
    parent = dep.registry.get(summary.level.parent or "", dep.registry.reference_day(summary.period))
    if dep.settings.issuing_body and (parent is None or parent.parent is None):
        ctx = replace(ctx, parent_name=dep.settings.issuing_body)
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


def _workbook_path(settings: Settings, out: Path | None, default: Path, expected: str) -> Path:
    """``out`` read as the workbook's name (``.xlsx``) or a folder for ``default``'s name.

    Never inside the inbox or the archive: the next collect would take the coordinator's own
    summary as a unit's report (and archive it away), or the archive would hold a file no
    ledger row explains.
    """
    if out is None:
        return default
    if out.is_dir() or not out.suffix:
        path = inside(out, default.name)
    elif out.suffix.lower() == ".xlsx":
        path = out
    else:
        raise UsageError(f"--out {out.name}: {expected}")
    key = settings.intake_folder_holding(path)
    if key is not None:
        raise UsageError(
            f"--out {out}: nằm trong {PATH_LABELS[key]} ({settings.path(key)}); lần thu nhận sau sẽ coi "
            "tệp tổng hợp là báo cáo của đơn vị. Hãy chọn thư mục khác (mặc định: thư mục kết quả)."
        )
    return path


def output_paths(
    dep: Deployment, summary: Summary, out: Path | None, *, docx: bool, as_submission: bool
) -> dict[str, Path]:
    """Where each output goes (see the module docstring); ``UsageError`` for a bad ``--out``."""
    name = f"tong-hop_{summary.period.code}_{summary.level.code}.xlsx"
    workbook = _workbook_path(
        dep.settings,
        out,
        inside(dep.settings.path("output"), summary.period.code, name),
        "cần tên tệp bảng tổng hợp .xlsx hoặc một thư mục; CSV, dự thảo Word và tệp gửi cấp trên "
        "được ghi cạnh bảng tổng hợp, cùng tên",
    )
    paths = {"xlsx": workbook, "csv": workbook.with_suffix(".csv")}
    if docx:
        paths["docx"] = workbook.with_suffix(".docx")
    if as_submission:
        paths["rollup"] = inside(workbook.parent, template_filename(summary.level, summary.period))
    seen: dict[str, str] = {}
    for kind, path in paths.items():
        key = str(path.resolve()).casefold()  # Windows file names ignore case
        if key in seen:
            raise UsageError(
                f"--out {out}: bảng tổng hợp và tệp gửi cấp trên trùng tên {path.name}; chọn tên khác"
            )
        seen[key] = kind
    return paths


def consolidate(
    dep: Deployment,
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

    Files: the workbook, a ``.csv`` beside it, with ``docx`` a Word draft, with ``as_submission``
    the department's own filled template (its roll-up for the level above; ``phone`` fills its
    telephone field); where they go: ``output_paths``. A file open in Excel is left alone and a
    new name is used (the result's ``messages`` say so). Raises ``UsageError`` for an unknown
    period or unit, a bad ``out``, or ``as_submission`` without a department.
    """
    # the summary keeps its units' figures, not their narratives: the renderings read those again
    # from the open ledger, one unit at a time (at 10,000 units they took 10 MB, issue 13)
    with open_store(dep.settings) as ledger:
        summary = _summary(dep, ledger, period, unit=unit, now=now, texts_from_ledger=True)
        result = _write(dep, ledger, summary, unit, out, docx, as_submission, phone, now)
    return replace(result, summary=replace(summary, narratives=None))  # that ledger is closed now


def _write(
    dep: Deployment,
    ledger: Store,
    summary: Summary,
    unit: str | None,
    out: Path | None,
    docx: bool,
    as_submission: bool,
    phone: str | None,
    now: datetime,
) -> ConsolidationResult:
    """Render ``summary`` and place the files (``consolidate``; ``ledger`` open)."""
    if as_submission and (unit is None or summary.level.kind != "department"):
        raise UsageError("--as-submission cần --unit là mã một sở (đơn vị cấp trung gian)")
    paths = output_paths(dep, summary, out, docx=docx, as_submission=as_submission)
    messages: list[str] = []

    def place(content: bytes, path: Path) -> Path:
        written = write_output(path, content)
        if written != path:
            messages.append(f"Tệp {path.name} đang được mở (Excel); đã ghi sang {written.name}")
        return written

    from baocao.report import xlsx as summary_xlsx  # the renderers import xlsxwriter, python-docx

    xlsx = place(summary_xlsx.render_summary(summary), paths["xlsx"])
    csv_path = place(render_csv(summary), paths["csv"])
    docx_path = None
    if docx:
        from baocao.report import docx as summary_docx

        docx_path = place(summary_docx.render_docx(summary, dep.settings), paths["docx"])
    rollup_path = None
    if as_submission:
        current = ledger.current_submissions(summary.period.code)  # a department's units: few
        content, notes = render_rollup(dep, summary, current, phone=phone, now=now)
        rollup_path = place(content, paths["rollup"])
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
        summary=summary,
    )


# --- the year's scorecard --------------------------------------------------------------------


@dataclass(frozen=True)
class ScorecardResult:
    """What ``baocao scorecard`` made: the scorecard and the file written."""

    scorecard: Scorecard
    path: Path
    message: str = ""

    @property
    def year(self) -> int:
        return self.scorecard.year

    @property
    def periods(self):
        return self.scorecard.periods

    @property
    def rows(self):
        return self.scorecard.rows

    @property
    def departments(self) -> dict[str, dict]:
        return self.scorecard.departments

    def to_dict(self) -> dict:
        return {**self.scorecard.to_dict(), "path": str(self.path), "message": self.message}


def scorecard_of(dep: Deployment, year: int, *, now: datetime) -> Scorecard:
    """The scorecard of ``year`` from the ledger (reads only: the web desk shows it as it is now)."""
    settings = dep.settings
    periods = periods_of_year(year, settings.period_kinds)
    with open_store(settings) as ledger:
        files = {p.code: ledger.files(p.code) for p in periods}
        current = {p.code: ledger.current_submissions(p.code) for p in periods}
    return build_scorecard(
        registry=dep.registry,
        year=year,
        periods=periods,
        files=files,
        current=current,
        tz=settings.timezone,
        inclusive=settings.inclusive_deadline,
        now=now.astimezone(settings.timezone),
    )


def scorecard(dep: Deployment, year: int, *, now: datetime, out: Path | None = None) -> ScorecardResult:
    """Build the scorecard of ``year`` and write ``<output>/cham-diem_<year>.xlsx`` (or ``out``: a
    ``.xlsx`` name or a folder). Returns it with the path actually written (a new name if the
    file is open in Excel)."""
    settings = dep.settings
    target = _workbook_path(
        settings,
        out,
        inside(settings.path("output"), f"cham-diem_{year}.xlsx"),
        "cần tên tệp .xlsx hoặc một thư mục",
    )
    result = scorecard_of(dep, year, now=now)
    from baocao.report.scorecard_xlsx import render_scorecard  # it imports xlsxwriter

    written = write_output(target, render_scorecard(result, settings.organisation))
    message = (
        "" if written == target else f"Tệp {target.name} đang được mở (Excel); đã ghi sang {written.name}"
    )
    return ScorecardResult(result, written, message)
