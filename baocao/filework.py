"""What a worker process does with one file of a collect, in one pass over its bytes.

Why one pass: an original's bytes are read once, by the collecting process through its intake
(which vouches for what it opens), and hashed there; a worker then writes and verifies the
archive copy from those bytes and reads the fields from the same bytes, instead of copying,
re-reading and re-opening the file in three places. Feedback workbooks are written by the
same workers from the archived copy, so the verdict and the ledger never wait for them.

Items (plain data, sent in jobs of several): ``Take`` (write the copy, then read it), ``Read``
(a file already on disk: an archived copy to judge again, a file to check) and a feedback
``FeedbackJob``. ``work`` is the function the ``baocao.workers.Pool`` runs; without a pool the
collecting process calls it itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baocao.errors import WorkbookError
from baocao.judge.workers import Reading, read_file
from baocao.model import RawWorkbook
from baocao.store.archive import ArchiveError, write_copy
from baocao.workbook.feedback import FeedbackJob, write_feedback_job

PRELOAD = ("baocao.filework",)  # what a forkserver imports once for every worker


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


@dataclass(frozen=True)
class Read:
    """A file on disk to read (an archived copy, or a file to check)."""

    path: Path


@dataclass(frozen=True)
class Taken:
    """What became of a ``Take``: ``error`` (the archive could not be written: the run stops)
    or the copy in place and, when asked, what reading it gave."""

    error: str | None = None
    read: RawWorkbook | WorkbookError | None = None


def work(item: Any, reading: Reading) -> Taken | RawWorkbook | WorkbookError | Path:
    """Do one item (see the module docstring)."""
    if isinstance(item, Take):
        try:
            if item.write:
                write_copy(item.dest, item.content, item.sha256, item.stamp, item.sync)
        except ArchiveError as exc:
            return Taken(error=str(exc))
        return Taken(read=read_file(item.dest, reading, item.content) if item.read else None)
    if isinstance(item, Read):
        return read_file(item.path, reading)
    if isinstance(item, FeedbackJob):
        return write_feedback_job(item)
    raise TypeError(f"not a work item: {type(item).__name__}")
