"""CPU a collect worker spends per file, in one process: this tree against another, interleaved.

Run from the repository root with the project's Python, on files ``bench.py --keep`` left::

    .venv/bin/python bench/bench.py --files 1000 --only collect --keep   # prints the kept folder
    .venv/bin/python bench/worker_cpu.py --dir KEPT --other /path/to/a/worktree/of/main [--rounds 5]

Why apart from ``bench.py``: the collect stage's ``workers_cpu`` moves with whatever else the
machine runs (two cores, shared); one process doing a worker's steps on every file once, timed
with ``time.process_time`` and alternated between the two trees round by round, compares the
code and little else. What one file costs here, as ``filework.work`` does it for a ``Take``:
read (the template reader), validate with the unit's history (an empty ledger), prepare the
feedback job; ``send``: pickling what the worker sends back (and, apart, what the collecting
process spends loading it); then the feedback workbooks of the files with issues, as workers
write them (no fsync). Not timed: the archive copy (file-system work) and the pipe.
Each tree runs in its own process with that tree's ``baocao`` first on ``sys.path``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

ONE = """
import dataclasses, json, pickle, sqlite3, sys, tempfile, time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from baocao import api, filework
from baocao import judging as judging_step
from baocao.judge.context import Facts
from baocao.judge.workers import reading_of
from baocao.workbook.feedback import write_feedback_job

kept = Path(sys.argv[1])
dep = api.load_deployment(kept / "config.toml")
files = sorted((kept / "files").glob("*.xlsx"))
contents = [path.read_bytes() for path in files]
scratch = Path(tempfile.mkdtemp())
ledger = scratch / "ledger.sqlite"  # a ledger with no history: each file's query still runs
with sqlite3.connect(ledger) as db:
    db.execute("CREATE TABLE submissions (unit, period, vals, superseded_by)")
work = filework.Work(reading_of(dep), Facts.of(dep), ledger, judging_step.validate, dep)
now = datetime(2025, 3, 5, 9, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))  # bench.NOW
start = time.process_time()
taken = [
    filework.work(filework.Take(content, path, "", 0.0, False, True, False, now.date(), path.name, now), work)
    for path, content in zip(files, contents, strict=True)
]
read = time.process_time() - start
start = time.process_time()
sent = [pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL) for item in taken]
send = time.process_time() - start
start = time.process_time()
for blob in sent:
    pickle.loads(blob)
load = time.process_time() - start
jobs = [t.judged.feedback for t in taken if t.judged is not None and t.judged.feedback is not None]
jobs = [dataclasses.replace(job, out=scratch / job.out.name, sync=False) for job in jobs]
start = time.process_time()
for job in jobs:
    write_feedback_job(job)
feedback = time.process_time() - start
ms = 1000 / len(files)
print(json.dumps({"files": len(files), "feedback_files": len(jobs), "read_validate_ms": read * ms,
                  "send_ms": send * ms, "feedback_ms": feedback * ms, "load_in_parent_ms": load * ms,
                  "baocao": filework.__file__}))
"""


def run_one(tree: Path, kept: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as a coordinator's machine runs it
    done = subprocess.run(
        [sys.executable, "-c", ONE, str(kept)], capture_output=True, text=True, env=env, cwd=tree
    )
    if done.returncode != 0:
        raise SystemExit(f"{tree} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(result["baocao"]).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"{tree} imported baocao from {result['baocao']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="a folder bench.py --keep left")
    parser.add_argument("--other", type=Path, help="another tree (a worktree of main) to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = {"here": REPO, **({"other": args.other.resolve()} if args.other else {})}
    results: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            results[name].append(run_one(tree, args.dir.resolve()))
    keys = ("read_validate_ms", "send_ms", "feedback_ms", "load_in_parent_ms")
    for name, rounds in results.items():
        medians = {key: statistics.median(r[key] for r in rounds) for key in keys}
        total = medians["read_validate_ms"] + medians["send_ms"] + medians["feedback_ms"]
        cells = " ".join(f"{key}={value:.3f}" for key, value in medians.items())
        print(f"{name} ({trees[name]}): {cells} worker_total_ms={total:.3f}")
    if args.other:
        here, other = results["here"], results["other"]
        ratios = {
            key: statistics.median(h[key] / o[key] for h, o in zip(here, other, strict=True)) for key in keys
        }
        worker = statistics.median(
            sum(h[k] for k in keys[:3]) / sum(o[k] for k in keys[:3])
            for h, o in zip(here, other, strict=True)
        )
        cells = " ".join(f"{key}={value:.3f}" for key, value in ratios.items())
        print(f"here/other per round, medians: {cells} worker_total={worker:.3f}")


if __name__ == "__main__":
    main()
