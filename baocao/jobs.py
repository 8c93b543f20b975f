"""What is due at a given moment, done exactly once: collect, feedback, reminders, summaries.

``run_due(dep, now)`` is the whole unattended job; cron, Windows Task Scheduler, the ``run``
loop and the tests all call it. It is safe to run twice and safe after the machine was off:
- every message has a key in the ledger (kind, period, recipient, content version) and a key
  is planned once; its composed bytes are stored, so a retry after an SMTP failure sends the
  very same message, and a message that was sent is never sent again;
- what fell due while the machine was off is caught up on the next run, except reminders,
  which never go out once the deadline has passed (only the latest reminder slot is sent);
- a failure to deliver leaves the message pending and logged; the next run retries it; a
  recipient the server refuses for good (5xx) is marked failed and does not block the others.

Which moments are due is a pure function of the settings and ``now`` (``due_events``).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

import schedule

from baocao.collect import CollectReport, collect, local_time
from baocao.consolidate import consolidate
from baocao.errors import BaocaoError, DeliveryError, LockedError, UsageError
from baocao.files import write_if_changed
from baocao.intake.folder import list_inbox
from baocao.model import FileRecord
from baocao.names import inside, printable
from baocao.notify import mail
from baocao.report.status import UnitStatus, counts, period_status
from baocao.spec.deployment import Deployment
from baocao.spec.periods import Period, PeriodError, periods_of_year
from baocao.spec.registry import Unit
from baocao.store import Store, open_store
from baocao.workbook.template import render_template, template_context, template_path

logger = logging.getLogger(__name__)

FINAL_SUMMARY_CATCH_UP = timedelta(days=14)  # a machine off longer than this skips the final summary
FEEDBACK_CATCH_UP = timedelta(days=7)  # feedback on a file judged longer ago than this is stale
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Event:
    """Something due for a period: a reminder slot (``stage`` = days before) or a summary."""

    kind: str  # reminder | summary
    period: Period
    stage: str  # reminder: "7", "3", "1"; summary: "truoc-han" or "sau-han"


@dataclass
class DueReport:
    """What one ``run_due`` did (or, with ``dry_run``, would do)."""

    now: datetime
    dry_run: bool
    collected: CollectReport | None = None
    inbox_files: list[str] = field(default_factory=list)
    planned: list[dict] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "collected": self.collected.to_dict() if self.collected else None,
            "inbox_files": self.inbox_files,
            "planned": self.planned,
            "sent": self.sent,
            "failed": [{"key": k, "error": e} for k, e in self.failed],
            "summaries": self.summaries,
            "notes": self.notes,
        }


# --- pure: which moments are due ----------------------------------------------------------


def _at(day: date, dep_time, tz) -> datetime:
    return datetime.combine(day, dep_time, tzinfo=tz)


def due_events(dep: Deployment, now: datetime) -> list[Event]:
    """Reminder slots and summaries due at ``now`` for every configured period near it."""
    s = dep.settings
    tz, send = s.timezone, s.mail.summary_time
    events = []
    for year in (now.year - 1, now.year, now.year + 1):
        for period in periods_of_year(year, s.period_kinds):
            deadline = period.deadline(tz, s.inclusive_deadline)
            if now <= deadline:
                slots = [
                    d
                    for d in s.mail.reminder_days
                    if _at(period.due_before - timedelta(days=d), send, tz) <= now
                ]
                if slots:
                    events.append(Event("reminder", period, str(min(slots))))
                if _at(period.due_before - timedelta(days=s.mail.summary_days_before), send, tz) <= now:
                    events.append(Event("summary", period, "truoc-han"))
            final_at = dep.closes_at(period)  # the same moment closes the period (collect)
            if final_at <= now <= final_at + FINAL_SUMMARY_CATCH_UP:
                events.append(Event("summary", period, "sau-han"))
    return events


def message_key(kind: str, period: str, recipient: str, version: str, unit: str | None = None) -> str:
    """The idempotency key: kind, period, unit, recipient and content version."""
    return "|".join([kind, period, unit or "-", recipient.lower(), version])


# --- the job ------------------------------------------------------------------------------


class _Job:
    def __init__(self, dep: Deployment, ledger: Store, now: datetime, report: DueReport):
        self.dep, self.ledger, self.now, self.report = dep, ledger, now, report

    def plan(self, key: str, message: mail.OutgoingMessage, file_id: int | None = None) -> None:
        """Compose the bytes once and store them as pending (no-op if the key exists)."""
        if self.ledger.message(key) is not None:
            return
        entry = {
            "key": key,
            "kind": message.kind,
            "period": message.period,
            "unit": message.unit,
            "to": message.to[0],
        }
        if self.report.dry_run:
            self.report.planned.append(entry)
            return
        email_message = mail.to_email(
            message,
            sender=self.dep.settings.mail.sender,
            sender_name=self.dep.settings.mail.sender_name,
            message_id_key=key,
            date=self.now,
        )
        if self.ledger.plan_message(
            key,
            kind=message.kind,
            period=message.period,
            unit=message.unit,
            recipient=message.to[0],
            now=self.now,
            subject=message.subject,
            body=mail.message_bytes(email_message),
            file_id=file_id,
        ):
            self.report.planned.append(entry)

    def statuses(self, period: Period) -> list[UnitStatus]:
        units = self.dep.registry.reporting_units(period)
        s = self.dep.settings
        return period_status(
            period,
            units,
            self.ledger.files(period.code),
            self.ledger.current_submissions(period.code),
            s.timezone,
            s.inclusive_deadline,
            {u.code: self.dep.level_of(u, period) for u in units},
        )

    # feedback on every judged file with issues
    def feedback(self) -> None:
        """Answer every judged file with issues, once, and only to whom it concerns.

        A file filed under a unit: that unit's registered address and the address typed in the
        file. An unattributed file (unknown unit, an edited unit cell, no proof): the address
        typed in it only, never the unit it claims. A held file: a notice to the unit it names
        (someone sent a file in its name) and to the address typed in it.
        """
        for rec in self.ledger.files_without_feedback(since=self.now - FEEDBACK_CATCH_UP):
            self.feedback_for(rec, f"tep-{rec.id}")

    def feedback_for(self, rec: FileRecord, version: str) -> None:
        """Plan the feedback (or held notice) on ``rec``; ``version`` keys it (a resend is a new one)."""
        try:
            period = self.dep.period(rec.period or "")
        except PeriodError:  # an unknown period still gets feedback, worded without it
            period = None
        unit = self.dep.registry.latest(rec.unit) if rec.unit else None
        if rec.unit and unit is None:
            return
        recipients = [a for a in dict.fromkeys([unit.email if unit else "", rec.contact or ""]) if a]
        if unit is not None and not recipients:
            self.report.notes.append(f"Đơn vị {unit.code} không có địa chỉ thư: không gửi được phản hồi")
        attachment = _attachment(Path(rec.feedback_path), XLSX) if rec.feedback_path else None
        kind = "held" if rec.status == "held" else "feedback"
        unit_code = unit.code if unit else None
        common: dict[str, Any] = {
            "org_name": self.dep.settings.organisation,
            "unit_code": unit_code,
            "unit_name": unit.name if unit else "",
            "period_code": rec.period or "",
            "period_name": period.name if period else (rec.period or ""),
            "original_name": rec.original_name,
            "issues": rec.issues,
        }
        for recipient in recipients:
            if kind == "held":
                message = mail.compose_held(email=recipient, **common)
            else:
                accepted = rec.status == "accepted"
                message = mail.compose_feedback(
                    email=recipient, accepted=accepted, feedback_workbook=attachment, **common
                )
            key = message_key(kind, rec.period or "-", recipient, version, unit_code)
            self.plan(key, message, file_id=rec.id)

    def reminders(self, event: Event) -> None:
        period = event.period
        today = self.now.date()
        for st in self.statuses(period):
            if st.reported:
                continue
            unit = st.unit
            if not unit.email:
                self.report.notes.append(f"Đơn vị {unit.code} không có địa chỉ thư: không gửi được thư nhắc")
                continue
            key = message_key("reminder", period.code, unit.email, f"truoc-{event.stage}-ngay", unit.code)
            if self.ledger.message(key) is not None:
                continue
            message = mail.compose_reminder(
                org_name=self.dep.settings.organisation,
                unit_code=unit.code,
                unit_name=unit.name,
                email=unit.email,
                period_code=period.code,
                period_name=period.name,
                deadline=self.dep.last_on_time_day(unit, period),
                today=today,
                template=None if self.report.dry_run else self.template(unit, period),
                inbox_hint=self.dep.settings.submit_to,
            )
            self.plan(key, message)

    def template(self, unit: Unit, period: Period) -> mail.Attachment | None:
        path = template_path(self.dep, unit, period)
        write_if_changed(path, render_template(self.dep.form, template_context(self.dep, unit, period)))
        return _attachment(path, XLSX)

    def summary(self, event: Event) -> None:
        period, final = event.period, event.stage == "sau-han"
        recipients = self.dep.settings.mail.coordinators
        keys = {r: message_key("summary", period.code, r, event.stage) for r in recipients}
        if all(self.ledger.message(k) is not None for k in keys.values()):
            return
        statuses = self.statuses(period)
        attachments: list[mail.Attachment] = []
        if self.report.dry_run:
            self.report.summaries.append(f"(sẽ lập) {period.code}")
        else:
            result = consolidate(self.dep, period.code, docx=self.dep.settings.mail.attach_docx, now=self.now)
            for path in (result.xlsx, result.docx):
                found = (
                    _attachment(Path(path), DOCX if str(path).endswith(".docx") else XLSX) if path else None
                )
                if found is not None:
                    attachments.append(found)
            self.report.summaries.append(str(result.xlsx))
        c = counts(statuses)
        totals = _totals(self.dep, statuses)
        for recipient, key in keys.items():
            message = mail.compose_summary(
                org_name=self.dep.settings.organisation,
                recipients=[recipient],
                period_code=period.code,
                period_name=period.name,
                final=final,
                made_at=self.now,
                expected=c["expected"],
                reported=c["reported"],
                on_time=c["on_time"],
                late=c["late"],
                rejected=c["rejected"],
                missing=c["missing"],
                headline_totals=totals,
                missing_units=[st.unit.name for st in statuses if not st.reported],
                attachments=attachments,
            )
            self.plan(key, message)

    def send_pending(self) -> None:
        settings = self.dep.settings
        outbox = settings.path("outbox")
        for row in self.ledger.messages("pending"):
            key = row.key
            if row.kind == "reminder" and self._reminder_expired(row.period):
                self.ledger.message_failed(key, "hết hạn báo cáo trước khi gửi được thư nhắc", final=True)
                self.report.failed.append((key, "hết hạn"))
                continue
            name = f"{row.created_at:%Y%m%d}-{row.kind}-{row.unit or 'all'}-{mail.key_hash(key)[:8]}.eml"
            try:
                result = mail.send_raw(row.body, (row.recipient,), settings.mail, outbox=inside(outbox, name))
            except DeliveryError as exc:
                self.ledger.message_failed(key, str(exc))
                self.report.failed.append((key, str(exc)))
                logger.warning("Chưa gửi được %s: %s", key, exc)
                continue
            if result.refused:
                reason = "; ".join(result.refused.values())
                permanent = all(r.startswith("5") for r in result.refused.values())
                self.ledger.message_failed(key, reason, final=permanent)
                self.report.failed.append((key, reason))
                continue
            self.ledger.message_sent(key, self.now, result.message_id, str(result.outbox_file or ""))
            self.report.sent.append(key)

    def _reminder_expired(self, period_code: str) -> bool:
        period = self.dep.period(period_code)
        return self.now > period.deadline(self.dep.settings.timezone, self.dep.settings.inclusive_deadline)


def _attachment(path: Path, mimetype: str) -> mail.Attachment | None:
    if not path.is_file():
        return None
    return mail.Attachment(path.name, path.read_bytes(), mimetype)


def _totals(dep: Deployment, statuses: list[UnitStatus]) -> list[tuple[str, int]]:
    """Province totals of every quantitative field, over the units with accepted values."""
    out = []
    for f in dep.form.quantitative_fields:
        total = sum(
            value
            for st in statuses
            if st.submission is not None and isinstance(value := st.submission.values.get(f.code), int)
        )
        out.append((f.label, total))
    return out


def run_due(dep: Deployment, now: datetime | None = None, dry_run: bool = False) -> DueReport:
    """Do everything due at ``now`` and not yet done (see the module docstring).

    ``dry_run`` changes nothing: no file is taken, no message planned or sent; the report says
    what would happen. Raises ``LockedError`` when a collect is already running.
    """
    now = local_time(now, dep.settings.timezone)
    report = DueReport(now=now, dry_run=dry_run)
    events = due_events(dep, now)
    if dry_run:
        report.inbox_files = list_inbox(dep.settings.path("inbox"))
    else:
        report.collected = collect(dep, now=now)
    with open_store(dep.settings) as ledger:
        job = _Job(dep, ledger, now, report)
        job.feedback()
        for event in events:
            if event.kind == "reminder":
                job.reminders(event)
            else:
                job.summary(event)
        if not dry_run:
            job.send_pending()
    return report


def resend_feedback(dep: Deployment, file_id: int, actor: str, now: datetime | None = None) -> DueReport:
    """Send the feedback on file ``file_id`` again, now (a coordinator's explicit action).

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
        job.feedback_for(rec, f"tep-{file_id}-gui-lai-{earlier + 1}")
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


class PrintableFormatter(logging.Formatter):
    """Log lines with control characters shown, not written: a file name or a cell holding an
    ESC sequence or ``\\r`` cannot forge or hide lines of the log (``names.printable``)."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def setup_logging(dep: Deployment) -> Path:
    """Log to a rotating file in the logs folder (and keep the console quiet but for warnings).

    One such file per process, the deployment's own: a process that serves another deployment
    (a test run, a script over two configs) moves the log to that deployment's folder rather than
    writing into the first one's.
    """
    folder = dep.settings.path("logs")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "baocao.log"
    root = logging.getLogger("baocao")
    root.setLevel(logging.INFO)
    for old in [h for h in root.handlers if isinstance(h, RotatingFileHandler)]:
        if old.baseFilename == os.path.abspath(path):
            return path
        root.removeHandler(old)
        old.close()
    handler = RotatingFileHandler(
        path,
        maxBytes=dep.settings.schedule.log_max_kb * 1024,
        backupCount=dep.settings.schedule.log_backups,
        encoding="utf-8",
    )
    handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    return path


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
    scheduler = schedule.Scheduler()
    scheduler.every(dep.settings.schedule.interval_minutes).minutes.do(_run_once, dep)
    logger.info("baocao run: bắt đầu, mỗi %d phút; nhật ký %s", dep.settings.schedule.interval_minutes, log)
    _run_once(dep)
    while not stop.is_set():
        scheduler.run_pending()
        stop.wait(1)
    logger.info("baocao run: dừng theo yêu cầu")
