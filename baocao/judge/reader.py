"""Turning a workbook file into raw values by field code, one file or a crash-isolated batch.

``read_workbook`` checks the package first (``baocao.package``: size, bombs, passwords, DTDs,
absurd sheet areas), then reads cell values with python-calamine (about a millisecond per small
file), locating each field by its Excel defined name (a unit that inserts a row does not break
it) and falling back to the form layout's cell address. It judges nothing: validation does.

``read_workbooks`` runs the same function in persistent worker processes, because a reader
written in Rust or C can still die on a hostile file (calamine aborts the process when a grid
allocation fails) or hang; then only that file is reported as failed, never the batch.
"""

from __future__ import annotations

import contextlib
import io
import logging
import multiprocessing
import os
import re
import tempfile
import time
import traceback
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import python_calamine as calamine
import xlrd

from baocao.a1 import cell_name, parse_cell
from baocao.errors import BaocaoError, WorkbookError
from baocao.judge.package import PASSWORD, Package, ReadLimits, inspect_package, refuse
from baocao.judge.values import clean
from baocao.model import CellRef, RawCell, RawWorkbook

__all__ = ["Layouts", "ReadLimits", "ReaderPool", "read_workbook", "read_workbooks"]

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
        raise refuse(path, "có cấu trúc lạ, chương trình đọc không xử lý được; " + _RESAVE) from exc
    return RawWorkbook(package.format, cells, meta, by_name, version, sheets.names)


_RESAVE = "hãy mở tệp bằng Excel, lưu lại (dạng .xlsx) rồi gửi lại"
_UNREADABLE = "bị hỏng hoặc có thành phần chương trình đọc không hiểu; " + _RESAVE


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


# ---------------------------------------------------------------- batch reading in workers

_READY = "ready"


class _Bug:
    """A traceback from a worker: an unexpected error is logged in the parent, not lost."""

    def __init__(self, text: str) -> None:
        self.text = text


def _serve(conn: Connection, layouts: dict, limits: ReadLimits, kw: dict, stderr: str) -> None:
    """Worker process: read paths from ``conn`` until ``None``, send back one outcome each.

    What native code prints (a Rust panic message and backtrace, an allocation failure before
    an abort) goes to the file ``stderr``, which the parent logs if the worker dies: never to
    the console of a clerk or coordinator.
    """
    fd = os.open(stderr, os.O_WRONLY | os.O_APPEND)
    os.dup2(fd, 2)
    os.close(fd)
    conn.send(_READY)
    while (path := conn.recv()) is not None:
        try:
            outcome: object = read_workbook(path, layouts, limits=limits, **kw)
        except WorkbookError as exc:
            outcome = exc
        except Exception:  # not swallowed: the parent logs the traceback and reports the file
            outcome = _Bug(traceback.format_exc())
        conn.send(outcome)


class _Worker:
    """One persistent reader process and the file it is working on, if any."""

    def __init__(self, ctx: Any, args: tuple) -> None:
        self.conn, child = ctx.Pipe()
        fd, self.stderr = tempfile.mkstemp(prefix="baocao-reader-", suffix=".txt")
        os.close(fd)
        self.process = ctx.Process(target=_serve, args=(child, *args, self.stderr), daemon=True)
        self.process.start()
        child.close()
        self.ready = False
        self.path: Path | None = None
        self.deadline = 0.0

    def start(self, path: Path, timeout: float) -> None:
        self.conn.send(path)
        self.path, self.deadline = path, time.monotonic() + timeout

    def stop(self, kill: bool = False) -> None:
        if not kill:
            try:
                self.conn.send(None)
            except OSError:
                kill = True
            self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()
        with contextlib.suppress(OSError):
            os.unlink(self.stderr)

    def last_words(self, limit: int = 2000) -> str:
        """What the worker's native code printed, for the log when it died: the start (the
        panic or allocation message) and the end, ``limit`` characters each at most."""
        try:
            with open(self.stderr, "rb") as fp:
                head = fp.read(limit)
                size = os.fstat(fp.fileno()).st_size
                fp.seek(max(len(head), size - limit))
                tail = fp.read(limit)
        except OSError:
            return ""
        text = head.decode("utf-8", "replace")
        if tail:
            text += (" … " if size > 2 * limit else "") + tail.decode("utf-8", "replace")
        return text.strip()


def read_workbooks(
    paths: Sequence[Path],
    layouts: Layouts,
    *,
    workers: int = 0,
    limits: ReadLimits = ReadLimits(),  # noqa: B008 - frozen dataclass, safe as a default
    **kw: Any,
) -> Iterator[tuple[Path, RawWorkbook | WorkbookError]]:
    """Read many files in worker processes; yield ``(path, RawWorkbook | WorkbookError)``.

    ``workers=0`` means one per CPU. Results come in completion order. A worker that dies or
    exceeds ``limits.timeout_seconds`` on a file costs that file only (reported as a
    ``WorkbookError``) and is replaced. Workers are started with ``spawn`` on every platform,
    as on Windows. ``kw`` goes to ``read_workbook`` (``meta_sheet``, ``version_field``).
    """
    paths = [Path(p) for p in paths]
    pool = ReaderPool(
        layouts, workers=min(workers or os.cpu_count() or 1, max(len(paths), 1)), limits=limits, **kw
    )
    with pool:
        yield from pool.read(paths)


class ReaderPool:
    """Persistent reader processes: ``read_workbooks`` for callers that start them early.

    Why: a ``spawn`` worker takes ~0.3 s to start (a fresh interpreter importing calamine and
    xlrd). ``collect`` starts its pool before it hashes and archives the inbox, so that start-up
    overlaps with that work. ``start()`` begins starting the workers without waiting for them;
    ``read()`` starts them if needed; leaving the ``with`` block stops them (killing a worker
    still busy). Raises ``TypeError`` at once for keyword arguments ``read_workbook`` does not take.
    """

    def __init__(
        self,
        layouts: Layouts,
        *,
        workers: int = 0,
        limits: ReadLimits = ReadLimits(),  # noqa: B008 - frozen dataclass, safe as a default
        **kw: Any,
    ) -> None:
        unknown = set(kw) - {"meta_sheet", "version_field"}
        if unknown:  # caught here, not as one "reader bug" per file in the workers
            raise TypeError(f"read_workbooks() got unexpected keyword arguments: {sorted(unknown)}")
        # At most 30: on Windows, connection.wait handles 63 objects and each worker needs two.
        self.count = min(workers or os.cpu_count() or 1, 30)
        self.limits = limits
        self.args = ({version: dict(layout) for version, layout in layouts.items()}, limits, kw)
        self.ctx = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []

    def __enter__(self) -> ReaderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the missing workers (they get ready in the background)."""
        while len(self.workers) < self.count:
            self.workers.append(_Worker(self.ctx, self.args))

    def close(self) -> None:
        for worker in self.workers:
            if worker is not None:  # a generator closed mid-collect may leave a retired slot
                worker.stop(kill=worker.path is not None)
        self.workers = []

    def read(self, paths: Iterable[Path]) -> Iterator[tuple[Path, RawWorkbook | WorkbookError]]:
        """Read ``paths``; yield ``(path, RawWorkbook | WorkbookError)`` in completion order."""
        pending = deque(Path(p) for p in paths)
        if not pending:
            return
        self.start()
        pool = self.workers
        while pending or any(w.path is not None for w in pool):
            for worker in pool:
                if worker.ready and worker.path is None and pending:
                    worker.start(pending.popleft(), self.limits.timeout_seconds)
            yield from _collect(pool, self.ctx, self.args, bool(pending))


def _collect(pool: list[_Worker], ctx: Any, args: tuple, more: bool) -> Iterator[tuple[Path, Any]]:
    """Wait for the next message, death or deadline among the workers; yield finished files."""
    running = [w.deadline for w in pool if w.path is not None]
    timeout = max(0.0, min(running) - time.monotonic()) if running else None
    ready = set(wait([w.conn for w in pool] + [w.process.sentinel for w in pool], timeout))
    for i, worker in enumerate(pool):
        path = worker.path
        if worker.conn in ready:
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                message = None
            if isinstance(message, str) and message == _READY:
                worker.ready = True
                continue
            if message is not None and path is not None:
                worker.path = None
                yield path, _outcome(path, message)
                continue
        elif worker.process.sentinel not in ready and not (path and time.monotonic() >= worker.deadline):
            continue
        if not worker.ready:
            raise BaocaoError("Không khởi động được tiến trình đọc tệp (worker process failed to start)")
        late = worker.conn not in ready and worker.process.sentinel not in ready
        if path is not None and _logging_set_up():
            logger.warning(
                "reader process %s on %s; it printed: %s",
                "timed out" if late else "died",
                path.name,
                worker.last_words() or "nothing",
            )
        worker.stop(kill=True)
        pool[i] = _Worker(ctx, args) if more else None  # type: ignore[assignment]
        if path is not None:
            yield path, _died(path, late, args[1].timeout_seconds)
    pool[:] = [w for w in pool if w is not None]


def _logging_set_up(level: int = logging.WARNING) -> bool:
    """Whether a log handler takes the reader's warnings. Without one Python prints them (and
    a traceback) on the console, which a clerk or coordinator must never see; so the reader
    logs only where logging was set up (``check`` and ``run`` do) and says "logged" only then."""
    return logger.isEnabledFor(level) and logger.hasHandlers()


def _outcome(path: Path, message: object) -> RawWorkbook | WorkbookError:
    if isinstance(message, _Bug):
        logged = _logging_set_up(logging.ERROR)
        if logged:
            logger.error("unexpected error while reading %s:\n%s", path, message.text)
        note = " (đã ghi nhật ký)" if logged else ""
        return WorkbookError(f"Không đọc được tệp '{path.name}': lỗi chương trình đọc{note}; {_RESAVE}")
    return message  # type: ignore[return-value]


def _died(path: Path, late: bool, timeout: float) -> WorkbookError:
    why = f" (quá {timeout:g} giây)" if late else ""
    return WorkbookError(
        f"Không đọc được tệp '{path.name}': chương trình đọc bị dừng bất thường{why};"
        " hãy mở tệp bằng Excel, lưu lại rồi gửi lại"
    )
