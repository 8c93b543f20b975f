"""Collect: take what units dropped into the inbox, archive it, judge it, record it.

The order of the steps is what makes "never lose a file" true:
1. a file is taken only when it has stopped changing (size and modification time stable);
2. it is hashed while being copied into the archive, the copy is hashed again, and only a
   verified copy is renamed into place and recorded in the ledger;
3. only then is the original removed from the inbox (the original is never modified);
4. the archived copy is read (in worker processes) and validated; the outcome and, for an
   accepted file, its values are stored in one transaction.
A crash between any two steps leaves the file in the inbox or archived and recorded; the next
run finishes the work (recorded-but-unjudged files are judged, originals left behind removed).

For speed, the ledger work of several files is committed together (``BATCH`` files or about a
second at a time), never out of order: a batch of files is recorded and committed before any of
their originals is removed, and an outcome lost with an uncommitted batch only means the file is
judged again by the next run. With more than one worker, feedback workbooks that need openpyxl
are written by a pool of processes while the next files are judged (``feedback.FeedbackWriter``);
their paths are recorded when written. File-system work on the inbox is in ``inbox``.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from baocao.errors import ConfigError, LockedError, UsageError, WorkbookError
from baocao.intake.folder import archive_name, copy_and_hash, file_hash, inbox_key, scan_inbox
from baocao.judge.reader import ReadLimits
from baocao.judge.validate import Context, Outcome, identify, validate
from baocao.judge.workers import ReaderPool
from baocao.model import FileRecord, Issue, RawWorkbook, Severity
from baocao.spec.deployment import Deployment
from baocao.spec.identity import Proof
from baocao.store.ledger import Ledger
from baocao.workbook.answer import feedback_job
from baocao.workbook.feedback import FeedbackJob, FeedbackWriter

logger = logging.getLogger(__name__)

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}
BATCH = 200  # files per ledger commit
BATCH_SECONDS = 1.0  # ... or less, so that a long run never holds the write lock for long
COPY_THREADS = 4  # archive copies made at once

Progress = Callable[[int, int, str], None]


@dataclass
class FileResult:
    """What happened to one inbox file in this run."""

    name: str
    status: str  # accepted | rejected | held | duplicate
    unit: str | None = None
    period: str | None = None
    issues: list[Issue] = field(default_factory=list)
    feedback: Path | None = None
    file_id: int | None = None
    received_at: datetime | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "unit": self.unit,
            "period": self.period,
            "received_at": self.received_at.isoformat() if self.received_at else None,
            "feedback": str(self.feedback) if self.feedback else None,
            "issues": [i.to_dict() for i in self.issues],
        }


@dataclass
class CollectReport:
    """The outcome of one collect run."""

    results: list[FileResult] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def had_problems(self) -> bool:
        """Something for a person to act on: a file refused, or one held for the coordinator."""
        return any(r.status in ("rejected", "held") for r in self.results)

    def to_dict(self) -> dict:
        return {
            "accepted": self.count("accepted"),
            "rejected": self.count("rejected"),
            "held": self.count("held"),
            "duplicate": self.count("duplicate"),
            "waiting": self.waiting,
            "files": [r.to_dict() for r in self.results],
        }


# --- the inbox edge: scanning, stability, hashing, archiving ---------------------------------


class _Run:
    """One collect run: holds the deployment, the ledger, the clock and the report."""

    def __init__(
        self, dep: Deployment, ledger: Ledger, now: datetime, simulated: bool, progress: Progress | None
    ):
        self.dep = dep
        self.ledger = ledger
        self.now = now
        self.simulated = simulated
        self.progress = progress
        self.inbox = dep.settings.path("inbox")
        self.archive = dep.settings.path("archive")
        self.report = CollectReport()
        self.feedback = FeedbackWriter(1)  # replaced for the judging step (judge_all)

    # step 0: finish what an interrupted run left
    def finish_removals(self) -> None:
        pending = self.ledger.not_removed()
        if not pending:
            return
        with self.ledger.transaction():
            for rec in pending:
                original = self.inbox / rec.inbox_path
                try:
                    if original.is_file() and file_hash(original) == rec.sha256:
                        original.unlink()
                    self.ledger.mark_removed(rec.saved_id)
                except OSError as exc:  # still open in Excel on the share: try again next run
                    logger.warning("Chưa xóa được %s khỏi hộp thư đến: %s", original, exc)

    # step 1: which files are complete
    def stable_files(self) -> list[tuple[Path, str, datetime]]:
        wait = self.dep.settings.collect.stable_seconds
        candidates = scan_inbox(self.inbox)
        before = self.ledger.sightings()
        ready, unsure = [], []
        with self.ledger.transaction():  # one commit for all sightings, not one per file
            for path in candidates:
                key = inbox_key(path, self.inbox)
                try:
                    st = path.stat()
                except OSError:
                    continue
                first_seen = self.ledger.see(key, st.st_size, st.st_mtime_ns, self.now)
                old = before.get(key)
                unchanged_since = (
                    datetime.fromisoformat(old["last_seen"])
                    if old is not None and (old["size"], old["mtime_ns"]) == (st.st_size, st.st_mtime_ns)
                    else None
                )
                if wait <= 0 or (unchanged_since and (self.now - unchanged_since).total_seconds() >= wait):
                    ready.append((path, key, first_seen))
                elif self.simulated and time.time() - st.st_mtime >= wait:
                    ready.append((path, key, first_seen))  # replaying: an old file is complete
                else:
                    unsure.append((path, key, first_seen, st.st_size, st.st_mtime_ns))
        if unsure:
            time.sleep(wait)  # one look again after the wait, for the whole batch (no lock held)
            with self.ledger.transaction():
                for path, key, first_seen, size, mtime in unsure:
                    try:
                        st = path.stat()
                    except OSError:
                        continue
                    if (st.st_size, st.st_mtime_ns) == (size, mtime):
                        ready.append((path, key, first_seen))
                    else:
                        self.ledger.see(key, st.st_size, st.st_mtime_ns, self.now)
                        self.report.waiting.append(key)
        with self.ledger.transaction():
            self.ledger.forget_sightings({inbox_key(p, self.inbox) for p in scan_inbox(self.inbox)})
        return ready

    # step 2-3: archive, record, remove
    def take_all(self, ready: list[tuple[Path, str, datetime]]) -> None:
        """Archive and record a batch of files in one commit, then remove their originals.

        The copies of a chunk are made by a few threads at once (copying is file-system work
        that releases the GIL, and creating files is slow on some disks); the ledger is still
        written by this thread alone, in order.
        """
        with ThreadPoolExecutor(max_workers=COPY_THREADS) as copier:
            for chunk in _chunks(ready, BATCH):
                copies = list(copier.map(lambda item: self._copy(item[0], item[2]), chunk))
                with self.ledger.transaction():
                    taken = [
                        t
                        for t in (
                            self._archive(item[0], item[1], item[2], copy)
                            for item, copy in zip(chunk, copies, strict=True)
                        )
                        if t is not None
                    ]
                # recorded and committed: only now may the originals leave the inbox
                removed = [rec.saved_id for path, rec in taken if self._remove(path)]
                with self.ledger.transaction():
                    for file_id in removed:
                        self.ledger.mark_removed(file_id)

    def take(self, path: Path, key: str, received_at: datetime) -> None:
        """Archive, record and remove one file."""
        self.take_all([(path, key, received_at)])

    def _copy(self, path: Path, received_at: datetime) -> tuple[Path, str, int] | str:
        """A verified temporary copy in the day's archive folder: (tmp, sha256, size), or why not."""
        day_folder = self.archive / received_at.astimezone(self.dep.settings.timezone).strftime("%Y-%m-%d")
        try:
            tmp, sha, size = copy_and_hash(path, day_folder)
        except OSError as exc:
            return f"Không đọc được {path}, để lại lần sau: {exc}"
        if file_hash(tmp) != sha:
            tmp.unlink(missing_ok=True)
            return f"Bản sao của {path} không khớp mã băm; để lại trong hộp thư đến"
        return tmp, sha, size

    def _archive(
        self, path: Path, key: str, received_at: datetime, copy: tuple[Path, str, int] | str
    ) -> tuple[Path, FileRecord] | None:
        """Record one copied file (the caller commits, then removes the original)."""
        if isinstance(copy, str):
            logger.warning("%s", copy)
            self.report.waiting.append(key)
            return None
        tmp, sha, size = copy
        original = path.name
        known = self.ledger.first_with_hash(sha)
        if known is not None:
            tmp.unlink(missing_ok=True)
            rec = FileRecord(
                sha,
                original,
                key,
                known.archive_path,
                size,
                received_at,
                status="duplicate",
                duplicate_of=known.id,
                unit=known.unit,
                period=known.period,
            )
            self.ledger.add_file(rec)
            self.report.results.append(
                FileResult(
                    key, "duplicate", known.unit, known.period, file_id=rec.id, received_at=received_at
                )
            )
            return path, rec
        dest = tmp.parent / archive_name(sha, original)
        os.replace(tmp, dest)
        rec = FileRecord(sha, original, key, dest.relative_to(self.archive).as_posix(), size, received_at)
        self.ledger.add_file(rec)
        return path, rec

    def _remove(self, path: Path) -> bool:
        try:
            path.unlink()
            return True
        except OSError as exc:
            logger.warning("Đã lưu trữ nhưng chưa xóa được %s: %s", path, exc)
            return False

    # step 4: read, validate, record
    def reader_pool(self, files: int) -> ReaderPool:
        """The reader processes for up to ``files`` files (started by ``start()`` or on first read)."""
        settings = self.dep.settings.collect
        limits = ReadLimits(
            max_file_bytes=int(settings.max_file_mb * 2**20),
            max_unpacked_bytes=int(settings.max_unpacked_mb * 2**20),
            timeout_seconds=settings.read_timeout_seconds,
        )
        workers = min(settings.workers or os.cpu_count() or 1, max(files, 1))
        return ReaderPool(
            self.dep.catalog.layouts(),
            workers=workers,
            limits=limits,
            version_field=self.dep.catalog.version_field,
        )

    def judge_all(self, readers: ReaderPool | None = None) -> None:
        pending = {self.archive / rec.archive_path: rec for rec in self.ledger.unprocessed()}
        if not pending:
            return
        settings = self.dep.settings.collect
        if readers is None:
            with self.reader_pool(len(pending)) as readers:
                self.judge_all(readers)
            return
        readable = [
            p for p, rec in pending.items() if Path(rec.original_name).suffix.lower() in SPREADSHEET_SUFFIXES
        ]
        with FeedbackWriter(settings.workers) as self.feedback:
            with _batches(self.ledger) as tick:
                for path in set(pending) - set(readable):
                    self.judge(pending[path], None, [unsupported_issue(pending[path].original_name)])
                    tick()
                results = readers.read(readable)
                for done, (path, result) in enumerate(results, start=1):
                    rec = pending[path]
                    if isinstance(result, WorkbookError):
                        # the reader names the archived copy; the unit knows the file by its own name
                        message = str(result).replace(path.name, rec.original_name)
                        self.judge(rec, None, [Issue(Severity.ERROR, "unreadable", message)])
                    else:
                        self.judge(rec, result, None)
                    tick()
                    if self.progress:
                        self.progress(done, len(readable), rec.original_name)
            written = list(self.feedback.finished())
        if written:
            with self.ledger.transaction():
                for result, feedback in written:
                    result.feedback = feedback
                    self.ledger.set_feedback_path(result.file_id, str(feedback) if feedback else None)

    def judge(self, rec: FileRecord, raw: RawWorkbook | None, file_issues: list[Issue] | None) -> None:
        if raw is None:
            outcome = Outcome(None, None, None, {}, file_issues or [])
        else:
            outcome = validate(raw, self.context_for(raw, vouched=rec.proof == Proof.VOUCHED))
        status, unit = outcome.verdict, outcome.filed_under
        # a held file gets a notice (jobs), not a marked-up workbook
        wanted = raw is not None and outcome.issues and status != "held"
        job = self.feedback_job(rec, raw, outcome) if wanted and raw is not None else None
        # in-process (one worker): written now; in a pool: recorded when written (see finished())
        feedback = self.feedback.write(job) if job and not self.feedback.pooled else None
        self.ledger.record_outcome(
            rec.saved_id,
            status=status,
            processed_at=self.now,
            issues=outcome.issues,
            unit=unit,
            period=outcome.period,
            form_version=outcome.form_version,
            values=outcome.values if status == "accepted" else None,
            feedback_path=str(feedback) if feedback else None,
            contact=self.contact(outcome),
            proof=outcome.proof if raw is not None else None,
            claimed_unit=outcome.unit,
        )
        result = FileResult(
            rec.inbox_path,
            status,
            outcome.unit,
            outcome.period,
            outcome.issues,
            feedback,
            rec.id,
            rec.received_at,
        )
        self.report.results.append(result)
        if job and self.feedback.pooled:
            self.feedback.submit(job, result)

    def contact(self, outcome: Outcome) -> str | None:
        """The address typed in the file (the form's ``contact_email`` role), where feedback also goes."""
        form = self.dep.catalog.get(outcome.form_version or "") or self.dep.form
        field = form.role("contact_email")
        value = outcome.values.get(field.code) if field else None
        return value if isinstance(value, str) and value else None

    def context_for(self, raw: RawWorkbook, vouched: bool = False) -> Context:
        today = self.now.astimezone(self.dep.settings.timezone).date()
        return judging_context(self.dep, raw, today, self.ledger, vouched)

    def feedback_job(self, rec: FileRecord, raw: RawWorkbook, outcome: Outcome) -> FeedbackJob:
        """What it takes to write the marked-up workbook for a file with issues."""
        return feedback_job(self.dep, rec, raw, outcome, self.archive)


def judging_context(
    dep: Deployment, raw: RawWorkbook, today: date, ledger: Ledger | None, vouched: bool = False
) -> Context:
    """What validation needs for ``raw`` (``collect`` and ``check`` alike).

    The unit's earlier reports (``history``, from ``ledger``) only when the file proves it is that
    unit's: warnings quote them, and a forged file must not read another unit's figures.
    """
    ctx = Context(
        catalog=dep.catalog,
        registry=dep.registry,
        period_kinds=dep.settings.period_kinds,
        today=today,
        key=dep.signing_key,
        vouched=vouched,
    )
    who = identify(raw, ctx)
    if ledger is None or not (who.proof.proven and who.unit):
        return ctx
    period = who.period.code if who.period else None
    return replace(ctx, history=ledger.unit_history(who.unit, exclude_period=period))


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    """Chunks of 1, 2, 4… up to ``size`` items: the first files are durable at once, and a long
    run still commits rarely."""
    iterator, step = iter(items), 1
    while chunk := list(itertools.islice(iterator, step)):
        yield chunk
        step = min(step * 2, size)


@contextmanager
def _batches(ledger: Ledger) -> Iterator[Callable[[], None]]:
    """A ledger transaction committed every ``BATCH`` units of work or ``BATCH_SECONDS``.

    Yields ``tick``, to call after each unit of work. An error rolls back the open batch only:
    its files stay 'archived' and the next run judges them again.
    """
    state = {"count": 0, "since": time.monotonic()}

    def tick() -> None:
        state["count"] += 1
        if state["count"] >= BATCH or time.monotonic() - state["since"] >= BATCH_SECONDS:
            ledger.db.execute("COMMIT")
            ledger.db.execute("BEGIN IMMEDIATE")
            state["count"], state["since"] = 0, time.monotonic()

    ledger.db.execute("BEGIN IMMEDIATE")
    try:
        yield tick
    except BaseException:
        ledger.db.execute("ROLLBACK")
        raise
    ledger.db.execute("COMMIT")


def unsupported_issue(name: str) -> Issue:
    suffix = Path(name).suffix or "(không có đuôi)"
    return Issue(
        Severity.ERROR,
        "unsupported_format",
        f"Tệp '{name}' có định dạng {suffix} không được nhận; hãy gửi bảng tính .xlsx "
        "(hoặc .xls, .ods) theo biểu mẫu",
    )


def local_time(now: datetime | None, tz) -> datetime:
    """``now`` in the deployment's zone (a naive time is taken as local); the system clock if None."""
    if now is None:
        return datetime.now(tz)
    return now.replace(tzinfo=tz) if now.tzinfo is None else now.astimezone(tz)


def lock_path(dep: Deployment) -> Path:
    return dep.settings.path("ledger").with_suffix(".lock")


def collect(dep: Deployment, now: datetime | None = None, progress: Progress | None = None) -> CollectReport:
    """Scan the inbox, archive and judge every complete file, record everything in the ledger.

    ``now`` sets the clock for the whole run (received time, stability, on-time arithmetic) so
    a period can be replayed; without it, the system clock. Raises ``LockedError`` when another
    collect holds the lock. Bad files never raise: they are rejected with their issues.
    """
    simulated = now is not None
    now = local_time(now, dep.settings.timezone)
    with _collect_lock(dep):
        dep.settings.path("inbox").mkdir(parents=True, exist_ok=True)
        with Ledger(dep.settings.path("ledger")) as ledger:
            same_key(dep, ledger)
            run = _Run(dep, ledger, now, simulated, progress)
            run.finish_removals()
            ready = run.stable_files()
            with run.reader_pool(len(ready) + len(ledger.unprocessed())) as readers:
                if ready:
                    readers.start()  # the workers start up while the files are archived
                run.take_all(ready)
                run.judge_all(readers)
            return run.report


def same_key(dep: Deployment, ledger: Ledger) -> None:
    """Refuse to go on with a signing key other than the one this deployment has used.

    Why: the key lives outside the deployment folder, per user; a scheduled task running as
    another account (Windows: SYSTEM), a new machine or a lost key file would otherwise make a
    new key silently, and every template already sent to units would fail to verify (held).
    """
    recorded = ledger.claim_key(dep.signing_key.key_id)
    if recorded is not None:
        raise ConfigError(
            f"Khóa ký biểu mẫu đang dùng (mã {dep.signing_key.key_id}, lấy từ {dep.signing_key.source}) "
            f"khác khóa của sổ theo dõi này (mã {recorded}): các biểu mẫu đã phát sẽ không xác minh được. "
            f"Hãy chạy bằng tài khoản đã tạo khóa, hoặc đặt biến môi trường BAOCAO_SECRET bằng khóa đó "
            "(xem README, mục Khóa ký biểu mẫu)"
        )


@contextmanager
def _collect_lock(dep: Deployment) -> Iterator[None]:
    """The working area's lock: one collect (or release) at a time; ``LockedError`` if taken."""
    lock = FileLock(lock_path(dep), timeout=0)
    lock_path(dep).parent.mkdir(parents=True, exist_ok=True)
    try:
        lock.acquire()
    except Timeout:
        raise LockedError(
            f"Một lần thu nhận khác đang chạy (khóa {lock_path(dep)}); hãy đợi lần đó xong rồi chạy lại"
        ) from None
    try:
        yield
    finally:
        lock.release()


def release(dep: Deployment, file_id: int, now: datetime | None = None) -> CollectReport:
    """Let a held file in on purpose: the coordinator vouches for whose it is.

    The file is judged again from its archived copy as if it proved its unit (same reader, same
    rules, same ledger; its received time is unchanged), so it is accepted and supersedes by
    received time like any other, or rejected if it no longer passes. Raises ``UsageError``
    when no held file has that id, ``LockedError`` while a collect runs.
    """
    now = local_time(now, dep.settings.timezone)
    with _collect_lock(dep), Ledger(dep.settings.path("ledger")) as ledger:
        same_key(dep, ledger)
        if ledger.release(file_id) is None:
            raise UsageError(f"Không có tệp nào đang chờ xác minh mang số {file_id} (xem baocao status)")
        run = _Run(dep, ledger, now, simulated=True, progress=None)
        run.judge_all()
        return run.report
