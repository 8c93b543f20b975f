"""Benchmark of baocao's collection pipeline against the naive read loop and the I/O floor (issue 6).

Run from the repository root with the project's Python::

    .venv/bin/python bench/bench.py --files 1000 [--workers K] [--rounds R]

What it does, all in one temporary folder and on the same files:

1. generates ``--files`` filled submissions from real templates of the demo form (``render_template``
   with ``values=``), for a registry of as many synthetic units, over three periods, ~10 % with
   errors (text in a number cell, a missing required field, a bad phone, a broken cross-field
   rule) and ~10 % with warnings only, all made from the form spec by ``baocao.spec.samples``;
2. measures each stage in a fresh subprocess (``--stage X``), so that the peak memory of one stage
   does not hide in another's: the naive loop, the floor, baocao's read stage, ``collect`` end to
   end, ``consolidate`` of the main period, and a rerun of ``collect`` with nothing new;
3. prints a table and, as its last line,
   ``speedup_vs_naive=<x> read_vs_floor=<x> peak_rss_mb=<MB>``.

Peak memory is ``resource.getrusage`` (``ru_maxrss``) of the stage process (RUSAGE_SELF) and of its
largest child (RUSAGE_CHILDREN: the reader's worker processes); ``psutil`` is not a dependency.
POSIX only (``resource``); on Windows the memory columns are left empty.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

try:
    import resource
except ImportError:  # Windows: no ru_maxrss
    resource = None  # type: ignore[assignment]

REPO = Path(__file__).resolve().parents[1]
FORM = REPO / "forms" / "cchc-tuyen-truyen.toml"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2025, 3, 5, 9, 30, tzinfo=TZ)  # collect's clock: before the 2025-Q1 deadline
MAIN_PERIOD = "2025-Q1"
PERIODS = (("2025-Q1", 0.8), ("2024-Y", 0.1), ("2024-Q3", 0.1))
UNITS_PER_DEPARTMENT = 50
NAIVE_SAMPLE = 1000

# the demo deployment's period kinds, read from its config.toml so the two never drift
PERIODS_TOML = re.search(
    r"^\[periods\.Q1\].*?(?=^\[mail\])", (REPO / "config.toml").read_text(encoding="utf-8"), re.S | re.M
)[0]

UNIT_KINDS = (
    "Phòng Văn hóa và Thông tin",
    "Trường Trung học cơ sở",
    "Trạm Y tế xã",
    "Ủy ban nhân dân xã",
    "Phòng Tư pháp",
    "Trung tâm Dịch vụ nông nghiệp",
)
# --------------------------------------------------------------------------------- generation


def unit_code(i: int) -> str:
    return f"DV{i:05d}"


def write_registry(path: Path, n: int) -> None:
    """One province, a department per 50 units, ``n`` reporting units."""
    lines = [
        "code,name,parent,kind,email,valid_from,valid_to,successor",
        "LANGSON,Tỉnh Lạng Sơn (Sở Nội vụ tổng hợp),,province,cchc@snv.langson.example,2020-01-01,,",
    ]
    departments = (n + UNITS_PER_DEPARTMENT - 1) // UNITS_PER_DEPARTMENT
    for d in range(departments):
        lines.append(f"SO{d:04d},Sở số {d + 1},LANGSON,department,so{d:04d}@langson.example,2020-01-01,,")
    for i in range(n):
        name = f"{UNIT_KINDS[i % len(UNIT_KINDS)]} số {i + 1}"
        parent = f"SO{i // UNITS_PER_DEPARTMENT:04d}"
        lines.append(f"{unit_code(i)},{name},{parent},unit,dv{i:05d}@donvi.langson.example,2020-01-01,,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def config_text(registry: Path, workers: int) -> str:
    return f"""
form = "{FORM.as_posix()}"
registry = "{registry.as_posix()}"

[organisation]
name = "Sở Nội vụ tỉnh Lạng Sơn"
coordinator = "Phòng Cải cách hành chính"
issuing_body = "UBND TỈNH LẠNG SƠN"
timezone = "Asia/Ho_Chi_Minh"

[collect]
stable_seconds = 0
workers = {workers}
{PERIODS_TOML}
"""


def submission_values(dep, rng: random.Random, period, unit: str, kind: str) -> dict[str, object]:
    """Inputs of one unit made from the form spec: valid, or with one flaw (``kind``, a key of
    ``baocao.spec.samples.FLAWS``: an error, or ``warning`` for accepted-but-flagged)."""
    from baocao.spec.samples import sample_values, with_flaw

    values = sample_values(dep.form, rng, period, unit=unit)
    if kind != "valid":
        values, _ = with_flaw(dep.form, values, kind, rng)
    return values


def plan(n: int, seed: int) -> list[tuple[int, str, str]]:
    """(unit index, period, kind) per file: ~10 % errors, ~10 % warnings only."""
    rng = random.Random(seed)
    periods, weights = zip(*PERIODS, strict=True)
    errors = ("text_in_number", "missing_required", "bad_phone", "rule")  # spec.samples.FLAWS
    out = []
    for i in range(n):
        r = rng.random()
        kind = rng.choice(errors) if r < 0.10 else "warning" if r < 0.20 else "valid"
        out.append((i, rng.choices(periods, weights)[0], kind))
    return out


_GEN: dict = {}


def _gen_init(config: str) -> None:
    from baocao import api

    _GEN["dep"] = api.load_deployment(config)


def _gen_batch(batch: list[tuple[int, str, str]], folder: str, seed: int) -> int:
    from baocao import api
    from baocao.workbook.template import render_template

    dep = _GEN["dep"]
    for i, period_code, kind in batch:
        period = dep.period(period_code)
        unit = dep.unit(unit_code(i), period)
        rng = random.Random(seed * 1_000_003 + i)
        ctx = dataclasses.replace(
            api.template_context(dep, unit, period),
            values=submission_values(dep, rng, period, unit.code, kind),
        )
        content = render_template(dep.form, ctx)
        Path(folder, f"{unit.code}_{period_code}_bao-cao.xlsx").write_bytes(content)
    return len(batch)


def generate(root: Path, n: int, workers: int, seed: int) -> dict[str, int]:
    """The registry, the config and ``n`` filled submissions in ``root/files``."""
    write_registry(root / "don-vi.csv", n)
    (root / "config.toml").write_text(config_text(root / "don-vi.csv", workers), encoding="utf-8")
    files = root / "files"
    files.mkdir()
    jobs = plan(n, seed)
    step = max(1, min(250, n // (4 * max(workers, 1)) or 1))
    batches = [jobs[k : k + step] for k in range(0, n, step)]
    import multiprocessing

    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_gen_init,
        initargs=(str(root / "config.toml"),),
    ) as pool:
        list(pool.map(_gen_batch, batches, [str(files)] * len(batches), [seed] * len(batches)))
    kinds: dict[str, int] = {}
    for _, period, kind in jobs:
        kinds[kind] = kinds.get(kind, 0) + 1
        kinds[period] = kinds.get(period, 0) + 1
    return kinds


# --------------------------------------------------------------------------------- stages


def rss_mb() -> tuple[float, float]:
    """Peak RSS of this process and of its largest finished child, in MB (Linux: KiB units)."""
    if resource is None:
        return 0.0, 0.0
    scale = 1024 if sys.platform != "darwin" else 1  # ru_maxrss: KiB on Linux, bytes on macOS
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale / 2**20
    return own, child


def files_of(root: Path) -> list[Path]:
    return sorted((root / "files").iterdir())


def stage_naive(root: Path, args: argparse.Namespace) -> dict:
    """pandas.read_excel(openpyxl) of every sheet, then each field by its cell address."""
    import pandas as pd

    from baocao import api
    from baocao.a1 import parse_cell

    dep = api.load_deployment(root / "config.toml")
    cells = [(code, ref.sheet, *parse_cell(ref.cell)) for code, ref in dep.form.layout.items()]
    paths = files_of(root)
    sample = paths if len(paths) <= args.sample else random.Random(1).sample(paths, args.sample)
    rounds = []
    for _ in range(args.naive_rounds):
        start = time.perf_counter()
        extracted = 0
        for path in sample:
            sheets = pd.read_excel(path, sheet_name=None, engine="openpyxl", header=None)
            values = {}
            for code, sheet, row, col in cells:
                frame = sheets[sheet]
                ok = row < frame.shape[0] and col < frame.shape[1]
                values[code] = frame.iat[row, col] if ok else None
            meta = sheets["_meta"]
            for row in range(meta.shape[0]):
                values["_meta." + str(meta.iat[row, 0])] = meta.iat[row, 1]
            extracted += len(values)
        rounds.append(time.perf_counter() - start)
    return {"seconds": rounds, "files": len(sample), "values_per_file": extracted / len(sample)}


def stage_floor(root: Path, args: argparse.Namespace) -> dict:
    """Open each zip and read (inflate) its worksheet parts and shared strings; no parsing."""
    paths = files_of(root)
    rounds = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        total = 0
        for path in paths:
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    if name.startswith("xl/worksheets/sheet") or name == "xl/sharedStrings.xml":
                        total += len(zf.read(name))
        rounds.append(time.perf_counter() - start)
    return {"seconds": rounds, "files": len(paths), "bytes_per_file": total / len(paths)}


def stage_read(root: Path, args: argparse.Namespace) -> dict:
    """baocao's read stage alone: read_workbooks with the catalog's layouts, in worker processes."""
    from baocao import api
    from baocao.errors import WorkbookError
    from baocao.judge.workers import read_workbooks

    dep = api.load_deployment(root / "config.toml")
    layouts = dep.catalog.layouts()
    paths = files_of(root)
    rounds = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        failed = sum(
            isinstance(result, WorkbookError)
            for _, result in read_workbooks(paths, layouts, workers=args.workers)
        )
        rounds.append(time.perf_counter() - start)
    return {"seconds": rounds, "files": len(paths), "unreadable": failed}


def fresh_run(root: Path, index: int, workers: int) -> Path:
    """A deployment folder with an empty ledger and every generated file in its inbox."""
    run = root / f"run-{index}"
    if run.exists():
        shutil.rmtree(run)
    inbox = run / "workbooks" / "inbox"
    inbox.mkdir(parents=True)
    for path in files_of(root):
        shutil.copyfile(path, inbox / path.name)
    (run / "config.toml").write_text(config_text(root / "don-vi.csv", workers), encoding="utf-8")
    return run


def stage_collect(root: Path, args: argparse.Namespace) -> dict:
    """collect end to end on a fresh inbox (hash, archive, read, validate, ledger, feedback)."""
    from baocao import api

    rounds, report = [], None
    for index in range(args.collect_rounds):
        run = fresh_run(root, index, args.workers)
        dep = api.load_deployment(run / "config.toml")
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        start = time.perf_counter()
        report = api.collect(dep, now=NOW)
        rounds.append(time.perf_counter() - start)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        if index:  # keep run-0 for consolidate and the rerun
            shutil.rmtree(run)
    assert report is not None
    feedback = sum(1 for r in report.results if r.feedback)
    return {
        "seconds": rounds,
        "files": len(report.results),
        "accepted": report.count("accepted"),
        "rejected": report.count("rejected"),
        "duplicate": report.count("duplicate"),
        "feedback_files": feedback,
    }


def stage_consolidate(root: Path, args: argparse.Namespace) -> dict:
    """consolidate of the main period (summary workbook and CSV) from run-0's ledger."""
    from baocao import api
    from baocao.consolidate import consolidate

    dep = api.load_deployment(root / "run-0" / "config.toml")
    rounds, result = [], None
    for _ in range(args.rounds):
        start = time.perf_counter()
        result = consolidate(dep, MAIN_PERIOD, now=NOW)
        rounds.append(time.perf_counter() - start)
    assert result is not None
    return {"seconds": rounds, "counts": result.counts}


def stage_rerun(root: Path, args: argparse.Namespace) -> dict:
    """collect again on run-0: nothing new in the inbox, every file already archived and judged."""
    from baocao import api

    dep = api.load_deployment(root / "run-0" / "config.toml")
    rounds = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        report = api.collect(dep, now=NOW)
        rounds.append(time.perf_counter() - start)
        assert not report.results, "a rerun found work to do"
    from baocao.store import open_store

    with open_store(dep.settings) as store:
        archived = len(store.files())
    return {"seconds": rounds, "archived": archived}


STAGES = {
    "naive": stage_naive,
    "floor": stage_floor,
    "read": stage_read,
    "collect": stage_collect,
    "consolidate": stage_consolidate,
    "rerun": stage_rerun,
}


def run_stage(name: str, root: Path, args: argparse.Namespace) -> dict:
    """Run one stage in a fresh interpreter; return its JSON result plus its peak memory."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--stage",
        name,
        "--dir",
        str(root),
        "--files",
        str(args.files),
        "--workers",
        str(args.workers),
        "--rounds",
        str(args.rounds),
        "--collect-rounds",
        str(args.collect_rounds),
        "--naive-rounds",
        str(args.naive_rounds),
        "--sample",
        str(args.sample),
    ]
    if args.profile and name == "collect":
        command += ["--profile", args.profile]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"stage {name} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------- report


def fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def report(results: dict[str, dict], args: argparse.Namespace, kinds: dict[str, int]) -> None:
    n = args.files
    med = {name: statistics.median(r["seconds"]) for name, r in results.items()}
    naive = results["naive"]
    naive_n = med["naive"] * n / naive["files"]  # scaled from the sample to all n files
    floor = med["floor"]
    rows = [
        ("naive loop (pandas+openpyxl)", "naive", naive_n, n),
        ("floor (zip open + read sheet parts)", "floor", floor, n),
        (f"read stage (read_workbooks, {args.workers or os.cpu_count()} workers)", "read", med["read"], n),
        ("collect end to end (new inbox)", "collect", med["collect"], n),
        (f"consolidate {MAIN_PERIOD} ({n} units)", "consolidate", med["consolidate"], n),
        ("collect rerun, nothing new", "rerun", med["rerun"], results["rerun"]["archived"]),
    ]
    print()
    print(
        f"files={n} workers={args.workers or os.cpu_count()} cpus={os.cpu_count()}"
        f" python={sys.version.split()[0]}"
    )
    print(
        "generated: "
        + ", ".join(f"{k}={v}" for k, v in sorted(kinds.items()))
        + f"; collect: {results['collect']['accepted']} accepted, {results['collect']['rejected']} rejected,"
        f" {results['collect']['feedback_files']} feedback workbooks"
    )
    header = (
        f"{'stage':<46} {'seconds':>9} {'ms/file':>8} {'rss MB':>7} {'child MB':>8} {'naive/x':>8}"
        f" {'x/floor':>8} {'rounds':>6}"
    )
    print(header)
    print("-" * len(header))
    for label, key, seconds, per in rows:
        r = results[key]
        print(
            f"{label:<46} {seconds:>9.3f} {seconds / per * 1000:>8.3f}"
            f" {r['rss_mb']:>7.1f} {r['child_mb']:>8.1f}"
            f" {naive_n / seconds:>8.2f} {seconds / floor:>8.2f} {len(r['seconds']):>6}"
        )
    print("-" * len(header))
    sampled = naive["files"] < n
    print(
        f"naive loop: {naive['files']} files timed"
        + (
            f" (a random sample of {naive['files']} of {n}), scaled ×{n / naive['files']:g} to all files"
            if sampled
            else ""
        )
        + f", {naive['values_per_file']:.0f} values per file, {len(naive['seconds'])} round(s)"
    )
    print(
        "seconds: median of the rounds; naive/x: how many times faster than the naive loop;"
        " x/floor: multiple of the floor; rss MB: peak RSS of the stage process, child MB: of its"
        " largest child (reader workers), both from resource.getrusage ru_maxrss"
    )
    print(f"consolidate counts: {results['consolidate']['counts']}")
    peak = max(max(r["rss_mb"], r["child_mb"]) for r in results.values())
    print(
        f"speedup_vs_naive={naive_n / med['collect']:.2f} read_vs_floor={med['read'] / floor:.2f}"
        f" peak_rss_mb={peak:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=0, help="reader processes (0: one per CPU)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the cheap stages (median)")
    parser.add_argument(
        "--collect-rounds", type=int, help="rounds of collect (default: rounds, 1 above 2,000 files)"
    )
    parser.add_argument("--naive-rounds", type=int, default=1, help="rounds of the naive loop")
    parser.add_argument("--sample", type=int, default=NAIVE_SAMPLE, help="files timed in the naive loop")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--profile", help="write a cProfile of the collect stage (parent process) here")
    parser.add_argument("--only", help="comma-separated stages to run, no table (for profiling)")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.collect_rounds is None:
        args.collect_rounds = args.rounds if args.files <= 2000 else 1
    if args.profile:
        args.profile = str(Path(args.profile).resolve())
    if args.stage:
        result = STAGES[args.stage](Path(args.dir), args)
        result["rss_mb"], result["child_mb"] = rss_mb()
        print(json.dumps(result, default=str))
        return
    root = Path(tempfile.mkdtemp(prefix="baocao-bench-"))
    try:
        start = time.perf_counter()
        kinds = generate(root, args.files, args.workers or os.cpu_count() or 1, args.seed)
        print(f"generated {args.files} files in {time.perf_counter() - start:.1f} s in {root}", flush=True)
        results = {}
        for name in (
            args.only.split(",")
            if args.only
            else ("floor", "read", "collect", "consolidate", "rerun", "naive")
        ):
            start = time.perf_counter()
            results[name] = run_stage(name, root, args)
            print(f"  {name}: {time.perf_counter() - start:.1f} s {json.dumps(results[name])}", flush=True)
        if not args.only:
            report(results, args, kinds)
    finally:
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
