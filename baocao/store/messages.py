"""The ledger's messages: each planned once, claimed before it is sent, sent at most once.

A message's life: ``plan_message`` stores its exact bytes as ``pending`` (a key is planned once,
whatever happens later); ``claim_message`` takes it for one sender (pending -> ``sending``,
atomic: two processes never both get it); ``message_committing`` marks the moment the server may
have it; then ``sent``, ``failed`` (given up), back to ``pending`` (retry), or ``uncertain`` (it
may have been delivered: never sent again blindly). ``release_claims`` recovers the claims of a
sender that died. Status values are checked here (the table has no CHECK since m008).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from baocao.errors import StoreError
from baocao.model import MessageRecord
from baocao.store.rows import dumps, message_from_row

MESSAGE_STATUSES = ("pending", "sending", "sent", "failed", "uncertain")


class ClaimLost(StoreError):
    """A sender's claim on a message was released by another run (it is not its to send)."""


class MessageStore:
    """The message half of the SQLite ledger (mixed into ``Ledger``, which owns ``db``)."""

    db: sqlite3.Connection

    def transaction(self) -> AbstractContextManager[None]:  # provided by Ledger
        raise NotImplementedError

    # --- messages ---------------------------------------------------------------------------

    def message(self, key: str) -> MessageRecord | None:
        row = self.db.execute("SELECT * FROM messages WHERE key=?", (key,)).fetchone()
        return message_from_row(row) if row else None

    def plan_message(
        self,
        key: str,
        *,
        kind: str,
        period: str,
        unit: str | None,
        recipients: Sequence[str],
        now: datetime,
        subject: str,
        body: bytes,
        file_id: int | None = None,
        failed: str | None = None,
    ) -> bool:
        """Store a composed message as pending; False if that key was planned before.

        ``recipients`` are every envelope address (To then Cc; ``recipient`` keeps the first, for
        lists). The exact bytes are kept so that a retry after an SMTP failure sends the same
        message (same Message-ID), and a key is planned at most once whatever happens later.
        ``failed`` records a message that could not even be composed (no usable address…), so
        it is reported once and not tried again.
        """
        status = "failed" if failed is not None else "pending"
        cur = self.db.execute(
            """INSERT OR IGNORE INTO messages (key, kind, period, unit, recipient, recipients, status,
                   created_at, file_id, subject, body, last_error)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?)""",
            (
                key,
                kind,
                period,
                unit,
                recipients[0] if recipients else "",
                dumps(list(recipients)),
                status,
                now.isoformat(),
                file_id,
                subject,
                body,
                failed,
            ),
        )
        return cur.rowcount == 1

    def claim_message(self, key: str, owner: str, now: datetime) -> bool:
        """Take a pending message for sending (pending -> sending), atomically: True for exactly
        one caller, whatever other processes do at the same moment."""
        cur = self.db.execute(
            """UPDATE messages SET status='sending', claimed_by=?, claimed_at=?, committing=0
               WHERE key=? AND status='pending'""",
            (owner, now.isoformat(), key),
        )
        return cur.rowcount == 1

    def message_committing(self, key: str, owner: str) -> None:
        """Mark that the server may now hold the message (SMTP: before the final dot). From here
        a sender that dies leaves the message 'uncertain' instead of pending (see
        ``release_claims``). Raises ``LedgerError`` if ``owner`` no longer holds the claim."""
        cur = self.db.execute(
            "UPDATE messages SET committing=1 WHERE key=? AND status='sending' AND claimed_by=?", (key, owner)
        )
        if cur.rowcount != 1:
            raise ClaimLost(f"Thư {key} không còn do tiến trình này gửi")

    def release_claims(self, now: datetime) -> list[str]:
        """Recover the claims of senders that died: call it only while holding the send lock,
        when no other sender can be alive. A claim that never reached the server goes back to
        pending (sending it again is safe); one that may have reached it becomes 'uncertain'
        and is not sent again: returns those keys, for the coordinator to check."""
        with self.transaction():
            db = self.db
            uncertain = [
                r["key"]
                for r in db.execute("SELECT key FROM messages WHERE status='sending' AND committing=1")
            ]
            db.execute(
                """UPDATE messages SET status='uncertain', last_error=? WHERE status='sending'
                   AND committing=1""",
                (f"tiến trình gửi dừng đột ngột lúc máy chủ đang nhận thư (phát hiện {now:%d/%m/%Y %H:%M})",),
            )
            db.execute(
                """UPDATE messages SET status='pending', claimed_by=NULL, claimed_at=NULL
                   WHERE status='sending'"""
            )
        return uncertain

    def message_sent(self, key: str, now: datetime, message_id: str, outbox_file: str | None = None) -> None:
        self.db.execute(
            """UPDATE messages SET status='sent', sent_at=?, attempts=attempts+1, message_id=?,
                   outbox_file=?, last_error=NULL, claimed_by=NULL, committing=0 WHERE key=?""",
            (now.isoformat(), message_id, outbox_file, key),
        )

    def message_failed(self, key: str, error: str, final: bool = False) -> None:
        """Record a failed attempt: ``final`` gives up (permanent refusal), else retry next run."""
        self.db.execute(
            """UPDATE messages SET status=?, attempts=attempts+1, last_error=?, claimed_by=NULL,
                   committing=0 WHERE key=?""",
            ("failed" if final else "pending", error, key),
        )

    def message_uncertain(self, key: str, error: str) -> None:
        """The server may have the message (it stopped answering after receiving it): never
        sent again automatically; shown to the coordinator."""
        self.db.execute(
            """UPDATE messages SET status='uncertain', attempts=attempts+1, last_error=?, claimed_by=NULL
               WHERE key=?""",
            (error, key),
        )

    def messages(self, status: str | None = None) -> list[MessageRecord]:
        rows = self.db.execute(
            "SELECT * FROM messages WHERE (? IS NULL OR status=?) ORDER BY created_at, key", (status, status)
        )
        return [message_from_row(r) for r in rows]

    def answers_to(self, address: str, since: datetime, kinds: Sequence[str]) -> int:
        """How many messages of ``kinds`` were planned for ``address`` (To or Cc) since ``since``,
        failed ones included: the daily cap on answers to one e-mail sender counts them."""
        pattern = '%"' + re.sub(r"([\\%_])", r"\\\1", address.lower()) + '"%'
        marks = ",".join("?" * len(kinds))
        row = self.db.execute(
            f"""SELECT COUNT(*) FROM messages WHERE created_at >= ? AND kind IN ({marks})
                   AND lower(recipients) LIKE ? ESCAPE '\\'""",
            (since.isoformat(), *kinds, pattern),
        ).fetchone()
        return int(row[0])
