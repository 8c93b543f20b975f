"""The feedback workbook a unit gets back: its own file with each wrong cell marked, plus a list.

Why the unit's own file: the clerk fixes the cells in place and saves it again, instead of
retyping into a fresh template. For ``.xls`` and ``.ods`` (which openpyxl cannot write back)
the values the reader found are written into a fresh template of the same unit and period, so
the clerk still gets the same marked cells.

Two ways to write it: ``xlsxpatch`` edits the package's XML (~1 ms), used for every
.xlsx it understands; openpyxl (load, mark, save: ~40 ms; ``feedback_book``, imported only
then) for everything else, i.e. .xlsm, rebuilt templates, sheets that already carry comments
and the odd structures listed in ``xlsxpatch``. Both give the same marks and the same issues
sheet. Which route a workbook takes, and the time and memory it may use, is
``feedback_writer``'s business; a workbook that cannot be marked up within those bounds gets
``write_issues_only``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from baocao.files import create_temp, write_all
from baocao.model import Issue, RawWorkbook, Severity
from baocao.workbook import xlsxpatch
from baocao.workbook.template import TemplateContext, render_template

logger = logging.getLogger(__name__)

REJECTED_SHEET = "Lỗi cần sửa"  # the issues sheet of a rejected file
ACCEPTED_SHEET = "Kết quả kiểm tra"  # ... of an accepted file with notes
ISSUES_SHEETS = (REJECTED_SHEET, ACCEPTED_SHEET)
ISSUES_SHEET = REJECTED_SHEET  # the usual case (kept for callers that name one)
ERROR_RGB, WARNING_RGB = "FFC7CE", "F4B084"
HEADERS = ("STT", "Mức độ", "Ô", "Nội dung")
WIDTHS = (6, 10, 18, 86)  # with landscape A4 fit to one page wide, the message column never breaks


@dataclass(frozen=True)
class IssuesPage:
    """What the first sheet of a feedback workbook says before the list.

    ``accepted`` names the sheet ("Kết quả kiểm tra" for an accepted file with notes, "Lỗi cần
    sửa" for a rejected one); ``intro`` are the two or three lines on what to do, by when and
    where; ``sheet`` is the form's sheet and ``numbers`` its item numbers (field code ->
    "II.9"), so a cell reads "D32 – mục II.9" and links to the cell.
    """

    title: str
    accepted: bool = False
    intro: tuple[str, ...] = ()
    sheet: str = ""
    numbers: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return ACCEPTED_SHEET if self.accepted else REJECTED_SHEET

    def place(self, issue: Issue) -> str:
        """``D32 – mục II.9`` (``Khác!B4`` on another sheet; the sheet alone without a cell)."""
        if not issue.cell:
            return issue.sheet
        where = issue.cell if issue.sheet in ("", self.sheet) else f"{issue.sheet}!{issue.cell}"
        number = self.numbers.get(issue.field, "")
        return f"{where} – mục {number}" if number else where

    @staticmethod
    def text(issue: Issue) -> str:
        """The message without the cell it starts with (the "Ô" column already shows it)."""
        parts = issue.label_and_detail
        return f"{parts[0]}: {parts[1]}" if parts else issue.message


def _rgb(issue: Issue) -> str:
    return ERROR_RGB if issue.severity == Severity.ERROR else WARNING_RGB


def _level(issue: Issue) -> str:
    return "Lỗi" if issue.severity == Severity.ERROR else "Lưu ý"


def _note(issue: Issue) -> str:
    return f"{'LỖI' if issue.severity == Severity.ERROR else 'LƯU Ý'}: {issue.message}"


def _height(message: str, width: int = 95) -> float:
    """Points for a message in a column ``width`` characters of 11 pt wide."""
    lines = sum(max(1, math.ceil(len(part) / width)) for part in message.split("\n"))
    return 15.0 * lines + 2


def _link(issue: Issue) -> str | None:
    """The in-workbook target of an issue's cell, ``'BaoCao'!D32``."""
    if not (issue.cell and issue.sheet):
        return None
    return f"'{issue.sheet.replace(chr(39), chr(39) * 2)}'!{issue.cell}"


def _marks(issues: list[Issue]) -> list[tuple[str, str, Issue, str]]:
    """(sheet, cell, issue, comment) for every cell to mark, errors first (a cell with an error
    and a warning is red); a cross-field issue marks the other cells it compared too."""
    out = []
    for issue in sorted(
        (i for i in issues if i.cell and i.sheet), key=lambda i: i.severity != Severity.ERROR
    ):
        out.append((issue.sheet, issue.cell, issue, _note(issue)))
        for other in issue.also:
            out.append((issue.sheet, other, issue, f"{_note(issue)} (xem ô {issue.cell})"))
    return out


def _rows(issues: list[Issue], page: IssuesPage) -> list[xlsxpatch.IssueRow]:
    return [
        xlsxpatch.IssueRow(
            n, _level(i), page.place(i), page.text(i), _rgb(i), _height(page.text(i)), _link(i)
        )
        for n, i in enumerate(issues, 1)
    ]


def _intro(page: IssuesPage) -> list[tuple[str, float]]:
    return [(line, _height(line, 120)) for line in page.intro]


def _template_with_values(ctx: TemplateContext, form, raw: RawWorkbook) -> bytes:
    values = {code: cell.value for code, cell in raw.cells.items() if cell.value is not None}
    return render_template(form, replace(ctx, values=values))


def _patch_marks(issues: list[Issue]) -> list[xlsxpatch.Mark]:
    return [xlsxpatch.Mark(sheet, cell, _rgb(i), text) for sheet, cell, i, text in _marks(issues)]


def _patch_sheet(issues: list[Issue], page: IssuesPage) -> xlsxpatch.IssuesSheet:
    return xlsxpatch.IssuesSheet(page.name, page.title, HEADERS, WIDTHS, _rows(issues, page), _intro(page))


def feedback_bytes(
    source: Path,
    raw: RawWorkbook | None,
    issues: list[Issue],
    page: IssuesPage,
    rebuild: tuple[TemplateContext, object] | None = None,
) -> bytes:
    """The marked-up workbook made from ``source`` (the archived original, only read).

    ``rebuild`` is the template context and form used when the original cannot be written back
    (.xls, .ods, and ISO 29500 Strict .xlsx, of which openpyxl loads no sheet: saving it again
    would lose the unit's data). An .xlsx goes through ``xlsxpatch`` when it can (see
    ``fast_feedback``; it refuses Strict), else openpyxl.
    """
    if source.suffix.lower() == ".xlsx":
        content = fast_feedback(source.read_bytes(), issues, page)
        if content is not None:
            return content
    from baocao.workbook import feedback_book  # openpyxl: only for what the patch cannot do

    strict = (raw is not None and raw.format == "xlsx-strict") or is_strict(source)
    if source.suffix.lower() in (".xlsx", ".xlsm") and not strict:
        base = feedback_book.Base(source=source)
    elif rebuild is not None and raw is not None:
        base = feedback_book.Base(template=_template_with_values(rebuild[0], rebuild[1], raw))
    else:
        base = feedback_book.Base()
    return feedback_book.marked_up(base, _patch_marks(issues), _patch_sheet(issues, page), ISSUES_SHEETS)


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


def write_feedback(
    source: Path,
    raw: RawWorkbook | None,
    issues: list[Issue],
    out: Path,
    *,
    page: IssuesPage,
    rebuild: tuple[TemplateContext, object] | None = None,
    sync: bool = True,
) -> Path:
    """Write the marked-up workbook at ``out`` (or ``out-2``… if another file took that name)
    and return where it went (fsynced unless ``sync`` is False: see ``write_unique``). Raises
    ``OSError``."""
    return write_unique(out, feedback_bytes(source, raw, issues, page, rebuild), sync)


def write_unique(out: Path, content: bytes, sync: bool = True) -> Path:
    """Write ``content`` at ``out``, or at ``<stem>-2<suffix>``… when ``out`` holds something
    else: two files of one unit judged in the same minute keep one feedback each, and writing
    the same feedback again (a rerun after a crash) reuses its own file.

    The content is written whole to a temporary file beside ``out``, then given its name with a
    hard link, which fails when the name is taken: so two worker processes never pick the same
    name and nobody ever sees a name on half a file (where the file system has no hard links,
    the name is claimed by creating it exclusively and the temporary file renamed over it).
    ``sync=False`` leaves the fsync to the caller, who syncs a whole batch at once
    (``files.sync_folders``) before recording where the files went.
    """
    tmp = _temporary(out, content, sync)
    try:
        for number in range(1, 1000):
            path = out if number == 1 else out.with_name(f"{out.stem}-{number}{out.suffix}")
            try:
                _name(tmp, path)
            except FileExistsError:
                try:
                    if path.read_bytes() == content:
                        return path
                except OSError:
                    pass
                continue
            return path
        raise OSError(f"quá nhiều tệp phản hồi trùng tên {out.name}")
    finally:
        with contextlib.suppress(OSError):  # a leftover is swept by the next collect
            tmp.unlink(missing_ok=True)


def _temporary(out: Path, content: bytes, sync: bool) -> Path:
    """A new temporary file beside ``out`` holding ``content`` (``files.create_temp``: swept if
    a killed run leaves it), fsynced when ``sync``."""
    fd, tmp = create_temp(out.parent, out.suffix)
    try:
        try:
            write_all(fd, content)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _name(tmp: Path, path: Path) -> None:
    """Give ``tmp``'s file the name ``path`` unless that is taken (``FileExistsError``)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:  # no hard links on this file system (FAT, some shares): claim, then rename
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        os.replace(tmp, path)


def fast_feedback(content: bytes, issues: list[Issue], page: IssuesPage) -> bytes | None:
    """The feedback workbook made by editing the package's XML, or None when ``xlsxpatch``
    does not handle this package (the reason is logged at debug level; use openpyxl then).

    ``content`` must have passed ``package.inspect_package``.
    """
    try:
        return xlsxpatch.add_feedback(content, _patch_marks(issues), _patch_sheet(issues, page))
    except xlsxpatch.Unpatchable as exc:
        logger.debug("feedback through openpyxl: %s", exc)
        return None


def write_fast_feedback(source: Path, issues: list[Issue], out: Path, *, page: IssuesPage) -> Path | None:
    """Write the feedback workbook of an .xlsx through ``xlsxpatch`` (at ``out`` or the next free
    name) and return where; None (nothing written) when it needs openpyxl: then call
    ``write_feedback``. Raises ``OSError``."""
    if source.suffix.lower() != ".xlsx":
        return None
    content = fast_feedback(source.read_bytes(), issues, page)
    return None if content is None else write_unique(out, content)


@dataclass
class FeedbackJob:
    """The arguments of one ``write_feedback`` call, picklable for a worker process."""

    original_name: str
    source: Path
    raw: RawWorkbook | None  # None for an .xlsx/.xlsm: marked up from ``source`` alone
    issues: list[Issue]
    out: Path
    page: IssuesPage
    rebuild: tuple | None
    sync: bool = True  # False: whoever hands the job out syncs the files written (``write_unique``)
    # the source's inflated size, when whoever made the job held its bytes (else measured on
    # disk): a hint for the writer, not part of what is written (two jobs compare without it)
    unpacked: int | None = field(default=None, compare=False)


def write_feedback_job(job: FeedbackJob) -> Path:
    """Write one feedback workbook (any exception is the caller's to contain)."""
    return write_feedback(
        job.source, job.raw, job.issues, job.out, page=job.page, rebuild=job.rebuild, sync=job.sync
    )


def write_issues_only(job: FeedbackJob) -> Path:
    """The feedback workbook without the unit's own sheets: just the page and the list of issues.

    For a workbook too large to mark up within bounds, or one whose mark-up failed: the unit
    still gets every issue with its cell, in a file that costs nothing to write.
    """
    from baocao.workbook import feedback_book

    sheet = _patch_sheet(job.issues, job.page)
    content = feedback_book.marked_up(feedback_book.Base(alone=True), [], sheet, ())
    return write_unique(job.out, content, job.sync)
