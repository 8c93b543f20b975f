"""Collect: take what the intakes deliver, archive it, judge it, record it.

The steps and their order (``baocao.taking``): an intake delivers an arrival only when it is
complete (``baocao.intake``); its bytes are read once and hashed here, a worker process writes
the verified archive copy and reads the fields from the same bytes (``baocao.filework``); a
batch of files is made durable (copies and folders synced, journal written), then recorded and
judged in one transaction committed to disk; only then are the originals released. Feedback
workbooks are written by the same workers afterwards and recorded when written: the verdict
never waits for them.

A crash between any two steps leaves the file in the intake or archived and recorded; the next
run finishes the work (recorded-but-unjudged files are judged, originals left behind released).
One bad file costs that file only: an error while taking it leaves it where it is (reported),
an error while judging or recording it records it as ``failed`` with the reason, and the run
goes on. Only what stops every file (the archive cannot be written, the ledger is damaged)
stops the run, with a message saying what to do.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from baocao import judging as judging_step
from baocao.errors import LockedError, UsageError
from baocao.files import sweep_temporary
from baocao.filework import PRELOAD, Work, work
from baocao.intake.sources import IntakeFactory, intakes_for
from baocao.judge.context import Facts
from baocao.judge.workers import Reading, reading_of
from baocao.judging import CollectReport, Judge
from baocao.spec.deployment import Deployment, local_time
from baocao.store import archive_of, open_store, same_key
from baocao.store.archive import Archive
from baocao.store.base import Store
from baocao.taking import Taker as _Taker
from baocao.workbook.feedback_writer import MEMORY_BYTES
from baocao.workers import Pool

__all__ = [
    "CollectReport",
    "_Taker",
    "collect",
    "local_time",
    "release",
    "same_key",
    "worker_pool",
]

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


# --- the run ---------------------------------------------------------------------------------


def worker_pool(
    dep: Deployment, files: int | None = None, *, fork: bool = False, judging: bool = False
) -> Pool:
    """The worker processes of one run, for up to ``files`` files (started on first use, or
    by ``start()``): archive copies, readings and feedback workbooks (``filework``); with
    ``judging``, validation of the files they read too, units' history read from the ledger.
    ``fork``: see ``workers.Pool`` (only before the collect lock and the ledger are opened)."""
    settings = dep.settings.collect
    reading = reading_of(dep)
    context: Reading | Work = reading
    if judging:
        # the validation the collecting process runs, looked up now (``Judge.judge`` uses the same)
        context = Work(reading, Facts.of(dep), dep.settings.path("ledger"), judging_step.validate, dep)
    workers = settings.workers or os.cpu_count() or 1
    if files is not None:
        workers = min(workers, max(files, 1))
    return Pool(
        work,
        workers,
        settings.read_timeout_seconds,
        memory_bytes=MEMORY_BYTES,
        context=context,
        preload=PRELOAD,
        fork=fork,
    )


def lock_path(dep: Deployment) -> Path:
    return dep.settings.path("ledger").with_suffix(".lock")


def collect_lock(dep: Deployment) -> FileLock:
    """The lock one collect (or ledger rebuild) holds; ``LockedError`` if another has it."""
    path = lock_path(dep)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LockedError(
            f"Một lần thu nhận khác đang chạy (khóa {path}); hãy đợi lần đó xong rồi chạy lại"
        ) from None
    return lock


def collect(
    dep: Deployment,
    now: datetime | None = None,
    progress: Progress | None = None,
    intakes: Sequence[IntakeFactory] | None = None,
) -> CollectReport:
    """Take what every intake delivers, archive and judge it, record everything in the ledger.

    ``intakes``: where from (``intakes_for``); by default the folder and, when configured, the
    mailbox. An intake that cannot be read (a mail server down) is reported in
    ``CollectReport.unavailable`` and costs that intake only. ``now`` sets the clock for the
    whole run (received time bounds, stability, on-time arithmetic) so a period can be
    replayed; without it, the system clock. Raises
    ``LockedError`` when another collect holds the lock and ``StoreError`` when the ledger or
    the archive cannot be used. Bad files never raise: they are rejected with their issues, or
    recorded as failed.
    """
    simulated = now is not None
    now = local_time(now, dep.settings.timezone)
    # the workers start first: a forked worker then holds neither the lock nor the ledger
    with worker_pool(dep, fork=True, judging=True) as pool:
        pool.start()
        lock = collect_lock(dep)
        try:
            with open_store(dep.settings) as store:
                same_key(dep, store)
                archive = archive_of(dep.settings)
                for leftover in archive.sweep() + sweep_temporary(dep.settings.path("feedback")):
                    logger.info("Đã dọn tệp tạm dở dang của lần chạy bị ngắt: %s", leftover)
                factories = intakes or intakes_for(dep)
                return _run(dep, store, archive, now, simulated, progress, factories, pool)
        finally:
            lock.release()


def _run(
    dep: Deployment,
    store: Store,
    archive: Archive,
    now: datetime,
    simulated: bool,
    progress: Progress | None,
    factories: Sequence[IntakeFactory],
    pool: Pool,
) -> CollectReport:
    report = CollectReport()
    limit = int(dep.settings.collect.max_file_mb * 2**20)
    with contextlib.ExitStack() as opened:
        batches = []
        for make in factories:
            intake = make(dep, store, now, simulated)
            opened.callback(intake.close)
            done = intake.release_pending(store.not_released(intake.source))
            with store.transaction():
                store.mark_all_released(done)
            batches.append((intake, deque(intake.arrivals())))  # consumed as taken (``take_all``)
        judge = Judge(dep, store, archive, now, report, progress)
        judge.total = sum(len(a) for _, a in batches)
        taker = _Taker(store, archive, report, limit, judge, pool)
        with judge.working(pool):
            for intake, found in batches:
                taker.take_all(intake, found)  # ``found`` is empty afterwards
                intake.close()  # nothing more to fetch or move: no idle connection while judging
                report.waiting += intake.waiting()
                report.skipped += intake.skipped()
                why = intake.failure()
                if why:
                    report.unavailable.append((intake.source, why))
            judge.judge_all(pool)  # what an interrupted run left unjudged
    return report


def release(dep: Deployment, file_id: int, now: datetime | None = None) -> CollectReport:
    """Let a held file in on purpose: the coordinator vouches for whose it is.

    The file is judged again from its archived copy as if it proved its unit (same reader, same
    rules, same ledger; its received time is unchanged), so it is accepted and supersedes by
    received time like any other, or rejected if it no longer passes. Raises ``UsageError``
    when no held file has that id, ``LockedError`` while a collect runs.
    """
    now = local_time(now, dep.settings.timezone)
    lock = collect_lock(dep)
    try:
        with open_store(dep.settings) as store:
            same_key(dep, store)
            if store.vouch_for(file_id) is None:
                raise UsageError(f"Không có tệp nào đang chờ xác minh mang số {file_id} (xem baocao status)")
            report = CollectReport()
            with worker_pool(dep, 1) as pool:
                Judge(dep, store, archive_of(dep.settings), now, report).judge_all(pool)
            return report
    finally:
        lock.release()
