"""The ledger file itself: WAL mode, a schema version, and refusal of a newer schema."""

from __future__ import annotations

import sqlite3

import pytest

from baocao.store.ledger import SCHEMA_VERSION, Ledger, LedgerError


def test_new_ledger_is_wal_with_the_current_schema(tmp_path):
    path = tmp_path / "so" / "ledger.sqlite"
    with Ledger(path) as ledger:
        assert ledger.schema_version == SCHEMA_VERSION
        assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in ledger.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"files", "submissions", "sightings", "messages", "deployment"}
    with Ledger(path) as again:  # reopening migrates nothing and loses nothing
        assert again.schema_version == SCHEMA_VERSION


def test_a_ledger_from_a_newer_baocao_is_refused(tmp_path):
    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(LedgerError, match="phiên bản baocao mới hơn"):
        Ledger(path)


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path):
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match="Không mở được sổ theo dõi"):
        Ledger(path)


def test_a_version_1_ledger_is_migrated_keeping_its_files_and_links(tmp_path):
    """Schema 2 rebuilds ``files`` (a 'held' status): rows, ids and the links to them survive."""
    from baocao.store.ledger import MIGRATIONS

    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[1] + "PRAGMA user_version = 1;")
    db.execute(
        "INSERT INTO files (id, sha256, original_name, inbox_path, archive_path, size, received_at, status,"
        " unit, period, form_version) VALUES (7, 'ab', 'a.xlsx', 'a.xlsx', 'x/a.xlsx', 1, '2025-03-05T09:00:00+07:00',"
        " 'accepted', 'DT_TG', '2025-Q1', '2025.1')"
    )
    db.execute(
        "INSERT INTO submissions (file_id, unit, period, form_version, received_at, vals)"
        " VALUES (7, 'DT_TG', '2025-Q1', '2025.1', '2025-03-05T09:00:00+07:00', '{\"x\": 1}')"
    )
    db.commit()
    db.close()
    with Ledger(path) as ledger:
        assert ledger.schema_version == SCHEMA_VERSION
        [rec] = ledger.files()
        assert (rec.id, rec.status, rec.unit, rec.proof, rec.claimed_unit) == (
            7,
            "accepted",
            "DT_TG",
            None,
            None,
        )
        assert ledger.current_submissions("2025-Q1")["DT_TG"].values == {"x": 1}
        assert ledger.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        ledger.db.execute("UPDATE files SET status='held' WHERE id=7")  # the widened CHECK
        with pytest.raises(sqlite3.IntegrityError):
            ledger.db.execute("DELETE FROM files WHERE id=7")  # the submission still points to it
