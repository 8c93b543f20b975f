"""The worker pool of issue 13: jobs of several items, one message back per job, and still one
bad item costing that item only (its worker dies or runs late on it: the others are answered)."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
import time

import pytest
from conftest import REPO
from helpers import die_on, nap

from baocao.workers import Failed, Inline, Pool


def answers_of(pool, jobs: dict[str, list]) -> dict[tuple[str, int], object]:
    found: dict[tuple[str, int], object] = {}
    for tag, items in jobs.items():
        pool.submit(tag, items, lambda index, answer, tag=tag: found.__setitem__((tag, index), answer))
    for _ in pool.drain():
        pass
    return found


def test_an_item_that_kills_its_worker_costs_that_item_only_not_its_job():
    with Pool(die_on, 1, timeout=30) as pool:
        found = answers_of(pool, {"one": ["a", "x", "b"], "two": ["c"]})
    assert found[("one", 0)] == "aa" and found[("one", 2)] == "bb" and found[("two", 0)] == "cc"
    dead = found[("one", 1)]
    assert isinstance(dead, Failed) and dead.kind == "died" and "dừng bất thường" in dead.reason


def test_an_item_past_its_time_in_the_middle_of_a_job_is_stopped_alone():
    started = time.monotonic()
    with Pool(nap, 1, timeout=1.0) as pool:
        found = answers_of(pool, {"job": [0.01, 60, 0.02]})
    assert found[("job", 0)] == 0.01 and found[("job", 2)] == 0.02
    late = found[("job", 1)]
    assert isinstance(late, Failed) and late.kind == "late" and "quá 1 giây" in late.reason
    assert time.monotonic() - started < 30


def test_a_long_job_of_quick_items_is_not_taken_for_a_hung_one():
    """Four items of 0.6 s with a 1 s limit each: 2.4 s in all, and nothing is late."""
    with Pool(nap, 1, timeout=1.0) as pool:
        found = answers_of(pool, {"job": [0.6, 0.6, 0.6, 0.6]})
    assert [found[("job", i)] for i in range(4)] == [0.6] * 4


def test_without_processes_the_same_answers():
    found = answers_of(Inline(die_on), {"job": ["a", "b"]})
    assert found == {("job", 0): "aa", ("job", 1): "bb"}


ORPHANS = """
import os, signal, sys, time
from baocao.workers import Pool
if __name__ == "__main__":
    pool = Pool(time.sleep, 2, 30, fork=True)
    pool.start()
    pool.wait_ready()
    print(" ".join(str(w.process.pid) for w in pool.workers), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_forked_workers_end_when_their_parent_is_killed(tmp_path):
    """A forked worker held the parent's end of its own pipe: a collect killed with kill -9 left
    its workers running for ever (and a caller waiting on their inherited output)."""
    script = tmp_path / "orphans.py"
    script.write_text(ORPHANS, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, cwd=REPO, timeout=60)
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fp:
            return "State:\tZ" not in fp.read()
    except FileNotFoundError:
        return False


@pytest.fixture
def alone():
    """The fork tests need this process to run one thread. A test run earlier in the same pytest
    worker may leave idle threads behind (the web tests' AnyIO workers end after 10 s idle): wait
    for them instead of taking a forkserver for a wrong answer (CI failed that way once)."""
    deadline = time.monotonic() + 30
    for thread in threading.enumerate():
        if thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
    left = [thread.name for thread in threading.enumerate() if thread is not threading.current_thread()]
    assert not left, f"threads still running, a fork test cannot run alone: {left}"


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_a_worker_started_while_another_thread_runs_is_not_forked_from_this_process(alone):
    """Forking a process with a second thread can leave the child holding a lock forever: a
    pool made to fork (one thread then) starts a worker from its forkserver once a thread
    runs, and forks again when it is alone."""
    pool = Pool(die_on, 2, timeout=30, fork=True)
    assert pool.ctx.get_start_method() == "fork"
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        pool.start(1)
    finally:
        stop.set()
        thread.join()
    pool.start(2)
    with pool:
        assert [w.process._popen.method for w in pool.workers] == ["forkserver", "fork"]
        found = answers_of(pool, {"job": ["a", "b", "c"]})
    assert [found[("job", i)] for i in range(3)] == ["aa", "bb", "cc"]


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_what_forked_workers_share_is_kept_from_the_collector_until_the_pool_closes(alone):
    """The garbage collector writes to every object it walks, so a forked worker would copy the
    pages it shares with its parent: they are frozen while the pool runs, and thawed after."""
    frozen = gc.get_freeze_count()
    with Pool(die_on, 1, timeout=30, fork=True) as pool:
        pool.start()
        assert gc.get_freeze_count() > frozen
        assert answers_of(pool, {"job": ["a"]}) == {("job", 0): "aa"}
    assert gc.get_freeze_count() == frozen
