"""The ledger: one SQLite file recording every file seen, every outcome and every message sent.

Why SQLite (WAL mode, one writer): it needs no server, survives a crash mid-transaction, and a
coordinator can open it with any SQLite browser. The ledger is what lets consolidation run
without re-reading unit workbooks, a rerun know what it already did, and the scheduler send each
message exactly once.

Tables:
- ``files``: every file taken from the inbox (hash, original name, archive path, received time,
  what it turned out to be, the issues found). Nothing is ever deleted.
- ``submissions``: the typed values of each accepted file; a later accepted file of the same
  unit and period supersedes the earlier one, which stays for history.
- ``sightings``: files seen in the inbox but not yet taken (for the stability wait and for the
  received time, which is the moment a file was *first* seen).
- ``messages``: every message baocao decided to send, keyed so that it is sent at most once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

from baocao.errors import BaocaoError
from baocao.model import FileRecord, Issue, Submission

SCHEMA_VERSION = 3
_FILES_V1_COLUMNS = (
    "id, sha256, original_name, inbox_path, archive_path, size, received_at, removed_from_inbox, "
    "status, processed_at, unit, period, form_version, issues, duplicate_of, feedback_path, contact"
)

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL,
        original_name TEXT NOT NULL,
        inbox_path TEXT NOT NULL,
        archive_path TEXT NOT NULL,
        size INTEGER NOT NULL,
        received_at TEXT NOT NULL,
        removed_from_inbox INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL CHECK (status IN ('archived','accepted','rejected','duplicate')),
        processed_at TEXT,
        unit TEXT,
        period TEXT,
        form_version TEXT,
        issues TEXT NOT NULL DEFAULT '[]',
        duplicate_of INTEGER REFERENCES files(id),
        feedback_path TEXT,
        contact TEXT
    );
    CREATE INDEX files_sha ON files(sha256);
    CREATE INDEX files_period_unit ON files(period, unit);
    CREATE INDEX files_status ON files(status);
    CREATE TABLE submissions (
        id INTEGER PRIMARY KEY,
        file_id INTEGER NOT NULL UNIQUE REFERENCES files(id),
        unit TEXT NOT NULL,
        period TEXT NOT NULL,
        form_version TEXT NOT NULL,
        received_at TEXT NOT NULL,
        vals TEXT NOT NULL,
        warnings TEXT NOT NULL DEFAULT '[]',
        superseded_by INTEGER REFERENCES submissions(id)
    );
    CREATE INDEX submissions_period_unit ON submissions(period, unit, superseded_by);
    CREATE INDEX submissions_unit ON submissions(unit, superseded_by);
    CREATE TABLE sightings (
        inbox_path TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL
    );
    CREATE TABLE messages (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        period TEXT NOT NULL,
        unit TEXT,
        recipient TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending','sent','failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        message_id TEXT,
        outbox_file TEXT,
        file_id INTEGER REFERENCES files(id),
        subject TEXT,
        body BLOB
    );
    CREATE INDEX messages_file ON messages(file_id);
    CREATE INDEX messages_status ON messages(status);
    """,
    # Identity (issue 10): a file that does not prove whose it is waits as 'held'; ``proof`` says
    # what it proved, ``claimed_unit`` the unit it named (``unit`` stays NULL when unattributed).
    # SQLite cannot widen a CHECK in place: the table is rebuilt (foreign keys off, see _migrate).
    2: f"""
    CREATE TABLE files_v2 (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL,
        original_name TEXT NOT NULL,
        inbox_path TEXT NOT NULL,
        archive_path TEXT NOT NULL,
        size INTEGER NOT NULL,
        received_at TEXT NOT NULL,
        removed_from_inbox INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL CHECK (status IN ('archived','accepted','rejected','duplicate','held')),
        processed_at TEXT,
        unit TEXT,
        period TEXT,
        form_version TEXT,
        issues TEXT NOT NULL DEFAULT '[]',
        duplicate_of INTEGER REFERENCES files(id),
        feedback_path TEXT,
        contact TEXT,
        proof TEXT,
        claimed_unit TEXT
    );
    INSERT INTO files_v2 ({_FILES_V1_COLUMNS}) SELECT {_FILES_V1_COLUMNS} FROM files;
    DROP TABLE files;
    ALTER TABLE files_v2 RENAME TO files;
    CREATE INDEX files_sha ON files(sha256);
    CREATE INDEX files_period_unit ON files(period, unit);
    CREATE INDEX files_status ON files(status);
    CREATE TABLE deployment (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 3: messages to several recipients (To + Cc) and claims, so that no two runs and no crash
    # send one twice: 'sending' (claimed by ``claimed_by``), ``committing`` once the server may
    # have the message, 'uncertain' when a sender died after that point (never resent blindly).
    3: """
    CREATE TABLE messages_v2 (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        period TEXT NOT NULL,
        unit TEXT,
        recipient TEXT NOT NULL,
        recipients TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL CHECK (status IN ('pending','sending','sent','failed','uncertain')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        message_id TEXT,
        outbox_file TEXT,
        file_id INTEGER REFERENCES files(id),
        subject TEXT,
        body BLOB,
        claimed_by TEXT,
        claimed_at TEXT,
        committing INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO messages_v2 (key, kind, period, unit, recipient, recipients, status, attempts,
        last_error, created_at, sent_at, message_id, outbox_file, file_id, subject, body)
        SELECT key, kind, period, unit, recipient, '["' || recipient || '"]', status, attempts,
            last_error, created_at, sent_at, message_id, outbox_file, file_id, subject, body
        FROM messages;
    DROP TABLE messages;
    ALTER TABLE messages_v2 RENAME TO messages;
    CREATE INDEX messages_file ON messages(file_id);
    CREATE INDEX messages_status ON messages(status);
    """,
}


class LedgerError(BaocaoError):
    """The ledger file is unreadable, from a newer baocao, or locked for too long."""


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in the ledger")


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default, sort_keys=True)


def _file_from_row(row: sqlite3.Row) -> FileRecord:
    return FileRecord(
        id=row["id"],
        sha256=row["sha256"],
        original_name=row["original_name"],
        inbox_path=row["inbox_path"],
        archive_path=row["archive_path"],
        size=row["size"],
        received_at=datetime.fromisoformat(row["received_at"]),
        status=row["status"],
        removed_from_inbox=bool(row["removed_from_inbox"]),
        processed_at=datetime.fromisoformat(row["processed_at"]) if row["processed_at"] else None,
        unit=row["unit"],
        period=row["period"],
        form_version=row["form_version"],
        issues=[Issue.from_dict(d) for d in json.loads(row["issues"])],
        duplicate_of=row["duplicate_of"],
        feedback_path=row["feedback_path"],
        contact=row["contact"],
        proof=row["proof"],
        claimed_unit=row["claimed_unit"],
    )


def _submission_from_row(row: sqlite3.Row) -> Submission:
    return Submission(
        id=row["id"],
        file_id=row["file_id"],
        unit=row["unit"],
        period=row["period"],
        form_version=row["form_version"],
        received_at=datetime.fromisoformat(row["received_at"]),
        values=json.loads(row["vals"]),
        warnings=tuple(Issue.from_dict(d) for d in json.loads(row["warnings"])),
        superseded_by=row["superseded_by"],
    )


class Ledger:
    """A connection to the ledger file; use as a context manager (``with Ledger(path) as l``)."""

    def __init__(self, path: str | Path, timeout: float = 30.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"Không mở được sổ theo dõi {self.path}: {exc}") from None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work: all of it lands, or none of it does.

        Inside another transaction it is a savepoint: its work is undone on error, and lands
        when the outer transaction commits. Collect uses that to commit many files' small units
        of work together (one commit per batch instead of several per file).
        """
        if self.db.in_transaction:
            self.db.execute("SAVEPOINT nested")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK TO nested")
                self.db.execute("RELEASE nested")
                raise
            self.db.execute("RELEASE nested")
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"Sổ theo dõi {self.path} được tạo bởi phiên bản baocao mới hơn (lược đồ {version})"
            )
        if version == SCHEMA_VERSION:
            return
        # a table rebuild must not cascade through foreign keys; checked before each commit
        self.db.execute("PRAGMA foreign_keys=OFF")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction() as db:
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        db.execute(statement)
                if db.execute("PRAGMA foreign_key_check").fetchone() is not None:
                    raise LedgerError(f"Sổ theo dõi {self.path}: dữ liệu liên kết hỏng khi nâng cấp lược đồ")
                db.execute(f"PRAGMA user_version = {target}")
        self.db.execute("PRAGMA foreign_keys=ON")

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    # --- sightings --------------------------------------------------------------------------

    def sightings(self) -> dict[str, sqlite3.Row]:
        return {r["inbox_path"]: r for r in self.db.execute("SELECT * FROM sightings")}

    def see(self, inbox_path: str, size: int, mtime_ns: int, now: datetime) -> datetime:
        """Record that ``inbox_path`` was seen now with this size and mtime; return when it was
        *first* seen, which is its received time."""
        row = self.db.execute("SELECT * FROM sightings WHERE inbox_path=?", (inbox_path,)).fetchone()
        if row is None:
            self.db.execute(
                "INSERT INTO sightings VALUES (?,?,?,?,?)",
                (inbox_path, size, mtime_ns, now.isoformat(), now.isoformat()),
            )
            return now
        if (row["size"], row["mtime_ns"]) != (size, mtime_ns):
            # ``last_seen`` is when the file last changed: the stability wait counts from it
            self.db.execute(
                "UPDATE sightings SET size=?, mtime_ns=?, last_seen=? WHERE inbox_path=?",
                (size, mtime_ns, now.isoformat(), inbox_path),
            )
        return datetime.fromisoformat(row["first_seen"])

    def forget_sightings(self, keep: set[str]) -> None:
        """Drop sightings of files no longer in the inbox (taken, or removed by a person)."""
        for path in set(self.sightings()) - keep:
            self.db.execute("DELETE FROM sightings WHERE inbox_path=?", (path,))

    # --- files ------------------------------------------------------------------------------

    def add_file(self, rec: FileRecord) -> int:
        cur = self.db.execute(
            """INSERT INTO files (sha256, original_name, inbox_path, archive_path, size, received_at,
                   removed_from_inbox, status, unit, period, form_version, issues, duplicate_of)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            (
                rec.sha256,
                rec.original_name,
                rec.inbox_path,
                rec.archive_path,
                rec.size,
                rec.received_at.isoformat(),
                int(rec.removed_from_inbox),
                rec.status,
                rec.unit,
                rec.period,
                rec.form_version,
                dumps([i.to_dict() for i in rec.issues]),
                rec.duplicate_of,
            ),
        )
        rec.id = int(cur.lastrowid or 0)
        return rec.id

    def mark_removed(self, file_id: int) -> None:
        self.db.execute("UPDATE files SET removed_from_inbox=1 WHERE id=?", (file_id,))

    def set_feedback_path(self, file_id: int, feedback_path: str | None) -> None:
        """Record where the feedback workbook of a judged file was written (written after the verdict)."""
        self.db.execute("UPDATE files SET feedback_path=? WHERE id=?", (feedback_path, file_id))

    def file(self, file_id: int) -> FileRecord:
        return _file_from_row(self.db.execute("SELECT * FROM files WHERE id=?", (file_id,)).fetchone())

    def first_with_hash(self, sha256: str) -> FileRecord | None:
        row = self.db.execute(
            "SELECT * FROM files WHERE sha256=? AND status!='duplicate' ORDER BY id LIMIT 1", (sha256,)
        ).fetchone()
        return _file_from_row(row) if row else None

    def count_files(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM files").fetchone()[0]

    def unprocessed(self) -> list[FileRecord]:
        """Files archived but not yet judged (a previous run was interrupted)."""
        return [
            _file_from_row(r)
            for r in self.db.execute("SELECT * FROM files WHERE status='archived' ORDER BY id")
        ]

    def not_removed(self) -> list[FileRecord]:
        return [
            _file_from_row(r)
            for r in self.db.execute("SELECT * FROM files WHERE removed_from_inbox=0 ORDER BY id")
        ]

    def files(self, period: str | None = None) -> list[FileRecord]:
        if period is None:
            rows = self.db.execute("SELECT * FROM files ORDER BY id")
        else:
            rows = self.db.execute("SELECT * FROM files WHERE period=? ORDER BY id", (period,))
        return [_file_from_row(r) for r in rows]

    def claim_key(self, key_id: str) -> str | None:
        """Remember the signing key this ledger's templates are checked with (its public id).

        Returns None when ``key_id`` is that key (or the first), else the id already recorded:
        a run with another key would hold every file signed with the first one.
        """
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO deployment VALUES ('key_id', ?)", (key_id,))
            recorded = db.execute("SELECT value FROM deployment WHERE key='key_id'").fetchone()[0]
        return None if recorded == key_id else recorded

    def held(self, period: str | None = None) -> list[FileRecord]:
        """Files waiting for the coordinator because they do not prove whose they are."""
        where, args = ("status='held'", ()) if period is None else ("status='held' AND period=?", (period,))
        return [
            _file_from_row(r) for r in self.db.execute(f"SELECT * FROM files WHERE {where} ORDER BY id", args)
        ]

    def release(self, file_id: int) -> FileRecord | None:
        """Mark a held file as vouched for by the coordinator and due to be judged again.

        Returns the file, or None if no held file has that id (nothing is changed then).
        """
        with self.transaction() as db:
            changed = db.execute(
                "UPDATE files SET status='archived', proof='vouched' WHERE id=? AND status='held'", (file_id,)
            ).rowcount
        return self.file(file_id) if changed else None

    def unattributed(self, since: datetime) -> list[FileRecord]:
        """Rejected files received since ``since`` tied to no unit: unreadable, not a form, or
        claiming a unit without proof (``claimed_unit``): they count for nobody."""
        rows = self.db.execute(
            "SELECT * FROM files WHERE status='rejected' AND unit IS NULL AND received_at >= ? ORDER BY id",
            (since.isoformat(),),
        )
        return [_file_from_row(r) for r in rows]

    def record_outcome(
        self,
        file_id: int,
        *,
        status: str,
        processed_at: datetime,
        issues: list[Issue],
        unit: str | None = None,
        period: str | None = None,
        form_version: str | None = None,
        values: dict[str, object] | None = None,
        feedback_path: str | None = None,
        contact: str | None = None,
        proof: str | None = None,
        claimed_unit: str | None = None,
    ) -> int | None:
        """Store the judgement of a file, and its values if accepted (superseding older ones).

        Returns the new submission id for an accepted file. One transaction: a crash leaves the
        file 'archived', and the next run judges it again.
        """
        with self.transaction() as db:
            db.execute(
                """UPDATE files SET status=?, processed_at=?, issues=?, unit=?, period=?,
                       form_version=?, feedback_path=?, contact=?, proof=?, claimed_unit=? WHERE id=?""",
                (
                    status,
                    processed_at.isoformat(),
                    dumps([i.to_dict() for i in issues]),
                    unit,
                    period,
                    form_version,
                    feedback_path,
                    contact,
                    proof,
                    claimed_unit,
                    file_id,
                ),
            )
            if status != "accepted":
                return None
            received = db.execute("SELECT received_at FROM files WHERE id=?", (file_id,)).fetchone()[0]
            cur = db.execute(
                """INSERT INTO submissions (file_id, unit, period, form_version, received_at, vals, warnings)
                   VALUES (?,?,?,?,?,?,?)""",
                (
                    file_id,
                    unit,
                    period,
                    form_version,
                    received,
                    dumps(values or {}),
                    dumps([i.to_dict() for i in issues if i.severity == "warning"]),
                ),
            )
            new_id = cur.lastrowid
            # The newest by received time wins; a late-arriving older file is kept as history.
            db.execute(
                """UPDATE submissions SET superseded_by=? WHERE unit=? AND period=? AND id!=?
                       AND superseded_by IS NULL AND received_at <= ?""",
                (new_id, unit, period, new_id, received),
            )
            newer = db.execute(
                """SELECT id FROM submissions WHERE unit=? AND period=? AND id!=? AND superseded_by IS NULL
                   AND received_at > ? ORDER BY received_at DESC LIMIT 1""",
                (unit, period, new_id, received),
            ).fetchone()
            if newer:
                db.execute("UPDATE submissions SET superseded_by=? WHERE id=?", (newer[0], new_id))
            return new_id

    # --- submissions ------------------------------------------------------------------------

    def current_submissions(self, period: str) -> dict[str, Submission]:
        """The values in force per unit for ``period`` (latest accepted, not superseded)."""
        rows = self.db.execute(
            "SELECT * FROM submissions WHERE period=? AND superseded_by IS NULL ORDER BY unit", (period,)
        )
        return {r["unit"]: _submission_from_row(r) for r in rows}

    def accepted_history(self, period: str) -> list[Submission]:
        """Every accepted submission of ``period``, superseded ones included, oldest first."""
        rows = self.db.execute("SELECT * FROM submissions WHERE period=? ORDER BY received_at, id", (period,))
        return [_submission_from_row(r) for r in rows]

    def unit_history(self, unit: str, exclude_period: str | None = None) -> dict[str, dict[str, object]]:
        """Current values of every other period a unit reported (for outlier and cumulative checks)."""
        rows = self.db.execute(
            "SELECT period, vals FROM submissions WHERE unit=? AND superseded_by IS NULL AND period IS NOT ?",
            (unit, exclude_period),
        )
        return {r["period"]: json.loads(r["vals"]) for r in rows}

    # --- messages ---------------------------------------------------------------------------

    def message(self, key: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM messages WHERE key=?", (key,)).fetchone()

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
            raise LedgerError(f"Thư {key} không còn do tiến trình này gửi")

    def release_claims(self, now: datetime) -> list[str]:
        """Recover the claims of senders that died: call it only while holding the send lock,
        when no other sender can be alive. A claim that never reached the server goes back to
        pending (sending it again is safe); one that may have reached it becomes 'uncertain'
        and is not sent again: returns those keys, for the coordinator to check."""
        with self.transaction() as db:
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

    def messages(self, status: str | None = None) -> list[sqlite3.Row]:
        if status is None:
            return list(self.db.execute("SELECT * FROM messages ORDER BY created_at, key"))
        return list(
            self.db.execute("SELECT * FROM messages WHERE status=? ORDER BY created_at, key", (status,))
        )

    def files_without_feedback(self, since: datetime, receipts: bool = False) -> list[FileRecord]:
        """Judged files since ``since`` with someone to tell and no answer planned yet: those with
        issues, and with ``receipts`` every accepted file too.

        Someone to tell: the unit the file is filed under, or (unattributed) the contact address
        typed in it. ``since`` keeps a scheduler started on an old ledger from mailing stale feedback.
        """
        rows = self.db.execute(
            """SELECT * FROM files f WHERE status IN ('accepted','rejected','held')
                   AND (issues != '[]' OR (? AND status = 'accepted'))
                   AND (unit IS NOT NULL OR contact IS NOT NULL) AND processed_at >= ?
                   AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.file_id = f.id
                       AND (m.kind = 'held') = (f.status = 'held'))
               ORDER BY id""",
            (int(receipts), since.isoformat()),
        )
        return [_file_from_row(r) for r in rows]
