"""When the e-mail intake answers a message itself, and to whom: pure rules, no sending.

The usual answer to a report is the feedback of the judged file, which the folder intake
already sends. This module decides the *other* answers, for messages that produced no usable
file: "what to attach", "resend without winmail.dat", "the message was too large", and it
decides who is never answered at all.

A reply storm is impossible by construction, not by hope:

- machines are never answered: our own messages, bounces, auto-replies and mailing lists
  (``ParsedMessage.automatic``), and a message that answers one of ours but carries no file
  (an out-of-office reply that forgot its Auto-Submitted header);
- one message gets at most one reply, to its sender only, and that reply's key is derived from
  the message's identity (Message-ID, or its body when there is none), so a second delivery or
  a second run produces the same key, which the sending log lets through once;
- a sender gets at most ``daily_cap`` such replies a day, whatever they send, so even a machine
  that hides every sign of being one gets a handful of answers, not a loop;
- senders outside ``allowed_senders`` (when the deployment sets it) are never answered, so a
  forged From cannot aim our replies at someone else.

The replies themselves carry ``Auto-Submitted: auto-replied`` (RFC 3834) and threading headers,
so well-behaved responders never answer them either.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from baocao.intake.mime import ParsedMessage

DAILY_CAP = 3
AUTOMATIC_REASONS = {
    "own": "thư do chính hệ thống gửi",
    "bounce": "thư báo lỗi chuyển phát",
    "auto-submitted": "thư trả lời tự động",
    "mailing-list": "thư từ danh sách thư",
}


@dataclass(frozen=True)
class ReplyDue:
    """One reply to send: ``kind`` says which text, ``reasons`` are the message's problems in
    Vietnamese, ``key`` is the stable message key for the sending log (one reply, ever)."""

    kind: str  # too_large | tnef | too_many_attachments | no_attachment
    to: str
    subject: str
    in_reply_to: str
    references: tuple[str, ...]
    reasons: tuple[str, ...]
    key: str


def sender_allowed(sender: str, allowed: Iterable[str]) -> bool:
    """Whether ``sender`` matches ``allowed`` (addresses, or domains that also cover their
    subdomains). An empty ``allowed`` lets everyone in."""
    allowed = tuple(allowed)
    if not allowed:
        return True
    sender = sender.lower()
    domain = sender.rpartition("@")[2]
    return any(
        sender == entry if "@" in entry else domain == entry or domain.endswith("." + entry)
        for entry in allowed
    )


def no_reply_reason(
    message: ParsedMessage,
    *,
    allowed_senders: Iterable[str] = (),
    sent_today: int = 0,
    daily_cap: int = DAILY_CAP,
) -> str:
    """Why no reply may be sent to ``message`` (Vietnamese, for the log), or "" when one may."""
    if message.automatic:
        return f"không trả lời {AUTOMATIC_REASONS.get(message.automatic, 'thư tự động')}"
    if not message.sender or "@" not in message.sender:
        return "thư không có địa chỉ người gửi dùng được"
    if not sender_allowed(message.sender, allowed_senders):
        return f"{message.sender} không thuộc danh sách người gửi được chấp nhận"
    if message.answers_us and not message.attachments:
        return "thư trả lời thư của hệ thống mà không có tệp: không trả lời để tránh vòng lặp thư"
    if sent_today >= daily_cap:
        return f"đã trả lời {message.sender} {sent_today} lần trong ngày (tối đa {daily_cap})"
    return ""


def due_reply(
    message: ParsedMessage,
    *,
    allowed_senders: Iterable[str] = (),
    sent_today: int = 0,
    daily_cap: int = DAILY_CAP,
) -> ReplyDue | None:
    """The one reply ``message`` should get from the intake itself, or ``None``.

    ``sent_today``: how many intake replies this sender already got today (from the sending
    log). A message with a usable spreadsheet gets ``None`` here: its answer is the feedback.
    """
    if message.attachments:
        return None
    if no_reply_reason(message, allowed_senders=allowed_senders, sent_today=sent_today, daily_cap=daily_cap):
        return None
    codes = {problem.code for problem in message.problems}
    if "too_large" in codes:
        kind = "too_large"
    elif message.tnef:
        kind = "tnef"
    elif "too_many_attachments" in codes:
        kind = "too_many_attachments"
    else:
        kind = "no_attachment"
    references = (*message.references, message.message_id) if message.message_id else message.references
    return ReplyDue(
        kind=kind,
        to=message.sender,
        subject=_reply_subject(message.subject),
        in_reply_to=message.message_id,
        references=tuple(dict.fromkeys(references))[-10:],
        reasons=tuple(problem.message for problem in message.problems),
        key=f"intake-reply:{message.identity}:{message.sender}",
    )


def _reply_subject(subject: str) -> str:
    subject = subject.strip() or "(không có tiêu đề)"
    return subject if subject.lower().startswith(("re:", "trả lời:")) else f"Re: {subject}"
