"""Answers to what came by e-mail: whether its sender is answered now, and the intake's own
reply to a message that brought no report.

A file that came by e-mail is answered like any file (``notify.letters.file_answers``), and
also to the address it came from, threaded under the e-mail. A message that brought no usable
report gets one polite reply saying what to send (``intake.replies.due_reply`` decides, from the
archived message itself; ``notify.mailreply`` words it). Both go through the messages ledger,
so each is planned once and sent at most once.

Why a reply storm cannot happen, whatever answers us:
- machines are never answered (``intake.replies``), and every message we send says it is
  automatic (``Auto-Submitted``), so well-behaved responders stay quiet;
- one reply per message (its key is the message's identity and sender: a second delivery or a
  second run gives the same key), one answer per file (duplicates are never answered);
- an address that already had ``DAILY_FILE_ANSWERS`` answers about e-mailed files today gets no
  more until tomorrow (``muted``), and ``DAILY_CAP`` replies of the intake's own kind: a loop
  needs an answer per round, so it stops within a day's cap.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, time
from functools import partial

from baocao.intake.imap import partial_copy
from baocao.intake.mime import parse_message
from baocao.intake.replies import DAILY_CAP, due_reply
from baocao.intake.sources import mail_limits, own_addresses
from baocao.model import FileRecord
from baocao.notify.letters import message_key
from baocao.notify.mailreply import KIND, MailReply, compose_mail_reply
from baocao.notify.message import Letterhead, OutgoingMessage
from baocao.spec.deployment import Deployment
from baocao.store import Store, archive_of

logger = logging.getLogger(__name__)

DAILY_FILE_ANSWERS = 20  # answers about e-mailed files one address may get in a day
ANSWER_KINDS = ("feedback", "receipt", "held", KIND)


def day_start(now: datetime) -> datetime:
    return datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)


def sender_answer(store: Store, rec: FileRecord, now: datetime) -> tuple[str, frozenset[str]]:
    """(the address to answer besides the unit's, the addresses muted today) for ``rec``: its
    e-mail sender when it may be answered and is under the day's cap; a sender over the cap is
    muted, so it gets nothing more today even as a unit's registered address."""
    thread = rec.mail
    if rec.source != "imap" or thread is None or not thread.answer_to:
        return "", frozenset()
    address = thread.answer_to
    if store.answers_to(address, day_start(now), ANSWER_KINDS) >= DAILY_FILE_ANSWERS:
        logger.warning("Đã trả lời %s %d lần hôm nay: không gửi thêm", address, DAILY_FILE_ANSWERS)
        return "", frozenset({address.lower()})
    return address, frozenset()


Reply = tuple[str, Callable[[], OutgoingMessage], int]  # (ledger key, compose, the e-mail's file id)


def mail_replies(
    dep: Deployment, store: Store, now: datetime, since: datetime, letter: Letterhead
) -> Iterator[Reply]:
    """The intake's reply to each e-mail received since ``since`` that brought no report and
    may be answered (read again from its archived copy; one that cannot be read is skipped)."""
    if dep.settings.imap is None:
        return
    archive, limits, own = archive_of(dep.settings), mail_limits(dep), own_addresses(dep)
    allowed = dep.settings.imap.allowed_senders
    for rec in store.unanswered_mail(since):
        try:
            raw = archive.path(rec.archive_path).read_bytes()
        except OSError as exc:
            logger.warning("Không đọc được thư đã lưu trữ %s: %s", rec.archive_path, exc)
            continue
        parsed = parse_message(raw, limits, complete=not partial_copy(rec.original_name), own_addresses=own)
        sent = store.answers_to(parsed.sender, day_start(now), (KIND,)) if parsed.sender else 0
        due = due_reply(parsed, allowed_senders=allowed, sent_today=sent, daily_cap=DAILY_CAP)
        if due is None:
            continue
        reply = MailReply(
            kind=due.kind,
            to=due.to,
            subject=due.subject,
            received_at=rec.received_at.astimezone(dep.settings.timezone),
            in_reply_to=due.in_reply_to,
            references=due.references,
            reasons=due.reasons,
            other_files=parsed.other_files,
        )
        version = "thu-" + hashlib.sha256(due.key.encode("utf-8")).hexdigest()[:16]
        yield (
            message_key(KIND, "-", due.to, version),
            partial(compose_mail_reply, letter=letter, reply=reply),
            rec.saved_id,
        )
