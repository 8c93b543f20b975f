"""collect's workers validate what they read; the verdicts are the ones the collecting process gives.

A worker validates with the unit's history as the ledger has it (read-only); a unit already
judged in the same run is validated again by the collecting process, since the worker may have
read its history before the earlier file was recorded. Real templates, a real ledger, real
worker processes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from helpers import TZ, by_name, inbox, make_submission, taken_by_a_worker

from baocao import api
from baocao.filework import Packed, Take, Taken, unpacked
from baocao.judge.context import judging_context
from baocao.judge.validate import validate
from baocao.judge.workers import read_file, reading_of
from baocao.store import open_store
from baocao.workbook.feedback_writer import unpacked_size

JUNE = datetime(2025, 6, 8, 9, 0, tzinfo=TZ)  # Q1 is late but takes, H1 is due


def cumulative(result) -> list[str]:
    return [i.message for i in result.issues if i.code == "cumulative_not_below"]


def test_a_worker_validates_what_it_reads_as_the_collecting_process_would(deployment, tmp_path):
    path = make_submission(deployment, "DT_TG", "2025-H1", tmp_path / "h1.xlsx", tthc_niem_yet=30)
    content = path.read_bytes()
    api.collect(deployment, now=JUNE)  # a ledger to read history from (empty inbox)
    take = Take(content, path, "", 0.0, sync=False, write=False, today=JUNE.date())
    taken = taken_by_a_worker(deployment, take)
    assert isinstance(taken, Taken) and taken.judged is not None
    assert isinstance(taken.read, Packed)  # loaded by the collecting process only if it needs it
    raw = unpacked(taken.read)
    assert raw == read_file(path, reading_of(deployment))
    with open_store(deployment.settings) as store:
        here = validate(raw, judging_context(deployment, raw, JUNE.date(), store))
    assert taken.judged.outcome == here and here.verdict == "accepted"
    assert taken.judged.history_of == "DT_TG"


def test_a_worker_sizes_the_feedback_source_from_the_bytes_it_holds(deployment, tmp_path):
    """The feedback job a worker prepares carries the archived copy's inflated size, so the
    collecting process does not open that zip again to decide how to mark it up."""
    path = make_submission(deployment, "DT_TG", "2025-H1", tmp_path / "h1.xlsx", tthc_niem_yet="ba mươi")
    api.collect(deployment, now=JUNE)
    take = Take(path.read_bytes(), path, "", 0.0, sync=False, write=False, today=JUNE.date(), name="h1.xlsx")
    taken = taken_by_a_worker(deployment, replace(take, received_at=JUNE))
    job = taken.judged.feedback
    assert taken.judged.outcome.verdict == "rejected" and job is not None
    assert job.unpacked == unpacked_size(path) > path.stat().st_size


def test_a_worker_reads_the_units_history_from_the_ledger(deployment):
    make_submission(deployment, "DT_TG", "2025-Q1", inbox(deployment) / "q1.xlsx", tthc_niem_yet=40)
    api.collect(deployment, now=JUNE)
    make_submission(deployment, "DT_TG", "2025-H1", inbox(deployment) / "h1.xlsx", tthc_niem_yet=30)
    [h1] = api.collect(deployment, now=JUNE).results
    assert h1.status == "accepted"
    [flagged] = cumulative(h1)
    assert flagged.endswith("số lũy kế 30 thấp hơn số đã báo cáo trong Quý I năm 2025 (40)")


def test_a_unit_twice_in_one_run_is_judged_with_what_the_run_recorded_before(deployment):
    """The Q1 and H1 files of one unit in one run, sent to the workers together (the second batch):
    the H1 file is judged as if the Q1 file had been collected the run before."""
    box = inbox(deployment)
    make_submission(deployment, "NV_VP", "2025-Q1", box / "0-first.xlsx")  # the first batch: one file
    make_submission(deployment, "DT_TG", "2025-Q1", box / "1-q1.xlsx", tthc_niem_yet=40)
    make_submission(deployment, "DT_TG", "2025-H1", box / "2-h1.xlsx", tthc_niem_yet=30)
    results = by_name(api.collect(deployment, now=JUNE))
    assert results["1-q1.xlsx"].status == "accepted" and cumulative(results["1-q1.xlsx"]) == []
    [flagged] = cumulative(results["2-h1.xlsx"])
    assert flagged.endswith("số lũy kế 30 thấp hơn số đã báo cáo trong Quý I năm 2025 (40)")
