"""Work done in other processes, each job bounded in time (and in memory where the system can).

Why: some work on a unit's file has no useful bound of its own — openpyxl loading and saving a
19 MB workbook took four minutes and 2.3 GB. Run in the collecting process it would hold the
collect lock that long, or take the process down. Here a job that runs past its time is killed
with its worker (a new worker takes the next job), a worker that dies costs its job only, and
on POSIX each worker's address space is capped (``RLIMIT_AS``) so a runaway job fails with a
``MemoryError`` inside the worker instead of exhausting the machine.

Workers start with ``spawn`` on every platform (as on Windows) and live for the whole batch.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

try:
    import resource  # POSIX only: Windows has no per-process address-space limit of this kind
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

_READY = "ready"


@dataclass(frozen=True)
class Failed:
    """A job that did not finish: ``reason`` says why (error text, died, over time)."""

    reason: str


def _serve(conn: Connection, function: Callable[[Any], Any], memory_bytes: int | None) -> None:
    """Worker process: run ``function`` on each payload until ``None``; one answer per payload."""
    if memory_bytes and resource is not None:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    conn.send(_READY)
    while (payload := conn.recv()) is not None:
        try:
            answer: Any = function(payload)
        except MemoryError:
            answer = Failed("vượt giới hạn bộ nhớ")
        except Exception:
            answer = Failed(traceback.format_exc(limit=5))
        conn.send(answer)


class _Worker:
    def __init__(self, ctx: Any, function: Callable[[Any], Any], memory_bytes: int | None) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, function, memory_bytes), daemon=True)
        self.process.start()
        child.close()
        self.tag: Any = None
        self.busy = False
        self.ready = False
        self.deadline = 0.0

    def give(self, tag: Any, payload: Any, timeout: float) -> None:
        self.conn.send(payload)
        self.tag, self.busy, self.deadline = tag, True, time.monotonic() + timeout

    def stop(self) -> None:
        if not self.busy:
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


class BoundedPool:
    """Up to ``size`` worker processes running ``function`` (a module-level function) on payloads.

    ``submit(tag, payload)`` hands a job to a free worker (waiting for one if all are busy);
    ``results()`` waits for every job and yields ``(tag, answer)``, the answer being
    ``function``'s return value or ``Failed``. ``timeout`` counts from the moment a started
    worker has the job (a worker still starting gets ``STARTUP_SECONDS`` more).
    """

    STARTUP_SECONDS = 10.0  # a spawned interpreter importing openpyxl, on a slow disk

    def __init__(
        self,
        function: Callable[[Any], Any],
        size: int,
        timeout: float,
        memory_bytes: int | None = None,
    ) -> None:
        self.function = function
        self.size = max(1, size)
        self.timeout = timeout
        self.memory_bytes = memory_bytes
        self.ctx = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []
        self.answers: list[tuple[Any, Any]] = []

    def __enter__(self) -> BoundedPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, tag: Any, payload: Any) -> None:
        while True:
            idle = next((w for w in self.workers if not w.busy), None)
            if idle is not None:
                idle.give(tag, payload, self.timeout if idle.ready else self.STARTUP_SECONDS + self.timeout)
                return
            if len(self.workers) < self.size:
                worker = _Worker(self.ctx, self.function, self.memory_bytes)
                worker.give(tag, payload, self.STARTUP_SECONDS + self.timeout)
                self.workers.append(worker)
                return
            self._collect()

    def results(self) -> Iterator[tuple[Any, Any]]:
        while any(w.busy for w in self.workers):
            self._collect()
        answers, self.answers = self.answers, []
        yield from answers

    def _collect(self) -> None:
        """Wait for the next answer, death or deadline; keep what finished in ``answers``."""
        busy = [w for w in self.workers if w.busy]
        if not busy:
            return
        left = max(0.0, min(w.deadline for w in busy) - time.monotonic())
        ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], left))
        for worker in busy:
            if worker.conn in ready:
                try:
                    answer = worker.conn.recv()
                except (EOFError, OSError):
                    answer = None
                if isinstance(answer, str) and answer == _READY:
                    worker.ready = True
                    worker.deadline = time.monotonic() + self.timeout  # the job starts now
                    continue
                if answer is not None:
                    self.answers.append((worker.tag, answer))
                    worker.busy, worker.tag = False, None
                    continue
            died = worker.process.sentinel in ready or worker.conn in ready
            if not died and time.monotonic() < worker.deadline:
                continue
            reason = "tiến trình dừng bất thường" if died else f"quá {self.timeout:g} giây"
            self.answers.append((worker.tag, Failed(reason)))
            worker.busy = False  # so that stop() kills rather than asks
            worker.process.kill()
            worker.stop()
            self.workers.remove(worker)

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []
