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
    assert tables == {"files", "submissions", "sightings", "messages", "actions"}
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
