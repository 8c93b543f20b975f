"""The feedback workbook written with openpyxl: for what ``xlsxpatch`` does not handle.

Why apart from ``feedback``: openpyxl (and, through it, numpy where installed) takes about half
a second to import, and most runs never need it: the XML patch marks up every plain .xlsx.
``feedback`` imports this module only when a workbook needs it (.xlsm, a rebuilt .xls/.ods
template, a sheet that already has comments, the issues list alone), in a worker process.
The marks and the issues sheet are the patch's, from the same ``xlsxpatch.Mark`` and
``IssuesSheet``: same colours, texts, links and layout.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet

from baocao.workbook.xlsxpatch import IssuesSheet, Mark

FONT = "Times New Roman"
LINK_RGB = "0563C1"
HEADER_FILL = "FFD9E1F2"
_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


@dataclass(frozen=True)
class Base:
    """What the feedback workbook starts from: the unit's ``source`` file, a ``template``
    rebuilt with its values (bytes), an empty "Tệp gốc" sheet (none given), or nothing but the
    issues sheet (``alone``)."""

    source: Path | None = None
    template: bytes | None = None
    alone: bool = False


def marked_up(base: Base, marks: Sequence[Mark], issues: IssuesSheet, replaced: Sequence[str]) -> bytes:
    """The workbook of ``base`` with ``marks`` applied and ``issues`` as its first sheet; the
    sheets named ``replaced`` (the issues sheet of an earlier check) are dropped first."""
    if base.source is not None:
        book = openpyxl.load_workbook(base.source)  # macros are dropped: the feedback is a plain .xlsx
    elif base.template is not None:
        book = openpyxl.load_workbook(io.BytesIO(base.template))
    else:
        book = openpyxl.Workbook()
        book.worksheets[0].title = "Tệp gốc"
    for mark in marks:
        if mark.sheet in book.sheetnames:
            try:
                _mark(book[mark.sheet], mark)
            except ValueError:  # a cell address the workbook cannot hold: listed anyway
                continue
    for name in replaced:  # a file sent back again carries the sheet of the last check
        if name in book.sheetnames:
            del book[name]
    _issues_sheet(book, issues)
    if base.alone:
        del book[book.sheetnames[-1]]  # the empty default sheet
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _mark(sheet: Worksheet, mark: Mark) -> None:
    cell = sheet[mark.cell]
    text = mark.comment
    if cell.comment is not None:
        text = cell.comment.text + "\n" + text
    else:  # the first (most severe) mark of a cell sets its colour
        cell.fill = PatternFill("solid", start_color="FF" + mark.rgb)
    cell.comment = Comment(text, "baocao", width=320, height=120)


def _issues_sheet(book: openpyxl.Workbook, issues: IssuesSheet) -> None:
    for sheet in book.worksheets:  # one selected tab: two would group the sheets
        sheet.sheet_view.tabSelected = False
    sheet = book.create_sheet(issues.name, 0)
    sheet["A1"] = issues.title
    sheet["A1"].font = Font(bold=True, size=13, name=FONT)
    sheet["A1"].alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    sheet.merge_cells("A1:D1")
    sheet.row_dimensions[1].height = 22 if len(issues.title) <= 90 else 40
    for row, (line, height) in enumerate(issues.intro, start=2):
        cell = sheet.cell(row=row, column=1, value=line)
        cell.data_type = "s"
        cell.font = Font(name=FONT)
        cell.alignment = Alignment(horizontal="left", vertical="top", wrap_text=True)
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=4)
        sheet.row_dimensions[row].height = height
    head = len(issues.intro) + 3
    for col, text in enumerate(issues.headers, start=1):
        cell = sheet.cell(row=head, column=col, value=text)
        cell.font = Font(bold=True, name=FONT)
        cell.fill = PatternFill("solid", start_color=HEADER_FILL)
        cell.border = _BOX
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for offset, item in enumerate(issues.rows, start=1):
        row = head + offset
        # Text from the unit's file goes in as text: openpyxl would store "=…" as a formula.
        for col, value in enumerate((item.number, item.level, item.place, item.message), start=1):
            cell = sheet.cell(row=row, column=col)
            cell.value = value or None
            if col > 1:
                cell.data_type = "s"
            cell.font = Font(name=FONT, bold=col == 2)
            cell.border = _BOX
            cell.alignment = Alignment(
                horizontal="left" if col == 4 else "center", vertical="top", wrap_text=True
            )
        if item.link:
            link = sheet.cell(row=row, column=3)
            link.hyperlink = Hyperlink(ref=link.coordinate, location=item.link, display=item.place)
            link.font = Font(name=FONT, color="FF" + LINK_RGB, underline="single")
        sheet.row_dimensions[row].height = item.height
        sheet.cell(row=row, column=2).fill = PatternFill("solid", start_color="FF" + item.rgb)
    for letter, width in zip("ABCD", issues.widths, strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = f"A{head + 1}"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = sheet.ORIENTATION_LANDSCAPE
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    book.active = 0
    sheet.sheet_view.tabSelected = True
