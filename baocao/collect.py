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
judged again by the next run. With more than one worker, feedback workbooks are written by a
pool of processes while the next files are judged; their paths are recorded when written.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import multiprocessing
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from .deployment import Deployment, template_context
from .errors import LockedError, WorkbookError
from .feedback import write_fast_feedback, write_feedback
from .ledger import FileRecord, Ledger
from .model import Issue, RawWorkbook, Severity
from .reader import ReaderPool, ReadLimits
from .template import ascii_slug
from .validate import Context, Outcome, validate

logger = logging.getLogger(__name__)

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}
IGNORED_NAMES = {"desktop.ini", "thumbs.db", ".ds_store"}
CHUNK = 1 << 20
BATCH = 200  # files per ledger commit
BATCH_SECONDS = 1.0
COPY_THREADS = (
    4  # archive copies made at once  # ... or less, so that a long run never holds the write lock for long
)

Progress = Callable[[int, int, str], None]


def is_ignored(name: str) -> bool:
    """Lock and system files that are never submissions: Excel's ``~$…``, LibreOffice's
    ``.~lock.…#``, ``desktop.ini``, ``Thumbs.db``, macOS ``._…`` and our own temporary files."""
    lower = name.lower()
    return (
        lower in IGNORED_NAMES
        or name.startswith(("~$", ".~lock.", "._", ".tmp-"))
        or lower.endswith((".tmp", ".crdownload", ".part"))
    )


@dataclass
class FileResult:
    """What happened to one inbox file in this run."""

    name: str
    status: str  # accepted | rejected | duplicate
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
        return any(r.status == "rejected" for r in self.results)

    def to_dict(self) -> dict:
        return {
            "accepted": self.count("accepted"),
            "rejected": self.count("rejected"),
            "duplicate": self.count("duplicate"),
            "waiting": self.waiting,
            "files": [r.to_dict() for r in self.results],
        }


# --- the inbox edge: scanning, stability, hashing, archiving ---------------------------------


def scan_inbox(inbox: Path) -> list[Path]:
    """Every candidate file below ``inbox`` (recursively), lock and system files left out."""
    if not inbox.is_dir():
        return []
    found = []
    for folder, dirs, files in os.walk(inbox):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(folder) / name for name in files if not is_ignored(name)]
    return sorted(found)


def inbox_key(path: Path, inbox: Path) -> str:
    """The file's path relative to the inbox, NFC, with forward slashes (stable across OSes)."""
    return unicodedata.normalize("NFC", path.relative_to(inbox).as_posix())


def copy_and_hash(source: Path, folder: Path) -> tuple[Path, str, int]:
    """Copy ``source`` into a temporary file in ``folder`` while hashing it.

    Returns (temporary path, SHA-256, size). Reading and hashing in one pass means a file is
    read once before the verification read of the copy.
    """
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with source.open("rb") as src, os.fdopen(fd, "wb") as dst:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                dst.write(chunk)
                size += len(chunk)
            dst.flush()
            os.fsync(dst.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp), digest.hexdigest(), size


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def archive_name(sha256: str, original: str) -> str:
    """``<hash12>_<ascii name>``: unique by content, still recognisable by a person."""
    stem, suffix = os.path.splitext(os.path.basename(original))
    suffix = suffix.lower() if re.fullmatch(r"\.[A-Za-z0-9]{1,5}", suffix) else ""
    return f"{sha256[:12]}_{ascii_slug(stem, 60)}{suffix}"


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
        self.feedback = _FeedbackWriter(1)  # replaced for the judging step (judge_all)

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
                    self.ledger.mark_removed(rec.id)
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
                            self._archive(*item, copy) for item, copy in zip(chunk, copies, strict=True)
                        )
                        if t is not None
                    ]
                # recorded and committed: only now may the originals leave the inbox
                removed = [rec.id for path, rec in taken if self._remove(path)]
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
        return ReaderPool(self.dep.catalog.layouts(), workers=workers, limits=limits)

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
        with _FeedbackWriter(settings.workers) as self.feedback:
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
            outcome = validate(raw, self.context_for(raw))
        status = "accepted" if outcome.accepted else "rejected"
        job = self.feedback_job(rec, raw, outcome) if (outcome.issues and raw is not None) else None
        # in-process (one worker): written now; in a pool: recorded when written (see finished())
        feedback = self.feedback.write(job) if job and not self.feedback.pooled else None
        self.ledger.record_outcome(
            rec.id,
            status=status,
            processed_at=self.now,
            issues=outcome.issues,
            unit=outcome.unit,
            period=outcome.period,
            form_version=outcome.form_version,
            values=outcome.values if outcome.accepted else None,
            feedback_path=str(feedback) if feedback else None,
            contact=self.contact(outcome),
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
        """The address typed in the file (the form's e-mail field), where feedback also goes."""
        form = self.dep.catalog.get(outcome.form_version or "") or self.dep.form
        values = (outcome.values.get(f.code) for f in form.fields if f.type == "email")
        return next((v for v in values if isinstance(v, str) and v), None)

    def context_for(self, raw: RawWorkbook) -> Context:
        unit_field = self.dep.form.prefilled("unit.code")
        cell = raw.cells.get(unit_field.code) if unit_field else None
        unit = raw.meta.get("unit") or (str(cell.value) if cell and cell.value else None)
        period = raw.meta.get("period")
        history = self.ledger.unit_history(unit, exclude_period=period) if unit else {}
        return Context(
            catalog=self.dep.catalog,
            registry=self.dep.registry,
            period_kinds=self.dep.settings.period_kinds,
            today=self.now.astimezone(self.dep.settings.timezone).date(),
            history=history,
        )

    def feedback_job(self, rec: FileRecord, raw: RawWorkbook, outcome: Outcome) -> _FeedbackJob:
        """What it takes to write the marked-up workbook for a file with issues."""
        folder = self.dep.settings.path("feedback") / (outcome.period or "khong-ro-ky")
        stamp = rec.received_at.astimezone(self.dep.settings.timezone).strftime("%Y%m%d-%H%M%S")
        who = f"{outcome.unit or 'khong-ro-don-vi'}_{outcome.period or 'khong-ro-ky'}"
        name = f"{who}_{stamp}_{rec.sha256[:8]}_phan-hoi.xlsx"
        verdict = "BỊ TRẢ LẠI" if not outcome.accepted else "ĐÃ TIẾP NHẬN (có lưu ý)"
        title = f"Kết quả kiểm tra tệp '{rec.original_name}': {verdict}"
        source = self.archive / rec.archive_path
        rebuild = None
        # only a file openpyxl cannot write back (.xls, .ods) needs a fresh template
        if outcome.unit and outcome.period and source.suffix.lower() not in (".xlsx", ".xlsm"):
            try:
                period = self.dep.period(outcome.period)
                unit = self.dep.registry.get(outcome.unit, self.dep.registry.reference_day(period))
                if unit is not None:
                    form = self.dep.catalog.get(outcome.form_version or "") or self.dep.form
                    rebuild = (template_context(self.dep, unit, period), form)
            except Exception:  # feedback is a courtesy; the verdict stands without it
                rebuild = None
        return _FeedbackJob(rec.original_name, source, raw, outcome.issues, folder / name, title, rebuild)


@dataclass
class _FeedbackJob:
    """The arguments of one ``write_feedback`` call, picklable for a worker process."""

    original_name: str
    source: Path
    raw: RawWorkbook
    issues: list[Issue]
    out: Path
    title: str
    rebuild: tuple | None


def _write_feedback_job(job: _FeedbackJob) -> tuple[Path | None, str | None]:
    """Write one feedback workbook; never let it fail the file (the verdict stands without it)."""
    try:
        path = write_feedback(job.source, job.raw, job.issues, job.out, title=job.title, rebuild=job.rebuild)
        return path, None
    except Exception as exc:  # openpyxl cannot re-save every file
        return None, str(exc)


class _FeedbackWriter:
    """Feedback workbooks written in-process (one worker), or by a pool of ``workers`` processes.

    Most workbooks are .xlsx that ``feedback.write_fast_feedback`` patches in ~2 ms: those are
    written here in the parent even when pooled. The rest (openpyxl, ~40 ms: .xls/.ods rebuilt
    from a template, .xlsm, sheets with comments) go to a pool, which spreads them over the cores
    while the parent goes on judging; it starts (``spawn``, as on Windows) on the first such
    file. At most ``JOBS_PER_WORKER`` jobs per worker wait in its queue (each holds the file's
    values and issues), so memory does not grow with the batch.
    """

    JOBS_PER_WORKER = 4

    def __init__(self, workers: int) -> None:
        self.size = workers or os.cpu_count() or 1
        self.pooled = self.size > 1
        self.pool: ProcessPoolExecutor | None = None
        self.jobs: list[tuple[Future, FileResult, str]] = []
        self.done: list[tuple[FileResult, Path | None]] = []

    def __enter__(self) -> _FeedbackWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=exc[0] is not None)

    def write(self, job: _FeedbackJob) -> Path | None:
        path, error = _write_feedback_job(job)
        if error is not None:
            logger.warning("Không tạo được tệp phản hồi cho %s: %s", job.original_name, error)
        return path

    def submit(self, job: _FeedbackJob, result: FileResult) -> None:
        try:
            path = write_fast_feedback(job.source, job.issues, job.out, title=job.title)
        except OSError as exc:  # the pool tries again and reports it if it fails there too
            logger.debug("fast feedback for %s failed: %s", job.original_name, exc)
            path = None
        if path is not None:
            self.done.append((result, path))
            return
        limit = self.JOBS_PER_WORKER * self.size
        # futures finish in order, so "none of the last `limit` done" means `limit` are queued
        queued = [future for future, _, _ in self.jobs[-limit:] if not future.done()]
        if len(queued) >= limit:
            wait(queued, return_when=FIRST_COMPLETED)
        if self.pool is None:
            context = multiprocessing.get_context("spawn")
            self.pool = ProcessPoolExecutor(max_workers=min(self.size, 30), mp_context=context)
        self.jobs.append((self.pool.submit(_write_feedback_job, job), result, job.original_name))

    def finished(self) -> Iterator[tuple[FileResult, Path | None]]:
        """Wait for every submitted workbook; yield (file result, path or None if it failed)."""
        yield from self.done
        self.done = []
        for future, result, name in self.jobs:
            try:
                path, error = future.result()
            except Exception as exc:  # a worker that died (BrokenProcessPool) costs the feedback only
                path, error = None, f"{type(exc).__name__}: {exc}"
            if error is not None:
                logger.warning("Không tạo được tệp phản hồi cho %s: %s", name, error)
            yield result, path
        self.jobs = []


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
    lock = FileLock(lock_path(dep), timeout=0)
    lock_path(dep).parent.mkdir(parents=True, exist_ok=True)
    try:
        lock.acquire()
    except Timeout:
        raise LockedError(
            f"Một lần thu nhận khác đang chạy (khóa {lock_path(dep)}); hãy đợi lần đó xong rồi chạy lại"
        ) from None
    try:
        dep.settings.path("inbox").mkdir(parents=True, exist_ok=True)
        with Ledger(dep.settings.path("ledger")) as ledger:
            run = _Run(dep, ledger, now, simulated, progress)
            run.finish_removals()
            ready = run.stable_files()
            with run.reader_pool(len(ready) + len(ledger.unprocessed())) as readers:
                if ready:
                    readers.start()  # the workers start up while the files are archived
                run.take_all(ready)
                run.judge_all(readers)
            return run.report
    finally:
        lock.release()
