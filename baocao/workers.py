"""Work done in other processes, one bad item costing that item only.

Why: some work on a unit's file has no useful bound of its own — python-calamine aborts the
whole process when a grid allocation fails, any reader can hang on a hostile file, openpyxl
took four minutes and 2.3 GB on one 19 MB workbook. Here every item runs in a worker process:
an item past its time is stopped with its worker, a worker that dies costs the item it was on
(the items queued behind it go to a new worker), and on POSIX each worker's address space can
be capped (``RLIMIT_AS``) so a runaway item fails with a ``MemoryError`` inside the worker.
What a worker's native code prints (a Rust panic, an allocation failure) goes to a file, kept
for the log (``Failed.printed``), never to the console of a clerk or coordinator.

Items travel in jobs (several items per message, the answers come back one per item), and
each worker has up to ``DEPTH`` jobs in hand, so it never waits for the parent between jobs.

How workers start, the cheapest safe way per platform, on Linux: a plain ``fork`` of the caller
(a few ms) when the caller says nothing it holds may be inherited (``fork=True``: no lock, no
open ledger) and it runs a single thread (forking a threaded process can deadlock the child;
checked again for each worker started, a replacement included);
else a fork of a small server process (``forkserver``) that imported the job's module once, a
few ms a worker once the server runs instead of the ~0.3 s of a new interpreter. Elsewhere
``spawn`` (the only way on Windows; macOS system libraries are not safe to fork).
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from baocao.errors import BaocaoError

try:
    import resource  # POSIX only: Windows has no per-process address-space limit of this kind
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

DEPTH = 2  # jobs a worker holds: the one it works on and the next
STARTUP_SECONDS = 10.0  # a worker that is still starting (a slow disk, a busy machine) gets this more
_READY = "ready"


@dataclass(frozen=True)
class Failed:
    """An item that did not finish: ``reason`` says why, in Vietnamese where people read it.

    ``kind``: ``error`` (the function raised: ``reason`` is the traceback), ``memory`` (over the
    worker's memory cap), ``died`` (the worker process ended), ``late`` (past its time);
    ``printed``: what the worker's native code printed, for the log.
    """

    reason: str
    kind: str = "error"
    printed: str = ""


def start_method(fork: bool = False) -> str:
    """``fork``, ``forkserver`` or ``spawn`` (see the module docstring)."""
    if not sys.platform.startswith("linux"):
        return "spawn"
    return "fork" if fork and threading.active_count() == 1 else "forkserver"


def warm_up(preload: Sequence[str] = ()) -> None:
    """Start the forkserver now, if workers are forked from one, so that it imports while the
    caller does other work (the first worker would otherwise wait for it)."""
    context = multiprocessing.get_context(start_method())
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(["__main__", *preload])
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _serve(
    conn: Connection,
    parent_end: Connection,
    function: Callable,
    context: Any,
    memory_bytes: int | None,
    stderr: str,
    current: Any,
) -> None:
    """Worker process: run ``function`` on each item of each job until ``None``; one message back
    per job, and ``current`` (shared memory) says which item it is on, so the parent knows
    which item to blame if the worker dies or hangs, and that it is making progress.

    ``parent_end`` is closed at once: a forked worker holds it too, and while anything holds
    it the worker would never see the end of its pipe when the parent dies (killed, a power
    cut of a test), and would live on.
    """
    parent_end.close()
    fd = os.open(stderr, os.O_WRONLY | os.O_APPEND)
    os.dup2(fd, 2)
    os.close(fd)
    if faulthandler.is_enabled():  # inherited from a forked parent: its last words go to our file too
        faulthandler.enable(file=2)
    if memory_bytes and resource is not None:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    conn.send(_READY)
    while (items := conn.recv()) is not None:
        answers = []
        for index, item in enumerate(items):
            current.value = index
            try:
                answer: Any = function(item) if context is None else function(item, context)
            except MemoryError:
                answer = Failed("vượt giới hạn bộ nhớ", "memory")
            except Exception:
                answer = Failed(traceback.format_exc(limit=8))
            answers.append(answer)
        current.value = -1
        conn.send(answers)


Handler = Callable[[int, Any], None]


@dataclass
class _Job:
    tag: Any
    items: list
    handler: Handler | None = None  # takes (index, answer); else ``answers()`` returns them
    todo: list[int] = field(default_factory=list)  # indexes of the items still to answer

    def __post_init__(self) -> None:
        self.todo = self.todo or list(range(len(self.items)))


@dataclass
class _Worker:
    """One worker process, the jobs it holds and when the item it is on must be done."""

    process: Any
    conn: Connection
    stderr: str
    current: Any  # shared int: the item of its first job it is on (-1: between jobs)
    jobs: deque[_Job] = field(default_factory=deque)
    ready: bool = False
    deadline: float = 0.0
    seen: int = -1  # ``current`` when last looked at: a change is progress

    def stop(self, kill: bool = False) -> None:
        if not kill:
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()
        with contextlib.suppress(OSError):
            os.unlink(self.stderr)

    def last_words(self, limit: int = 2000) -> str:
        """What the worker's native code printed: the start (the panic or allocation message)
        and the end, ``limit`` characters each at most."""
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


class Pool:
    """Up to ``size`` worker processes running ``function`` (a module-level function) on items.

    ``function(item)``, or ``function(item, context)`` when a ``context`` is given (sent once to
    each worker). ``submit(tag, items)`` queues a job; ``answers()`` hands back
    ``(tag, index, answer)`` as they come, the answer being ``function``'s return value or
    ``Failed``; ``drain()`` waits for every job. Each item may take ``timeout`` seconds.
    ``preload``: modules a forkserver imports once for every worker; ``fork``: the caller may be
    forked as it is (see the module docstring).
    """

    def __init__(
        self,
        function: Callable[..., Any],
        size: int,
        timeout: float,
        *,
        memory_bytes: int | None = None,
        context: Any = None,
        preload: Sequence[str] = (),
        fork: bool = False,
    ) -> None:
        self.function = function
        # At most 30: on Windows, connection.wait handles 63 objects and each worker needs two.
        self.size = min(max(1, size), 30)
        self.timeout = timeout
        self.memory_bytes = memory_bytes
        self.context = context
        self.preload = preload
        self.ctx: Any = self._context(start_method(fork))
        self.workers: list[_Worker] = []
        self.queue: deque[_Job] = deque()
        self.frozen = False  # ``gc.freeze`` done by ``start``

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, count: int | None = None) -> None:
        """Start workers up to ``count`` (default ``size``); they get ready in the background.

        Forked workers share this process's memory until one of them writes to it, and the
        garbage collector writes to every object it looks at: what this process holds when it
        forks is set aside from collection (``gc.freeze``, undone by ``close``), so neither the
        workers nor this process walk it again (each worker then copies less of it, and this
        process's collections are cheaper)."""
        if self.ctx.get_start_method() == "fork" and not self.frozen:
            gc.freeze()
            self.frozen = True
        while len(self.workers) < min(count or self.size, self.size):
            self.workers.append(self._spawn())

    def _context(self, method: str) -> Any:
        ctx = multiprocessing.get_context(method)
        if method == "forkserver":  # the main module too: once, not per worker
            ctx.set_forkserver_preload(["__main__", *self.preload])
        return ctx

    def _spawn(self) -> _Worker:
        ctx = self.ctx
        if ctx.get_start_method() == "fork" and threading.active_count() > 1:
            # a thread has started since (collect's deletions): never fork a threaded process
            ctx = self._context("forkserver")
        conn, child = ctx.Pipe()
        fd, stderr = tempfile.mkstemp(prefix="baocao-worker-", suffix=".txt")
        os.close(fd)
        current = ctx.Value("i", -1, lock=False)
        args = (child, conn, self.function, self.context, self.memory_bytes, stderr, current)
        process = ctx.Process(target=_serve, args=args, daemon=True)
        process.start()
        child.close()
        return _Worker(process, conn, stderr, current, deadline=time.monotonic() + STARTUP_SECONDS)

    def close(self) -> None:
        for worker in self.workers:
            worker.stop(kill=bool(worker.jobs))
        self.workers = []
        if self.frozen:
            gc.unfreeze()
            self.frozen = False

    @property
    def pending(self) -> int:
        """Jobs queued or in a worker's hands."""
        return len(self.queue) + sum(len(w.jobs) for w in self.workers)

    def submit(self, tag: Any, items: list, handler: Handler | None = None) -> None:
        """Queue a job; its answers go to ``handler(index, answer)`` when one is given."""
        if items:
            self.queue.append(_Job(tag, list(items), handler))
            self._dispatch()

    def _dispatch(self) -> None:
        if self.queue and len(self.workers) < self.size:
            self.start(len(self.workers) + len(self.queue))
        for worker in sorted(self.workers, key=lambda w: len(w.jobs)):
            while self.queue and len(worker.jobs) < DEPTH:
                job = self.queue.popleft()
                try:
                    worker.conn.send([job.items[i] for i in job.todo])
                except OSError:  # died while idle: it had nothing of ours, a new one takes the job
                    self.queue.appendleft(job)
                    self._retire(worker)
                    break
                if not worker.jobs and worker.ready:
                    worker.deadline = time.monotonic() + self.timeout
                worker.jobs.append(job)

    def answers(self, timeout: float | None = None) -> list[tuple[Any, int, Any]]:
        """Wait up to ``timeout`` seconds (None: until something happens) for answers, deaths
        and deadlines; hand answers to their jobs' handlers and return the others (an empty
        list when nothing is pending)."""
        found = self._wait(timeout)
        unhandled = []
        for job, index, answer in found:
            if job.handler is None:
                unhandled.append((job.tag, index, answer))
            else:
                job.handler(index, answer)
        return unhandled

    def _wait(self, timeout: float | None) -> list[tuple[_Job, int, Any]]:
        self._dispatch()
        busy = [w for w in self.workers if w.jobs]
        if not busy:
            return []
        left = max(0.0, min(w.deadline for w in busy) - time.monotonic())
        if timeout is not None:
            left = min(left, timeout)
        ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], left))
        found: list[tuple[_Job, int, Any]] = []
        for worker in busy:
            if worker.conn in ready and self._receive(worker, found):
                continue
            died = worker.process.sentinel in ready or worker.conn in ready
            if not died and worker.current.value != worker.seen:  # on to another item: not late
                worker.seen = worker.current.value
                worker.deadline = time.monotonic() + self.timeout
            elif died or time.monotonic() >= worker.deadline:
                self._lose(worker, found, died)
        self._dispatch()
        return found

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> None:
        """Wait until every started worker has said it is ready (how long start-up takes)."""
        deadline = time.monotonic() + timeout
        while waiting := [w for w in self.workers if not w.ready]:
            left = deadline - time.monotonic()
            if left <= 0 or not wait([w.conn for w in waiting], left):
                raise BaocaoError("Không khởi động được tiến trình làm việc (worker process failed to start)")
            for worker in waiting:
                self._receive(worker, [])

    def _receive(self, worker: _Worker, found: list) -> bool:
        """Read every message waiting from ``worker``; False when it is gone."""
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                if isinstance(message, str) and message == _READY:
                    worker.ready = True
                else:  # the answers to its first job, in order
                    job = worker.jobs.popleft()
                    found += [(job, index, answer) for index, answer in zip(job.todo, message, strict=True)]
                    job.todo = []
                worker.deadline = time.monotonic() + self.timeout
        except (EOFError, OSError):
            return False
        return True

    def _lose(self, worker: _Worker, found: list, died: bool) -> None:
        """A worker that died or ran late: its item fails, what it held is queued again."""
        if not worker.ready:  # not one file's fault: the machine or the installation
            raise BaocaoError(
                "Không khởi động được tiến trình làm việc (worker process failed to start): "
                + (worker.last_words() or "không rõ lý do")
            )
        job = worker.jobs.popleft()
        if died:
            reason, kind = "tiến trình dừng bất thường", "died"
        else:
            reason, kind = f"quá {self.timeout:g} giây", "late"
        at = worker.current.value if 0 <= worker.current.value < len(job.todo) else 0
        found.append((job, job.todo.pop(at), Failed(reason, kind, worker.last_words())))
        # the items it did before are done again (their answers went with it), the rest as queued
        held = ([job] if job.todo else []) + list(worker.jobs)
        worker.jobs.clear()
        self.queue.extendleft(reversed(held))
        self._retire(worker)

    def _retire(self, worker: _Worker) -> None:
        worker.stop(kill=True)
        self.workers.remove(worker)

    def drain(self) -> Iterator[tuple[Any, int, Any]]:
        """Every answer still to come, as it comes."""
        while self.pending:
            yield from self.answers()


class Inline:
    """A ``Pool`` without processes: the items run here, when submitted (for work too small to
    be worth a worker, and where the caller already runs in one)."""

    def __init__(self, function: Callable[..., Any], context: Any = None) -> None:
        self.function = function
        self.context = context
        self.done: list[tuple[Any, int, Any, Handler | None]] = []

    def __enter__(self) -> Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.done = []

    def start(self, count: int | None = None) -> None:
        """Nothing to start."""

    @property
    def pending(self) -> int:
        return len(self.done)

    def submit(self, tag: Any, items: list, handler: Handler | None = None) -> None:
        for index, item in enumerate(items):
            try:
                answer = self.function(item) if self.context is None else self.function(item, self.context)
            except MemoryError:
                answer = Failed("vượt giới hạn bộ nhớ", "memory")
            except Exception:
                answer = Failed(traceback.format_exc(limit=8))
            self.done.append((tag, index, answer, handler))

    def answers(self, timeout: float | None = None) -> list[tuple[Any, int, Any]]:
        done, self.done = self.done, []
        unhandled = []
        for tag, index, answer, handler in done:
            if handler is None:
                unhandled.append((tag, index, answer))
            else:
                handler(index, answer)
        return unhandled

    def drain(self) -> Iterator[tuple[Any, int, Any]]:
        while self.done:
            yield from self.answers()


class BoundedPool(Pool):
    """A ``Pool`` of one item per job: ``submit(tag, payload)``, then ``results()`` yields
    ``(tag, answer)`` for every job (feedback workbooks, tests)."""

    def __init__(
        self, function: Callable[[Any], Any], size: int, timeout: float, memory_bytes: int | None = None
    ) -> None:
        super().__init__(function, size, timeout, memory_bytes=memory_bytes)

    def submit(self, tag: Any, payload: Any) -> None:  # type: ignore[override]
        super().submit(tag, [payload])

    def results(self) -> Iterator[tuple[Any, Any]]:
        for tag, _, answer in self.drain():
            yield tag, answer
