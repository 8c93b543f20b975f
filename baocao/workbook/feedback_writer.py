"""Writing many feedback workbooks within bounds: the verdict never waits on one unboundedly.

Every workbook is written in a worker process (``baocao.workers``), each job limited to
``timeout`` seconds and, on POSIX, ``MEMORY_BYTES`` of address space: the XML patch
(``feedback.fast_feedback``, ~1 ms) when it applies, else openpyxl. Collect hands its shared
pool in (``pool``), so the same workers that read the files write their feedback; without
one the writer starts its own. A workbook with more XML than ``MARKUP_MAX_UNPACKED``, and any
job that failed or ran out of time or memory, gets the issues alone
(``feedback.write_issues_only``), so the unit still gets every issue with its cell.

``submit`` takes an opaque ``result`` (collect's record of the file) that ``finished`` hands back
with the path written (or None when even the issues list could not be written). Where one call
flushes a whole file system (``files.FILE_SYSTEM_SYNC``), the workers do not fsync each workbook:
``finished`` syncs them all at once, and their folders, before handing any path back, so a path
the ledger records is a file that survives a power cut.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from baocao.files import FILE_SYSTEM_SYNC, sync_folders
from baocao.workbook.feedback import FeedbackJob, write_feedback_job, write_issues_only
from baocao.workers import Failed, Inline, Pool

logger = logging.getLogger(__name__)

MARKUP_MAX_UNPACKED = 64 * 2**20  # marked up (in a worker) only below this: beyond, the issues alone
MEMORY_BYTES = 2 * 2**30  # address space of a worker that writes feedback (POSIX)


def unpacked_size(path: Path) -> int:
    """How much a workbook holds once inflated (its zip directory), or its size if not a zip."""
    try:
        with zipfile.ZipFile(path) as zf:
            return sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        try:
            return path.stat().st_size
        except OSError:
            return 0


def _unpacked(job: FeedbackJob) -> int:
    """The job's source inflated size: as the worker that read its bytes found it (a few
    microseconds there), else from the archived file (opening its zip here: ~0.2 ms a file)."""
    return job.unpacked if job.unpacked is not None else unpacked_size(job.source)


class FeedbackWriter:
    """Feedback workbooks for one collect run (see the module docstring)."""

    def __init__(
        self,
        workers: int,
        timeout: float,
        *,
        write: Callable[[FeedbackJob], Path] = write_feedback_job,
        markup_max_unpacked: int = MARKUP_MAX_UNPACKED,
        pool: Pool | Inline | None = None,
    ) -> None:
        self.size = workers or os.cpu_count() or 1
        self.timeout = timeout
        self.write = write  # module-level: a worker process imports it by name
        self.markup_max = markup_max_unpacked
        self.pool = pool
        self.own = pool is None
        self.done: list[tuple[Any, Path | None]] = []
        self.waiting = 0

    def __enter__(self) -> FeedbackWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.own and self.pool is not None:
            self.pool.close()

    def submit(self, job: FeedbackJob, result: Any) -> None:
        if FILE_SYSTEM_SYNC:  # synced all at once by ``finished``
            job = replace(job, sync=False)
        rebuilt = job.rebuild is not None  # .xls, .ods, Strict .xlsx: a fresh template, which is small
        if not rebuilt and _unpacked(job) > self.markup_max:
            logger.info(
                "Tệp %s quá lớn để đánh dấu từng ô; phản hồi chỉ gồm danh sách lỗi", job.original_name
            )
            self.done.append((result, self._issues_only(job)))
            return
        if self.pool is None:
            self.pool = Pool(self.write, self.size, self.timeout, memory_bytes=MEMORY_BYTES)
        self.waiting += 1
        self.pool.submit("feedback", [job], lambda _, answer: self._answer(job, result, answer))

    def _answer(self, job: FeedbackJob, result: Any, answer: Any) -> None:
        self.waiting -= 1
        if isinstance(answer, Failed):
            logger.warning(
                "Không đánh dấu được tệp phản hồi cho %s (%s); gửi danh sách lỗi",
                job.original_name,
                answer.reason.strip().splitlines()[-1],
            )
            self.done.append((result, self._issues_only(job)))
        else:
            self.done.append((result, answer))

    def finished(self) -> Iterator[tuple[Any, Path | None]]:
        """Wait (within bounds) for every workbook; yield (file result, path or None)."""
        while self.waiting and self.pool is not None:
            self.pool.answers()
        done, self.done = self.done, []
        if FILE_SYSTEM_SYNC:
            try:
                sync_folders({path.parent for _, path in done if path is not None}, file_system=True)
            except OSError as exc:  # not durable: not recorded (the verdict stands without feedback)
                logger.warning("Không lưu chắc chắn được các tệp phản hồi (%s)", exc)
                done = [(result, None) for result, _ in done]
        yield from done

    @staticmethod
    def _issues_only(job: FeedbackJob) -> Path | None:
        try:
            return write_issues_only(job)
        except Exception as exc:  # the verdict stands without feedback
            logger.warning("Không tạo được tệp phản hồi cho %s: %s", job.original_name, exc)
            return None
