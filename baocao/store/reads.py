"""Reads of the ledger for a caller that walks many rows in an order of its own (consolidate).

Apart from ``store.ledger`` so that the collecting side's module stays as it is; read-only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from baocao.store.base import Store
from baocao.store.ledger import Ledger


def each_submission_values(store: Store, ids: Sequence[int]) -> Iterator[tuple[int, dict[str, object]]]:
    """``(id, values)`` of the submissions ``ids``, one at a time and in the order of ``ids``.

    Why: the summary keeps each unit's figures but not its narratives (1 KB a unit, 10 MB at
    10,000 units, issue 13); the sheet that shows them reads them again here, by the ids of the
    submissions it was built from, so a file accepted in between cannot slip in. One query, the
    order given by ``json_each`` (an id the ledger no longer has is left out: the caller checks).
    """
    if not isinstance(store, Ledger):
        raise TypeError(f"each_submission_values needs the SQLite ledger, not {type(store).__name__}")
    rows = store.db.execute(
        "SELECT s.id, s.vals FROM json_each(?) AS wanted JOIN submissions AS s ON s.id = wanted.value "
        "ORDER BY wanted.key",
        (json.dumps(list(ids)),),
    )
    for row in rows:
        yield row[0], json.loads(row[1])
