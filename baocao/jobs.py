"""What is due at a given moment, done exactly once: collect, answers, reminders, summaries.

``run_due(dep, now)`` is the whole unattended job; cron, Windows Task Scheduler, the ``run``
loop and the tests all call it. It is safe to run twice, at the same time, and after the
machine was off:
- every message has a key in the ledger (kind, period, unit, recipient, content version) and a
  key is planned once; its composed bytes are stored, so a retry after an SMTP failure sends
  the very same message; sending claims each message first (``notify.dispatch``), so two
  overlapping runs or a crash mid-send never send one twice;
- what fell due while the machine was off is caught up on the next run, except reminders,
  which never go out once the unit's deadline has passed (only the latest reminder slot);
- each step (collect, each message, each summary) is isolated: one that fails is recorded in
  the report and the log, and the others still happen; the exit code says something failed.

Reminders count from the deadline of the level each unit reports to (``Period.due_before_for``),
so units under a department with an earlier deadline are reminded earlier. Which moments are
due is a pure function of the settings and ``now`` (``due_events``).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial

from baocao.collect import CollectReport, collect, local_time
from baocao.consolidate import consolidate, summary_for
from baocao.errors import BaocaoError, ConfigError, LockedError, UsageError
from baocao.files import write_if_changed
from baocao.intake.folder import list_inbox
from baocao.logs import setup_logging
from baocao.mailanswers import mail_replies, sender_answer
from baocao.model import FileRecord, MessageRecord
from baocao.notify import letters, mail
from baocao.notify.dispatch import plan, send_lock_path, send_pending
from baocao.report.plain import headline
from baocao.report.status import UnitStatus, period_status
from baocao.spec.deployment import Deployment
from baocao.spec.periods import Period, PeriodError, days_late, periods_of_year
from baocao.spec.registry import Unit
from baocao.store import LedgerError, Store, open_store
from baocao.workbook.layout import item_numbers
from baocao.workbook.template import render_template, template_context, template_path

logger = logging.getLogger(__name__)

FINAL_SUMMARY_CATCH_UP = timedelta(days=14)  # a machine off longer than this skips the final summary
FEEDBACK_CATCH_UP = timedelta(days=7)  # feedback on a file judged longer ago than this is stale
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Event:
    """Something due for a period: a reminder slot (``stage`` = days before) or a summary.

    ``due`` is the deadline date a reminder slot counts from: units whose level has that
    deadline are reminded in it (``None`` for summaries).
    """

    kind: str  # reminder | summary
    period: Period
    stage: str  # reminder: "7", "3", "1"; summary: "truoc-han" or "sau-han"
    due: date | None = None


@dataclass
class DueReport:
    """What one ``run_due`` did (or, with ``dry_run``, would do).

    ``errors``: steps that failed (collect, a summary, a message that could not be composed);
    ``uncertain``: messages a sender may have delivered before it died or lost the server's
    answer, not sent again. Either makes the command's exit code say something failed.
    """

    now: datetime
    dry_run: bool
    collected: CollectReport | None = None
    inbox_files: list[str] = field(default_factory=list)
    planned: list[dict] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    uncertain: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def had_problems(self) -> bool:
        unread = self.collected is not None and bool(self.collected.unavailable)  # a mailbox down
        return bool(self.failed or self.uncertain or self.errors or unread)

    def to_dict(self) -> dict:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "collected": self.collected.to_dict() if self.collected else None,
            "inbox_files": self.inbox_files,
            "planned": self.planned,
            "sent": self.sent,
            "failed": [{"key": k, "error": e} for k, e in self.failed],
            "uncertain": [{"key": k, "error": e} for k, e in self.uncertain],
            "errors": self.errors,
            "summaries": self.summaries,
            "notes": self.notes,
        }


# --- pure: which moments are due ----------------------------------------------------------


def _at(day: date, dep_time, tz) -> datetime:
    return datetime.combine(day, dep_time, tzinfo=tz)


def due_events(dep: Deployment, now: datetime) -> list[Event]:
    """Reminder slots (one per distinct deadline of the period's levels) and summaries due at
    ``now`` for every configured period near it. A slot is due from ``reminder_days`` before
    its deadline at ``summary_time`` until the end of its last on-time day, never after."""
    s = dep.settings
    tz, send, inclusive = s.timezone, s.mail.summary_time, s.inclusive_deadline
    events = []
    for year in (now.year - 1, now.year, now.year + 1):
        for period in periods_of_year(year, s.period_kinds):
            levels = [None, *dict(period.kind.due_by_level)]
            for due in sorted({period.due_before_for(level) for level in levels}):
                level = next(lv for lv in levels if period.due_before_for(lv) == due)
                if now > period.deadline(tz, inclusive, level):
                    continue
                slots = [d for d in s.mail.reminder_days if _at(due - timedelta(days=d), send, tz) <= now]
                if slots:
                    events.append(Event("reminder", period, str(min(slots)), due))
            deadline = period.deadline(tz, inclusive)
            if (
                now <= deadline
                and _at(period.due_before - timedelta(days=s.mail.summary_days_before), send, tz) <= now
            ):
                events.append(Event("summary", period, "truoc-han"))
            final_at = dep.closes_at(period)  # the same moment closes the period (collect)
            if final_at <= now <= final_at + FINAL_SUMMARY_CATCH_UP:
                events.append(Event("summary", period, "sau-han"))
    return events


# --- the job ------------------------------------------------------------------------------


class _Job:
    def __init__(self, dep: Deployment, ledger: Store, now: datetime, report: DueReport):
        self.dep, self.ledger, self.now, self.report = dep, ledger, now, report
        self.letter = letters.letterhead(dep)
        self.numbers = item_numbers(dep.form)
        self._statuses: dict[str, list[UnitStatus]] = {}

    def step(self, what: str, action: Callable[[], None]) -> None:
        """Run one step; a failure is recorded and logged, and the run goes on."""
        try:
            action()
        except Exception as exc:  # one broken step must not stop what else is due
            logger.exception("Lỗi ở bước %s", what)
            self.report.errors.append(f"{what}: {exc}")

    def plan(self, key: str, compose: Callable[[], mail.OutgoingMessage], file_id: int | None = None) -> None:
        """Compose the message once and store it as pending (``dispatch.plan``); one that cannot
        be composed is recorded as failed and reported, and the run goes on."""
        planned = plan(
            self.ledger, self.dep.settings.mail, key, compose, now=self.now, file_id=file_id,
            dry_run=self.report.dry_run,
        )  # fmt: skip
        if planned.entry is not None:
            self.report.planned.append(planned.entry)
        self.report.notes += planned.notes
        if planned.error:
            self.report.errors.append(planned.error)

    def statuses(self, period: Period) -> list[UnitStatus]:
        if period.code not in self._statuses:
            units = self.dep.registry.reporting_units(period)
            s = self.dep.settings
            self._statuses[period.code] = period_status(
                period,
                units,
                self.ledger.files(period.code),
                self.ledger.current_submissions(period.code),
                s.timezone,
                s.inclusive_deadline,
                {u.code: self.dep.level_of(u, period) for u in units},
            )
        return self._statuses[period.code]

    # the answer to every judged file: feedback for a rejected one, a receipt for an accepted one
    def answers(self) -> None:
        receipts = self.dep.settings.mail.receipts
        for rec in self.ledger.files_without_feedback(since=self.now - FEEDBACK_CATCH_UP, receipts=receipts):
            if not receipts and rec.status == "accepted" and not rec.issues and not self.foreign(rec):
                continue  # no receipts here; only a unit whose report came from a stranger is told
            self.step(f"trả lời tệp {rec.original_name}", partial(self.answer, rec))

    def foreign(self, rec: FileRecord) -> bool:
        """The file was e-mailed from an address that is not its unit's registered one."""
        unit = self.dep.registry.latest(rec.unit) if rec.unit else None
        return bool(letters.foreign_sender(rec, unit))

    def answer(self, rec: FileRecord, version: str | None = None) -> None:
        """Plan the answer to ``rec``; ``version`` keys it (default ``tep-<id>``; a resend is new)."""
        today = self.now.astimezone(self.dep.settings.timezone).date()
        sender, muted = sender_answer(self.ledger, rec, self.now)  # a file that came by e-mail
        for key, compose in letters.file_answers(
            self.dep, rec, letter=self.letter, numbers=self.numbers, today=today,
            days_late=partial(self.lateness, rec=rec), version=version, sender=sender, muted=muted,
        ):  # fmt: skip
            self.plan(key, compose, file_id=rec.id)

    def mail_replies(self) -> None:
        """The one reply owed to each e-mail that brought no report (see ``mailanswers``)."""
        since = self.now - FEEDBACK_CATCH_UP
        for key, compose, file_id in mail_replies(self.dep, self.ledger, self.now, since, self.letter):
            self.plan(key, compose, file_id=file_id)

    def lateness(self, unit: Unit, period: Period, rec: FileRecord) -> int:
        """Days late of the unit's report as status counts it (its first accepted file)."""
        for st in self.statuses(period):
            if st.unit.code == unit.code and st.reported:
                return st.days_late
        s = self.dep.settings
        return days_late(
            rec.received_at, period, s.timezone, s.inclusive_deadline, self.dep.level_of(unit, period)
        )

    def reminders(self, event: Event) -> None:
        period = event.period
        today = self.now.astimezone(self.dep.settings.timezone).date()
        files = self.ledger.files(period.code)
        last_files, held_files = _last_files(files), _held_files(files)
        for st in self.statuses(period):
            unit = st.unit
            if st.reported or period.due_before_for(self.dep.level_of(unit, period)) != event.due:
                continue
            if self.now > period.deadline(
                self.dep.settings.timezone,
                self.dep.settings.inclusive_deadline,
                self.dep.level_of(unit, period),
            ):
                continue  # never after this unit's deadline
            if not unit.email:
                why = self.dep.registry.bad_addresses.get(unit.code, "danh mục không ghi địa chỉ thư")
                self.report.notes.append(f"Không gửi được thư nhắc cho đơn vị {unit.code}: {why}")
                continue
            returned_file = last_files.get(unit.code) if st.status == "rejected" else None
            held_file = held_files.get(unit.code) if unit.code not in last_files else None
            key, compose = letters.reminder(
                self.dep, unit, period, stage=event.stage, letter=self.letter, numbers=self.numbers,
                today=today, returned_file=returned_file, template=partial(self.template, unit, period),
                held_file=held_file,
            )  # fmt: skip
            if self.ledger.message(key) is not None:
                continue
            self.step(f"thư nhắc {unit.code}", partial(self.plan, key, compose))

    def template(self, unit: Unit, period: Period) -> mail.Attachment | None:
        """The unit's template, written (if changed) and attached; none in a dry run."""
        if self.report.dry_run:
            return None
        path = template_path(self.dep, unit, period)
        write_if_changed(path, render_template(self.dep.form, template_context(self.dep, unit, period)))
        return letters.attachment(path)

    def summary(self, event: Event) -> None:
        period, final = event.period, event.stage == "sau-han"
        recipients = self.dep.settings.mail.coordinators
        keys = {r: letters.message_key("summary", period.code, r, event.stage) for r in recipients}
        if all(self.ledger.message(k) is not None for k in keys.values()):
            return
        attachments: list[mail.Attachment] = []
        # a failure here skips this summary for this run (it is retried next run), never the
        # reminders and answers around it
        if self.report.dry_run:
            summary = summary_for(self.dep, period.code, now=self.now)  # built, nothing written
            self.report.summaries.append(f"(sẽ lập) {period.code}")
        else:
            result = consolidate(self.dep, period.code, docx=self.dep.settings.mail.attach_docx, now=self.now)
            for path in (result.xlsx, result.docx):
                found = letters.attachment(path, DOCX if str(path).endswith(".docx") else XLSX)
                if found is not None:
                    attachments.append(found)
            self.report.summaries.append(str(result.xlsx))
            assert result.summary is not None
            summary = result.summary
        # the e-mail says what the workbook says: the report's own counts, lists and sentences
        rows = summary.rows
        texts = dict.fromkeys(self.dep.due_text(r.unit, period) for r in rows)
        due = letters.Due(
            period.code, period.name, "; ".join(texts) or period.due_text(), period.last_on_time_day()
        )

        def names(status: str) -> list[str]:
            return [r.unit.name for r in rows if r.status.status == status]

        for recipient, key in keys.items():
            compose = partial(
                mail.compose_summary,
                letter=self.letter,
                recipients=[recipient],
                due=due,
                final=final,
                made_at=self.now,
                expected=summary.counts["expected"],
                on_time=summary.counts["on_time"],
                late=summary.counts["late"],
                headline_totals=summary.headline_totals(),
                findings=headline(summary)[1:],  # the comparisons and targets, with their coverage
                missing_units=names("missing"),
                rejected_units=names("rejected"),
                late_units=[
                    f"{r.unit.name} ({r.status.label.lower()})" for r in rows if r.status.status == "late"
                ],
                attachments=attachments,
            )
            self.plan(key, compose)

    def send_pending(self) -> None:
        settings = self.dep.settings
        sent = send_pending(
            self.ledger,
            settings.mail,
            settings.path("outbox"),
            self.now,
            lock=send_lock_path(settings.path("ledger")),
            expired=self._reminder_expired,
        )
        self.report.sent += sent.sent
        self.report.failed += sent.failed
        self.report.uncertain += sent.uncertain
        self.report.notes += sent.notes

    def _reminder_expired(self, row: MessageRecord) -> str | None:
        """A reminder that can no longer go out: its unit's deadline has passed."""
        if row.kind != "reminder":
            return None
        try:
            period = self.dep.period(row.period)
        except PeriodError:
            return None
        s = self.dep.settings
        level = self.dep.level_of(row.unit, period) if row.unit else None
        if self.now > period.deadline(s.timezone, s.inclusive_deadline, level):
            return "hết hạn báo cáo trước khi gửi được thư nhắc"
        return None


def _last_files(files: list[FileRecord]) -> dict[str, FileRecord]:
    """Each unit's most recent judged file of a period."""
    out: dict[str, FileRecord] = {}
    for rec in sorted(files, key=lambda r: (r.received_at, r.id or 0)):
        if rec.unit and rec.status in ("accepted", "rejected"):
            out[rec.unit] = rec
    return out


def _held_files(files: list[FileRecord]) -> dict[str, FileRecord]:
    """Each unit's most recent file waiting for verification, by the unit it names."""
    out: dict[str, FileRecord] = {}
    for rec in sorted(files, key=lambda r: (r.received_at, r.id or 0)):
        named = rec.unit or rec.claimed_unit
        if named and rec.status == "held":
            out[named] = rec
    return out


def run_due(dep: Deployment, now: datetime | None = None, dry_run: bool = False) -> DueReport:
    """Do everything due at ``now`` and not yet done (see the module docstring).

    ``dry_run`` changes nothing: no file is taken, no message planned or sent; the report says
    what would happen. Never raises for one failing step: a collect already running elsewhere
    is a note, any other failure of a step is in ``DueReport.errors``.
    """
    now = local_time(now, dep.settings.timezone)
    report = DueReport(now=now, dry_run=dry_run)
    events = due_events(dep, now)
    if dry_run:
        report.inbox_files = list_inbox(dep.settings.path("inbox"))
    else:
        try:
            report.collected = collect(dep, now=now)
        except LockedError as exc:
            report.notes.append(str(exc))
        except (ConfigError, UsageError, LedgerError):
            raise  # the deployment itself is wrong (another key, a lost ledger): nothing may go out
        except Exception as exc:  # the inbox may be broken; what is due by mail still goes out
            logger.exception("Lỗi khi thu nhận")
            report.errors.append(f"Thu nhận: {exc}")
    with open_store(dep.settings) as ledger:
        job = _Job(dep, ledger, now, report)
        job.step("trả lời các tệp", job.answers)
        job.step("trả lời thư không có báo cáo", job.mail_replies)
        for event in events:
            if event.kind == "reminder":
                job.step(f"thư nhắc {event.period.code}", partial(job.reminders, event))
            else:
                job.step(f"tổng hợp {event.period.code}", partial(job.summary, event))
        if not dry_run:
            job.step("gửi thư", job.send_pending)
    return report


def resend_feedback(dep: Deployment, file_id: int, actor: str, now: datetime | None = None) -> DueReport:
    """Send the answer to file ``file_id`` again, now (a coordinator's explicit action).

    A new message (its key carries ``gui-lai-N``) with the same wording and marked-up workbook,
    to the same recipients; then everything pending is sent, as ``run_due`` would. The act is
    recorded in the ledger under ``actor`` with what came of it. Raises ``UsageError`` for an
    unknown file, one that has no verdict yet or nobody to tell.
    """
    now = local_time(now, dep.settings.timezone)
    report = DueReport(now=now, dry_run=False)
    with open_store(dep.settings) as ledger:
        rec = ledger.file(file_id)
        if rec is None or rec.status not in ("accepted", "rejected", "held"):
            raise UsageError(f"Tệp số {file_id} chưa có kết quả kiểm tra để gửi lại")
        earlier = sum(1 for m in ledger.messages() if m.file_id == file_id)
        job = _Job(dep, ledger, now, report)
        job.answer(rec, f"tep-{file_id}-gui-lai-{earlier + 1}")
        if not report.planned:
            raise UsageError(f"Tệp số {file_id}: không có địa chỉ nào để gửi phản hồi")
        job.send_pending()
        ledger.add_action(
            at=now,
            actor=actor,
            action="resend_feedback",
            period=rec.period,
            unit=rec.unit,
            file_id=file_id,
            detail=f"đã gửi {len(report.sent)} thư, chưa gửi được {len(report.failed)}",
        )
    return report


# --- the long-running form ------------------------------------------------------------------


def _run_once(dep: Deployment) -> None:
    """One scheduled tick: a failure is logged, never allowed to end the loop."""
    try:
        report = run_due(dep)
    except LockedError as exc:
        logger.info("%s", exc)
        return
    except BaocaoError as exc:
        logger.error("Lỗi khi chạy: %s", exc)
        return
    except Exception:  # the unattended loop must outlive a bug in one tick; the log keeps it
        logger.exception("Lỗi không lường trước khi chạy run-due")
        return
    collected = report.collected
    logger.info(
        "run-due: tiếp nhận %d, trả lại %d, trùng %d; thư đã gửi %d, lỗi gửi %d",
        collected.count("accepted") if collected else 0,
        collected.count("rejected") if collected else 0,
        collected.count("duplicate") if collected else 0,
        len(report.sent),
        len(report.failed),
    )


def run(dep: Deployment, stop: threading.Event | None = None) -> None:
    """Call ``run_due`` now and then every ``[schedule] interval_minutes`` until stopped.

    Stops cleanly on Ctrl+C or SIGTERM (or when ``stop`` is set): the tick in progress
    finishes, nothing is cut in half.
    """
    stop = stop or threading.Event()
    log = setup_logging(dep)
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), lambda *_: stop.set())
    import schedule  # the long-running scheduler only

    scheduler = schedule.Scheduler()
    scheduler.every(dep.settings.schedule.interval_minutes).minutes.do(_run_once, dep)
    logger.info("baocao run: bắt đầu, mỗi %d phút; nhật ký %s", dep.settings.schedule.interval_minutes, log)
    _run_once(dep)
    while not stop.is_set():
        scheduler.run_pending()
        stop.wait(1)
    logger.info("baocao run: dừng theo yêu cầu")
