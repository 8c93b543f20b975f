"""The ledger: one SQLite file recording every file taken, every outcome and every message.

Why SQLite (WAL mode, one writer, every commit synced): it needs no server, survives a crash
mid-transaction, and a coordinator can open it with any SQLite browser. The ledger is what lets
consolidation run without re-reading unit workbooks, a rerun know what it already did, and the
scheduler send each message exactly once. It implements ``store.base.Store``; the schema is in
``store.migrations``.

Tables:
- ``files``: every arrival taken by an intake (hash, original name, where it came from, archive
  path, received time, what it turned out to be, the issues found). Nothing is ever deleted.
- ``submissions``: the typed values of each accepted file; a later accepted file of the same
  unit and period supersedes the earlier one, which stays for history.
- ``sightings``: files seen in the inbox folder but not yet taken (stability wait, received time).
- ``messages``: every message baocao decided to send, keyed so that it is sent at most once.
- ``reopenings``: closed periods opened again for one unit by the coordinator.
- ``state``: small named facts (the last inbox scan, when the ledger was rebuilt).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from baocao.errors import StoreError
from baocao.model import (
    FILE_STATUSES,
    FileRecord,
    Issue,
    Reopening,
    Sighting,
    Submission,
)
from baocao.store.actions import ActionLog
from baocao.store.base import NOT_A_FIRST_COPY
from baocao.store.history import unit_history
from baocao.store.messages import MessageStore
from baocao.store.migrations import NewerSchema, migrate
from baocao.store.rows import (
    dumps,
    file_from_row,
    reopening_from_row,
    sighting_from_row,
    submission_from_row,
)

log = logging.getLogger("baocao.store")

# FULL: a commit is on disk when COMMIT returns (the WAL is synced), so "recorded before the
# original is removed" survives a power cut; NORMAL (WAL's usual setting) may lose the last
# commits. bench/bench.py sets NORMAL only to measure the cost; the product never does.
SYNCHRONOUS = "FULL"
REBUILT_AT = "rebuilt_at"  # state key: outcomes recorded before it came from a rebuild
SIGNING_KEY = "signing_key_id"  # state key: the public id of the key templates are signed with


class LedgerError(StoreError):
    """The ledger file is unreadable, damaged, from a newer baocao, or locked for too long."""


def damaged(path: Path, exc: BaseException) -> StoreError:
    """The coordinator's message for a ledger that cannot be used: locked for too long, not
    writable (folder, permissions, full disk), or damaged / not a database.

    SQLite's own words ("file is not a database") go to the log, not into the Vietnamese
    message the coordinator reads."""
    log.warning(
        "sổ theo dõi %s không dùng được: %s: %s", path, type(exc).__name__, exc, extra={"file_only": True}
    )
    text = str(exc).lower()
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return LedgerError(f"Sổ theo dõi {path} đang bị một tiến trình khác giữ quá lâu; hãy chạy lại sau")
    if isinstance(exc, OSError) or any(
        word in text for word in ("unable to open", "readonly", "read-only", "disk is full", "disk i/o")
    ):
        return LedgerError(
            f"Không ghi được sổ theo dõi {path}; hãy kiểm tra thư mục của sổ có tồn tại, "
            "tài khoản chạy baocao có quyền ghi và đĩa còn chỗ trống"
        )
    return LedgerError(
        f"Sổ theo dõi {path} bị hỏng hoặc không phải sổ của baocao. Hãy khôi phục tệp từ "
        "bản sao lưu, hoặc đổi tên tệp hỏng rồi chạy 'baocao ledger rebuild' để dựng lại sổ từ "
        "thư mục lưu trữ"
    )


class Ledger(ActionLog, MessageStore):
    """The SQLite store; use as a context manager (``with Ledger(path) as ledger``).

    A damaged file, one locked for longer than ``timeout`` or one from a newer baocao raises
    ``LedgerError`` with a message for the coordinator, on opening or inside the ``with`` block.
    """

    def __init__(self, path: str | Path, timeout: float = 30.0):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise damaged(self.path, exc) from None
        try:
            self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
            migrate(self.db)
            self.db.execute("PRAGMA foreign_keys=ON")
        except NewerSchema:
            self.db.close()
            raise LedgerError(
                f"Sổ theo dõi {self.path} được tạo bởi phiên bản baocao mới hơn; hãy cập nhật baocao"
            ) from None
        except sqlite3.DatabaseError as exc:
            raise damaged(self.path, exc) from None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        self.close()
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(
            exc, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError
        ):
            raise damaged(self.path, exc) from exc

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work: all of it lands, or none of it does.

        Inside another transaction it is a savepoint: its work is undone on error, and lands
        when the outer transaction commits. Collect uses that to commit many files' small units
        of work together and still undo one file's work alone.
        """
        if self.db.in_transaction:
            self.db.execute("SAVEPOINT nested")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK TO nested")
                self.db.execute("RELEASE nested")
                raise
            self.db.execute("RELEASE nested")
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- state ------------------------------------------------------------------------------

    def state(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_state(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, value))

    def claim_key(self, key_id: str) -> str | None:
        """Remember the signing key this ledger's templates are checked with (its public id).

        Returns None when ``key_id`` is that key (or the first), else the id already recorded:
        a run with another key would hold every file signed with the first one.
        """
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO state VALUES (?, ?)", (SIGNING_KEY, key_id))
            recorded = self.state(SIGNING_KEY)
        return None if recorded == key_id else recorded

    # --- sightings --------------------------------------------------------------------------

    def sightings(self) -> dict[str, Sighting]:
        return {r["inbox_path"]: sighting_from_row(r) for r in self.db.execute("SELECT * FROM sightings")}

    def see(
        self, inbox_path: str, size: int, mtime_ns: int, now: datetime, not_seen_at: datetime | None
    ) -> Sighting:
        """Record that ``inbox_path`` was seen now with this size and mtime; return the sighting
        (first seen, last changed, and the last scan before it that did not see it)."""
        row = self.db.execute("SELECT * FROM sightings WHERE inbox_path=?", (inbox_path,)).fetchone()
        known = {inbox_path: sighting_from_row(row)} if row is not None else {}
        return self._see(known, [(inbox_path, size, mtime_ns)], now, not_seen_at)[0]

    def see_all(
        self, seen: Sequence[tuple[str, int, int]], now: datetime, not_seen_at: datetime | None
    ) -> list[Sighting]:
        """``see`` for each ``(inbox_path, size, mtime_ns)`` of one scan, in three statements
        rather than two per file (an inbox of 10,000 files is listed in one run)."""
        return self._see(self.sightings(), seen, now, not_seen_at)

    def _see(
        self,
        known: dict[str, Sighting],
        seen: Sequence[tuple[str, int, int]],
        now: datetime,
        not_seen_at: datetime | None,
    ) -> list[Sighting]:
        stamp = now.isoformat()
        unseen = not_seen_at.isoformat() if not_seen_at else None
        new: list[tuple] = []
        changed: list[tuple] = []
        found: list[Sighting] = []
        for inbox_path, size, mtime_ns in seen:
            old = known.get(inbox_path)
            if old is None:
                new.append((inbox_path, size, mtime_ns, stamp, stamp, unseen))
                found.append(Sighting(inbox_path, size, mtime_ns, now, now, not_seen_at))
                continue
            last_seen = old.last_seen
            if (old.size, old.mtime_ns) != (size, mtime_ns):
                # ``last_seen`` is when the file last changed: the stability wait counts from it
                changed.append((size, mtime_ns, stamp, inbox_path))
                last_seen = now
            found.append(replace(old, size=size, mtime_ns=mtime_ns, last_seen=last_seen))
        if new:
            self.db.executemany(
                """INSERT INTO sightings (inbox_path, size, mtime_ns, first_seen, last_seen, not_seen_at)
                   VALUES (?,?,?,?,?,?)""",
                new,
            )
        if changed:
            update = "UPDATE sightings SET size=?, mtime_ns=?, last_seen=? WHERE inbox_path=?"
            self.db.executemany(update, changed)
        return found

    def forget_sightings(self, keep: set[str]) -> None:
        """Drop sightings of files no longer waiting in the inbox (taken, or removed by a person)."""
        gone = [(p,) for (p,) in self.db.execute("SELECT inbox_path FROM sightings") if p not in keep]
        self.db.executemany("DELETE FROM sightings WHERE inbox_path=?", gone)

    def drop_sightings(self, paths: set[str]) -> None:
        """Forget the sightings of files just taken (a new file by that name starts afresh)."""
        self.db.executemany("DELETE FROM sightings WHERE inbox_path=?", [(p,) for p in paths])

    # --- files ------------------------------------------------------------------------------

    def add_file(self, rec: FileRecord) -> int:
        if rec.status not in FILE_STATUSES:
            raise ValueError(f"unknown file status {rec.status!r}")
        cur = self.db.execute(
            """INSERT INTO files (sha256, original_name, inbox_path, archive_path, size, received_at,
                   removed_from_inbox, status, unit, period, form_version, issues, duplicate_of,
                   source, sender, parent_id, arrival_key, mail)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
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
                rec.source,
                rec.sender,
                rec.parent_id,
                rec.arrival_key,
                dumps(rec.mail.to_dict()) if rec.mail else None,
            ),
        )
        rec.id = int(cur.lastrowid or 0)
        return rec.id

    def first_with_hash(self, sha256: str) -> FileRecord | None:
        """The first archived file with these bytes (the one a later copy is a duplicate of)."""
        skipped = ", ".join("?" * len(NOT_A_FIRST_COPY))  # the rule of ``store.base.first_copy``
        row = self.db.execute(
            f"""SELECT * FROM files WHERE sha256=? AND archive_path != ''
                   AND status NOT IN ({skipped}) ORDER BY id LIMIT 1""",
            (sha256, *NOT_A_FIRST_COPY),
        ).fetchone()
        return file_from_row(row) if row else None

    def taken_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` (an intake's arrival keys) are already recorded."""
        wanted, found = list(dict.fromkeys(keys)), set[str]()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT arrival_key FROM files WHERE arrival_key IN ({marks})"
            found.update(r[0] for r in self.db.execute(query, chunk))
        return found

    def unprocessed(self) -> list[FileRecord]:
        """Files archived but not yet judged (a previous run was interrupted, or a reopening)."""
        return self._files("WHERE status='archived' ORDER BY id")

    def not_released(self, source: str) -> list[FileRecord]:
        """Archived files of ``source`` whose original the intake has not released yet."""
        return self._files(
            """WHERE removed_from_inbox=0 AND archive_path != '' AND parent_id IS NULL AND source=?
               ORDER BY id""",
            (source,),
        )

    def mark_all_released(self, file_ids: Iterable[int]) -> None:
        """The originals of these files are gone from their intake (one statement for a batch)."""
        self.db.executemany("UPDATE files SET removed_from_inbox=1 WHERE id=?", [(i,) for i in file_ids])

    def files(self, period: str | None = None, status: str | None = None) -> list[FileRecord]:
        """Files in the order they were taken, optionally of one period and/or one status."""
        return self._files(
            "WHERE (? IS NULL OR period=?) AND (? IS NULL OR status=?) ORDER BY id",
            (period, period, status, status),
        )

    def each_file(self, period: str) -> Iterator[FileRecord]:
        """``files(period)`` one at a time, for a caller that keeps less than the records
        (consolidate: a status per unit). Consume it while the store is open."""
        for row in self.db.execute("SELECT * FROM files WHERE period=? ORDER BY id", (period,)):
            yield file_from_row(row)

    def unattributed(self, since: datetime) -> list[FileRecord]:
        """Rejected files received since ``since`` tied to no unit: unreadable, not a form, or
        claiming a unit without proof (``claimed_unit``): they count for nobody."""
        return self._files(
            "WHERE status='rejected' AND unit IS NULL AND received_at >= ? ORDER BY id", (since.isoformat(),)
        )

    def requeue(self, file_id: int) -> None:
        """Put a judged file back to 'archived' so that the next collect judges it again."""
        self.db.execute("UPDATE files SET status='archived' WHERE id=?", (file_id,))

    def vouch_for(self, file_id: int) -> FileRecord | None:
        """A held file the coordinator vouches for: due to be judged again as proven.

        Returns the file, or None if no held file has that id (nothing is changed then).
        """
        with self.transaction():
            changed = self.db.execute(
                "UPDATE files SET status='archived', proof='vouched' WHERE id=? AND status='held'", (file_id,)
            ).rowcount
        return self._files("WHERE id=?", (file_id,))[0] if changed else None

    def file(self, file_id: int) -> FileRecord | None:
        found = self._files("WHERE id=?", (file_id,))
        return found[0] if found else None

    def files_at(self, location_prefix: str) -> list[FileRecord]:
        """Files whose location (``inbox_path``) starts with ``location_prefix``, in taken order
        (the web desk: every file sent through one unit's link for one period)."""
        pattern = location_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return self._files("WHERE inbox_path LIKE ? ESCAPE '\\' ORDER BY id", (pattern,))

    def _files(self, where: str, params: tuple = ()) -> list[FileRecord]:
        return [file_from_row(r) for r in self.db.execute(f"SELECT * FROM files {where}", params)]

    # --- outcomes and submissions -----------------------------------------------------------

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
        if status not in FILE_STATUSES or status == "archived":
            raise ValueError(f"not an outcome: {status!r}")
        with self.transaction():
            self.db.execute(
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
            return self._supersede(file_id, unit, period, form_version, values, issues)

    def _supersede(self, file_id, unit, period, form_version, values, issues) -> int:
        db = self.db
        cur = db.execute(  # the file's received time copied in the same statement
            """INSERT INTO submissions (file_id, unit, period, form_version, received_at, vals, warnings)
               SELECT ?, ?, ?, ?, received_at, ?, ? FROM files WHERE id=?""",
            (
                file_id,
                unit,
                period,
                form_version,
                dumps(values or {}),
                dumps([i.to_dict() for i in issues if i.severity == "warning"]),
                file_id,
            ),
        )
        if cur.rowcount != 1:
            raise ValueError(f"no file {file_id} to record values for")
        new_id = int(cur.lastrowid or 0)
        received = "(SELECT received_at FROM submissions WHERE id=:new)"
        # The newest by received time wins; a late-arriving older file is kept as history.
        names = {"new": new_id, "unit": unit, "period": period}
        db.execute(
            f"""UPDATE submissions SET superseded_by=:new WHERE unit=:unit AND period=:period AND id!=:new
                   AND superseded_by IS NULL AND received_at <= {received}""",
            names,
        )
        newer = db.execute(
            f"""SELECT id FROM submissions WHERE unit=:unit AND period=:period AND id!=:new
               AND superseded_by IS NULL AND received_at > {received} ORDER BY received_at DESC LIMIT 1""",
            names,
        ).fetchone()
        if newer:
            db.execute("UPDATE submissions SET superseded_by=? WHERE id=?", (newer[0], new_id))
        return new_id

    def set_feedback_path(self, file_id: int, feedback_path: str | None) -> None:
        """Record where the feedback workbook of a judged file was written (written after the verdict)."""
        self.db.execute("UPDATE files SET feedback_path=? WHERE id=?", (feedback_path, file_id))

    def current_submissions(self, period: str) -> dict[str, Submission]:
        """The values in force per unit for ``period`` (latest accepted, not superseded)."""
        return {sub.unit: sub for sub in self.each_current_submission(period)}

    def each_submission_values(self, ids: Sequence[int]) -> Iterator[tuple[int, dict[str, object]]]:
        """``(id, values)`` of the submissions ``ids``, one at a time and in the order of ``ids``.

        Why: the summary keeps each unit's figures but not its narratives (1 KB a unit, 10 MB at
        10,000 units, issue 13); the sheet that shows them reads them again here, by the ids of
        the submissions it was built from, so a file accepted in between cannot slip in. One
        query, the order given by ``json_each`` (an id the ledger no longer has is left out: the
        caller checks).
        """
        rows = self.db.execute(
            "SELECT s.id, s.vals FROM json_each(?) AS wanted JOIN submissions AS s ON s.id = wanted.value "
            "ORDER BY wanted.key",
            (json.dumps(list(ids)),),
        )
        for row in rows:
            yield row[0], json.loads(row[1])

    def each_current_submission(self, period: str) -> Iterator[Submission]:
        """``current_submissions`` one at a time, in unit order, for a caller that keeps less
        than the whole rows (consolidate keeps each unit's cleaned figures: at 10,000 units the
        decoded rows alone took 39 MB). Consume it while the store is open."""
        rows = self.db.execute(
            "SELECT * FROM submissions WHERE period=? AND superseded_by IS NULL ORDER BY unit", (period,)
        )
        for row in rows:
            yield submission_from_row(row)

    def has_submission(self, period: str, unit: str) -> bool:
        """Whether ``unit`` has accepted values in force for ``period`` (one row looked at, not
        the period's every submission: asked for each file after a period closed)."""
        row = self.db.execute(
            "SELECT 1 FROM submissions WHERE period=? AND unit=? AND superseded_by IS NULL LIMIT 1",
            (period, unit),
        ).fetchone()
        return row is not None

    def unit_history(self, unit: str, exclude_period: str | None = None) -> dict[str, dict[str, object]]:
        """Current values of every other period a unit reported (for outlier and cumulative checks)."""
        return unit_history(self.db, unit, exclude_period)

    # --- reopenings -------------------------------------------------------------------------

    def add_reopening(self, period: str, unit: str, at: datetime) -> Reopening:
        cur = self.db.execute(
            "INSERT INTO reopenings (period, unit, opened_at) VALUES (?,?,?)", (period, unit, at.isoformat())
        )
        return Reopening(int(cur.lastrowid or 0), period, unit, at)

    def open_reopening(self, period: str, unit: str) -> Reopening | None:
        """The oldest reopening of ``period`` for ``unit`` that has not let a file in yet."""
        row = self.db.execute(
            "SELECT * FROM reopenings WHERE period=? AND unit=? AND file_id IS NULL ORDER BY id LIMIT 1",
            (period, unit),
        ).fetchone()
        return reopening_from_row(row) if row else None

    def use_reopening(self, reopening_id: int, file_id: int) -> None:
        self.db.execute("UPDATE reopenings SET file_id=? WHERE id=?", (file_id, reopening_id))

    def unanswered_mail(self, since: datetime) -> list[FileRecord]:
        """E-mails received since ``since`` that brought no file (no attachment, winmail.dat, too
        large…) and have no answer planned: the intake may owe their sender one reply. E-mails
        taken by a ``ledger rebuild`` are never answered again (their senders had theirs)."""
        rebuilt = self.state(REBUILT_AT) or ""
        return self._files(
            """f WHERE status = 'container' AND source = 'imap' AND received_at >= ? AND received_at > ?
                   AND NOT EXISTS (SELECT 1 FROM files c WHERE c.parent_id = f.id)
                   AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.file_id = f.id)
               ORDER BY id""",
            (since.isoformat(), rebuilt),
        )

    def files_without_feedback(self, since: datetime, receipts: bool = False) -> list[FileRecord]:
        """Judged files since ``since`` with someone to tell and no answer planned yet: those with
        issues, and with ``receipts`` every accepted file too (every e-mailed one in any case: its
        unit may have to be told it came from another address).

        Someone to tell: the unit the file is filed under, or (unattributed) the contact address
        typed in it, or, for a file that came by e-mail, its sender when it may be answered.
        ``since`` keeps a scheduler started on an old ledger from mailing stale feedback; files
        judged by a ``ledger rebuild`` are never mailed again (the units had theirs).
        """
        rebuilt = self.state(REBUILT_AT) or ""
        return self._files(
            """f WHERE status IN ('accepted','rejected','held')
                   AND (issues != '[]' OR (status = 'accepted' AND (? OR source = 'imap')))
                   AND (unit IS NOT NULL OR (contact IS NOT NULL AND source != 'imap')
                        OR json_extract(mail, '$.answer_to') != '')
                   AND processed_at >= ? AND processed_at > ?
                   AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.file_id = f.id
                       AND (m.kind = 'held') = (f.status = 'held'))
               ORDER BY id""",
            (int(receipts), since.isoformat(), rebuilt),
        )
