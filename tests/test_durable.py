"""Durable in batches, and truly durable (issue 13): a batch's archive copies and their folder
entries reach the disk before the ledger records them, the ledger's commit reaches the disk
before any original is released, and a sync that fails stops the run with nothing recorded."""

from __future__ import annotations

import sqlite3

import pytest
from helpers import BEFORE_DEADLINE, inbox, make_submission, stored_files

from baocao import api, taking
from baocao.errors import StoreError
from baocao.store.archive import ArchiveError
from baocao.store.ledger import Ledger


def test_every_commit_of_the_ledger_is_synced(tmp_path):
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert ledger.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL (WAL's NORMAL is 1)
        assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_copies_are_synced_before_anything_is_recorded_or_released(deployment, monkeypatch):
    box = inbox(deployment)
    for i, unit in enumerate(("DT_TG", "NV_VP", "DT_VP")):
        make_submission(deployment, unit, "2025-Q1", box / f"{i}.xlsx")
    ledger = deployment.settings.path("ledger")
    archive = deployment.settings.path("archive")
    seen = []
    real = taking.sync_folders

    def watched(folders):
        with sqlite3.connect(ledger) as other:  # what a reader would find after a power cut now
            committed = other.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        copies = list(archive.rglob("*.xlsx"))
        seen.append((committed, len(list(box.iterdir())), len(copies)))
        real(folders)

    monkeypatch.setattr(taking, "sync_folders", watched)
    api.collect(deployment, now=BEFORE_DEADLINE)
    # batches of 1 then 2 files, each synced with its copies in place (the workers are already
    # writing the next batch's), before its commit and before its originals leave the inbox
    (committed, originals, copies), second = seen
    assert (committed, originals) == (0, 3) and copies >= 1
    assert second == (1, 2, 3)
    assert len(stored_files(deployment)) == 3 and list(box.iterdir()) == []


def test_a_sync_that_fails_stops_the_run_and_keeps_every_original(deployment, monkeypatch):
    path = make_submission(deployment, "DT_TG", "2025-Q1", inbox(deployment) / "a.xlsx")

    def disk_gone(folders):
        raise ArchiveError("Không ghi được vào thư mục lưu trữ: lỗi vào/ra (EIO)")

    monkeypatch.setattr(taking, "sync_folders", disk_gone)
    with pytest.raises(StoreError, match="lỗi vào/ra"):
        api.collect(deployment, now=BEFORE_DEADLINE)
    monkeypatch.undo()
    assert path.exists() and stored_files(deployment) == []
    report = api.collect(deployment, now=BEFORE_DEADLINE)  # the next run takes it
    assert [r.status for r in report.results] == ["accepted"] and not path.exists()
