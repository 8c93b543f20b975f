"""The ledger's schema as named, ordered steps (in the manner of sqlite-utils' migrations).

Each step is a Python function applied once, in its own transaction, and recorded by name in
``_migrations``; a ledger made by any earlier baocao upgrades in place when it is opened. A new
column or table is a new step appended at the end, never an edit of an old one (ledgers in the
field have run the old ones). ``PRAGMA user_version`` is kept equal to the number of steps
applied, so an older baocao (which compares it with its own count) refuses a newer ledger.

Steps execute statements one at a time: no SQL is split on ';'.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

Step = Callable[[sqlite3.Connection], None]


@dataclass(frozen=True)
class Migration:
    name: str
    apply: Step


MIGRATIONS: list[Migration] = []


def migration(step: Step) -> Step:
    """Register ``step`` as the next migration, under its function name."""
    MIGRATIONS.append(Migration(step.__name__, step))
    return step


def _run(db: sqlite3.Connection, *statements: str) -> None:
    for statement in statements:
        db.execute(statement)


_FILES_V1 = """
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
    )"""

_FILES_INDEXES = (
    "CREATE INDEX files_sha ON files(sha256)",
    "CREATE INDEX files_period_unit ON files(period, unit)",
    "CREATE INDEX files_status ON files(status)",
)


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    """The schema of the first release (``user_version`` 1)."""
    _run(
        db,
        _FILES_V1,
        *_FILES_INDEXES,
        """CREATE TABLE submissions (
            id INTEGER PRIMARY KEY,
            file_id INTEGER NOT NULL UNIQUE REFERENCES files(id),
            unit TEXT NOT NULL,
            period TEXT NOT NULL,
            form_version TEXT NOT NULL,
            received_at TEXT NOT NULL,
            vals TEXT NOT NULL,
            warnings TEXT NOT NULL DEFAULT '[]',
            superseded_by INTEGER REFERENCES submissions(id)
        )""",
        "CREATE INDEX submissions_period_unit ON submissions(period, unit, superseded_by)",
        "CREATE INDEX submissions_unit ON submissions(unit, superseded_by)",
        """CREATE TABLE sightings (
            inbox_path TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL
        )""",
        """CREATE TABLE messages (
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
        )""",
        "CREATE INDEX messages_file ON messages(file_id)",
        "CREATE INDEX messages_status ON messages(status)",
    )


@migration
def m002_file_status_checked_in_code(db: sqlite3.Connection) -> None:
    """Drop the CHECK on ``files.status`` (SQLite cannot alter one: the table is rebuilt).

    Why: every new outcome (locked, failed, container, held…) would otherwise need another
    table rebuild; the allowed values live in ``model.FILE_STATUSES`` and the store checks them.
    The rebuild keeps whatever columns the table has (a ledger of the identity release, schema
    version 2, also has ``proof`` and ``claimed_unit``).
    """
    _without_status_check(db, "files", _FILES_INDEXES)


def _without_status_check(db: sqlite3.Connection, table: str, indexes: tuple[str, ...]) -> None:
    """Rebuild ``table`` without its CHECK on ``status``, keeping every column it has now."""
    sql = db.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()[0]
    unchecked = re.sub(r"\s+CHECK\s*\(status IN \([^)]*\)\)", "", sql)
    columns = ", ".join(r[1] for r in db.execute(f"PRAGMA table_info({table})"))
    _run(
        db,
        re.sub(rf"^CREATE TABLE\s+\"?{table}\"?", f"CREATE TABLE {table}_new", unchecked),
        f"INSERT INTO {table}_new ({columns}) SELECT {columns} FROM {table}",
        f"DROP TABLE {table}",
        f"ALTER TABLE {table}_new RENAME TO {table}",
        *indexes,
    )


@migration
def m003_file_origin(db: sqlite3.Connection) -> None:
    """Where a file came from: the intake (folder, imap, web), the sender, the e-mail it was
    attached to, and the intake's key for "already taken"."""
    _run(
        db,
        "ALTER TABLE files ADD COLUMN source TEXT NOT NULL DEFAULT 'folder'",
        "ALTER TABLE files ADD COLUMN sender TEXT",
        "ALTER TABLE files ADD COLUMN parent_id INTEGER REFERENCES files(id)",
        "ALTER TABLE files ADD COLUMN arrival_key TEXT",
        "CREATE INDEX files_arrival_key ON files(arrival_key)",
        "CREATE INDEX files_not_released ON files(removed_from_inbox)",
    )


@migration
def m004_sighting_lower_bound(db: sqlite3.Connection) -> None:
    """The last inbox scan that did not see a file: the earliest it can have arrived."""
    _run(db, "ALTER TABLE sightings ADD COLUMN not_seen_at TEXT")


@migration
def m005_state(db: sqlite3.Connection) -> None:
    """Small named facts about the store itself (last inbox scan, when it was rebuilt)."""
    _run(db, "CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migration
def m006_reopenings(db: sqlite3.Connection) -> None:
    """``baocao reopen``: a closed period opened again for one unit, and the file it let in."""
    _run(
        db,
        """CREATE TABLE reopenings (
            id INTEGER PRIMARY KEY,
            period TEXT NOT NULL,
            unit TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            file_id INTEGER REFERENCES files(id)
        )""",
        "CREATE INDEX reopenings_period_unit ON reopenings(period, unit)",
    )


@migration
def m007_file_identity(db: sqlite3.Connection) -> None:
    """What a file proved about its unit (``proof``) and the unit it named (``claimed_unit``);
    the signing key's id moves from the identity release's ``deployment`` table into ``state``."""
    _add_column(db, "files", "proof TEXT")
    _add_column(db, "files", "claimed_unit TEXT")
    if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='deployment'").fetchone():
        db.execute(
            "INSERT OR IGNORE INTO state SELECT 'signing_key_id', value FROM deployment WHERE key='key_id'"
        )
        db.execute("DROP TABLE deployment")


@migration
def m008_actions(db: sqlite3.Connection) -> None:
    """The web desk: what a coordinator did on purpose (resend feedback, reopen), who and when."""
    _run(
        db,
        """CREATE TABLE actions (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            period TEXT,
            unit TEXT,
            file_id INTEGER REFERENCES files(id),
            detail TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX actions_period ON actions(period, id)",
    )


@migration
def m009_message_claims(db: sqlite3.Connection) -> None:
    """Messages to several recipients (To + Cc, ``recipients``) and claims, so that no two runs
    and no crash send one twice: ``sending`` (claimed by ``claimed_by``), ``committing`` once the
    server may hold it, ``uncertain`` when a sender died after that point (never resent blindly).
    The CHECK on ``messages.status`` goes (like the files' one, m002): the store checks values."""
    indexes = (
        "CREATE INDEX messages_file ON messages(file_id)",
        "CREATE INDEX messages_status ON messages(status)",
    )
    _without_status_check(db, "messages", indexes)
    _run(
        db,
        "ALTER TABLE messages ADD COLUMN recipients TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE messages ADD COLUMN claimed_by TEXT",
        "ALTER TABLE messages ADD COLUMN claimed_at TEXT",
        "ALTER TABLE messages ADD COLUMN committing INTEGER NOT NULL DEFAULT 0",
    )
    # the one recipient of every earlier message (addresses hold no quote: they were validated)
    db.execute("""UPDATE messages SET recipients = '["' || recipient || '"]'""")


@migration
def m010_file_mail(db: sqlite3.Connection) -> None:
    """The e-mail a file came in (``model.MailThread`` as JSON): what answers thread under and
    whom they may go to. The sender's address itself has been in ``sender`` since m003."""
    _add_column(db, "files", "mail TEXT")


def _add_column(db: sqlite3.Connection, table: str, definition: str) -> None:
    """``ALTER TABLE … ADD COLUMN`` unless a ledger of the identity release already has it."""
    if definition.split()[0] not in {r[1] for r in db.execute(f"PRAGMA table_info({table})")}:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {definition}")


class NewerSchema(Exception):
    """The ledger has steps this baocao does not know: it was upgraded by a newer release."""


def applied(db: sqlite3.Connection) -> list[str]:
    """Names of the steps already applied (a ledger from before ``_migrations`` counts by
    ``user_version``)."""
    has_table = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='_migrations'").fetchone()
    if has_table:
        return [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    return [m.name for m in MIGRATIONS[:version]] if version <= len(MIGRATIONS) else ["?"] * version


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply the steps ``db`` has not had yet, each in its own transaction; return their names.

    Raises ``NewerSchema`` when the ledger records steps this release does not know.
    ``db`` must be in autocommit mode (``isolation_level=None``) and outside a transaction.
    """
    done = applied(db)
    known = {m.name for m in MIGRATIONS}
    if any(name not in known for name in done):
        raise NewerSchema(len(done))
    todo = [m for m in MIGRATIONS if m.name not in done]
    if not todo:
        return []
    # A new ledger gets every step in one transaction (one synced commit instead of one per
    # step: a first run waited ~15-50 ms for them); it is empty until then, so all or nothing
    # is the same as step by step. An existing ledger upgrades step by step.
    groups = [todo] if not done else [[step] for step in todo]
    db.execute("PRAGMA foreign_keys=OFF")  # a table rebuild drops the table others refer to
    try:
        for group in groups:
            db.execute("BEGIN IMMEDIATE")
            try:
                for step in group:
                    _apply(db, step, done)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            done += [step.name for step in group]
    finally:
        db.execute("PRAGMA foreign_keys=ON")
    return [m.name for m in todo]


def _apply(db: sqlite3.Connection, step: Migration, done: list[str]) -> None:
    """One step and its record, inside the caller's transaction."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    for name in done:  # a ledger from before the table: record what it had
        db.execute("INSERT OR IGNORE INTO _migrations VALUES (?, NULL)", (name,))
    step.apply(db)
    db.execute("INSERT INTO _migrations VALUES (?, ?)", (step.name, datetime.now(UTC).isoformat()))
    broken = db.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise sqlite3.IntegrityError(f"migration {step.name} broke foreign keys: {broken[:3]}")
    count = db.execute("SELECT COUNT(*) FROM _migrations").fetchone()[0]
    db.execute(f"PRAGMA user_version = {int(count)}")
