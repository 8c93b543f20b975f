"""The feedback workbook a unit gets back: its own file with each wrong cell marked, plus a list.

Why the unit's own file: the clerk fixes the cells in place and saves it again, instead of
retyping into a fresh template. For ``.xls`` and ``.ods`` (which openpyxl cannot write back)
the values the reader found are written into a fresh template of the same unit and period, so
the clerk still gets the same marked cells.

Two ways to write it: ``xlsxpatch`` edits the package's XML (~2 ms), used for every
.xlsx it understands; openpyxl (load, mark, save: ~40 ms) for everything else, i.e. .xlsm,
rebuilt templates, sheets that already carry comments and the odd structures listed in
``xlsxpatch``. Both give the same marks and the same issues sheet. Which route a workbook
takes, and the time and memory it may use, is ``feedback_writer``'s business; a workbook that
cannot be marked up within those bounds gets ``write_issues_only``.
"""

from __future__ import annotations

import io
import logging
import math
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.worksheet import Worksheet

from baocao.files import write_if_changed
from baocao.model import Issue, RawWorkbook, Severity
from baocao.workbook import xlsxpatch
from baocao.workbook.template import TemplateContext, render_template

logger = logging.getLogger(__name__)

ISSUES_SHEET = "Lỗi cần sửa"
ERROR_RGB, WARNING_RGB = "FFC7CE", "F4B084"
ERROR_FILL = PatternFill("solid", start_color="FF" + ERROR_RGB)
WARNING_FILL = PatternFill("solid", start_color="FF" + WARNING_RGB)
HEADERS = ("STT", "Mức độ", "Ô", "Nội dung")
WIDTHS = (6, 10, 14, 90)  # with landscape A4 fit to one page wide, the message column never breaks
FONT = "Times New Roman"
_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def _rgb(issue: Issue) -> str:
    return ERROR_RGB if issue.severity == Severity.ERROR else WARNING_RGB


def _level(issue: Issue) -> str:
    return "Lỗi" if issue.severity == Severity.ERROR else "Lưu ý"


def _note(issue: Issue) -> str:
    return f"{'LỖI' if issue.severity == Severity.ERROR else 'LƯU Ý'}: {issue.message}"


def _height(message: str) -> float:
    """Points for a message in the 90-wide column: ~95 characters of 11 pt a line."""
    lines = sum(max(1, math.ceil(len(part) / 95)) for part in message.split("\n"))
    return 15.0 * lines + 2


def _marked(issues: list[Issue]) -> list[Issue]:
    """Issues tied to a cell, errors first: a cell with an error and a warning is red."""
    return sorted((i for i in issues if i.cell and i.sheet), key=lambda i: i.severity != Severity.ERROR)


def _mark(sheet: Worksheet, issue: Issue) -> None:
    cell = sheet[issue.cell]
    text = _note(issue)
    if cell.comment is not None:
        text = cell.comment.text + "\n" + text
    else:  # the first (most severe) issue of a cell sets its colour
        cell.fill = ERROR_FILL if issue.severity == Severity.ERROR else WARNING_FILL
    cell.comment = Comment(text, "baocao", width=320, height=120)


def _issues_sheet(book: openpyxl.Workbook, issues: list[Issue], title: str) -> None:
    if ISSUES_SHEET in book.sheetnames:
        del book[ISSUES_SHEET]
    for sheet in book.worksheets:  # one selected tab: two would group the sheets
        sheet.sheet_view.tabSelected = False
    sheet = book.create_sheet(ISSUES_SHEET, 0)
    sheet["A1"] = title
    sheet["A1"].font = Font(bold=True, size=13, name=FONT)
    sheet["A1"].alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    sheet.merge_cells("A1:D1")
    sheet.row_dimensions[1].height = 22 if len(title) <= 90 else 40
    for col, text in enumerate(HEADERS, start=1):
        cell = sheet.cell(row=3, column=col, value=text)
        cell.font = Font(bold=True, name=FONT)
        cell.fill = PatternFill("solid", start_color="FFD9E1F2")
        cell.border = _BOX
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row, issue in enumerate(issues, start=4):
        # Text from the unit's file goes in as text: openpyxl would store "=…" as a formula.
        for col, value in enumerate((row - 3, _level(issue), issue.location, issue.message), start=1):
            cell = sheet.cell(row=row, column=col)
            cell.value = value
            if col > 1:
                cell.data_type = "s"
            cell.font = Font(name=FONT, bold=col == 2)
            cell.border = _BOX
            cell.alignment = Alignment(
                horizontal="left" if col == 4 else "center", vertical="top", wrap_text=True
            )
        sheet.row_dimensions[row].height = _height(issue.message)
        sheet.cell(row=row, column=2).fill = PatternFill("solid", start_color="FF" + _rgb(issue))
    for letter, width in zip("ABCD", WIDTHS, strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A4"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = sheet.ORIENTATION_LANDSCAPE
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    book.active = 0
    sheet.sheet_view.tabSelected = True


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
    template context and form used when the original cannot be written back (.xls, .ods, and
    ISO 29500 Strict .xlsx, of which openpyxl loads no sheet: saving it again would lose the
    unit's data). An .xlsx goes through ``xlsxpatch`` when it can (see ``fast_feedback``; it
    refuses Strict), else openpyxl.
    """
    if write_fast_feedback(source, issues, out, title=title) is not None:
        return out
    strict = (raw is not None and raw.format == "xlsx-strict") or is_strict(source)
    if source.suffix.lower() in (".xlsx", ".xlsm") and not strict:
        book = openpyxl.load_workbook(source)  # macros are dropped: the feedback is a plain .xlsx
    elif rebuild is not None and raw is not None:
        book = _template_with_values(rebuild[0], rebuild[1], raw)
    else:
        book = openpyxl.Workbook()
        book.worksheets[0].title = "Tệp gốc"
    for issue in _marked(issues):
        if issue.sheet in book.sheetnames:
            try:
                _mark(book[issue.sheet], issue)
            except ValueError:  # a cell address the workbook cannot hold: listed anyway
                continue
    _issues_sheet(book, issues, title)
    buffer = io.BytesIO()
    book.save(buffer)
    write_if_changed(out, buffer.getvalue())
    return out


_STRICT_MAIN = b"http://purl.oclc.org/ooxml/spreadsheetml/main"


def is_strict(source: Path) -> bool:
    """Whether an .xlsx is ISO 29500 Strict (its workbook part in the Strict namespace).

    Reads the start of the workbook part only; the source already passed the package check.
    """
    if source.suffix.lower() not in (".xlsx", ".xlsm"):
        return False
    try:
        with zipfile.ZipFile(source) as zf:
            names = {name.replace("\\", "/").lower(): name for name in zf.namelist()}
            part = names.get("xl/workbook.xml") or next(
                (name for key, name in names.items() if key.endswith("workbook.xml")), None
            )
            if part is None:
                return False
            with zf.open(part) as fp:
                return _STRICT_MAIN in fp.read(8192)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        return False


def write_fast_feedback(source: Path, issues: list[Issue], out: Path, *, title: str) -> Path | None:
    """Write the feedback workbook of an .xlsx through ``xlsxpatch`` and return ``out``; None
    (nothing written) when it needs openpyxl: then call ``write_feedback``. Raises ``OSError``."""
    if source.suffix.lower() != ".xlsx":
        return None
    content = fast_feedback(source.read_bytes(), issues, title)
    if content is None:
        return None
    write_if_changed(out, content)
    return out


def fast_feedback(content: bytes, issues: list[Issue], title: str) -> bytes | None:
    """The feedback workbook made by editing the package's XML, or None when ``xlsxpatch``
    does not handle this package (the reason is logged at debug level; use openpyxl then).

    ``content`` must have passed ``package.inspect_package``.
    """
    marks = [xlsxpatch.Mark(i.sheet, i.cell, _rgb(i), _note(i)) for i in _marked(issues)]
    rows = [
        (n, _level(i), i.location, i.message, _rgb(i), _height(i.message)) for n, i in enumerate(issues, 1)
    ]
    sheet = xlsxpatch.IssuesSheet(ISSUES_SHEET, title, HEADERS, WIDTHS, rows)
    try:
        return xlsxpatch.add_feedback(content, marks, sheet)
    except xlsxpatch.Unpatchable as exc:
        logger.debug("feedback through openpyxl: %s", exc)
        return None


# --- one job, as the writer (``feedback_writer``) hands it to a worker process --------------


@dataclass
class FeedbackJob:
    """The arguments of one ``write_feedback`` call, picklable for a worker process."""

    original_name: str
    source: Path
    raw: RawWorkbook
    issues: list[Issue]
    out: Path
    title: str
    rebuild: tuple | None


def write_feedback_job(job: FeedbackJob) -> Path:
    """Write one feedback workbook (any exception is the caller's to contain)."""
    return write_feedback(job.source, job.raw, job.issues, job.out, title=job.title, rebuild=job.rebuild)


def write_issues_only(job: FeedbackJob) -> Path:
    """The feedback workbook without the unit's own sheets: just the list of issues.

    For a workbook too large to mark up within bounds, or one whose mark-up failed: the unit
    still gets every issue with its cell, in a file that costs nothing to write.
    """
    book = openpyxl.Workbook()
    _issues_sheet(book, job.issues, job.title)
    del book[book.sheetnames[-1]]  # the empty default sheet
    buffer = io.BytesIO()
    book.save(buffer)
    write_if_changed(job.out, buffer.getvalue())
    return job.out
