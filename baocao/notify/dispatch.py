"""A message's life in the ledger: planned once (``plan``), then sent at most once (``send_pending``).

Planning composes the message and stores its exact bytes under its key, so a retry sends the
very same message. A message that cannot be composed (an attachment that broke, a unit text the
composer chokes on) or has no address the mailer can send to is recorded as failed, once, with
the reason: it costs that message only. A bad address among good ones costs that address only.

Sending what the ledger holds as pending, each message at most once whatever runs overlap:

Why this needs care: two ``run-due`` processes (a slow SMTP server, the scheduler firing again,
a coordinator running it by hand) used to read the same pending rows and send them both.
Three things now make a message go out once:

1. a **send lock** (a lock file beside the ledger): one sender at a time; a run that finds it
   held leaves sending to the run that holds it, whose claims stand;
2. a **claim** per message in the ledger (pending -> sending, atomic, with the owner): even if
   the lock is not honoured (a network share), two senders cannot take the same row;
3. a **commit mark** just before the message can no longer be taken back (SMTP: the server has
   said 354 and the final dot is about to go). A sender that dies before it leaves the
   message pending again (the server never had it: sending it again is safe); one that dies
   after it leaves it ``uncertain``, reported and not sent again blindly. The same holds when the
   server stops answering after the dot.

The outbox backend writes each message to the same file name every time, so for it a resend is
harmless and nothing is ever uncertain.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from baocao.errors import DeliveryError
from baocao.model import MessageRecord
from baocao.notify.mail import (
    OutgoingMessage,
    Transport,
    UncertainDelivery,
    envelope,
    message_bytes,
    split_addresses,
    to_email,
)
from baocao.spec.config import MailSettings
from baocao.store import Store
from baocao.store.messages import ClaimLost

logger = logging.getLogger(__name__)


@dataclass
class Planned:
    """What ``plan`` did: ``entry`` describes a newly planned message (or, dry, one that would
    be); ``notes`` name addresses left out; ``error`` says why a message could not be made."""

    entry: dict | None = None
    notes: list[str] = field(default_factory=list)
    error: str = ""


def plan(
    ledger: Store,
    settings: MailSettings,
    key: str,
    compose: Callable[[], OutgoingMessage],
    *,
    now: datetime,
    file_id: int | None = None,
    dry_run: bool = False,
) -> Planned:
    """Compose the bytes once and store them as pending; nothing if the key exists.

    The key is ``kind|period|unit|recipient|version``. With ``dry_run`` nothing is stored: the
    entry says what would be planned.
    """
    if ledger.message(key) is not None:
        return Planned()
    kind, period, unit_part = key.split("|")[:3]
    unit = None if unit_part == "-" else unit_part
    result = Planned()
    entry = {"key": key, "kind": kind, "period": period, "unit": unit, "to": ""}
    try:
        message = compose()
        good_to, bad_to = split_addresses(message.to)
        good_cc, bad_cc = split_addresses(message.cc)
        bad = bad_to | bad_cc
        if bad:
            wrong = "; ".join(f"{a!r}: {why}" for a, why in bad.items())
            result.notes.append(f"Thư {key}: bỏ qua địa chỉ không gửi được ({wrong})")
        if not good_to and not good_cc:
            raise DeliveryError("không có địa chỉ thư nào gửi được")
        if not good_to:  # a Cc alone still reads the message: it becomes the To
            good_to, good_cc = good_cc, ()
        message = replace(message, to=good_to, cc=good_cc)
        entry["to"] = ", ".join(message.to + message.cc)
        if dry_run:
            result.entry = entry
            return result
        data = message_bytes(
            to_email(
                message, sender=settings.sender, sender_name=settings.sender_name, message_id_key=key,
                date=now, reply_to=settings.reply_to, reply_to_name=settings.reply_to_name,
            )
        )  # fmt: skip
    except Exception as exc:  # bad address, unreadable attachment, a bug in one message
        logger.warning("Không soạn được thư %s: %s", key, exc)
        result.error = f"Không soạn được thư {key}: {exc}"
        if not dry_run:
            ledger.plan_message(
                key, kind=kind, period=period, unit=unit, recipients=(), now=now, subject="", body=b"",
                file_id=file_id, failed=str(exc),
            )  # fmt: skip
        return result
    if ledger.plan_message(
        key,
        kind=message.kind,
        period=message.period,
        unit=message.unit,
        recipients=envelope(message),
        now=now,
        subject=message.subject,
        body=data,
        file_id=file_id,
    ):
        result.entry = entry
    return result


@dataclass
class SendReport:
    """What one ``send_pending`` did: keys sent, (key, why) failed, keys left uncertain."""

    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    uncertain: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def send_lock_path(ledger_path: Path) -> Path:
    return ledger_path.with_suffix(".send.lock")


def _owner() -> str:
    """Who holds a claim: host, process and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def send_pending(
    ledger: Store,
    settings: MailSettings,
    outbox: Path,
    now: datetime,
    *,
    lock: Path,
    expired: Callable[[MessageRecord], str | None] = lambda row: None,
    transport: Transport | None = None,
) -> SendReport:
    """Send every pending message of ``ledger`` once, under the send lock.

    ``lock`` is the send lock's file (``send_lock_path`` of the ledger). ``expired(row)`` returns
    a reason when a message must not go out any more (a reminder past
    its unit's deadline): it is then marked failed for good. A failure to deliver leaves the
    message pending for the next run; a recipient the server refuses for good (5xx) marks it
    failed and does not hold up the others.
    """
    report = SendReport()
    held = FileLock(lock, timeout=0)
    try:
        held.acquire()
    except Timeout:
        report.notes.append("Một lần chạy khác đang gửi thư; các thư còn lại sẽ được gửi ở lần chạy sau")
        return report
    try:
        for key in ledger.release_claims(now):
            row = ledger.message(key)
            report.uncertain.append((key, (row.last_error or "") if row else ""))
        transport = transport or Transport(settings, outbox)
        owner = _owner()
        for row in ledger.messages("pending"):
            _send_one(ledger, transport, row, owner, now, expired, report)
    finally:
        held.release()
    return report


def _send_one(
    ledger: Store,
    transport: Transport,
    row: MessageRecord,
    owner: str,
    now: datetime,
    expired: Callable[[MessageRecord], str | None],
    report: SendReport,
) -> None:
    key = row.key
    if not ledger.claim_message(key, owner, now):
        return  # another sender took it
    reason = expired(row)
    if reason is not None:
        ledger.message_failed(key, reason, final=True)
        report.failed.append((key, reason))
        return
    try:
        result = transport.send(
            row.body,
            row.recipients,
            kind=row.kind,
            unit=row.unit,
            message_id_key=key,
            day=row.created_at.date(),
            on_commit=lambda: ledger.message_committing(key, owner),
        )
    except UncertainDelivery as exc:
        ledger.message_uncertain(key, str(exc))
        report.uncertain.append((key, str(exc)))
        logger.warning("Không chắc đã gửi %s: %s", key, exc)
        return
    except DeliveryError as exc:
        ledger.message_failed(key, str(exc))
        report.failed.append((key, str(exc)))
        logger.warning("Chưa gửi được %s: %s", key, exc)
        return
    except ClaimLost as exc:  # the claim was released by another run: leave the message alone
        report.notes.append(str(exc))
        return
    if result.refused:
        reason = "; ".join(f"{addr}: {why}" for addr, why in result.refused.items())
        if not result.accepted:
            permanent = all(r.startswith("5") for r in result.refused.values())
            ledger.message_failed(key, reason, final=permanent)
            report.failed.append((key, reason))
            return
        report.notes.append(f"Thư {key}: không gửi được tới {reason}")
    ledger.message_sent(key, now, result.message_id, str(result.outbox_file or ""))
    report.sent.append(key)
