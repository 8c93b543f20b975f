"""Collect: take what the intakes deliver, archive it, judge it, record it.

The order of the steps is what makes "never lose a file" true:
1. an intake delivers an arrival only when it is complete (``baocao.intake``);
2. it is hashed while being copied into the archive, the copy is hashed again, and only a
   verified copy is put in place, written to the archive's journal and recorded in the ledger;
3. only then does the intake release the original (the folder deletes it if it is unchanged);
4. the archived copy is read (in worker processes) and validated; the outcome and, for an
   accepted file, its values are stored in one transaction.
A crash between any two steps leaves the file in the intake or archived and recorded; the next
run finishes the work (recorded-but-unjudged files are judged, originals left behind released).

One bad file costs that file only: an error while taking it leaves it where it is (reported),
an error while judging or recording it records it as ``failed`` with the reason, and the run
goes on. Only what stops every file (the archive cannot be written, the ledger is damaged)
stops the run, with a message saying what to do.

For speed, the ledger work of several files is committed together (``BATCH`` files or about a
second at a time), never out of order: a batch of files is recorded and committed before any of
their originals is released, and an outcome lost with an uncommitted batch only means the file
is judged again by the next run. Feedback workbooks are written by ``FeedbackWriter``, bounded
in time and memory, and recorded when written.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from baocao.errors import ConfigError, LockedError, StoreError, UsageError
from baocao.files import sweep_temporary
from baocao.intake.base import Arrival, Changed, Intake, Refused
from baocao.intake.folder import FolderIntake
from baocao.judge.reader import ReadLimits
from baocao.judge.workers import ReaderPool
from baocao.judging import BATCH, CollectReport, FileResult, Judge
from baocao.model import FileRecord, Issue, Severity
from baocao.spec.deployment import Deployment
from baocao.store import archive_of, open_store
from baocao.store.archive import Archive, Copy, Entry, SourceError, TooLarge, file_hash
from baocao.store.base import Store

logger = logging.getLogger(__name__)

COPY_THREADS = 4  # archive copies made at once

Progress = Callable[[int, int, str], None]
IntakeFactory = Callable[[Deployment, Store, datetime, bool], Intake]


def folder_intake(dep: Deployment, store: Store, now: datetime, simulated: bool) -> Intake:
    """The shared inbox folder of ``dep`` as an intake."""
    settings = dep.settings
    inbox = settings.path("inbox")
    inbox.mkdir(parents=True, exist_ok=True)
    return FolderIntake(
        inbox,
        store,
        now,
        stable_seconds=settings.collect.stable_seconds,
        simulated=simulated,
        max_bytes=int(settings.collect.max_file_mb * 2**20),
    )


# --- taking: archive and record --------------------------------------------------------------


@dataclass(frozen=True)
class _NotTaken:
    """Why an arrival was not copied: ``waiting`` (try next run), ``skipped`` (refused, left where
    it is) or ``too_large`` (recorded as rejected without a copy)."""

    kind: str
    message: str


class _Taker:
    """Archive and record arrivals in batches, then release their originals."""

    def __init__(self, store: Store, archive: Archive, report: CollectReport, limit: int) -> None:
        self.store = store
        self.archive = archive
        self.report = report
        self.limit = limit
        self.containers: dict[str, FileRecord] = {}  # by arrival key: parents of later arrivals

    def take_all(self, intake: Intake, arrivals: Sequence[Arrival]) -> None:
        """The copies of a chunk are made by a few threads at once (copying is file-system work
        that releases the GIL); the ledger is written by this thread alone, in order."""
        with ThreadPoolExecutor(max_workers=COPY_THREADS) as copier:
            for chunk in _chunks(arrivals, BATCH):
                recorded = self._take_chunk(intake, chunk, copier)
                for arrival, rec in recorded:
                    if arrival.container and rec.status == "container":
                        self._expand(intake, arrival, rec, copier)
                # recorded and committed: only now may the originals go
                with self.store.transaction():
                    for arrival, rec in recorded:
                        if arrival.parent is None and rec.archive_path and self._release(intake, arrival):
                            self.store.mark_released(rec.saved_id)

    @staticmethod
    def _release(intake: Intake, arrival: Arrival) -> bool:
        """Let the original go; a failure leaves it for the next run (it is archived and recorded)."""
        try:
            return intake.release(arrival)
        except StoreError:
            raise
        except Exception:
            logger.exception("Chưa giải phóng được %s; thử lại lần sau", arrival.location)
            return False

    def _expand(
        self, intake: Intake, container: Arrival, rec: FileRecord, copier: ThreadPoolExecutor
    ) -> None:
        try:
            children = intake.expand(container, self.archive.path(rec.archive_path))
        except Exception:  # a malformed envelope costs that envelope: it is archived, and logged
            logger.exception("Không tách được các tệp trong %s", container.location)
            return
        for chunk in _chunks(children, BATCH):
            self._take_chunk(intake, chunk, copier, parent=rec)

    def _take_chunk(
        self,
        intake: Intake,
        chunk: list[Arrival],
        copier: ThreadPoolExecutor,
        parent: FileRecord | None = None,
    ) -> list[tuple[Arrival, FileRecord]]:
        copies = list(copier.map(lambda a: self._copy(intake, a), chunk))
        recorded: list[tuple[Arrival, FileRecord]] = []
        entries: list[Entry] = []
        with self.store.transaction():
            for arrival, copy in zip(chunk, copies, strict=True):
                try:
                    with self.store.transaction():
                        rec = self._record(arrival, copy, parent)
                except StoreError:
                    raise
                except Exception as exc:  # costs this arrival only: it stays for the next run
                    logger.exception("Lỗi khi lưu trữ %s", arrival.location)
                    self._drop(arrival, copy)
                    self.report.skipped.append((arrival.location, f"lỗi chương trình khi lưu trữ: {exc}"))
                    continue
                if rec is None:
                    continue
                recorded.append((arrival, rec))
                if arrival.container:
                    self.containers[arrival.key] = rec
                if rec.archive_path and arrival.archive_path is None:
                    entries.append(_entry(arrival, rec))
            self.archive.journal(entries)  # in the archive before the ledger commits
        return recorded

    def _copy(self, intake: Intake, arrival: Arrival) -> Copy | _NotTaken:
        """A verified temporary copy in the archive, or why not; for an arrival already in the
        archive (a rebuild), that copy itself, hashed again."""
        if arrival.archive_path is not None:
            path = self.archive.path(arrival.archive_path)
            try:
                return Copy(path, file_hash(path), path.stat().st_size)
            except OSError as exc:
                return _NotTaken("skipped", f"bản lưu trữ {arrival.archive_path} không đọc được: {exc}")
        try:
            with intake.open(arrival) as stream:
                copy = self.archive.copy(stream, arrival.received_at, self.limit)
        except Refused as exc:
            return _NotTaken("too_large" if exc.code == "too_large" else "skipped", exc.message)
        except TooLarge as exc:
            return _NotTaken(
                "waiting", f"{arrival.location} lớn dần khi đang chép ({exc} byte); để lại lần sau"
            )
        except Changed:
            return _NotTaken("waiting", f"{arrival.location} đổi trong khi chép; để lại lần sau")
        except PermissionError as exc:
            return _NotTaken(
                "skipped",
                f"không có quyền đọc tệp ({exc.strerror or exc}); hãy cho tài khoản chạy baocao quyền đọc",
            )
        except (SourceError, OSError) as exc:
            return _NotTaken("waiting", f"Không đọc được {arrival.location}, để lại lần sau: {exc}")
        if not intake.unchanged(arrival):
            self.archive.discard(copy)
            return _NotTaken("waiting", f"{arrival.location} đổi trong khi chép; để lại lần sau")
        return copy

    def _drop(self, arrival: Arrival, copy: Copy | _NotTaken) -> None:
        """Forget a temporary copy (never an archived one a rebuild works from)."""
        if isinstance(copy, Copy) and arrival.archive_path is None:
            self.archive.discard(copy)

    def _record(
        self, arrival: Arrival, copy: Copy | _NotTaken, parent: FileRecord | None
    ) -> FileRecord | None:
        """Record one copied arrival (the caller commits, then releases the original)."""
        base = FileRecord(
            "",
            original_name=arrival.name,
            inbox_path=arrival.location,
            archive_path="",
            size=arrival.size or 0,
            received_at=arrival.received_at,
            source=arrival.source,
            sender=arrival.sender,
            arrival_key=arrival.key,
            parent_id=parent.saved_id if parent else None,
        )
        if parent is None and arrival.parent in self.containers:
            base.parent_id = self.containers[arrival.parent].saved_id
        if isinstance(copy, _NotTaken):
            return self._not_taken(arrival, copy, base)
        known = None if arrival.container else self.store.first_with_hash(copy.sha256)
        if known is not None:
            self._drop(arrival, copy)
            rec = replace(
                base,
                sha256=copy.sha256,
                archive_path=known.archive_path,
                size=copy.size,
                status="duplicate",
                duplicate_of=known.id,
                unit=known.unit,
                period=known.period,
            )
            self.store.add_file(rec)
            self.report.results.append(
                FileResult(
                    arrival.location,
                    "duplicate",
                    known.unit,
                    known.period,
                    file_id=rec.id,
                    received_at=rec.received_at,
                )
            )
            return rec
        archive_path = arrival.archive_path or self.archive.place(copy, arrival.name, arrival.received_at)
        status = "container" if arrival.container else "archived"
        rec = replace(base, sha256=copy.sha256, archive_path=archive_path, size=copy.size, status=status)
        self.store.add_file(rec)
        return rec

    def _not_taken(self, arrival: Arrival, why: _NotTaken, base: FileRecord) -> FileRecord | None:
        """A file too large is recorded as rejected without a copy (and never released); anything
        else not taken is reported and left where it is."""
        if why.kind != "too_large":
            logger.warning("%s", why.message)
            if why.kind == "waiting":
                self.report.waiting.append(arrival.location)
            else:
                self.report.skipped.append((arrival.location, why.message))
            return None
        issue = Issue(Severity.ERROR, "too_large", f"Tệp '{arrival.name}': {why.message}")
        rec = replace(base, status="rejected", issues=[issue])
        self.store.add_file(rec)
        self.report.results.append(
            FileResult(
                arrival.location, "rejected", issues=[issue], file_id=rec.id, received_at=rec.received_at
            )
        )
        return rec


def _entry(arrival: Arrival, rec: FileRecord) -> Entry:
    return Entry(
        archive_path=rec.archive_path,
        sha256=rec.sha256,
        size=rec.size,
        original_name=rec.original_name,
        inbox_path=rec.inbox_path,
        received_at=rec.received_at.isoformat(),
        source=rec.source,
        sender=rec.sender,
        arrival_key=rec.arrival_key,
        parent_key=arrival.parent,
        container=arrival.container,
    )


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    """Chunks of 1, 2, 4… up to ``size`` items: the first files are durable at once, and a long
    run still commits rarely."""
    iterator, step = iter(items), 1
    while chunk := list(itertools.islice(iterator, step)):
        yield chunk
        step = min(step * 2, size)


# --- the run ---------------------------------------------------------------------------------


def reader_pool(dep: Deployment, files: int) -> ReaderPool:
    """The reader processes for up to ``files`` files (started by ``start()`` or on first read)."""
    settings = dep.settings.collect
    limits = ReadLimits(
        max_file_bytes=int(settings.max_file_mb * 2**20),
        max_unpacked_bytes=int(settings.max_unpacked_mb * 2**20),
        timeout_seconds=settings.read_timeout_seconds,
    )
    workers = min(settings.workers or os.cpu_count() or 1, max(files, 1))
    return ReaderPool(
        dep.catalog.layouts(), workers=workers, limits=limits, version_field=dep.catalog.version_field
    )


def local_time(now: datetime | None, tz) -> datetime:
    """``now`` in the deployment's zone (a naive time is taken as local); the system clock if None."""
    if now is None:
        return datetime.now(tz)
    return now.replace(tzinfo=tz) if now.tzinfo is None else now.astimezone(tz)


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
    intakes: Sequence[IntakeFactory] = (folder_intake,),
) -> CollectReport:
    """Take what every intake delivers, archive and judge it, record everything in the ledger.

    ``now`` sets the clock for the whole run (received time bounds, stability, on-time
    arithmetic) so a period can be replayed; without it, the system clock. Raises
    ``LockedError`` when another collect holds the lock and ``StoreError`` when the ledger or
    the archive cannot be used. Bad files never raise: they are rejected with their issues, or
    recorded as failed.
    """
    simulated = now is not None
    now = local_time(now, dep.settings.timezone)
    lock = collect_lock(dep)
    try:
        with open_store(dep.settings) as store:
            same_key(dep, store)
            archive = archive_of(dep.settings)
            for leftover in archive.sweep() + sweep_temporary(dep.settings.path("feedback")):
                logger.info("Đã dọn tệp tạm dở dang của lần chạy bị ngắt: %s", leftover)
            return _run(dep, store, archive, now, simulated, progress, intakes)
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
) -> CollectReport:
    report = CollectReport()
    limit = int(dep.settings.collect.max_file_mb * 2**20)
    taker = _Taker(store, archive, report, limit)
    intakes = [make(dep, store, now, simulated) for make in factories]
    batches = []
    for intake in intakes:
        done = intake.release_pending(store.not_released(intake.source))
        with store.transaction():
            for file_id in done:
                store.mark_released(file_id)
        batches.append((intake, intake.arrivals()))
    with reader_pool(dep, sum(len(a) for _, a in batches) + len(store.unprocessed())) as readers:
        if any(arrivals for _, arrivals in batches):
            readers.start()  # the workers start up while the files are archived
        for intake, arrivals in batches:
            taker.take_all(intake, arrivals)
            report.waiting += intake.waiting()
            report.skipped += intake.skipped()
        Judge(dep, store, archive, now, report, progress).judge_all(readers)
    return report


def same_key(dep: Deployment, store: Store) -> None:
    """Refuse to go on with a signing key other than the one this deployment has used.

    Why: the key lives outside the deployment folder, per user; a scheduled task running as
    another account (Windows: SYSTEM), a new machine or a lost key file would otherwise make a
    new key silently, and every template already sent to units would fail to verify (held).
    """
    recorded = store.claim_key(dep.signing_key.key_id)
    if recorded is not None:
        raise ConfigError(
            f"Khóa ký biểu mẫu đang dùng (mã {dep.signing_key.key_id}, lấy từ {dep.signing_key.source}) "
            f"khác khóa của sổ theo dõi này (mã {recorded}): các biểu mẫu đã phát sẽ không xác minh được. "
            f"Hãy chạy bằng tài khoản đã tạo khóa, hoặc đặt biến môi trường BAOCAO_SECRET bằng khóa đó "
            "(xem README, mục Khóa ký biểu mẫu)"
        )


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
            with reader_pool(dep, 1) as readers:
                Judge(dep, store, archive_of(dep.settings), now, report).judge_all(readers)
            return report
    finally:
        lock.release()
