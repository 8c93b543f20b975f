"""One fetched e-mail as arrivals: the raw message (archived first) and a child per spreadsheet.

This is the shape every intake hands to the pipeline (bytes, a name, an arrival time it can
vouch for, where it came from, a stable key): the mailbox side of it, kept pure so the mapping
rules are tested without a server.

- The message itself is one arrival (its ``.eml`` bytes are archived before anything else), each
  spreadsheet in it a child arrival sharing its time and sender.
- Arrival time is the server's INTERNALDATE, never the Date header the sender's client wrote.
- ``key`` (``imap:<UIDVALIDITY>:<UID>``, children ``…/<n>``) says where it is in the mailbox;
  ``dedup_key`` (Message-ID, or the body's hash, plus the file's hash) says what it is, so a
  message delivered twice, under two UIDs, is recognised as the same submission.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from baocao.intake.mailbox import FetchedMessage
from baocao.intake.mime import MailLimits, ParsedMessage, parse_message
from baocao.names import ascii_slug

SOURCE = "imap"


@dataclass(frozen=True)
class AttachmentArrival:
    key: str
    name: str
    data: bytes
    sha256: str
    dedup_key: str
    origin: str  # "" | "zip:<name>" | "forwarded"


@dataclass(frozen=True)
class MessageArrival:
    key: str
    name: str  # a name for the archived .eml
    data: bytes
    sha256: str
    arrived: datetime  # INTERNALDATE, aware
    sender: str
    complete: bool  # False: over the size limit, only the first bytes were fetched
    message: ParsedMessage
    children: tuple[AttachmentArrival, ...]


def message_arrival(
    fetched: FetchedMessage, limits: MailLimits | None = None, *, own_addresses: frozenset[str] = frozenset()
) -> MessageArrival:
    """Parse ``fetched`` and lay it out as arrivals. Never raises (see ``mime.parse_message``)."""
    entry = fetched.entry
    parsed = parse_message(fetched.data, limits, complete=fetched.complete, own_addresses=own_addresses)
    key = f"{SOURCE}:{entry.uidvalidity}:{entry.uid}"
    children = tuple(
        AttachmentArrival(
            key=f"{key}/{number}",
            name=attachment.name,
            data=attachment.data,
            sha256=attachment.sha256,
            dedup_key=parsed.dedup_key(attachment),
            origin=attachment.origin,
        )
        for number, attachment in enumerate(parsed.attachments, 1)
    )
    return MessageArrival(
        key=key,
        name=f"thu-{entry.uid}_{ascii_slug(parsed.subject or 'khong-tieu-de', 40)}.eml",
        data=fetched.data,
        sha256=hashlib.sha256(fetched.data).hexdigest(),
        arrived=entry.internaldate,
        sender=parsed.sender,
        complete=fetched.complete,
        message=parsed,
        children=children,
    )
