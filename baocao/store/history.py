"""Units' earlier accepted reports, read from the ledger by a worker process (read-only).

Why apart from ``Ledger``: collect's workers validate the files they read (``baocao.filework``)
and need the unit's history, but must never write to the ledger, migrate it or hold a write
lock; one read-only connection per worker, opened on first use, each query its own snapshot
of what the collecting process has committed. The collecting process judges again itself any
file whose unit this run has already judged (``baocao.taking``): only then can a worker's
snapshot differ from what the ledger says when the verdict is recorded.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

HISTORY_SQL = (
    "SELECT period, vals FROM submissions WHERE unit=? AND superseded_by IS NULL AND period IS NOT ?"
)


def unit_history(db: sqlite3.Connection, unit: str, exclude_period: str | None) -> dict[str, dict[str, Any]]:
    """Current values of every other period ``unit`` reported (outlier and cumulative checks)."""
    return {period: json.loads(vals) for period, vals in db.execute(HISTORY_SQL, (unit, exclude_period))}


class LedgerHistory:
    """``unit_history`` over a read-only connection to the ledger at ``path`` (opened on first
    use; a ledger not there yet has no history)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db: sqlite3.Connection | None = None

    def unit_history(self, unit: str, exclude_period: str | None = None) -> dict[str, dict[str, Any]]:
        if self.db is None:
            if not self.path.exists():
                return {}
            self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        return unit_history(self.db, unit, exclude_period)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
