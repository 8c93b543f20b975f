"""What the collecting process keeps and prepares per file: little, and the same as before.

The collecting process is the one process every file waits for: a worker prepares the feedback
workbook's job of a file with issues (it must be the job the collecting process would make),
and a long run keeps a few fields per file it took, not the file's arrival, stat and reading.
Real templates, a real ledger, real worker processes.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

from helpers import BEFORE_DEADLINE, TZ, inbox, make_submission, taken_by_a_worker

from baocao import api
from baocao.filework import Take, Taken, unpacked
from baocao.intake.sources import folder_intake
from baocao.judging import CollectReport, Judge
from baocao.model import FileRecord
from baocao.store import archive_of, open_store
from baocao.store.archive import Archive
from baocao.taking import BATCH, TAPER, Taker, _chunks

MARCH = datetime(2025, 3, 8, 9, 0, tzinfo=TZ)


def test_a_worker_prepares_the_feedback_job_the_collecting_process_would(deployment, tmp_path):
    path = make_submission(deployment, "DT_TG", "2025-Q1", tmp_path / "loi.xlsx", luot_du_thi=5, cuoc_thi=0)
    take = Take(path.read_bytes(), path, "", 0.0, False, True, False, MARCH.date(), "loi.xlsx", MARCH)
    taken = taken_by_a_worker(deployment, take)
    assert isinstance(taken, Taken) and taken.judged is not None and taken.read is not None
    outcome = taken.judged.outcome
    assert outcome.verdict == "rejected" and taken.judged.feedback is not None
    with open_store(deployment.settings) as store:
        judge = Judge(deployment, store, Archive(path.parent, TZ), MARCH, CollectReport())
        rec = FileRecord("", "loi.xlsx", "loi.xlsx", path.name, 0, MARCH)
        here = judge.feedback_job(rec, unpacked(taken.read), outcome, list(outcome.issues))
    assert taken.judged.feedback == here


def test_a_file_without_issues_gets_no_job_prepared(deployment, tmp_path):
    path = make_submission(deployment, "DT_TG", "2025-Q1", tmp_path / "tot.xlsx")
    take = Take(path.read_bytes(), path, "", 0.0, False, True, False, MARCH.date(), "tot.xlsx", MARCH)
    taken = taken_by_a_worker(deployment, take)
    assert taken.judged.outcome.verdict == "accepted" and not taken.judged.outcome.issues
    assert taken.judged.feedback is None


def test_a_run_keeps_a_few_fields_per_file_taken_and_consumes_its_arrivals(deployment):
    box = inbox(deployment)
    make_submission(deployment, "DT_TG", "2025-Q1", box / "a.xlsx")
    make_submission(deployment, "NV_VP", "2025-Q1", box / "b.xlsx")
    (box / "c.xlsx").write_bytes((box / "a.xlsx").read_bytes())  # the same bytes again: a duplicate
    with open_store(deployment.settings) as store:
        intake = folder_intake(deployment, store, BEFORE_DEADLINE, True)
        taker = Taker(store, archive_of(deployment.settings), CollectReport(), 2**20)
        arrivals = deque(intake.arrivals())
        taker.take_all(intake, arrivals)
        assert not arrivals and not intake._opened  # taken and released: nothing kept per arrival
        assert not taker.seen  # recorded first copies: the ledger answers for their bytes now
        statuses = sorted((f.inbox_path, f.status) for f in store.files())
    assert statuses == [("a.xlsx", "archived"), ("b.xlsx", "archived"), ("c.xlsx", "duplicate")]
    report = api.collect(deployment, now=BEFORE_DEADLINE)
    assert sorted(r.status for r in report.results) == ["accepted", "accepted"]


def test_batches_grow_from_one_and_shrink_again_at_the_end_of_a_long_run():
    queue = deque(range(1000))
    sizes = []
    for chunk in _chunks(queue, BATCH):
        sizes.append(len(chunk))
        assert len(queue) == 1000 - sum(sizes)  # consumed as it goes
    assert sizes[:4] == [1, 2, 4, 8] and max(sizes) == BATCH and sum(sizes) == 1000
    assert sizes[-1] <= TAPER and sizes[-2] == TAPER and sizes[-3] > TAPER
    assert [len(c) for c in _chunks(list(range(40)), BATCH)] == [1, 2, 4, 8, 16, 9]  # a short run as before
