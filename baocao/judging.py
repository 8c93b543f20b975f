"""The judging step of collect: read each archived file, validate it, record the verdict.

Shared by ``collect`` (files just taken, and files an interrupted run left unjudged) and by
``ledger rebuild`` (every archived file again, in received order). It holds no SQL: the store
does the recording.

Three rules beyond validation live here:
- **one file, one cost**: an error while judging, recording or preparing the feedback of a file
  records that file as ``failed`` with the reason (the traceback goes to the log) and the run
  goes on with the others;
- **closed periods**: after a period's final-summary moment (``Deployment.closes_at``) a file
  for a unit that already has an accepted report is recorded as ``locked``: kept, listed for the
  coordinator, superseding nothing, unless ``baocao reopen`` let one in on purpose;
- **feedback is a courtesy**: the marked-up workbook is written by ``FeedbackWriter`` (bounded in
  time and memory); the verdict is recorded whether or not it could be written.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from baocao.errors import StoreError, WorkbookError
from baocao.filework import Judged, Packed, Read, unpacked
from baocao.judge.context import judging_context
from baocao.judge.validate import Context, Outcome, validate
from baocao.judge.workers import outcome
from baocao.model import FileRecord, Issue, RawWorkbook, Severity
from baocao.spec.deployment import Deployment
from baocao.spec.identity import Proof
from baocao.spec.periods import PeriodError
from baocao.store.archive import Archive
from baocao.store.base import Store
from baocao.workbook.answer import feedback_job
from baocao.workbook.feedback import FeedbackJob
from baocao.workbook.feedback_writer import FeedbackWriter
from baocao.workers import Inline, Pool

logger = logging.getLogger(__name__)

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}
BATCH = 200  # files per ledger commit
JOB_FILES = 8  # files per message to a worker
BATCH_SECONDS = 1.0  # ... or less, so that a long run never holds the write lock for long


@dataclass(slots=True)
class FileResult:
    """What happened to one arrival in this run (slots: a run keeps one per file)."""

    name: str
    status: str  # accepted | rejected | held | duplicate | locked | failed
    unit: str | None = None
    period: str | None = None
    issues: Sequence[Issue] = ()
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


def _shared(text: str | None) -> str | None:
    """One copy of a unit code or period for every result that names it: each outcome arrives
    from a worker with its own copies, and a run keeps its results to the end (1 MB at 10,000)."""
    return sys.intern(text) if text else text


@dataclass
class CollectReport:
    """The outcome of one collect run."""

    results: list[FileResult] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unavailable: list[tuple[str, str]] = field(default_factory=list)  # (intake, why it could not be read)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def had_problems(self) -> bool:
        """Something for a person to act on: a file refused, held, failed, or skipped."""
        return (
            bool(self.skipped)
            or bool(self.unavailable)
            or any(r.status in ("rejected", "held", "failed") for r in self.results)
        )

    def to_dict(self) -> dict:
        return {
            "accepted": self.count("accepted"),
            "rejected": self.count("rejected"),
            "held": self.count("held"),
            "duplicate": self.count("duplicate"),
            "locked": self.count("locked"),
            "failed": self.count("failed"),
            "waiting": self.waiting,
            "skipped": [{"name": name, "reason": reason} for name, reason in self.skipped],
            "unavailable": [{"source": source, "reason": reason} for source, reason in self.unavailable],
            "files": [r.to_dict() for r in self.results],
        }


class Batches:
    """Store transactions of ``BATCH`` units of work or ``BATCH_SECONDS``, whichever comes first.

    Call ``tick()`` after each unit of work. An error rolls back the open batch only: its files
    stay 'archived' and the next run judges them again.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.count = 0
        self.since = time.monotonic()
        self._open = store.transaction()

    def __enter__(self) -> Batches:
        self._open.__enter__()
        return self

    def tick(self) -> None:
        self.count += 1
        if self.count >= BATCH or time.monotonic() - self.since >= BATCH_SECONDS:
            self._open.__exit__(None, None, None)
            self._open = self.store.transaction()
            self._open.__enter__()
            self.count, self.since = 0, time.monotonic()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._open.__exit__(kind, exc, tb)


class Judge:
    """Judges the store's unjudged files; results go into ``report`` (a ``CollectReport``).

    ``today`` (a function of the file) is the day validation takes as today; by default the day
    the file was received, so a verdict does not depend on when the run that judges it happens
    (an e-mail read days after it reached the mailbox, a file found after the machine was off,
    a rebuild): a report dated after it arrived is dated in the future whenever it is judged.
    ``feedback=False`` writes no workbooks.
    """

    def __init__(
        self,
        dep: Deployment,
        store: Store,
        archive: Archive,
        now: datetime,
        report: CollectReport,
        progress: Callable[[int, int, str], None] | None = None,
        *,
        today: Callable[[FileRecord], datetime] | None = None,
        feedback: bool = True,
    ) -> None:
        self.dep = dep
        self.store = store
        self.archive = archive
        self.now = now
        self.report = report
        self.progress = progress
        self.today = today or (lambda rec: rec.received_at)
        self.received_day = today is None  # a file is judged as of the day it was received
        self.write_feedback = feedback
        self.feedback: FeedbackWriter | None = None  # set by ``working``
        self.done = 0
        self.total = 0
        self.touched: set[str] = set()  # units judged in this run: their history may have changed
        self._closes: dict[str, datetime | None] = {}  # period code -> ``closes_at``

    @contextmanager
    def working(self, pool: Pool | Inline) -> Iterator[None]:
        """Feedback workbooks go to ``pool`` while the block runs; when it ends, wait for them
        (within their bounds) and record where each was written."""
        if self.feedback is not None or not self.write_feedback:  # already at work, or no feedback
            yield
            return
        settings = self.dep.settings.collect
        try:
            with FeedbackWriter(settings.workers, settings.read_timeout_seconds, pool=pool) as self.feedback:
                yield
                written = list(self.feedback.finished())
        finally:
            self.feedback = None
        if written:
            with self.store.transaction():
                for result, feedback in written:
                    result.feedback = feedback
                    self.store.set_feedback_path(result.file_id, str(feedback) if feedback else None)

    def judge_all(self, pool: Pool | Inline) -> None:
        """Judge every file the store holds unjudged (an interrupted run, a reopening, a file
        vouched for, a rebuild), read from its archived copy in ``pool``."""
        pending = self.store.unprocessed()
        if not pending:
            return
        readable = [rec for rec in pending if is_spreadsheet(rec.original_name)]
        self.total += len(readable)
        answers: deque[tuple[FileRecord, Any]] = deque()

        def keep(recs: list[FileRecord]) -> Callable[[int, Any], None]:
            return lambda index, answer: answers.append((recs[index], answer))

        for start in range(0, len(readable), JOB_FILES):
            recs = readable[start : start + JOB_FILES]
            items = [Read(self.archive.path(rec.archive_path)) for rec in recs]
            pool.submit("judge", items, keep(recs))
        with self.working(pool), Batches(self.store) as batch:
            reads = {rec.saved_id for rec in readable}
            for rec in pending:
                if rec.saved_id not in reads:
                    self.judge_safely(rec, None, [unsupported_issue(rec.original_name)])
                    batch.tick()
            judged = 0
            while judged < len(readable):
                if not answers:
                    pool.answers()
                while answers:
                    rec, answer = answers.popleft()
                    self.judge_read(rec, answer)
                    judged += 1
                    batch.tick()

    def judge_read(self, rec: FileRecord, answer: object, judged: Judged | None = None) -> None:
        """Judge a file from what reading its archived copy gave (``judge_safely``); ``judged``:
        the worker's validation of it, kept when it can be (``judge``)."""
        if isinstance(answer, (RawWorkbook, Packed)):  # read (the path is only for what went wrong)
            result: RawWorkbook | Packed | WorkbookError = answer
        else:
            result = outcome(self.archive.path(rec.archive_path), answer)
        if isinstance(result, WorkbookError):
            # the reader names the archived copy; the unit knows the file by its own name
            path = self.archive.path(rec.archive_path)
            message = str(result).replace(path.name, rec.original_name)
            self.judge_safely(rec, None, [Issue(Severity.ERROR, "unreadable", message)])
        else:
            self.judge_safely(rec, result, None, judged)
        self.done += 1
        if self.progress:
            self.progress(self.done, max(self.total, self.done), rec.original_name)

    def judge_safely(
        self,
        rec: FileRecord,
        raw: RawWorkbook | Packed | None,
        file_issues: list[Issue] | None,
        judged: Judged | None = None,
    ) -> None:
        """``judge``, and when it fails, record the file as failed instead of stopping the run."""
        try:
            with self.store.transaction():
                self.judge(rec, raw, file_issues, judged)
        except StoreError:
            raise
        except Exception as exc:
            logger.exception("Lỗi khi xét tệp %s (%s)", rec.original_name, rec.archive_path)
            self.record_failure(rec, exc)

    def record_failure(self, rec: FileRecord, exc: Exception) -> None:
        issue = Issue(
            Severity.ERROR,
            "internal_error",
            f"Tệp '{rec.original_name}' đã được lưu trữ nhưng chương trình gặp lỗi khi xét "
            f"({type(exc).__name__}: {str(exc)[:200]}); cán bộ tổng hợp sẽ xem lại, chưa cần gửi lại",
        )
        self.store.record_outcome(rec.saved_id, status="failed", processed_at=self.now, issues=[issue])
        self.report.results.append(
            FileResult(rec.inbox_path, "failed", issues=[issue], file_id=rec.id, received_at=rec.received_at)
        )

    def judge(
        self,
        rec: FileRecord,
        raw: RawWorkbook | Packed | None,
        file_issues: list[Issue] | None,
        judged: Judged | None = None,
    ) -> None:
        """Validate (or keep the worker's ``judged`` outcome when the unit's history it used
        cannot have changed: no file of that unit judged yet in this run), record the verdict,
        hand the feedback on."""
        if raw is None:
            outcome = Outcome(None, None, None, {}, file_issues or [])
        elif judged is not None and judged.history_of not in self.touched and rec.proof != Proof.VOUCHED:
            outcome = judged.outcome
        else:
            raw = unpacked(raw)
            outcome = validate(raw, self.context_for(rec, raw, vouched=rec.proof == Proof.VOUCHED))
        status, unit = outcome.verdict, outcome.filed_under
        self.touched.update(u for u in (outcome.unit, unit) if u)
        issues = list(outcome.issues)
        if status == "accepted" and self.closed_for(rec, unit, outcome.period):
            status = "locked"
            issues.append(self.locked_issue(outcome.period or ""))
        self.store.record_outcome(
            rec.saved_id,
            status=status,
            processed_at=self.now,
            issues=issues,
            unit=unit,
            period=outcome.period,
            form_version=outcome.form_version,
            values=outcome.values if status == "accepted" else None,
            contact=self.contact(outcome),
            proof=outcome.proof if raw is not None else None,
            claimed_unit=outcome.unit,
        )
        result = FileResult(
            rec.inbox_path,
            status,
            _shared(unit),
            _shared(outcome.period),
            issues or (),  # a clean file's result holds the empty tuple, not a list of its own
            None,
            rec.id,
            rec.received_at,
        )
        self.report.results.append(result)
        # a held file gets a notice (jobs), not a marked-up workbook
        if self.write_feedback and issues and raw is not None and status != "held":
            # the worker's job when it judged the file as recorded, issues and all
            kept = judged is not None and outcome is judged.outcome and issues == outcome.issues
            prepared = judged.feedback if kept and judged is not None else None
            self.submit_feedback(rec, raw, outcome, issues, result, prepared)

    def submit_feedback(
        self,
        rec: FileRecord,
        raw: RawWorkbook | Packed,
        outcome: Outcome,
        issues: list[Issue],
        result: FileResult,
        prepared: FeedbackJob | None = None,
    ) -> None:
        """Hand the feedback workbook to the writer (bounded; recorded when written, see
        ``working``): the job ``prepared`` by the worker that judged the file, else one made
        here. A failure here costs the feedback, never the verdict."""
        if self.feedback is None:
            return
        try:
            job = prepared or self.feedback_job(rec, unpacked(raw), outcome, issues)
            self.feedback.submit(job, result)
        except Exception:
            logger.exception("Không tạo được tệp phản hồi cho %s", rec.original_name)

    def closed_for(self, rec: FileRecord, unit: str | None, period: str | None) -> bool:
        """True when the file must not replace the unit's accepted report: its period closed
        before the file arrived, the unit has a report in force, and no reopening lets it in
        (a reopening that does is used up by this file)."""
        if not (unit and period):
            return False
        closes = self.closes_at(period)
        if closes is None:
            return False
        if rec.received_at < closes or not self.store.has_submission(period, unit):
            return False
        reopening = self.store.open_reopening(period, unit)
        if reopening is None:
            return True
        self.store.use_reopening(reopening.id, rec.saved_id)
        return False

    def closes_at(self, period: str) -> datetime | None:
        """``Deployment.closes_at`` of the period coded ``period`` (None: not a period), worked
        out once per period in a run rather than once per file."""
        if period not in self._closes:
            try:
                self._closes[period] = self.dep.closes_at(self.dep.period(period))
            except PeriodError:
                self._closes[period] = None
        return self._closes[period]

    def locked_issue(self, period_code: str) -> Issue:
        closes = self.dep.closes_at(self.dep.period(period_code)).astimezone(self.dep.settings.timezone)
        return Issue(
            Severity.WARNING,
            "period_locked",
            f"Kỳ {period_code} đã khóa sổ từ {closes:%H:%M %d/%m/%Y} (đã gửi tổng hợp cuối kỳ): tệp được "
            "lưu lại nhưng không thay thế báo cáo đã tiếp nhận. Nếu cần sửa số liệu, hãy liên hệ cán bộ "
            "tổng hợp",
        )

    def contact(self, outcome: Outcome) -> str | None:
        """The address typed in the file (the form's ``contact_email`` role), where feedback also goes."""
        form = self.dep.catalog.get(outcome.form_version or "") or self.dep.form
        field = form.role("contact_email")
        value = outcome.values.get(field.code) if field else None
        return value if isinstance(value, str) and value else None

    def day_ahead(self, received_at: datetime) -> date | None:
        """The day a worker validates a new file received at ``received_at`` as of, the same
        day ``context_for`` takes (None: this judge's days are not the received days)."""
        return received_at.astimezone(self.dep.settings.timezone).date() if self.received_day else None

    def context_for(self, rec: FileRecord, raw: RawWorkbook, vouched: bool = False) -> Context:
        today = self.today(rec).astimezone(self.dep.settings.timezone).date()
        return judging_context(self.dep, raw, today, self.store, vouched)

    def feedback_job(
        self, rec: FileRecord, raw: RawWorkbook, outcome: Outcome, issues: list[Issue]
    ) -> FeedbackJob:
        """What it takes to write the marked-up workbook for a file with issues (``workbook.answer``)."""
        return feedback_job(self.dep, rec, raw, outcome, self.archive.path(rec.archive_path), issues)


def reopen_in(store: Store, period: str, unit: str, at: datetime) -> FileRecord | None:
    """Record a reopening of ``period`` for ``unit`` at ``at`` and queue the file it lets in: the
    latest kept (locked) before it, else the first kept after it. Returns that file, or None when
    the reopening waits for the unit's next file. The caller holds a transaction."""
    store.add_reopening(period, unit, at)
    mine = [r for r in store.files(period=period, status="locked") if r.unit == unit]
    before = [r for r in mine if r.received_at <= at]
    held = (
        max(before, key=lambda r: (r.received_at, r.saved_id))
        if before
        else min(mine, key=lambda r: (r.received_at, r.saved_id), default=None)
    )
    if held is not None:
        store.requeue(held.saved_id)
    return held


def is_spreadsheet(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in SPREADSHEET_SUFFIXES  # a str: no Path to parse per file


def unsupported_issue(name: str) -> Issue:
    suffix = Path(name).suffix or "(không có đuôi)"
    return Issue(
        Severity.ERROR,
        "unsupported_format",
        f"Tệp '{name}' có định dạng {suffix} không được nhận; hãy gửi bảng tính .xlsx "
        "(hoặc .xls, .ods) theo biểu mẫu",
    )
