"""What a worker process does with one file of a collect, in one pass over its bytes.

Why one pass: an original's bytes are read once, by the collecting process through its intake
(which vouches for what it opens), and hashed there; a worker then writes and verifies the
archive copy from those bytes and reads the fields from the same bytes, instead of copying,
re-reading and re-opening the file in three places. Feedback workbooks are written by the
same workers from the archived copy, so the verdict and the ledger never wait for them.

Items (plain data, sent in jobs of several): ``Take`` (write the copy, then read it and, in a
collect, validate it), ``Read``
(a file already on disk: an archived copy to judge again, a file to check) and a feedback
``FeedbackJob``. ``work`` is the function the ``baocao.workers.Pool`` runs, with a ``Reading`` or, in collect,
a ``Work`` (the deployment's facts and the ledger too); without a pool the collecting process
calls it itself.

Why validate here: validation is a third of the CPU a file costs the collecting process, which
is the one process every file waits for. A worker validates with the unit's history as the
ledger has it when asked (``store.history``, read-only); the collecting process keeps that
outcome unless this run has already judged a file of the same unit (then it validates again
itself: the worker may have read the history before that file was recorded).
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from baocao.errors import WorkbookError
from baocao.judge.context import Facts, history_unit, judging_context
from baocao.judge.validate import Context, Outcome, validate
from baocao.judge.workers import Reading, read_file
from baocao.model import FileRecord, RawWorkbook
from baocao.spec.deployment import Deployment
from baocao.store.archive import ArchiveError, write_copy
from baocao.store.history import LedgerHistory
from baocao.workbook.answer import feedback_job
from baocao.workbook.feedback import FeedbackJob, write_feedback_job
from baocao.workbook.xlsxzip import declared_size

PRELOAD = ("baocao.filework",)  # what a forkserver imports once for every worker

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Work:
    """What collect's workers hold: how to read, and what validation needs (the deployment's
    facts, the ledger to read units' history from, and the validation function itself: the one
    the collecting process uses, so that both judge with the same code)."""

    reading: Reading
    facts: Facts
    ledger: Path
    validate: Callable[[RawWorkbook, Context], Outcome] = validate
    dep: Deployment | None = None  # to word the feedback workbook of a file with issues (``Judged``)


@dataclass(frozen=True)
class Take:
    """An original's bytes to put at ``dest`` (when ``write``; synced when ``sync``), stamped
    ``stamp``; read afterwards when ``read``."""

    content: bytes
    dest: Path
    sha256: str
    stamp: float
    sync: bool = True
    read: bool = True
    write: bool = True
    today: date | None = None  # validate what was read, as of that day (with a ``Work``)
    name: str = ""  # the original's name and received time, for its feedback workbook (``Judged``)
    received_at: datetime | None = None


@dataclass(frozen=True)
class Read:
    """A file on disk to read (an archived copy, or a file to check)."""

    path: Path


@dataclass(frozen=True)
class Packed:
    """A reading that a worker validated itself, sent pickled inside its answer and loaded by
    the collecting process only if it needs it after all (``unpacked``): when the unit was seen
    twice in the run, or the verdict changed there. Loading every file's workbook cost that
    process 45–55 µs a file, about 5 % of its time, for readings it almost never uses."""

    blob: bytes

    def open(self) -> RawWorkbook:
        raw = pickle.loads(self.blob)
        assert isinstance(raw, RawWorkbook)
        return raw


def unpacked(raw: RawWorkbook | Packed) -> RawWorkbook:
    """The workbook itself, loaded if it came ``Packed``."""
    return raw.open() if isinstance(raw, Packed) else raw


@dataclass(frozen=True)
class Taken:
    """What became of a ``Take``: ``error`` (the archive could not be written: the run stops)
    or the copy in place and, when asked, what reading it gave (``Packed`` when it was
    validated here too)."""

    error: str | None = None
    read: RawWorkbook | Packed | WorkbookError | None = None
    judged: Judged | None = None


@dataclass(frozen=True)
class Judged:
    """A worker's validation of what it read: the outcome, whose history it used and, for a
    file with issues, its feedback workbook's job (``workbook.answer.feedback_job``, as the
    collecting process would prepare it for this outcome: wording it took that process a
    quarter of its time per file with issues); the collecting process uses it when it keeps
    this outcome unchanged."""

    outcome: Outcome
    history_of: str | None
    feedback: FeedbackJob | None = None


_histories: dict[Path, LedgerHistory] = {}  # one read-only connection per ledger, per worker


def work(item: Any, context: Reading | Work) -> Taken | RawWorkbook | WorkbookError | Path:
    """Do one item (see the module docstring)."""
    reading = context.reading if isinstance(context, Work) else context
    if isinstance(item, Take):
        try:
            if item.write:
                write_copy(item.dest, item.content, item.sha256, item.stamp, item.sync)
        except ArchiveError as exc:
            return Taken(error=str(exc))
        if not item.read:
            return Taken()
        raw = read_file(item.dest, reading, item.content)
        judged = None
        if item.today is not None and isinstance(context, Work) and isinstance(raw, RawWorkbook):
            judged = _judged(raw, item, item.today, context)
        if judged is not None and multiprocessing.parent_process() is not None:
            # pickled for the pipe anyway: as bytes, the collecting process loads it only if needed
            return Taken(read=Packed(pickle.dumps(raw, pickle.HIGHEST_PROTOCOL)), judged=judged)
        return Taken(read=raw, judged=judged)
    if isinstance(item, Read):
        return read_file(item.path, reading)
    if isinstance(item, FeedbackJob):
        return write_feedback_job(item)
    raise TypeError(f"not a work item: {type(item).__name__}")


def _judged(raw: RawWorkbook, item: Take, today: date, context: Work) -> Judged | None:
    """Validate ``raw`` as the collecting process would; None when that fails here (the
    collecting process then validates it itself and records what goes wrong)."""
    try:
        history = _histories.get(context.ledger)
        if history is None:
            history = _histories[context.ledger] = LedgerHistory(context.ledger)
        ctx = judging_context(context.facts, raw, today, history)
        outcome = context.validate(raw, ctx)
    except Exception:  # the collecting process tries again and records what goes wrong
        logger.debug("validation in the worker failed", exc_info=True)
        return None
    return Judged(outcome, history_unit(ctx), _feedback_job(raw, item, outcome, context))


def _feedback_job(raw: RawWorkbook, item: Take, outcome: Outcome, context: Work) -> FeedbackJob | None:
    """The feedback workbook's job for a file with issues, as the collecting process would
    prepare it (None: none is due, or preparing it failed here: that process prepares it)."""
    # a held file gets a notice, not a workbook (``judging.Judge.judge``)
    if context.dep is None or item.received_at is None or not outcome.issues or outcome.verdict == "held":
        return None
    try:
        rec = FileRecord("", item.name, "", "", 0, item.received_at)  # what the wording uses of it
        job = feedback_job(context.dep, rec, raw, outcome, item.dest)
        job.unpacked = declared_size(item.content)  # the archived copy's bytes: sized here, not reopened
        return job
    except Exception:
        logger.debug("preparing the feedback in the worker failed", exc_info=True)
        return None
