"""Does a change to collect keep every verdict? Two code trees, the same inboxes, the same ledger.

Run from the repository root with the project's Python::

    .venv/bin/python bench/same_ledger.py --other /path/to/a/worktree/of/main [--files 1000]

Generates (as ``bench.py`` does, same seed) ``--files`` submissions, one per unit, then two more
sets for the first fifth and tenth of those units (other periods, other values, other flaws).
For each tree (this one, and ``--other``), in a fresh deployment folder: collect the first set;
then collect the other two together, so that a unit has history from the first run and appears
twice in one run. Each collect runs in its own process with that tree's ``baocao`` first on
``sys.path``. Then it compares the two ledgers' ``files`` and ``submissions`` tables (every
column; the feedback path relative to the deployment folder) and the archive's file names, and
prints ``same_ledger=yes`` or the first differences (exit 1).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import bench

COLLECT = """
import sys
from datetime import datetime
from baocao import api
report = api.collect(api.load_deployment(sys.argv[1]), now=datetime.fromisoformat(sys.argv[2]))
print(len(report.results), report.count("accepted"), report.count("rejected"), report.count("failed"))
print(api.__file__)
"""


def collect_with(tree: Path, config: Path, now: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    # run in ``tree``: ``python -c`` puts the working folder first on sys.path, before PYTHONPATH,
    # so run from another tree's root it would import that tree's baocao
    done = subprocess.run(
        [sys.executable, "-c", COLLECT, str(config), now], capture_output=True, text=True, env=env, cwd=tree
    )
    if done.returncode != 0:
        raise SystemExit(f"collect with {tree} failed:\n{done.stderr[-3000:]}")
    counts, used = done.stdout.strip().splitlines()[-2:]
    if not Path(used).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"collect with {tree} imported baocao from {used}")
    return counts


def run_tree(root: Path, tree: Path, name: str) -> tuple[dict, list[str]]:
    """Both collects with ``tree`` in ``root/name``; what they left."""
    run = root / name
    inbox = run / "workbooks" / "inbox"
    inbox.mkdir(parents=True)
    config = run / "config.toml"
    config.write_text(bench.config_text(root / "don-vi.csv", 0), encoding="utf-8")
    for path in sorted((root / "files").iterdir()):
        shutil.copy2(path, inbox / path.name)  # same times: same arrival keys
    counts = [collect_with(tree, config, bench.NOW.isoformat())]
    for extra in ("extra-7", "extra-8"):
        for path in sorted((root / extra / "files").iterdir()):
            shutil.copy2(path, inbox / f"{extra}-{path.name}")
    counts.append(collect_with(tree, config, (bench.NOW + timedelta(hours=1)).isoformat()))
    print(f"{name}: {tree} (files accepted rejected failed per run: {' | '.join(counts)})", flush=True)
    return dump(run), sorted(
        p.relative_to(run).as_posix() for p in (run / "workbooks").rglob("*") if p.is_file()
    )


def dump(run: Path) -> dict:
    db = sqlite3.connect(run / "workbooks" / "ledger.sqlite")
    db.row_factory = sqlite3.Row
    tables = {}
    for table in ("files", "submissions"):
        rows = [dict(r) for r in db.execute(f"SELECT * FROM {table} ORDER BY id")]
        for row in rows:
            if row.get("feedback_path"):
                row["feedback_path"] = Path(row["feedback_path"]).relative_to(run).as_posix()
        tables[table] = rows
    db.close()
    return tables


def differences(a: dict, b: dict, names_a: list[str], names_b: list[str]) -> list[str]:
    found = []
    for table in a:
        if len(a[table]) != len(b[table]):
            found.append(f"{table}: {len(a[table])} rows here, {len(b[table])} in the other")
        for row_a, row_b in zip(a[table], b[table], strict=False):
            for column in row_a:
                if row_a[column] != row_b.get(column):
                    found.append(
                        f"{table} id {row_a['id']} {column}: {row_a[column]!r} != {row_b.get(column)!r}"
                    )
    if names_a != names_b:
        found.append(f"archive and feedback names differ: {sorted(set(names_a) ^ set(names_b))[:10]}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--other", required=True, type=Path, help="the other tree (a worktree of main)")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--root", type=Path, help="reuse the files generated in this kept folder")
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="baocao-same-"))
    try:
        if args.root:
            for name in ("here", "other"):
                shutil.rmtree(root / name, ignore_errors=True)
        else:
            workers = os.cpu_count() or 1
            bench.generate(root, args.files, workers, 6)
            for seed, share in ((7, 5), (8, 10)):
                extra = root / f"extra-{seed}"
                extra.mkdir()
                bench.generate(extra, max(args.files // share, 1), workers, seed)
        here, names_here = run_tree(root, Path(__file__).resolve().parents[1], "here")
        other, names_other = run_tree(root, args.other.resolve(), "other")
        found = differences(here, other, names_here, names_other)
        rows = sum(len(rows) for rows in here.values())
        print(
            json.dumps({table: len(rows) for table, rows in here.items()}),
            f"archive+feedback files: {len(names_here)}",
        )
        for line in found[:20]:
            print(line)
        print(f"same_ledger={'no' if found else 'yes'} rows={rows} differences={len(found)}")
        if found:
            raise SystemExit(1)
    finally:
        if args.keep or args.root:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
