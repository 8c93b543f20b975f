"""Benchmark of baocao's collection pipeline against the naive read loops and the I/O floor (issues 6, 13).

Run from the repository root with the project's Python::

    .venv/bin/python bench/bench.py --files 1000 [--workers K] [--rounds R] [--phases]

What it does, all in one temporary folder and on the same files:

1. generates ``--files`` filled submissions from real templates of the demo form (``render_template``
   with ``values=``), for a registry of as many synthetic units, over three periods, ~10 % with
   errors (text in a number cell, a missing required field, a bad phone, a broken cross-field
   rule) and ~10 % with warnings only, all made from the form spec by ``baocao.spec.samples``;
2. times, in ``--rounds`` interleaved rounds, each stage in a fresh subprocess (``--stage X``) so
   that the peak memory of one stage does not hide in another's: the naive loop with openpyxl,
   ``collect`` end to end, the naive loop with calamine, ``collect`` with every sync turned off
   (what durability costs); then the floor and the read stage alternately, how long two workers
   take to start, ``consolidate`` of the main period, a rerun of ``collect`` with nothing new and
   the wall time of ``baocao check FILE``; with ``--phases``, each step of collect alone;
3. prints a table (medians, spreads), the CPU each loop spends per file (the naive loop's process;
   collect's collecting process and its workers apart: a figure the machine's other load moves
   far less than wall time) and, as its last line,
   ``speedup_vs_naive=<x> read_vs_floor=<x> peak_rss_mb=<MB> check_s=<s>``: medians of the
   per-round ratios (each round's naive loop against the same round's collect).

Peak memory is ``resource.getrusage`` (``ru_maxrss``) of the stage process (RUSAGE_SELF) and of
its largest descendant (RUSAGE_CHILDREN: the worker processes, reaped by the forkserver, which
the stage stops first); ``psutil`` is not a dependency. POSIX only (``resource``); on Windows the
memory columns are left empty.
"""

from __future__ import annotations

import argparse
import contextlib
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
NAIVE_SAMPLE = 300

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

    # the report is dated no later than collect's clock (a date after "today" is an error)
    today = min(period.last_on_time_day(), NOW.date())
    values = sample_values(dep.form, rng, period, unit=unit, today=today)
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
    """Peak RSS of this process and of its largest finished descendant, in MB.

    Worker processes are children of the forkserver, which reaps them; stopping the forkserver
    (an internal of ``multiprocessing``, fine for a benchmark) makes their usage count here.
    """
    if resource is None:
        return 0.0, 0.0
    from multiprocessing import forkserver

    with contextlib.suppress(Exception):
        forkserver._forkserver._stop()  # type: ignore[attr-defined]
    scale = 1024 if sys.platform != "darwin" else 1  # ru_maxrss: KiB on Linux, bytes on macOS
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale / 2**20
    return own, child


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (collect forks its workers: they count)."""
    if resource is None:
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def files_of(root: Path) -> list[Path]:
    return sorted((root / "files").iterdir())


def naive_sample(root: Path, args: argparse.Namespace) -> list[Path]:
    paths = files_of(root)
    return paths if len(paths) <= args.sample else random.Random(1).sample(paths, args.sample)


def stage_naive(root: Path, args: argparse.Namespace) -> dict:
    """One round of the naive loop on the sample: ``pandas.read_excel`` of every sheet with
    ``args.engine`` (openpyxl, or calamine: what a savvy coordinator would write), then each
    field by its cell address and the ``_meta`` rows."""
    import pandas as pd

    from baocao import api
    from baocao.a1 import parse_cell

    dep = api.load_deployment(root / "config.toml")
    cells = [(code, ref.sheet, *parse_cell(ref.cell)) for code, ref in dep.form.layout.items()]
    sample = naive_sample(root, args)
    cpu = time.process_time()
    start = time.perf_counter()
    extracted = 0
    for path in sample:
        sheets = pd.read_excel(path, sheet_name=None, engine=args.engine, header=None)
        values = {}
        for code, sheet, row, col in cells:
            frame = sheets[sheet]
            ok = row < frame.shape[0] and col < frame.shape[1]
            values[code] = frame.iat[row, col] if ok else None
        meta = sheets["_meta"]
        for row in range(meta.shape[0]):
            values["_meta." + str(meta.iat[row, 0])] = meta.iat[row, 1]
        extracted += len(values)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    per_file = extracted / len(sample)
    return {"seconds": [seconds], "cpu": cpu, "files": len(sample), "values_per_file": per_file}


def floor_once(paths: list[Path]) -> float:
    """Open each zip and read (inflate) its worksheet parts and shared strings; no parsing."""
    start = time.perf_counter()
    for path in paths:
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if name.startswith("xl/worksheets/sheet") or name == "xl/sharedStrings.xml":
                    zf.read(name)
    return time.perf_counter() - start


def stage_read(root: Path, args: argparse.Namespace) -> dict:
    """The floor and baocao's read stage, alternately in each round: ``read_workbooks`` with
    the template reader first, as collect reads, in worker processes (their start included)."""
    from baocao import api
    from baocao.errors import WorkbookError
    from baocao.judge.workers import read_workbooks

    dep = api.load_deployment(root / "config.toml")
    layouts = dep.catalog.layouts()
    paths = files_of(root)
    floors, reads, failed = [], [], 0
    for _ in range(args.rounds):
        floors.append(floor_once(paths))
        start = time.perf_counter()
        failed = sum(
            isinstance(result, WorkbookError)
            for _, result in read_workbooks(paths, layouts, workers=args.workers, template=True)
        )
        reads.append(time.perf_counter() - start)
    return {"seconds": reads, "floor": floors, "files": len(paths), "unreadable": failed}


def fresh_run(root: Path, name: str, workers: int) -> Path:
    """A deployment folder with an empty ledger and every generated file in its inbox."""
    run = root / name
    if run.exists():
        shutil.rmtree(run)
    inbox = run / "workbooks" / "inbox"
    inbox.mkdir(parents=True)
    # strings, not a Path per file: pathlib interns every name it parses, and the interned table
    # (1.9 MB at 10,000 files) would count in the peak memory of the collect measured after this
    source = str(root / "files")
    for name in sorted(os.listdir(source)):
        shutil.copyfile(os.path.join(source, name), os.path.join(inbox, name))
    (run / "config.toml").write_text(config_text(root / "don-vi.csv", workers), encoding="utf-8")
    if hasattr(os, "sync"):
        # a real inbox was written long before a collect: its files are on disk, not waiting in the
        # page cache for the collect's first file-system sync to flush them (~20 ms of its time)
        os.sync()
    return run


def stage_collect(root: Path, args: argparse.Namespace) -> dict:
    """One collect end to end on a fresh inbox (read and hash, archive, read, validate, ledger,
    release, feedback). ``args.variant``: "" as shipped; "nosync" without any sync (no fsync,
    no syncfs, ledger synchronous=NORMAL), to measure what durability costs; "perfile" with an
    fsync per copy instead of one syncfs per batch."""
    from baocao import api
    from baocao.store import archive as archiving
    from baocao.store import ledger as ledgering

    if args.variant == "nosync":
        archiving.SYNC, ledgering.SYNCHRONOUS = "none", "NORMAL"
    elif args.variant == "perfile":
        archiving.SYNC = "file"
    keep = not args.variant and args.round == 0  # run-0 is consolidated and collected again
    run = fresh_run(root, "run-0" if keep else f"run-{args.variant or 'x'}-{args.round}", args.workers)
    dep = api.load_deployment(run / "config.toml")
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu = time.process_time()
    children = _children_cpu()
    start = time.perf_counter()
    report = api.collect(dep, now=NOW)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    children = _children_cpu() - children
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    if not keep:
        shutil.rmtree(run)
    return {
        "seconds": [seconds],
        "parent_cpu": cpu,
        "workers_cpu": children,
        "files": len(report.results),
        "accepted": report.count("accepted"),
        "rejected": report.count("rejected"),
        "duplicate": report.count("duplicate"),
        "feedback_files": sum(1 for r in report.results if r.feedback),
    }


def stage_workers(root: Path, args: argparse.Namespace) -> dict:
    """How long until 2 workers of collect's pool are ready to work, in a fresh process that
    loaded the deployment: forked as collect forks them (before its lock), and from a forkserver
    (a caller that holds a lock or runs threads: ``release``, ``rebuild``, a web server), cold
    (the server started and its imports made on the way) and warm (a second pool)."""
    from baocao import api
    from baocao.collect import worker_pool

    dep = api.load_deployment(root / "config.toml")
    times = []
    for fork in (True, False, False):
        start = time.perf_counter()
        with worker_pool(dep, 2, fork=fork) as pool:
            pool.start()
            pool.wait_ready()
            times.append(time.perf_counter() - start)
    return {"seconds": [times[0]], "forkserver_cold": times[1], "forkserver_warm": times[2]}


def stage_consolidate(root: Path, args: argparse.Namespace) -> dict:
    """consolidate of the main period (summary workbook and CSV) from run-0's ledger."""
    from baocao import api
    from baocao.consolidate import consolidate

    dep = api.load_deployment(root / "run-0" / "config.toml")
    rounds, counts = [], {}
    for _ in range(args.rounds):
        start = time.perf_counter()
        counts = consolidate(dep, MAIN_PERIOD, now=NOW).counts  # one summary alive at a time
        rounds.append(time.perf_counter() - start)
    return {"seconds": rounds, "counts": counts}


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


def stage_phases(root: Path, args: argparse.Namespace) -> dict:
    """Each step of collect alone, one process, on up to 300 files: ms of CPU per file."""
    import tempfile

    from baocao import api
    from baocao.judge.context import judging_context
    from baocao.judge.reader import read_workbook
    from baocao.judge.template_reader import read_template
    from baocao.judge.validate import validate
    from baocao.store.archive import Archive, write_copy
    from baocao.workbook.feedback import FeedbackJob, IssuesPage, write_feedback_job
    from baocao.workbook.feedback_writer import FeedbackWriter
    from baocao.workers import Inline

    dep = api.load_deployment(root / "config.toml")
    layouts = dep.catalog.layouts()
    paths = files_of(root)[:300]
    archive = Archive(Path(tempfile.mkdtemp(dir=root)), dep.settings.timezone)
    out = Path(tempfile.mkdtemp(dir=root))
    today = NOW.date()
    cost: dict[str, float] = {}

    def timed(label: str, step, items) -> list:
        start = time.process_time()
        done = [step(item) for item in items]
        cost[label] = (time.process_time() - start) * 1000 / len(paths)
        return done

    copies = timed("read and hash the original", lambda p: archive.copy(p.open("rb"), NOW), paths)
    pairs = list(zip(paths, copies, strict=True))
    timed(
        "write the archive copy (no sync)",
        lambda pc: write_copy(out / pc[0].name, pc[1].content, pc[1].sha256, 0.0, sync=False),
        pairs,
    )
    raws = timed("read: template reader", lambda pc: read_template(pc[1].content, pc[0].name, layouts), pairs)
    timed("read: checked reader (package check + calamine)", lambda pc: read_workbook(pc[0], layouts), pairs)
    outcomes = timed("validate", lambda raw: validate(raw, judging_context(dep, raw, today, None)), raws)
    jobs = [
        FeedbackJob(p.name, p, raw, o.issues, out / f"fb-{p.name}", IssuesPage("Kết quả", o.accepted), None)
        for p, raw, o in zip(paths, raws, outcomes, strict=True)
        if o.issues
    ]

    def as_collect(batch: list[FeedbackJob]) -> list:
        """The workbooks written as collect has them written (``FeedbackWriter``: its size check,
        and the batch made durable the way collect makes it), here in this process."""
        with FeedbackWriter(1, 60, pool=Inline(write_feedback_job)) as writer:
            for job in batch:
                writer.submit(job, None)
            return list(writer.finished())

    timed(f"feedback workbook ({len(jobs)} of {len(paths)} files)", as_collect, [jobs])
    return {"seconds": [0.0], "ms_per_file": cost, "files": len(paths)}


STAGES = {
    "naive": stage_naive,
    "read": stage_read,
    "collect": stage_collect,
    "workers": stage_workers,
    "consolidate": stage_consolidate,
    "rerun": stage_rerun,
    "phases": stage_phases,
}


def run_stage(name: str, root: Path, args: argparse.Namespace, **extra: object) -> dict:
    """Run one stage in a fresh interpreter; return its JSON result plus its peak memory."""
    options = {**vars(args), **extra}
    command = [sys.executable, str(Path(__file__).resolve()), "--stage", name, "--dir", str(root)]
    for key in ("files", "workers", "rounds", "sample", "engine", "variant", "round"):
        command += [f"--{key}", str(options[key])]
    if options.get("profile") and name == "collect":
        command += ["--profile", str(options["profile"])]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"stage {name} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_check(root: Path, rounds: int) -> list[float]:
    """Wall time of ``baocao check FILE`` as a coordinator runs it: the console script when
    installed (else ``python -m baocao``), a fresh process each time."""
    script = Path(sys.executable).with_name("baocao.exe" if os.name == "nt" else "baocao")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "baocao"]
    path = files_of(root)[0]
    command = [*base, "--config", str(root / "config.toml"), "check", str(path), "--now", NOW.isoformat()]
    # as on a coordinator's machine: Python keeps compiled modules (a first run writes them)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times, cpus = [], []
    for _ in range(rounds + 1):
        cpu = _children_cpu()
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, cwd=root, env=env)
        times.append(time.perf_counter() - start)
        cpus.append(_children_cpu() - cpu)
        if done.returncode not in (0, 1):
            raise SystemExit(f"baocao check failed: {done.stderr.decode()[-2000:]}")
    return times[1:], cpus[1:]


# --------------------------------------------------------------------------------- report


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], digits: int = 2) -> str:
    return f"{min(values):.{digits}f}–{max(values):.{digits}f}" if len(values) > 1 else "–"


def report(results: dict[str, list[dict]], args: argparse.Namespace, kinds: dict[str, int]) -> None:
    n = args.files
    naive = [r["seconds"][0] / r["files"] * 1000 for r in results["naive"]]  # ms per file
    calamine = [r["seconds"][0] / r["files"] * 1000 for r in results["calamine"]]
    collect = [r["seconds"][0] / n * 1000 for r in results["collect"]]
    nosync = [r["seconds"][0] / n * 1000 for r in results["nosync"]]
    read = results["read"][0]
    reads = [s / n * 1000 for s in read["seconds"]]
    floors = [s / n * 1000 for s in read["floor"]]
    speedups = [a / b for a, b in zip(naive, collect, strict=True)]
    calamine_speedups = [a / b for a, b in zip(calamine, collect, strict=True)]
    read_ratios = [a / b for a, b in zip(reads, floors, strict=True)]
    durability = [a - b for a, b in zip(collect, nosync, strict=True)]
    first = results["collect"][0]
    workers = results["workers"][0]
    print()
    print(
        f"files={n} workers={args.workers or os.cpu_count()} cpus={os.cpu_count()}"
        f" python={sys.version.split()[0]} rounds={args.rounds}"
    )
    print(
        "generated: "
        + ", ".join(f"{k}={v}" for k, v in sorted(kinds.items()))
        + f"; collect: {first['accepted']} accepted, {first['rejected']} rejected,"
        f" {first['feedback_files']} feedback workbooks"
    )
    header = f"{'stage':<52} {'ms/file':>8} {'spread':>13} {'rss MB':>7} {'child MB':>8} {'rounds':>6}"
    print(header)
    print("-" * len(header))
    consolidate = results["consolidate"][0]
    rerun = results["rerun"][0]
    rows = [
        ("naive loop (pandas+openpyxl)", naive, results["naive"]),
        ("naive loop (pandas+calamine)", calamine, results["calamine"]),
        ("floor (zip open + read sheet parts)", floors, [read]),
        (f"read stage ({args.workers or os.cpu_count()} workers, start-up included)", reads, [read]),
        ("collect end to end (new inbox)", collect, results["collect"]),
        ("collect without any sync (durability off)", nosync, results["nosync"]),
        (
            f"consolidate {MAIN_PERIOD} ({n} units)",
            [s / n * 1000 for s in consolidate["seconds"]],
            [consolidate],
        ),
        ("collect rerun, nothing new (ms in all)", [s * 1000 for s in rerun["seconds"]], [rerun]),
    ]
    for label, values, runs in rows:
        rss = max(r["rss_mb"] for r in runs)
        child = max(r["child_mb"] for r in runs)
        middle = f"{median(values):>8.3f} {spread(values, 3):>13}"
        print(f"{label:<52} {middle} {rss:>7.1f} {child:>8.1f} {len(values):>6}")
    print("-" * len(header))
    sample = results["naive"][0]["files"]
    print(f"naive loops: {sample} files a round (the same sample each round), in ms/file")
    print(
        f"naive ÷ collect (per round, median and spread): openpyxl {median(speedups):.2f}×"
        f" ({spread(speedups)}),"
        f" calamine {median(calamine_speedups):.2f}× ({spread(calamine_speedups)})"
    )
    print(f"read ÷ floor per round: {median(read_ratios):.2f} ({spread(read_ratios)})")
    print(
        f"durability (collect − collect without sync, per round): {median(durability):.3f} ms/file"
        f" ({spread(durability, 3)})"
    )
    check = results["check"]
    print(
        f"baocao check FILE: {median(check):.3f} s wall ({spread(check, 3)}, {len(check)} runs),"
        f" {median(results['check_cpu']):.3f} s CPU (user+sys, its subprocesses included)"
    )
    naive_cpu = [r["cpu"] / r["files"] * 1000 for r in results["naive"]]
    parent = [r["parent_cpu"] / n * 1000 for r in results["collect"]]
    workers_cpu = [r["workers_cpu"] / n * 1000 for r in results["collect"]]
    cores = os.cpu_count() or 1
    bound = [a / ((p + w) / cores) for a, p, w in zip(naive_cpu, parent, workers_cpu, strict=True)]
    print(
        f"CPU per file (medians): naive loop {median(naive_cpu):.3f} ms; collect {median(parent):.3f} ms"
        f" in the collecting process + {median(workers_cpu):.3f} ms in the workers; naive ÷ collect if"
        f" collect's CPU were spread over {cores} free cores with no waiting: {median(bound):.2f}×"
    )
    forked, cold, warm = workers["seconds"][0], workers["forkserver_cold"], workers["forkserver_warm"]
    print(
        f"2 workers ready: {forked:.3f} s forked (collect); forkserver {cold:.3f} s cold, {warm:.3f} s warm"
    )
    print(f"consolidate counts: {consolidate['counts']}")
    if "phases" in results:
        print("phases (one process, ms of CPU per file):")
        for label, value in results["phases"][0]["ms_per_file"].items():
            print(f"  {label:<60} {value:>8.3f}")
    peak = max(
        max(r["rss_mb"], r["child_mb"])
        for runs in results.values()
        if isinstance(runs, list)
        for r in runs
        if isinstance(r, dict)
    )
    print(
        f"speedup_vs_naive={median(speedups):.2f} read_vs_floor={median(read_ratios):.2f}"
        f" peak_rss_mb={peak:.1f} check_s={median(check):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=0, help="worker processes (0: one per CPU)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds, each naive loop interleaved with collect"
    )
    parser.add_argument("--sample", type=int, default=NAIVE_SAMPLE, help="files timed per naive round")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--phases", action="store_true", help="also time each step alone (one process)")
    parser.add_argument("--profile", help="write a cProfile of the first collect (parent process) here")
    parser.add_argument("--only", help="comma-separated stages to run, no table (for profiling)")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="openpyxl", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="", help=argparse.SUPPRESS)
    parser.add_argument("--round", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
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
        results: dict[str, list] = {}

        def stage(key: str, name: str, **extra: object) -> None:
            began = time.perf_counter()
            results.setdefault(key, []).append(run_stage(name, root, args, **extra))
            print(f"  {key}: {time.perf_counter() - began:.1f} s {json.dumps(results[key][-1])}", flush=True)

        if args.only:
            for name in args.only.split(","):
                stage(name, name, engine=args.engine, variant=args.variant, round=args.round)
            return
        for r in range(args.rounds):  # the loops compared are timed in the same rounds, interleaved
            stage("naive", "naive", engine="openpyxl", round=r)
            stage("collect", "collect", variant="", round=r, profile=args.profile if r == 0 else None)
            stage("calamine", "naive", engine="calamine", round=r)
            stage("nosync", "collect", variant="nosync", round=r, profile=None)
        stage("read", "read")
        stage("workers", "workers")
        stage("consolidate", "consolidate")
        stage("rerun", "rerun")
        if args.phases:
            stage("phases", "phases")
        results["check"], results["check_cpu"] = time_check(root, max(args.rounds, 3))
        report(results, args, kinds)
    finally:
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
