"""The benchmark script keeps working: a tiny run ends with the line issues 6 and 13 specify."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO


def test_bench_smoke_run_prints_the_summary_line():
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "bench.py"),
            "--files",
            "12",
            "--rounds",
            "1",
            "--sample",
            "4",
            "--workers",
            "1",
        ],
        capture_output=True,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    last = done.stdout.decode("utf-8").strip().splitlines()[-1]
    pattern = r"speedup_vs_naive=\d+\.\d+ read_vs_floor=\d+\.\d+ peak_rss_mb=\d+\.\d+ check_s=\d+\.\d+"
    assert re.fullmatch(pattern, last), last
