"""The mailbox intake: units' e-mails in an IMAP folder, each kept whole, then its spreadsheets.

It implements ``intake.base.Intake`` on ``intake.mailbox`` (the server) and
``intake.mailarrival`` (what a message holds); collect does the rest as for the folder.

What it vouches for:
- **received time**: the server's INTERNALDATE, when the message reached the mailbox; never the
  Date header, which the sender's client writes. A replay (``--now``) takes only the messages
  that had arrived by then.
- **archive first**: each message is one *container* arrival, its raw bytes (the ``.eml``),
  copied, hashed and verified like a file; its spreadsheets (attached, zipped, forwarded) are
  read from that archived copy and become child arrivals, archived, judged and recorded like
  files in the same ledger transaction as the message.
- **release**: only after that commit is the message moved to ``processed_folder`` (created
  when missing, also when a person deleted it). A run that stops before the move leaves the
  message in the folder, recorded: the next run moves it (``release_pending``), and takes
  nothing twice.
- **keys**: a message is ``imap:<UIDVALIDITY>:<UID>`` (taken or not); an attachment is
  ``imap:<Message-ID or body hash>#<sha256>``, what it is whatever UID it had. A message
  delivered twice (two UIDs) is taken twice, and its attachments are recorded as duplicates of
  the first copies: one submission, never two.
- **costs**: a message over ``max_message_mb`` is archived as its first bytes (its headers, to
  say who sent it) and answered; a hostile or malformed one gives a problem, never an
  exception; a server that is down, refuses the login or drops the link costs the mailbox
  only (``failure()``): every message stays where it is for the next run.

The connection is opened on first use and shared by collect's copying threads under a lock
(an IMAP session is one conversation); ``close()`` logs out.
"""

from __future__ import annotations

import contextlib
import email.policy
import io
import logging
import re
import ssl
import threading
from contextlib import AbstractContextManager
from datetime import datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import BinaryIO

from baocao.errors import MailboxError
from baocao.intake.base import Arrival, IntakeBase, Refused
from baocao.intake.mailarrival import SOURCE, AttachmentArrival, MessageArrival, message_arrival
from baocao.intake.mailbox import FetchedMessage, Mailbox, MailboxEntry, open_mailbox
from baocao.intake.mailheaders import Headers
from baocao.intake.mime import MailLimits
from baocao.intake.replies import AUTOMATIC_REASONS, no_reply_reason, sender_allowed
from baocao.model import FileRecord, MailThread
from baocao.names import ascii_slug
from baocao.spec.config import ImapSettings
from baocao.store.base import Store

logger = logging.getLogger(__name__)

_KEY = re.compile(rf"{SOURCE}:(\d+):(\d+)")
PARTIAL = "_phan-dau.eml"  # the name of a message kept as its first bytes (over the size limit)


def partial_copy(name: str) -> bool:
    """Whether an archived message is only the first bytes of one over the size limit."""
    return name.endswith(PARTIAL)


def message_key(entry: MailboxEntry) -> str:
    """The arrival key of a message in the intake folder: ``imap:<UIDVALIDITY>:<UID>``."""
    return f"{SOURCE}:{entry.uidvalidity}:{entry.uid}"


def parse_key(key: str | None) -> tuple[int, int] | None:
    """(UIDVALIDITY, UID) of a message's arrival key, None for anything else."""
    found = _KEY.fullmatch(key or "")
    return (int(found[1]), int(found[2])) if found else None


class ImapIntake(IntakeBase):
    """The ``[intake.imap]`` mailbox as an intake (see the module docstring).

    ``store`` says which messages are taken; ``now`` is the run's clock (its zone is the one
    received times are shown in); ``simulated`` (a replay) leaves messages that arrived after
    ``now``; ``limits`` bound one message; ``own_addresses`` are baocao's sending addresses.
    """

    source = SOURCE

    def __init__(
        self,
        settings: ImapSettings,
        store: Store,
        now: datetime,
        *,
        limits: MailLimits,
        own_addresses: frozenset[str] = frozenset(),
        simulated: bool = False,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.now = now
        self.limits = limits
        self.own_addresses = own_addresses
        self.simulated = simulated
        self._password = password
        self._ssl_context = ssl_context
        self._stack = contextlib.ExitStack()
        self._box: Mailbox | None = None
        self._failure: MailboxError | None = None
        self._lock = threading.Lock()
        self._entries: dict[str, MailboxEntry] = {}
        self._complete: dict[str, bool] = {}
        self._skipped: list[tuple[str, str]] = []

    # --- the connection ------------------------------------------------------------------------

    def _mailbox(self) -> Mailbox:
        """The open session; the first failure is kept and every later use fails at once."""
        if self._failure is not None:
            raise MailboxError(str(self._failure))
        if self._box is None:
            try:
                self._box = self._stack.enter_context(
                    open_mailbox(self.settings, password=self._password, ssl_context=self._ssl_context)
                )
            except MailboxError as exc:
                self._fail(exc)
                raise
        return self._box

    def _fail(self, exc: MailboxError) -> None:
        if self._failure is None:
            self._failure = exc
            logger.error("%s", exc)

    def failure(self) -> str | None:
        """Why the mailbox could not be read this run (server down, login refused, link lost)."""
        return str(self._failure) if self._failure is not None else None

    def close(self) -> None:
        """Log out (a broken connection needs no goodbye)."""
        try:
            self._stack.close()
        except Exception:  # the session is over either way; nothing of ours is lost
            logger.debug("Lỗi khi đóng kết nối hộp thư", exc_info=True)
        self._box = None

    # --- listing -------------------------------------------------------------------------------

    def arrivals(self) -> list[Arrival]:
        """Messages not taken yet, oldest arrival first (none when the mailbox cannot be read)."""
        try:
            entries = self._mailbox().pending()
        except MailboxError as exc:
            self._fail(exc)
            return []
        if self.simulated:
            entries = [e for e in entries if e.internaldate <= self.now]
        taken = self.store.taken_keys(message_key(e) for e in entries)
        found = []
        for entry in entries:
            key = message_key(entry)
            if key not in taken:
                self._entries[key] = entry
                found.append(self._arrival(key, entry))
        return found

    def _arrival(self, key: str, entry: MailboxEntry) -> Arrival:
        sender, subject = _who(entry.header)
        partial = entry.size > self.limits.max_message_bytes
        stem = f"thu-{entry.uid}_{ascii_slug(subject or 'khong-tieu-de', 40)}"
        return Arrival(
            key=key,
            name=f"{stem}{PARTIAL if partial else '.eml'}",
            location=f"thư của {sender or 'người gửi không rõ'} (UID {entry.uid})",
            received_at=entry.internaldate.astimezone(self.now.tzinfo),
            source=self.source,
            sender=sender or None,
            size=entry.size,
            container=True,
        )

    def skipped(self) -> list[tuple[str, str]]:
        return list(self._skipped)

    # --- taking --------------------------------------------------------------------------------

    def open(self, arrival: Arrival) -> AbstractContextManager[BinaryIO]:
        """The message's bytes (at most ``max_message_mb``; a larger message gives its first
        bytes). Raises ``ConnectionError`` when the link is lost (the message waits for the next
        run) and ``Refused`` when it left the folder since it was listed. An attachment's bytes
        are in the arrival itself."""
        if not arrival.container:
            return super().open(arrival)
        entry = self._entries.get(arrival.key)
        if entry is None:
            raise Refused(f"{arrival.location}: không có trong danh sách thư của lần chạy này")
        with self._lock:
            try:
                fetched = self._mailbox().fetch(entry, self.limits.max_message_bytes)
            except MailboxError as exc:
                self._fail(exc)
                raise ConnectionError(str(exc)) from None
        if fetched is None:
            raise Refused(f"{arrival.location} đã bị chuyển hoặc xóa khỏi hộp thư trước khi tải về")
        self._complete[arrival.key] = fetched.complete
        return io.BytesIO(fetched.data)

    def expand(self, container: Arrival, archived: Path) -> list[Arrival]:
        """The spreadsheets of the archived message, each a child arrival carrying the thread to
        answer under; what kept a message from yielding any is reported (``skipped``)."""
        entry = self._entries[container.key]
        fetched = FetchedMessage(entry, archived.read_bytes(), self._complete.get(container.key, True))
        message = message_arrival(fetched, self.limits, own_addresses=self.own_addresses)
        parsed = message.message
        if parsed.automatic and not message.children:  # a bounce, an out-of-office: nothing to tell
            logger.info(
                "%s: %s", container.location, AUTOMATIC_REASONS.get(parsed.automatic, parsed.automatic)
            )
            return []
        if not sender_allowed(parsed.sender, self.settings.allowed_senders):
            self._skipped.append(
                (
                    container.location,
                    "người gửi không thuộc danh sách được nhận ([intake.imap] allowed_senders): thư được "
                    "lưu trữ, tệp đính kèm không được xét và không trả lời",
                )
            )
            return []
        if parsed.problems or not message.children:
            reasons = [p.message for p in parsed.problems] or ["thư không có bảng tính báo cáo đính kèm"]
            self._skipped.append((container.location, "; ".join(reasons)))
        thread = _thread(message)
        return [_child(container, message, child, thread) for child in message.children]

    # --- releasing -----------------------------------------------------------------------------

    def release(self, arrival: Arrival) -> bool:
        """Move the recorded message to the processed folder; False (next run) when that fails."""
        entry = self._entries.get(arrival.key)
        if entry is None:
            return True  # not a message of this folder's listing: nothing to move
        with self._lock:
            try:
                self._mailbox().file_away([entry])
            except MailboxError as exc:
                self._fail(exc)
                return False
        return True

    def release_pending(self, records: list[FileRecord]) -> list[int]:
        """Move messages an earlier run recorded but did not move (it stopped after its commit,
        or the server was down): those still in the folder are moved; a message no longer there
        (moved by a person, or the folder was recreated under a new UIDVALIDITY, when it is
        taken again and its attachments recognised as duplicates) is nothing left to do."""
        if not records:
            return []
        try:
            box = self._mailbox()
            present = {e.uid: e for e in box.pending()}
        except MailboxError as exc:
            self._fail(exc)
            return []
        gone, move = [], []
        for rec in records:
            key = parse_key(rec.arrival_key)
            entry = present.get(key[1]) if key and key[0] == box.uidvalidity else None
            if entry is None:
                gone.append(rec.saved_id)
            else:
                move.append((rec.saved_id, entry))
        try:
            box.file_away([entry for _, entry in move])
        except MailboxError as exc:
            self._fail(exc)
            return gone
        return gone + [file_id for file_id, _ in move]


def _who(header: bytes) -> tuple[str, str]:
    """(sender address, subject) from the header lines fetched with the listing."""
    try:
        head = Headers(BytesHeaderParser(policy=email.policy.default).parsebytes(header))
        return head.address("From")[1], head.text("Subject")
    except Exception:  # a header the parser cannot take names nobody; the message is still taken
        return "", ""


def _thread(message: MessageArrival) -> MailThread:
    parsed = message.message
    may_answer = not no_reply_reason(parsed)
    return MailThread(
        message_id=parsed.message_id,
        references=parsed.references,
        subject=parsed.subject,
        answer_to=parsed.sender if may_answer else "",
    )


def _child(
    container: Arrival, message: MessageArrival, child: AttachmentArrival, thread: MailThread
) -> Arrival:
    where = child.origin.split("zip:", 1)[1] + " › " if "zip:" in child.origin else ""
    return Arrival(
        key=f"{SOURCE}:{child.dedup_key}",
        name=child.name,
        location=f"{where}{child.name} (thư của {message.sender or 'người gửi không rõ'})",
        received_at=container.received_at,
        source=container.source,
        sender=message.sender or None,
        size=len(child.data),
        content=child.data,
        parent=container.key,
        mail=thread,
    )
