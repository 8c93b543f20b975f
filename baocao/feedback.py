"""The feedback workbook a unit gets back: its own file with each wrong cell marked, plus a list.

Why the unit's own file: the clerk fixes the cells in place and saves it again, instead of
retyping into a fresh template. For ``.xls`` and ``.ods`` (which openpyxl cannot write back)
the values the reader found are written into a fresh template of the same unit and period, so
the clerk still gets the same marked cells.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from .files import write_if_changed
from .model import Issue, RawWorkbook, Severity
from .template import TemplateContext, render_template

ISSUES_SHEET = "Lỗi cần sửa"
ERROR_FILL = PatternFill("solid", start_color="FFC7CE")
WARNING_FILL = PatternFill("solid", start_color="FFEB9C")


def _mark(sheet: Worksheet, issue: Issue) -> None:
    cell = sheet[issue.cell]
    cell.fill = ERROR_FILL if issue.severity == Severity.ERROR else WARNING_FILL
    title = "LỖI" if issue.severity == Severity.ERROR else "LƯU Ý"
    text = f"{title}: {issue.message}"
    if cell.comment is not None:
        text = cell.comment.text + "\n" + text
    cell.comment = Comment(text, "baocao", width=320, height=120)


def _issues_sheet(book: openpyxl.Workbook, issues: list[Issue], title: str) -> None:
    if ISSUES_SHEET in book.sheetnames:
        del book[ISSUES_SHEET]
    sheet = book.create_sheet(ISSUES_SHEET, 0)
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=13, name="Times New Roman")
    sheet.append([])
    sheet.append(["STT", "Mức độ", "Ô", "Nội dung"])
    for cell in sheet[3]:
        cell.font = Font(bold=True, name="Times New Roman")
    for number, issue in enumerate(issues, start=1):
        level = "Lỗi" if issue.severity == Severity.ERROR else "Lưu ý"
        # Text from the unit's file goes in as text: openpyxl would store "=…" as a formula.
        sheet.append([number, level, issue.location, None])
        message_cell = sheet.cell(row=sheet.max_row, column=4)
        message_cell.value = issue.message
        message_cell.data_type = "s"
        message_cell.alignment = Alignment(wrap_text=True, vertical="top")
        if issue.severity == Severity.ERROR:
            sheet.cell(row=sheet.max_row, column=2).fill = ERROR_FILL
    sheet.column_dimensions["A"].width = 6
    sheet.column_dimensions["B"].width = 9
    sheet.column_dimensions["C"].width = 14
    sheet.column_dimensions["D"].width = 100
    book.active = 0


def _template_with_values(ctx: TemplateContext, form, raw: RawWorkbook) -> openpyxl.Workbook:
    values = {code: cell.value for code, cell in raw.cells.items() if cell.value is not None}
    content = render_template(form, replace(ctx, values=values))
    return openpyxl.load_workbook(io.BytesIO(content))


def write_feedback(
    source: Path,
    raw: RawWorkbook | None,
    issues: list[Issue],
    out: Path,
    *,
    title: str,
    rebuild: tuple[TemplateContext, object] | None = None,
) -> Path:
    """Write the marked-up workbook to ``out`` (atomically) and return its path.

    ``source`` is the archived original (never modified: it is only read). ``rebuild`` is the
    template context and form used when the original cannot be written back (.xls, .ods).
    """
    if source.suffix.lower() in (".xlsx", ".xlsm"):
        book = openpyxl.load_workbook(source)  # macros are dropped: the feedback is a plain .xlsx
    elif rebuild is not None and raw is not None:
        book = _template_with_values(rebuild[0], rebuild[1], raw)
    else:
        book = openpyxl.Workbook()
        book.active.title = "Tệp gốc"
    for issue in issues:
        if issue.cell and issue.sheet in book.sheetnames:
            try:
                _mark(book[issue.sheet], issue)
            except ValueError:  # a cell address the workbook cannot hold: listed anyway
                continue
    _issues_sheet(book, issues, title)
    buffer = io.BytesIO()
    book.save(buffer)
    write_if_changed(out, buffer.getvalue())
    return out
