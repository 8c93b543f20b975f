"""The log of a coordinator's deliberate acts (the web desk: resend feedback, reopen a unit).

Kept apart from ``ledger`` to keep that module to the pipeline's own rows; ``Ledger`` mixes it
in, so the acts live in the same SQLite file and transactions as everything else.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime

from baocao.model import Action
from baocao.store.rows import action_from_row


class ActionLog:
    """``add_action`` / ``actions`` over the ``actions`` table (migration ``m008_actions``)."""

    db: sqlite3.Connection

    def transaction(self) -> AbstractContextManager[None]:  # provided by Ledger
        raise NotImplementedError

    def add_action(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        period: str | None = None,
        unit: str | None = None,
        file_id: int | None = None,
        detail: str = "",
    ) -> Action:
        """Record one act (its own transaction, or a savepoint inside the caller's)."""
        with self.transaction():
            cur = self.db.execute(
                """INSERT INTO actions (at, actor, action, period, unit, file_id, detail)
                   VALUES (?,?,?,?,?,?,?)""",
                (at.isoformat(), actor, action, period, unit, file_id, detail),
            )
        return Action(int(cur.lastrowid or 0), at, actor, action, period, unit, file_id, detail)

    def actions(self, period: str | None = None, limit: int = 100) -> list[Action]:
        """The latest first, of ``period`` or of all periods."""
        rows: Iterator[sqlite3.Row] = self.db.execute(
            "SELECT * FROM actions WHERE (? IS NULL OR period=?) ORDER BY id DESC LIMIT ?",
            (period, period, limit),
        )
        return [action_from_row(r) for r in rows]
