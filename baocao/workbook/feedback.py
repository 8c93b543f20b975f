"""The feedback workbook a unit gets back: its own file with each wrong cell marked, plus a list.

Why the unit's own file: the clerk fixes the cells in place and saves it again, instead of
retyping into a fresh template. For ``.xls`` and ``.ods`` (which openpyxl cannot write back)
the values the reader found are written into a fresh template of the same unit and period, so
the clerk still gets the same marked cells.

Two ways to write it: ``xlsxpatch`` edits the package's XML (~2 ms), used for every
.xlsx it understands; openpyxl (load, mark, save: ~40 ms; ``feedback_book``, imported only
then) for everything else, i.e. .xlsm, rebuilt templates, sheets that already carry comments
and the odd structures listed in ``xlsxpatch``. Both give the same marks and the same issues
sheet. Which route a workbook takes, and the time and memory it may use, is
``feedback_writer``'s business; a workbook that cannot be marked up within those bounds gets
``write_issues_only``.
"""

from __future__ import annotations

import logging
import math
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from baocao.files import write_if_changed
from baocao.model import Issue, RawWorkbook, Severity
from baocao.workbook import xlsxpatch
from baocao.workbook.template import TemplateContext, render_template

logger = logging.getLogger(__name__)

ISSUES_SHEET = "Lỗi cần sửa"
ERROR_RGB, WARNING_RGB = "FFC7CE", "F4B084"
HEADERS = ("STT", "Mức độ", "Ô", "Nội dung")
WIDTHS = (6, 10, 14, 90)  # with landscape A4 fit to one page wide, the message column never breaks


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
    from baocao.workbook import feedback_book

    strict = (raw is not None and raw.format == "xlsx-strict") or is_strict(source)
    if source.suffix.lower() in (".xlsx", ".xlsm") and not strict:
        base = feedback_book.Base(source=source)  # macros are dropped: the feedback is a plain .xlsx
    elif rebuild is not None and raw is not None:
        base = feedback_book.Base(template=_template_with_values(rebuild[0], rebuild[1], raw))
    else:
        base = feedback_book.Base()
    write_if_changed(out, feedback_book.marked_up(base, _marks(issues), _sheet(issues, title)))
    return out


def _template_with_values(ctx: TemplateContext, form, raw: RawWorkbook) -> bytes:
    values = {code: cell.value for code, cell in raw.cells.items() if cell.value is not None}
    return render_template(form, replace(ctx, values=values))


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
    try:
        return xlsxpatch.add_feedback(content, _marks(issues), _sheet(issues, title))
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
    from baocao.workbook import feedback_book

    content = feedback_book.marked_up(feedback_book.Base(alone=True), [], _sheet(job.issues, job.title))
    write_if_changed(job.out, content)
    return job.out


def _marks(issues: list[Issue]) -> list[xlsxpatch.Mark]:
    return [xlsxpatch.Mark(i.sheet, i.cell, _rgb(i), _note(i)) for i in _marked(issues)]


def _sheet(issues: list[Issue], title: str) -> xlsxpatch.IssuesSheet:
    rows = [
        (n, _level(i), i.location, i.message, _rgb(i), _height(i.message)) for n, i in enumerate(issues, 1)
    ]
    return xlsxpatch.IssuesSheet(ISSUES_SHEET, title, HEADERS, WIDTHS, rows)
