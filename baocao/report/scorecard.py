"""The year's scorecard: how each unit did, period by period (on time, late, rejected, missing).

Coordinators use it for the annual CCHC assessment of units ("chấm điểm"). One row per unit that
reports in any period of the year, one column per period. A cell is:
- ``on_time`` / ``late`` (with days late): from the unit's first accepted file (``status``);
- ``rejected``: it sent files but none was accepted;
- ``missing``: nothing sent and the deadline has passed;
- ``not_due``: nothing accepted yet and the deadline is after ``now`` (not counted against it);
- ``absent`` ("—"): the unit did not report in that period (did not exist yet, closed, merged).

A unit's department is the one it belonged to in the last period it reported in; department
counts add up each period under the department the unit belonged to *in that period*.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import xlsxwriter

from baocao.files import write_output
from baocao.names import inside
from baocao.report.status import STATUS_LABELS, period_status
from baocao.report.style import FONT, MISSING_FILL, WARN_FILL
from baocao.spec.periods import Period, periods_of_year
from baocao.store.ledger import Ledger

KINDS = ("on_time", "late", "rejected", "missing", "not_due")
LABELS = {**STATUS_LABELS, "absent": "—"}


@dataclass(frozen=True)
class Cell:
    status: str  # one of KINDS or "absent"
    days_late: int = 0

    @property
    def label(self) -> str:
        return f"Chậm {self.days_late} ngày" if self.status == "late" else LABELS[self.status]


@dataclass
class ScoreRow:
    code: str
    name: str
    department: str
    department_name: str
    cells: dict[str, Cell] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {k: sum(1 for c in self.cells.values() if c.status == k) for k in KINDS}


@dataclass(frozen=True)
class ScorecardResult:
    year: int
    made_at: datetime
    periods: tuple[Period, ...]
    rows: tuple[ScoreRow, ...]
    departments: dict[str, dict]  # code -> {"name", "counts"}
    path: Path | None = None
    message: str = ""

    def to_dict(self) -> dict:
        return {
            "year": self.year,
            "made_at": self.made_at.isoformat(),
            "periods": [{"code": p.code, "name": p.name} for p in self.periods],
            "units": [
                {
                    "code": r.code,
                    "name": r.name,
                    "department": r.department,
                    "periods": {
                        code: {"status": c.status, "days_late": c.days_late, "label": c.label}
                        for code, c in r.cells.items()
                    },
                    "counts": r.counts(),
                }
                for r in self.rows
            ],
            "departments": self.departments,
            "path": str(self.path) if self.path else None,
            "message": self.message,
        }


def build_scorecard(dep, year: int, ledger: Ledger, now: datetime) -> ScorecardResult:
    """The scorecard of ``year`` from the ledger (reads only; writes nothing)."""
    settings, registry = dep.settings, dep.registry
    periods = tuple(periods_of_year(year, settings.period_kinds))
    rows: dict[str, ScoreRow] = {}
    departments: dict[str, dict] = {}
    for p in periods:
        day = registry.reference_day(p)
        units = registry.reporting_units(p)
        statuses = period_status(
            p,
            units,
            ledger.files(p.code),
            ledger.current_submissions(p.code),
            settings.timezone,
            settings.inclusive_deadline,
            {u.code: registry.reports_to(u.code, day) for u in units},
        )
        due = now > p.deadline(settings.timezone, settings.inclusive_deadline)
        for st in statuses:
            dept = registry.group_of(st.unit.code, day)
            dcode, dname = (dept.code, dept.name) if dept else ("", "")
            row = rows.setdefault(st.unit.code, ScoreRow(st.unit.code, st.unit.name, dcode, dname))
            row.name, row.department, row.department_name = st.unit.name, dcode, dname
            status = st.status if st.reported or due else "not_due"
            row.cells[p.code] = Cell(status, st.days_late)
            entry = departments.setdefault(dcode, {"name": dname, "counts": dict.fromkeys(KINDS, 0)})
            entry["counts"][status] += 1
    for row in rows.values():
        for p in periods:
            row.cells.setdefault(p.code, Cell("absent"))
        row.cells = {p.code: row.cells[p.code] for p in periods}
    ordered = sorted(rows.values(), key=lambda r: (r.department, r.code))
    return ScorecardResult(year, now, periods, tuple(ordered), departments)


def render_scorecard(result: ScorecardResult, organisation: str) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    base = {"font_name": FONT, "font_size": 11, "valign": "vcenter", "border": 1}
    head = book.add_format(base | {"bold": True, "align": "center", "text_wrap": True, "bg_color": "#D9E1F2"})
    cell = book.add_format(base)
    center = book.add_format(base | {"align": "center"})
    title = book.add_format({"font_name": FONT, "bold": True, "font_size": 14})
    ws = book.add_worksheet("Chấm điểm")
    ws.write_string(0, 0, organisation.upper(), title)
    ws.write_string(1, 0, f"THEO DÕI VIỆC GỬI BÁO CÁO CÁC KỲ NĂM {result.year}", title)
    ws.write_string(2, 0, f"Lập lúc {result.made_at:%H:%M} ngày {result.made_at:%d/%m/%Y}")
    heads = ["STT", "Mã đơn vị", "Tên đơn vị", "Thuộc"] + [p.name for p in result.periods]
    heads += [STATUS_LABELS[k] for k in KINDS]
    for col, text in enumerate(heads):
        ws.write_string(4, col, text, head)
    n = len(result.periods)
    for i, r in enumerate(result.rows):
        row = 5 + i
        ws.write_number(row, 0, i + 1, center)
        for col, text in enumerate((r.code, r.name, r.department_name), start=1):
            ws.write_string(row, col, text, cell)
        for j, c in enumerate(r.cells.values()):
            ws.write_string(row, 4 + j, c.label, center)
        for j, k in enumerate(KINDS):
            ws.write_number(row, 4 + n + j, r.counts()[k], center)
    last = 4 + max(len(result.rows), 1)
    for text, color in (
        (STATUS_LABELS["missing"], MISSING_FILL),
        (STATUS_LABELS["rejected"], MISSING_FILL),
        ("Chậm", WARN_FILL),
    ):
        fmt = book.add_format({"bg_color": color})
        ws.conditional_format(
            5, 4, last, 3 + n, {"type": "text", "criteria": "begins with", "value": text, "format": fmt}
        )
    ws.set_column(0, 0, 5)
    ws.set_column(1, 1, 11)
    ws.set_column(2, 3, 32)
    ws.set_column(4, 3 + n, 15)
    ws.set_column(4 + n, 3 + n + len(KINDS), 9)
    ws.set_row(4, 32)
    ws.freeze_panes(5, 3)
    ws.autofilter(4, 0, last, len(heads) - 1)
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(4)
    sheet = book.add_worksheet("Theo sở")
    for col, text in enumerate(["Mã", "Sở, đơn vị chủ quản"] + [STATUS_LABELS[k] for k in KINDS]):
        sheet.write_string(0, col, text, head)
    for i, (code, entry) in enumerate(sorted(result.departments.items())):
        sheet.write_string(1 + i, 0, code, cell)
        sheet.write_string(1 + i, 1, entry["name"], cell)
        for j, k in enumerate(KINDS):
            sheet.write_number(1 + i, 2 + j, entry["counts"][k], center)
    sheet.set_column(0, 0, 11)
    sheet.set_column(1, 1, 40)
    sheet.set_column(2, 1 + len(KINDS), 12)
    book.close()
    return buffer.getvalue()


def scorecard(dep, year: int, *, now: datetime, out: Path | None = None) -> ScorecardResult:
    """Build the scorecard of ``year`` and write ``<output>/cham-diem_<year>.xlsx`` (or ``out``).

    Returns the result with the path actually written (a new name if the file is open in Excel).
    """
    from dataclasses import replace

    with Ledger(dep.settings.path("ledger")) as ledger:
        result = build_scorecard(dep, year, ledger, now.astimezone(dep.settings.timezone))
    target = out or inside(dep.settings.path("output"), f"cham-diem_{year}.xlsx")
    written = write_output(target, render_scorecard(result, dep.settings.organisation))
    message = (
        "" if written == target else f"Tệp {target.name} đang được mở (Excel); đã ghi sang {written.name}"
    )
    return replace(result, path=written, message=message)
