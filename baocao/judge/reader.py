"""Turning one workbook file into raw values by field code: the checked reader.

``read_workbook`` checks the package first (``judge.package``: size, bombs, passwords, DTDs,
absurd sheet areas), then reads cell values with python-calamine (about a millisecond per small
file), locating each field by its Excel defined name (a unit that inserts a row does not break
it) and falling back to the form layout's cell address. It judges nothing: validation does.
Batches run it in worker processes (``judge.workers``): a reader written in Rust or C can still
die on a hostile file.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import python_calamine as calamine
import xlrd

from baocao.a1 import cell_name, parse_cell
from baocao.judge.package import PASSWORD, Package, ReadLimits, inspect_package, refuse
from baocao.judge.values import clean
from baocao.model import CellRef, RawCell, RawWorkbook

__all__ = ["Layouts", "ReadLimits", "read_workbook"]

Layouts = Mapping[str, Mapping[str, CellRef]]
logger = logging.getLogger(__name__)


def read_workbook(
    path: Path,
    layouts: Layouts,
    *,
    meta_sheet: str = "_meta",
    version_field: str | None = None,
    limits: ReadLimits = ReadLimits(),  # noqa: B008 - frozen dataclass, safe as a default
) -> RawWorkbook:
    """Read the fields of one unit's workbook (.xlsx, .xlsm, .xls, .ods).

    ``layouts`` maps a form version to ``{field code: CellRef}``. The version is the hidden
    ``_meta`` sheet's ``form_version``, else the value of the defined name ``version_field`` (the
    form's ``version`` role, ``FormCatalog.version_field``);
    unknown versions fall back to the last layout (``RawWorkbook.form_version`` says which one
    was used; ``meta`` keeps what the file claimed). Defined names are optional: a workbook
    whose names cannot be read is read by the layout. Raises ``WorkbookError`` with a
    Vietnamese message for any file that cannot be read safely; never executes anything in it.
    """
    if not layouts:
        raise ValueError("layouts is empty: at least one form version is needed")
    path = Path(path)
    package = inspect_package(path, limits)
    names = _xls_names(path) if package.format == "xls" else package.names
    names = {name.casefold(): ref for name, ref in names.items()}  # Excel names ignore case
    try:
        with path.open("rb") as fp, calamine.CalamineWorkbook.from_filelike(fp) as book:
            sheets = _Sheets(book)
            meta = _read_meta(sheets, meta_sheet)
            version = _choose_version(meta, names, sheets, layouts, version_field)
            cells, by_name = _read_cells(path, package, names, sheets, layouts[version])
    except calamine.PasswordError as exc:
        raise refuse(path, PASSWORD) from exc
    except calamine.CalamineError as exc:
        # the library's own words are English and mean nothing to a clerk: they go to the log
        logger.info("calamine could not read %s: %s: %s", path.name, type(exc).__name__, exc)
        raise refuse(path, _UNREADABLE) from exc
    except BaseException as exc:
        # A Rust panic inside calamine surfaces as pyo3's PanicException, a BaseException that
        # cannot be imported by name; it means "this file broke the reader", not "stop the run".
        if type(exc).__name__ != "PanicException":
            raise
        logger.info("calamine panicked on %s: %s", path.name, exc)
        raise refuse(path, "có cấu trúc lạ, chương trình đọc không xử lý được; " + RESAVE) from exc
    return RawWorkbook(package.format, cells, meta, by_name, version, sheets.names)


RESAVE = "hãy mở tệp bằng Excel, lưu lại (dạng .xlsx) rồi gửi lại"
_UNREADABLE = "bị hỏng hoặc có thành phần chương trình đọc không hiểu; " + RESAVE


class _Sheets:
    """calamine sheets converted on first use and kept, so each sheet is read at most once.

    A grid starts at the sheet's first used cell (``start``), never at A1: a lone cell far down
    a sheet must not become a grid of millions of empty cells.
    """

    def __init__(self, book: calamine.CalamineWorkbook) -> None:
        self._book = book
        self.names = tuple(book.sheet_names)
        self._actual = {name.casefold(): name for name in self.names}
        self._grids: dict[str, tuple[tuple[int, int], list[list[Any]]]] = {}

    def grid(self, sheet: str) -> tuple[tuple[int, int], list[list[Any]]]:
        """``(start (row, col), rows)`` of a sheet; an empty grid for a missing or empty sheet."""
        name = self._actual.get(sheet.casefold())
        if name is None:
            return (0, 0), []
        if name not in self._grids:
            data = self._book.get_sheet_by_name(name)
            self._grids[name] = (data.start or (0, 0), data.to_python(skip_empty_area=True))
        return self._grids[name]

    def value(self, ref: CellRef) -> object:
        """The cleaned value at ``ref``; None for an empty cell or a missing sheet."""
        start, rows = self.grid(ref.sheet)
        row, col = parse_cell(ref.cell)
        return clean(_at(rows, row - start[0], col - start[1]))


def _at(rows: list[list[Any]], row: int, col: int) -> object:
    if 0 <= row < len(rows) and 0 <= col < len(rows[row]):
        return rows[row][col]
    return None


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _read_meta(sheets: _Sheets, meta_sheet: str) -> dict[str, str]:
    """Key/value rows of the hidden metadata sheet (column A key, column B value)."""
    meta: dict[str, str] = {}
    (_, left), rows = sheets.grid(meta_sheet)
    for i in range(len(rows)):
        key = clean(_at(rows, i, -left))
        if key is not None:
            meta[_as_text(key)] = _as_text(clean(_at(rows, i, 1 - left)))
    return meta


def _choose_version(
    meta: dict[str, str], names: dict[str, CellRef], sheets: _Sheets, layouts: Layouts, field: str | None
) -> str:
    version = meta.get("form_version", "")
    if not version and field and field.casefold() in names:
        version = _as_text(sheets.value(names[field.casefold()]))
    return version if version in layouts else list(layouts)[-1]


def _read_cells(
    path: Path, package: Package, names: dict[str, CellRef], sheets: _Sheets, layout: Mapping[str, CellRef]
) -> tuple[dict[str, RawCell], bool]:
    """Every field of the layout, by defined name when the workbook has it."""
    cells: dict[str, RawCell] = {}
    by_name = True
    unsaved: dict[str, frozenset[str]] = {}
    for code, fallback in layout.items():
        ref = names.get(code.casefold())
        if ref is None:
            ref, by_name = fallback, False
        ref = CellRef(ref.sheet, cell_name(*parse_cell(ref.cell)))
        value = sheets.value(ref)
        formula_only = value is None and ref.cell in _formula_only(path, package, ref.sheet, unsaved)
        cells[code] = RawCell(value, ref.sheet, ref.cell, formula_only)
    return cells, by_name


def _formula_only(
    path: Path, package: Package, sheet: str, cache: dict[str, frozenset[str]]
) -> frozenset[str]:
    """Cells of ``sheet`` with a formula but no saved result; only asked for empty cells."""
    if sheet not in cache:
        part = package.sheet_parts.get(sheet)
        if part is not None and not package.may_have_formulas(part):
            cache[sheet] = frozenset()  # the package scan saw no formula in this sheet
        elif part is not None:
            cache[sheet] = _xlsx_formula_only(path, part)
        else:  # .xls always stores results; .ods was scanned with the package
            cache[sheet] = package.formula_only.get(sheet, frozenset())
    return cache[sheet]


_XLSX_CELL_RE = re.compile(
    rb'<(?:\w{1,16}:)?c\s[^>]*?\br="([A-Z]{1,3}[0-9]{1,7})"[^>]*?(?<!/)>(.*?)</(?:\w{1,16}:)?c>', re.S
)
_HAS_VALUE_RE = re.compile(rb"<(?:\w{1,16}:)?(?:v>\s*[^<\s]|is>)")


def _xlsx_formula_only(path: Path, part: str) -> frozenset[str]:
    """Cells of a worksheet part (already checked) with a formula but no saved result.

    calamine shows such a cell as empty; reading it as blank would hide that the workbook was
    never recalculated (files written by scripts or some online editors).
    """
    with zipfile.ZipFile(path) as zf:
        data = zf.read(part)
    found = set()
    for match in _XLSX_CELL_RE.finditer(data):
        body = match.group(2)
        if b"<f" in body and not _HAS_VALUE_RE.search(body):
            found.add(match.group(1).decode())
    return frozenset(found)


def _xls_names(path: Path) -> dict[str, CellRef]:
    """Workbook-level single-cell names of an .xls (calamine exposes none; xlrd reads BIFF8).

    Names are optional (the layout is the fallback), and xlrd meets real files it cannot parse
    (assertions and ``FormulaError`` in NAME records, a dynamic name with no value, damaged
    compound files): whatever goes wrong here means "no names", never a failed file.
    """
    try:
        book = xlrd.open_workbook(file_contents=path.read_bytes(), on_demand=True, logfile=io.StringIO())
    except Exception as exc:
        logger.info("no defined names read from %s (xlrd: %s: %s)", path.name, type(exc).__name__, exc)
        return {}
    try:
        sheet_names = book.sheet_names()
        names: dict[str, CellRef] = {}
        for entries in book.name_map.values():
            for name in entries:
                ref = _xls_single_cell(name, sheet_names)
                if ref is not None and name.scope == -1:
                    names[name.name] = ref
        return names
    except Exception as exc:
        logger.info("no defined names read from %s (xlrd: %s: %s)", path.name, type(exc).__name__, exc)
        return {}
    finally:
        book.release_resources()


def _xls_single_cell(name: Any, sheet_names: list[str]) -> CellRef | None:
    result = getattr(name, "result", None)
    if result is None or result.kind != xlrd.oREF or not result.value or len(result.value) != 1:
        return None
    first, last, row, row_end, col, col_end = result.value[0].coords
    if (last - first, row_end - row, col_end - col) != (1, 1, 1) or not 0 <= first < len(sheet_names):
        return None
    return CellRef(sheet_names[first], cell_name(row, col))
