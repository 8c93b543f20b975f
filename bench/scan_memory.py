"""Python heap of listing a big inbox: ``FolderIntake.arrivals()`` on N files, traced.

Run from the repository root with the project's Python::

    .venv/bin/python bench/scan_memory.py --files 10000            # makes N tiny files in a temp folder
    .venv/bin/python bench/scan_memory.py --inbox /path/to/inbox    # or lists a folder you have

Why apart from ``bench.py``: the collect stage's peak memory at 10,000 files is one number for
a whole run; this shows the part every file of the inbox costs at once while it is listed (the
first high-water mark of a collect), as the bytes Python holds (``tracemalloc``), so a change
to what the listing keeps per file is seen alone. The files are one byte each: listing does not
open them. Prints ``files= held_MB= peak_MB=`` and the same per file.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from baocao.intake.folder import FolderIntake
from baocao.store.ledger import Ledger


def measure(inbox: Path, work: Path) -> str:
    """List ``inbox`` once with a fresh ledger in ``work``; what Python held after and at most."""
    store = Ledger(work / "so-cai.sqlite")
    try:
        intake = FolderIntake(inbox, store, datetime.now(UTC), stable_seconds=0)
        gc.collect()
        tracemalloc.start()
        arrivals = intake.arrivals()
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        store.close()
    n = max(len(arrivals), 1)
    return (
        f"files={len(arrivals)} held_MB={held / 2**20:.2f} peak_MB={peak / 2**20:.2f} "
        f"held_per_file_B={held / n:.0f} peak_per_file_B={peak / n:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10000, help="tiny files to make (without --inbox)")
    parser.add_argument("--inbox", type=Path, help="an existing folder to list instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="baocao-scan-") as tmp:
        work = Path(tmp)
        inbox = args.inbox
        if inbox is None:
            inbox = work / "inbox"
            inbox.mkdir()
            for i in range(args.files):
                (inbox / f"DV{i:05d}_2025-Q1_bao-cao.xlsx").write_bytes(b"x")
        print(measure(inbox, work))


if __name__ == "__main__":
    main()
