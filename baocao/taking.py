"""Taking arrivals: archive them, record them (judged, in collect) and release their originals.

The order that makes "never lose a file" true, batch by batch (``BATCH`` files, fewer for the
first batches so the first files are durable at once):
1. this process reads each original once through its intake and hashes it (``Archive.copy``);
   a file that changed meanwhile is left for the next run; a known hash is a duplicate;
2. a worker writes the archive copy from those bytes (synced, read back, hashed again, renamed
   into place) and reads the fields from the same bytes (``filework``);
3. the batch's archive folders are synced, its journal lines written and synced, then its file
   rows and, in collect, their verdicts are committed in one transaction at a synchronous
   level that survives a power cut;
4. only then are the originals released (the folder deletes each one if it is unchanged, while
   this process waits for the workers' answers); the next commit marks them gone.
While the workers copy and read one batch, this process reads the next one's originals.

A crash between any two steps leaves every file in its intake, or archived and recorded; the
next run finishes the work. One bad file costs that file only: an error while taking it leaves
it where it is (reported), an error while judging or recording it records it as ``failed``.
Only what stops every file (the archive cannot be written, the ledger is damaged) stops the run.
Containers (an e-mail) are taken on their own, their copy written here, then expanded: their
attachments are taken like any file, and the container is released after them.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from baocao.errors import StoreError
from baocao.filework import Take, Taken, work
from baocao.intake.base import Arrival, Changed, Intake, Refused, Releasing
from baocao.judge.workers import Reading
from baocao.judging import (
    BATCH,
    CollectReport,
    FileResult,
    Judge,
    is_spreadsheet,
    unsupported_issue,
)
from baocao.model import FileRecord, Issue, Severity
from baocao.store import archive as archiving
from baocao.store.archive import (
    Archive,
    ArchiveError,
    Copy,
    Entry,
    SourceError,
    TooLarge,
    file_hash,
    sync_folders,
    write_copy,
)
from baocao.store.base import Store, first_copy
from baocao.workers import Failed, Inline, Pool

logger = logging.getLogger(__name__)

JOB_BYTES = 64 * 2**10  # bytes of originals per message to a worker (a few small files, or one big)
PUMP_EVERY = 16  # files this process handles between two looks at the workers' answers
TAPER = 32  # the smallest of the last batches of a run (``_chunks``)
RELEASE_SECONDS = 0.002  # originals released between two looks at the workers' answers


@dataclass(frozen=True)
class _NotTaken:
    """Why an arrival was not copied: ``waiting`` (try next run), ``skipped`` (refused, left where
    it is) or ``too_large`` (recorded as rejected without a copy)."""

    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class _First:
    """What a later copy of the same bytes in this run needs of the first one, once that one is
    recorded (a run remembers every hash it took: a few fields, not the whole item)."""

    archive_path: str
    id: int | None
    unit: str | None
    period: str | None


@dataclass
class _Item:
    """One arrival of a batch and what became of it."""

    arrival: Arrival
    copy: Copy | _NotTaken
    archive_path: str = ""  # where its copy is (or the copy it duplicates), relative
    known: FileRecord | _Item | _First | None = None  # the file these bytes already are
    written: bool = False  # this run writes its copy
    taken: Taken | Failed | None = None  # the worker's answer
    rec: FileRecord | None = None


@dataclass
class _Batch:
    intake: Intake
    parent: FileRecord | None
    items: list[_Item] = field(default_factory=list)
    sent: int = 0
    answered: int = 0


class Taker:
    """Archive and record arrivals in batches, then release their originals (module docstring).

    With a ``judge`` (collect), each file is read by ``pool`` and judged in the transaction that
    records it; without one (a test, the first pass of a rebuild) files are only archived and
    recorded, unjudged. ``pool`` defaults to doing the work in this process.
    """

    def __init__(
        self,
        store: Store,
        archive: Archive,
        report: CollectReport,
        limit: int,
        judge: Judge | None = None,
        pool: Pool | Inline | None = None,
    ) -> None:
        self.store = store
        self.archive = archive
        self.report = report
        self.limit = limit
        self.judge = judge
        self.pool = pool or Inline(work, Reading({}))
        self.containers: dict[str, FileRecord] = {}  # by arrival key: parents of later arrivals
        # hash -> the first file with those bytes in this run, until the ledger can tell
        self.seen: dict[str, _Item | _First] = {}
        self.pending: deque[_Batch] = deque()
        self.held: list[tuple[Intake, Arrival, FileRecord]] = []  # committed, originals not released
        # originals being released (``_let_go``), with their records
        self.releasing: list[tuple[list[FileRecord], Releasing]] = []

    def take_all(self, intake: Intake, arrivals: Sequence[Arrival] | deque[Arrival]) -> None:
        """Take ``arrivals`` in batches. A ``deque`` is consumed as it is taken (collect's: a run
        of 10,000 files then does not hold every arrival, its path and stat, to the end)."""
        for chunk in _chunks(arrivals, BATCH):
            plain = [a for a in chunk if not a.container]
            if plain:
                self._start(intake, plain)
            for container in (a for a in chunk if a.container):
                self._take_container(intake, container)
        self.finish()

    def finish(self) -> None:
        while self.pending:
            self._finish(self.pending.popleft())
        self._let_go()
        if self.releasing:
            with self.store.transaction():
                self._record_released()

    # --- 1. read and hash the originals, hand the copies to the workers ------------------

    def _start(self, intake: Intake, arrivals: list[Arrival], parent: FileRecord | None = None) -> None:
        batch = _Batch(intake, parent)
        job: list[tuple[_Item, Take]] = []
        size = 0
        for arrival in arrivals:
            item = self._prepare(intake, arrival)
            batch.items.append(item)
            take = self._take_of(item)
            if take is not None:
                job.append((item, take))
                size += len(take.content)
                if size >= JOB_BYTES:
                    self._send(batch, job)
                    job, size = [], 0
        self._send(batch, job)
        self.pending.append(batch)
        while len(self.pending) > 1:  # one batch in the workers' hands while the next is read
            self._finish(self.pending.popleft())

    def _prepare(self, intake: Intake, arrival: Arrival) -> _Item:
        copy = self._copy(intake, arrival)
        item = _Item(arrival, copy)
        if isinstance(copy, _NotTaken):
            return item
        known: FileRecord | _Item | _First | None = None
        if not arrival.container:
            known = self.seen.get(copy.sha256) or self.store.first_with_hash(copy.sha256)
        if known is not None:
            item.known = known
            item.archive_path = known.archive_path
            return item
        if arrival.archive_path is not None:  # a rebuild: the copy is the archived file itself
            item.archive_path = arrival.archive_path
        else:
            item.archive_path = self.archive.destination(copy, arrival.name, arrival.received_at)
            item.written = True
        self.seen[copy.sha256] = item
        return item

    def _take_of(self, item: _Item) -> Take | None:
        """What a worker does for ``item``: write its copy and/or read it (None: nothing)."""
        if item.known is not None or isinstance(item.copy, _NotTaken):
            return None
        read = self.judge is not None and is_spreadsheet(item.arrival.name) and not item.arrival.container
        if not (item.written or read):
            return None
        stamp = item.arrival.received_at.timestamp()
        dest = self.archive.path(item.archive_path)
        sync = archiving.SYNC == "file"
        # validated there too when the pool holds what validation needs (collect's ``Work``)
        today = self.judge.day_ahead(item.arrival.received_at) if read and self.judge else None
        copy, arrival = item.copy, item.arrival
        return Take(
            copy.content,
            dest,
            copy.sha256,
            stamp,
            sync,
            read,
            item.written,
            today,
            arrival.name,
            arrival.received_at,
        )

    def _send(self, batch: _Batch, job: list[tuple[_Item, Take]]) -> None:
        if not job:
            return
        items = [item for item, _ in job]
        batch.sent += len(items)

        def answer(index: int, taken: Any) -> None:
            items[index].taken = taken
            batch.answered += 1

        self.pool.submit("take", [take for _, take in job], answer)
        self._pump()

    def _pump(self) -> None:
        """Take the answers already there and hand the workers their next jobs, without waiting.

        Why: a worker gets a new job only when this process reads its answers; while this
        process reads a batch's originals or records one (tens of ms for a few hundred files)
        the workers would otherwise run dry after the jobs in their hands."""
        self.pool.answers(0)

    def _copy(self, intake: Intake, arrival: Arrival) -> Copy | _NotTaken:
        """The original's bytes and hash, or why not; for an arrival already in the archive (a
        rebuild), that copy itself, hashed again."""
        if arrival.archive_path is not None:
            path = self.archive.path(arrival.archive_path)
            try:
                if self.judge is None:  # only recorded: no need to hold the bytes
                    return Copy(b"", file_hash(path), path.stat().st_size)
                with path.open("rb") as stream:
                    return self.archive.copy(stream, arrival.received_at)
            except (OSError, SourceError) as exc:
                return _NotTaken("skipped", f"bản lưu trữ {arrival.archive_path} không đọc được: {exc}")
        limit = None if arrival.container else self.limit  # an intake bounds its envelopes itself
        try:
            with intake.open(arrival) as stream:
                copy = self.archive.copy(stream, arrival.received_at, limit)
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

    # --- 2. wait for the workers, make the batch durable, record it, release it ----------

    def _finish(self, batch: _Batch) -> None:
        while batch.answered < batch.sent:
            # waiting for the workers: release what the last commit let go meanwhile
            self.pool.answers(0 if self._release_some() else None)
        for item in batch.items:
            self._settle(item)
        with self.store.transaction():
            self._record_released()  # the batch before's, let go after its commit
            self.held = self._record_all(batch)
        self._let_go()  # committed: its originals may go now, while the next batch is read
        for item in batch.items:  # the bytes are in the archive now, the verdict in the ledger
            item.taken = None  # what was read and judged: a run keeps only what duplicates need
            if not isinstance(item.copy, _NotTaken):
                item.copy = replace(item.copy, content=b"")

    def _let_go(self) -> None:
        """Begin releasing the originals of what is committed (``held``): the intake may do it
        step by step while this process waits for its workers (``_finish``). Only top-level
        arrivals with a copy: an attachment goes with its e-mail, a file too large (no copy)
        stays where it is. Never inside a transaction: what is held is committed."""
        held, self.held = self.held, []
        by_intake: dict[int, tuple[Intake, list[Arrival], list[FileRecord]]] = {}
        for intake, arrival, rec in held:
            if arrival.parent is None and rec.archive_path:
                _, arrivals, recs = by_intake.setdefault(id(intake), (intake, [], []))
                arrivals.append(arrival)
                recs.append(rec)
        for intake, arrivals, recs in by_intake.values():
            self.releasing.append((recs, intake.release_all(arrivals)))

    def _release_some(self) -> bool:
        """Release originals (``Releasing.step``) for about ``RELEASE_SECONDS``, then let the
        caller look at the workers again; False when none was left."""
        until = time.monotonic() + RELEASE_SECONDS
        done = False
        for _, handle in self.releasing:
            while handle.step():
                done = True
                if time.monotonic() >= until:
                    return True
        return done

    def _record_released(self) -> None:
        """Wait for the releases begun, mark the originals that are gone (the caller holds a
        transaction: what the intake notes while releasing, and the marks, land in one commit)."""
        releasing, self.releasing = self.releasing, []
        gone = []
        for recs, handle in releasing:
            for rec, outcome in zip(recs, handle.wait(), strict=True):
                if isinstance(outcome, Exception):  # that original stays for the next run
                    logger.error("Chưa giải phóng được %s; thử lại lần sau", rec.inbox_path, exc_info=outcome)
                elif outcome:
                    gone.append(rec.saved_id)
        self.store.mark_all_released(gone)

    def _settle(self, item: _Item) -> None:
        """A copy the worker could not write stops the run; one whose worker died on it is
        written here if it is not in place (the file is then unreadable for the reader)."""
        taken = item.taken
        if isinstance(taken, Taken) and taken.error is not None:
            raise ArchiveError(taken.error)
        if isinstance(taken, Failed) and item.written and not isinstance(item.copy, _NotTaken):
            path = self.archive.path(item.archive_path)
            if not path.is_file() or file_hash(path) != item.copy.sha256:
                sync = archiving.SYNC == "file"
                write_copy(
                    path, item.copy.content, item.copy.sha256, item.arrival.received_at.timestamp(), sync
                )

    def _record_all(self, batch: _Batch) -> list[tuple[Intake, Arrival, FileRecord]]:
        """Every file row and, in collect, its verdict (inside the caller's transaction); then
        the journal, the copies and their folders synced, all before the caller commits."""
        recorded: list[tuple[Intake, Arrival, FileRecord]] = []
        entries: list[Entry] = []
        with self.store.transaction():
            for count, item in enumerate(batch.items, 1):
                if count % PUMP_EVERY == 0:
                    self._pump()
                try:  # one statement (``add_file``): it lands whole or not at all, no savepoint needed
                    rec = self._record(item, batch.parent)
                except StoreError:
                    raise
                except Exception as exc:  # costs this arrival only: it stays for the next run
                    logger.exception("Lỗi khi lưu trữ %s", item.arrival.location)
                    self.report.skipped.append(
                        (item.arrival.location, f"lỗi chương trình khi lưu trữ: {exc}")
                    )
                    continue
                if rec is None:
                    continue
                item.rec = rec
                recorded.append((batch.intake, item.arrival, rec))
                if item.arrival.container:
                    self.containers[item.arrival.key] = rec
                if rec.archive_path and item.arrival.archive_path is None:
                    entries.append(_entry(item.arrival, rec))
                if self.judge is not None and rec.status == "archived":
                    self._judge(item, rec)
            self.archive.journal(entries, sync=archiving.SYNC == "file")
            # day folders, named from the relative paths (strings: no Path parsed per file)
            days = {item.archive_path.rpartition("/")[0] for item in batch.items if item.written}
            days |= {self.archive.day(entry.received) for entry in entries}
            folders = {self.archive.root / day for day in days}
            sync_folders(folders | {self.archive.root} if folders else folders)  # new day folders too
        for item in batch.items:
            rec, copy = item.rec, item.copy
            if rec is not None and isinstance(copy, Copy) and self.seen.get(copy.sha256) is item:
                if first_copy(rec):
                    # recorded: the ledger answers for these bytes now (``Store.first_with_hash``),
                    # so the run keeps nothing of it (300 B a file)
                    del self.seen[copy.sha256]
                else:
                    self.seen[copy.sha256] = _First(rec.archive_path, rec.id, rec.unit, rec.period)
        return recorded

    def _judge(self, item: _Item, rec: FileRecord) -> None:
        assert self.judge is not None
        if not is_spreadsheet(rec.original_name):
            self.judge.judge_safely(rec, None, [unsupported_issue(rec.original_name)])
            return
        taken = item.taken
        if isinstance(taken, Taken):
            self.judge.judge_read(rec, taken.read, taken.judged)
        elif isinstance(taken, Failed):  # the worker died or ran late on it
            self.judge.judge_read(rec, taken)
        else:  # never read: a bug here, not the unit's file
            self.judge.record_failure(rec, RuntimeError("tệp chưa được đọc"))

    def _record(self, item: _Item, parent: FileRecord | None) -> FileRecord | None:
        """Record one taken arrival (the caller commits, then releases the original)."""
        arrival, copy = item.arrival, item.copy
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
            mail=arrival.mail,
        )
        if parent is None and arrival.parent in self.containers:
            base.parent_id = self.containers[arrival.parent].saved_id
        if isinstance(copy, _NotTaken):
            return self._not_taken(arrival, copy, base)
        known = item.known.rec if isinstance(item.known, _Item) else item.known
        if item.known is not None:
            if known is None:  # the first file with these bytes was not recorded: nor is this one
                raise RuntimeError("bản đầu tiên có cùng nội dung chưa được ghi sổ")
            rec = base  # a fresh record: filled in place (``dataclasses.replace`` would build it again)
            rec.sha256, rec.archive_path, rec.size = copy.sha256, known.archive_path, copy.size
            rec.status, rec.duplicate_of = "duplicate", known.id
            rec.unit, rec.period = known.unit, known.period
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
        status = "container" if arrival.container else "archived"
        rec = base
        rec.sha256, rec.archive_path, rec.size, rec.status = copy.sha256, item.archive_path, copy.size, status
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

    # --- containers ----------------------------------------------------------------------

    def _take_container(self, intake: Intake, container: Arrival) -> None:
        """An envelope: its copy written here, then it and its attachments (taken like any file)
        recorded in one transaction, so a run stopped in between leaves neither and the next run
        takes the envelope again with every attachment; then the envelope is released."""
        self.finish()
        batch = _Batch(intake, None, [self._prepare(intake, container)])
        item = batch.items[0]
        if item.written and not isinstance(item.copy, _NotTaken):
            path = self.archive.path(item.archive_path)
            sync = archiving.SYNC == "file"
            write_copy(path, item.copy.content, item.copy.sha256, container.received_at.timestamp(), sync)
        with self.store.transaction():
            recorded = self._record_all(batch)
            rec = recorded[0][2] if recorded else None
            if rec is not None and rec.status == "container":
                try:
                    children = intake.expand(container, self.archive.path(rec.archive_path))
                except Exception:  # a malformed envelope costs that envelope: it is archived, and logged
                    logger.exception("Không tách được các tệp trong %s", container.location)
                    children = []
                for chunk in _chunks(children, BATCH):
                    self._start(intake, chunk, rec)
                self.finish()  # inside the envelope's transaction
        self.held += recorded  # released once it and its attachments are committed
        self.finish()


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
        mail=rec.mail.to_dict() if rec.mail else None,
    )


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    """Chunks of 1, 2, 4… up to ``size`` items: the first files are durable at once, and a long
    run still commits rarely; the last ones halve again (down to ``TAPER``), so that a run
    does not end with the workers idle while this process records one last big batch and then
    the workers write that batch's feedback with this process idle. A deque is consumed as it
    goes."""
    queue = items if isinstance(items, deque) else deque(items)
    step = 1
    while queue:
        count = min(step, size, max((len(queue) + 1) // 2, TAPER), len(queue))
        yield [queue.popleft() for _ in range(count)]
        step = min(step * 2, size)
