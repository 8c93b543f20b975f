"""Reading many workbooks in persistent worker processes, one bad file costing that file only.

Why processes: python-calamine aborts the whole process when a grid allocation fails, and any
reader can hang on a hostile file; ``read_workbook`` (``judge.reader``) runs in a worker, and a
worker that dies or passes its time is replaced, its file reported as failed, never the batch.
What the readers' native code prints (a Rust panic, an allocation failure) goes to a file the
parent logs, never to the console of the clerk or coordinator.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from baocao.errors import BaocaoError, WorkbookError
from baocao.judge.reader import RESAVE, Layouts, ReadLimits, read_workbook
from baocao.model import RawWorkbook

__all__ = ["ReaderPool", "read_workbooks"]

logger = logging.getLogger(__name__)

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
        return WorkbookError(f"Không đọc được tệp '{path.name}': lỗi chương trình đọc{note}; {RESAVE}")
    return message  # type: ignore[return-value]


def _died(path: Path, late: bool, timeout: float) -> WorkbookError:
    why = f" (quá {timeout:g} giây)" if late else ""
    return WorkbookError(
        f"Không đọc được tệp '{path.name}': chương trình đọc bị dừng bất thường{why};"
        " hãy mở tệp bằng Excel, lưu lại rồi gửi lại"
    )
