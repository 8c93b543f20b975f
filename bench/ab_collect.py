"""Old code against new on the same files: ``bench.py --stage collect`` alternating two trees.

Run from the repository root with the project's Python::

    .venv/bin/python bench/ab_collect.py --other /path/to/old/tree --dir KEPT [--rounds 8]

``KEPT`` is a data set kept by ``bench.py --files 1000 --only collect --keep``. Each round runs
the collect stage once with each tree (this one and ``--other``), in alternating order, each
tree's own ``bench/bench.py`` with that tree first on ``PYTHONPATH`` and its folder as working
folder, on a fresh copy of the same inbox. Why: this VM's speed drifts within minutes, so two
full bench runs made one after the other compare the machine as much as the code; ratios
taken round by round do not. Prints each round, then the median of the per-round new/old
ratios of wall time and of the CPU of the collecting process and of the workers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
MEASURES = ("seconds", "parent_cpu", "workers_cpu")


def run(tree: Path, kept: str, number: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree)
    command = [sys.executable, str(tree / "bench" / "bench.py"), "--stage", "collect", "--dir", kept]
    done = subprocess.run(
        [*command, "--round", str(number)], capture_output=True, text=True, env=env, cwd=tree
    )
    if done.returncode:
        raise SystemExit(done.stdout + done.stderr)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["seconds"] = result["seconds"][0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", required=True, help="the old tree (a worktree or a git archive)")
    parser.add_argument("--dir", required=True, help="a data set kept by bench.py --keep")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--first", type=int, default=1000, help="number of the first run folder")
    args = parser.parse_args()
    trees = {"old": Path(args.other).resolve(), "new": HERE}
    results: dict[str, list[dict]] = {"old": [], "new": []}
    for r in range(args.rounds):
        for which in ("old", "new") if r % 2 == 0 else ("new", "old"):
            result = run(trees[which], args.dir, args.first + r)
            results[which].append(result)
            shown = " ".join(f"{k}={result[k]:.3f}" for k in MEASURES)
            print(f"round {r} {which}: {shown} accepted={result['accepted']} rejected={result['rejected']}")
    for key in MEASURES:
        old = [d[key] for d in results["old"]]
        new = [d[key] for d in results["new"]]
        ratios = [n / o for n, o in zip(new, old, strict=True)]
        print(
            f"{key}: old median {statistics.median(old):.3f}, new median {statistics.median(new):.3f}, "
            f"new/old per round median {statistics.median(ratios):.3f} "
            f"(from {min(ratios):.3f} to {max(ratios):.3f})"
        )


if __name__ == "__main__":
    main()
