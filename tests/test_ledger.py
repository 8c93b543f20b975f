"""The SQLite store itself: named migrations, upgrade in place, transactions, supersession.

Tests of the SQLite class may read its tables with ``sqlite3`` directly: that is what they test.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers import BEFORE_DEADLINE

from baocao.model import FileRecord, Issue, Severity
from baocao.store.base import first_copy
from baocao.store.ledger import Ledger, LedgerError
from baocao.store.migrations import MIGRATIONS

V1 = Path(__file__).parent / "fixtures" / "ledger" / "v1-schema-made-by-4d4e826.sql"
V2 = Path(__file__).parent / "fixtures" / "ledger" / "v2-identity-made-by-d2424e0.sql"


def v1_ledger(path: Path) -> Path:
    """A ledger file exactly as baocao 4d4e826 left it (schema version 1, real rows)."""
    db = sqlite3.connect(path)
    db.executescript(V1.read_text(encoding="utf-8"))
    db.close()
    return path


def table(path: Path, query: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def test_new_ledger_is_wal_with_every_named_step_applied(tmp_path):
    path = tmp_path / "so" / "ledger.sqlite"
    with Ledger(path):
        pass
    names = [m.name for m in MIGRATIONS]
    assert [r[0] for r in table(path, "SELECT name FROM _migrations ORDER BY rowid")] == names
    assert table(path, "PRAGMA user_version") == [(len(names),)]
    assert table(path, "PRAGMA journal_mode") == [("wal",)]
    tables = {r[0] for r in table(path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {
        "files",
        "submissions",
        "sightings",
        "messages",
        "state",
        "reopenings",
        "actions",
        "_migrations",
    }
    with Ledger(path):  # reopening applies nothing again
        pass
    assert len(table(path, "SELECT * FROM _migrations")) == len(names)


def test_a_ledger_made_by_the_first_release_upgrades_in_place(tmp_path):
    path = v1_ledger(tmp_path / "ledger.sqlite")
    before = table(path, "SELECT id, sha256, status, unit, period, received_at FROM files ORDER BY id")
    with Ledger(path) as ledger:
        files = ledger.files()
        current = ledger.current_submissions("2025-Q1")
        [message] = ledger.messages("sent")
        sightings = ledger.sightings()
    assert [(f.id, f.sha256, f.status, f.unit, f.period, f.received_at.isoformat()) for f in files] == before
    assert [f.status for f in files] == ["accepted", "rejected", "rejected", "accepted", "duplicate"]
    assert all(f.source == "folder" and f.arrival_key is None and f.parent_id is None for f in files)
    assert current["DT_TG"].file_id == 4 and current["DT_TG"].values["tin_bai_cong_ttdt"] == 21
    assert message.recipient == "vp@x.example" and message.body.startswith(b"Subject: x")
    assert sightings["dang-chep.xlsx"].size == 7 and sightings["dang-chep.xlsx"].not_seen_at is None
    applied = [r[0] for r in table(path, "SELECT name FROM _migrations ORDER BY rowid")]
    assert applied == [m.name for m in MIGRATIONS]
    assert table(path, "PRAGMA foreign_key_check") == []
    with Ledger(path) as ledger:  # the old CHECK on status is gone: new outcomes can be stored
        ledger.record_outcome(2, status="failed", processed_at=BEFORE_DEADLINE, issues=[])
        assert ledger.files(status="failed")[0].id == 2
        assert ledger.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        with pytest.raises(sqlite3.IntegrityError):  # links survived: a submission points to it
            ledger.db.execute("DELETE FROM files WHERE id=1")


def test_a_ledger_made_by_the_identity_release_upgrades_in_place(tmp_path):
    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.executescript(V2.read_text(encoding="utf-8"))
    db.close()
    with Ledger(path) as ledger:
        accepted, held = ledger.files()
        assert (accepted.status, accepted.proof, accepted.claimed_unit) == ("accepted", "signed", "DT_TG")
        assert (held.status, held.proof, held.issues[0].code) == ("held", "unsigned", "unverified_identity")
        assert ledger.current_submissions("2025-Q1")["DT_TG"].values == {"x": 1}
        assert ledger.claim_key("k-1234") is None and ledger.claim_key("k-9999") == "k-1234"
    tables = {r[0] for r in table(path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert "deployment" not in tables and table(path, "PRAGMA foreign_key_check") == []


def test_a_ledger_from_a_newer_baocao_is_refused(tmp_path):
    path = tmp_path / "ledger.sqlite"
    with Ledger(path):
        pass
    db = sqlite3.connect(path)
    db.execute("INSERT INTO _migrations VALUES ('m999_from_the_future', NULL)")
    db.commit()
    db.close()
    with pytest.raises(LedgerError, match="phiên bản baocao mới hơn"):
        Ledger(path)
    old = tmp_path / "old.sqlite"  # no _migrations table, only a higher user_version
    db = sqlite3.connect(old)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(LedgerError, match="phiên bản baocao mới hơn"):
        Ledger(old)


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path):
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match=r"bị hỏng hoặc không phải sổ của baocao.*ledger rebuild"):
        Ledger(path)


def test_a_ledger_damaged_in_the_middle_gives_a_clear_error_inside_the_block(tmp_path):
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        for n in range(300):
            ledger.add_file(record(n, BEFORE_DEADLINE))
    [(root, size)] = table(
        path,
        "SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master WHERE name='files'",
    )
    data = bytearray(path.read_bytes())
    start = (root - 1) * size  # the files table's root page overwritten, the file header intact
    data[start : start + size] = b"\xff" * size
    path.write_bytes(bytes(data))
    with pytest.raises(LedgerError, match="bị hỏng"), Ledger(path) as ledger:
        ledger.files()


def record(n: int, received: datetime) -> FileRecord:
    return FileRecord(f"{n:064d}", f"f{n}.xlsx", f"f{n}.xlsx", f"2025-03-08/{n}.xlsx", 100, received)


def test_a_failed_transaction_leaves_nothing_and_a_failed_savepoint_only_its_own_part(tmp_path):
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        with pytest.raises(RuntimeError), ledger.transaction():
            ledger.add_file(record(1, BEFORE_DEADLINE))
            raise RuntimeError("crash after the insert")
        assert ledger.files() == []
        with ledger.transaction():
            ledger.add_file(record(2, BEFORE_DEADLINE))
            with pytest.raises(RuntimeError), ledger.transaction():
                ledger.add_file(record(3, BEFORE_DEADLINE))
                raise RuntimeError("one file's work fails")
            ledger.add_file(record(4, BEFORE_DEADLINE))
        assert [f.original_name for f in ledger.files()] == ["f2.xlsx", "f4.xlsx"]


def test_an_outcome_that_cannot_be_stored_changes_nothing(tmp_path):
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        file_id = ledger.add_file(record(1, BEFORE_DEADLINE))
        with pytest.raises(TypeError):  # a value the ledger cannot store, half-way through the work
            ledger.record_outcome(
                file_id,
                status="accepted",
                processed_at=BEFORE_DEADLINE,
                issues=[],
                unit="DT_TG",
                period="2025-Q1",
                form_version="2025.1",
                values={"tin_bai_cong_ttdt": {1, 2}},
            )
        [rec] = ledger.files()
        assert rec.status == "archived" and ledger.current_submissions("2025-Q1") == {}


def accept(ledger: Ledger, n: int, received: datetime, value: int) -> int:
    file_id = ledger.add_file(record(n, received))
    warning = Issue(Severity.WARNING, "below_target", "thấp", "tin_bai_cong_ttdt")
    ledger.record_outcome(
        file_id,
        status="accepted",
        processed_at=BEFORE_DEADLINE,
        issues=[warning],
        unit="DT_TG",
        period="2025-Q1",
        form_version="2025.1",
        values={"tin_bai_cong_ttdt": value},
    )
    return file_id


def test_a_late_arriving_older_file_does_not_replace_the_newer_one(tmp_path):
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        accept(ledger, 1, BEFORE_DEADLINE, 13)
        accept(ledger, 2, BEFORE_DEADLINE + timedelta(hours=2), 21)  # the correction
        # judged last, received first: the e-mail that sat in a queue, a copy restored late
        accept(ledger, 3, BEFORE_DEADLINE + timedelta(hours=1), 17)
        current = ledger.current_submissions("2025-Q1")["DT_TG"]
        assert current.values == {"tin_bai_cong_ttdt": 21} and current.file_id == 2
        assert [w.code for w in current.warnings] == ["below_target"]
    chain = table(path, "SELECT file_id, superseded_by FROM submissions ORDER BY id")
    ids = {file_id: sub_id for sub_id, (file_id, _) in enumerate(chain, start=1)}
    assert chain == [(1, ids[2]), (2, None), (3, ids[2])]


def test_a_ledger_that_cannot_be_created_says_so(tmp_path):
    (tmp_path / "not-a-folder").write_bytes(b"")
    with pytest.raises(LedgerError, match=r"Không ghi được sổ theo dõi.*quyền ghi"):
        Ledger(tmp_path / "not-a-folder" / "ledger.sqlite")


def test_files_at_matches_a_location_prefix_literally(tmp_path):
    """``_`` and ``%`` in a unit code are letters, not LIKE wildcards (NV_VP must not match NVXVP)."""
    places = ["web/2025-Q1/NV_VP/a.xlsx", "web/2025-Q1/NVXVP/b.xlsx", "web/2025-Q1/NV_VP2/c"]
    with Ledger(tmp_path / "l.sqlite") as ledger, ledger.transaction():
        for i, where in enumerate(places):
            ledger.add_file(FileRecord(f"{i:064x}", "x.xlsx", where, f"a/{i}", 1, BEFORE_DEADLINE))
        assert [r.inbox_path for r in ledger.files_at("web/2025-Q1/NV_VP/")] == [places[0]]
        assert ledger.files_at("web/2025-Q1/NV%") == []
        assert ledger.file(1) is not None and ledger.file(99) is None


def test_actions_are_recorded_latest_first_per_period(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        first = ledger.add_action(at=BEFORE_DEADLINE, actor="a", action="resend_feedback", period="2025-Q1")
        later = BEFORE_DEADLINE + timedelta(days=1)
        ledger.add_action(at=later, actor="b", action="reopen", period="2024-Y", unit="NV_VP")
        assert [a.actor for a in ledger.actions()] == ["b", "a"]
        assert ledger.actions("2025-Q1") == [first]


def test_an_unusable_ledger_is_explained_in_vietnamese_and_sqlites_words_go_to_the_log(tmp_path, caplog):
    """SQLite's English ("file is not a database") stays out of the coordinator's message."""
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with caplog.at_level(logging.WARNING, logger="baocao"), pytest.raises(LedgerError) as caught:
        Ledger(path)
    assert "database" not in str(caught.value) and "(" not in str(caught.value)
    assert "file is not a database" in caplog.text
    (tmp_path / "a-file").write_text("x")  # the ledger's folder is a file: it cannot be made
    with pytest.raises(LedgerError, match="Không ghi được sổ theo dõi") as caught:
        Ledger(tmp_path / "a-file" / "ledger.sqlite")
    assert "unable to open" not in str(caught.value)


def test_one_scan_seen_at_once_is_recorded_as_seeing_each_file_alone(tmp_path):
    """``see_all`` (collect lists a whole inbox with it) gives the sightings and leaves the rows
    that ``see`` file by file gives: new files, unchanged ones, changed ones."""
    first = datetime(2025, 3, 1, 8, 0, tzinfo=BEFORE_DEADLINE.tzinfo)
    later, gap = first + timedelta(minutes=5), first - timedelta(hours=1)
    scans = [[("a.xlsx", 10, 1), ("b.xlsx", 20, 2)], [("a.xlsx", 10, 1), ("b.xlsx", 21, 3), ("c.xlsx", 5, 4)]]
    found = {}
    for how in ("one by one", "at once"):
        with Ledger(tmp_path / f"{how}.sqlite") as ledger:
            seen = []
            for now, scan in zip((first, later), scans, strict=True):
                with ledger.transaction():
                    if how == "at once":
                        seen.append(ledger.see_all(scan, now, gap))
                    else:
                        seen.append([ledger.see(path, size, mtime, now, gap) for path, size, mtime in scan])
            rows = [tuple(r) for r in ledger.db.execute("SELECT * FROM sightings ORDER BY inbox_path")]
            found[how] = (seen, rows)
    assert found["at once"] == found["one by one"]
    [_, second], rows = found["at once"]
    assert [s.last_seen for s in second] == [first, later, later] and len(rows) == 3


def test_a_new_ledger_is_made_whole_or_not_at_all(tmp_path, monkeypatch):
    """A new ledger gets every schema step in one commit (one sync, not one per step): a step
    that fails leaves an empty file, which the next start makes again from the beginning."""
    from baocao.store import migrations

    def broken(db):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, migrations.Migration("broken", broken)])
    with pytest.raises(LedgerError):
        Ledger(tmp_path / "ledger.sqlite")
    db = sqlite3.connect(tmp_path / "ledger.sqlite")
    assert db.execute("SELECT name FROM sqlite_master").fetchall() == []
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    db.close()
    monkeypatch.undo()
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        applied = [r[0] for r in ledger.db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert applied == [m.name for m in MIGRATIONS]


@pytest.mark.parametrize("status", ["archived", "accepted", "rejected", "failed", "duplicate", "container"])
@pytest.mark.parametrize("archive_path", ["2025-03-08/abc_a.xlsx", ""])
def test_first_copy_is_exactly_what_first_with_hash_answers_with(tmp_path, status, archive_path):
    """Collect forgets a recorded first copy because the ledger answers for its bytes: the rule
    it uses (``first_copy``) must be the ledger query's own."""
    rec = FileRecord("f" * 64, "a.xlsx", "a.xlsx", archive_path, 10, BEFORE_DEADLINE, status=status)
    with Ledger(tmp_path / "so.sqlite") as ledger:
        rec.id = ledger.add_file(rec)
        found = ledger.first_with_hash("f" * 64)
    assert (found is not None and found.id == rec.id) == first_copy(rec)
