"""Writing many feedback workbooks within bounds: the verdict never waits on one unboundedly.

Three routes, chosen by how much XML the unit's workbook holds (its uncompressed size):
- small .xlsx (up to ``FAST_MAX_UNPACKED``): ``feedback.write_fast_feedback`` patches the package's
  XML here in the collecting process (~2 ms);
- everything else up to ``MARKUP_MAX_UNPACKED`` (openpyxl: .xlsm, sheets with comments, .xls/.ods
  rebuilt from a template, patches that did not apply): a ``BoundedPool`` of worker processes,
  each job limited to ``timeout`` seconds and, on POSIX, ``MEMORY_BYTES`` of address space;
- larger workbooks, and any job that failed or ran out of time or memory: the issues alone
  (``feedback.write_issues_only``), so the unit still gets every issue with its cell.

``submit`` takes an opaque ``result`` (collect's record of the file) that ``finished`` hands back
with the path written (or None when even the issues list could not be written). This is the one
component issue 13 moves off collect's critical path; nothing else depends on how it works.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from baocao.workbook.feedback import (
    FeedbackJob,
    write_fast_feedback,
    write_feedback_job,
    write_issues_only,
)
from baocao.workers import BoundedPool, Failed

logger = logging.getLogger(__name__)

FAST_MAX_UNPACKED = 8 * 2**20  # XML patched in this process only below this
MARKUP_MAX_UNPACKED = 64 * 2**20  # openpyxl (in a worker) only below this: beyond, the issues alone
MEMORY_BYTES = 2 * 2**30  # address space of a feedback worker (POSIX)


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


class FeedbackWriter:
    """Feedback workbooks for one collect run (see the module docstring)."""

    def __init__(
        self,
        workers: int,
        timeout: float,
        *,
        write: Callable[[FeedbackJob], Path] = write_feedback_job,
        fast_max_unpacked: int = FAST_MAX_UNPACKED,
        markup_max_unpacked: int = MARKUP_MAX_UNPACKED,
    ) -> None:
        self.size = workers or os.cpu_count() or 1
        self.timeout = timeout
        self.write = write  # module-level: a worker process imports it by name
        self.fast_max = fast_max_unpacked
        self.markup_max = markup_max_unpacked
        self.pool: BoundedPool | None = None
        self.done: list[tuple[Any, Path | None]] = []
        self.jobs: dict[int, tuple[FeedbackJob, Any]] = {}

    def __enter__(self) -> FeedbackWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.close()

    def submit(self, job: FeedbackJob, result: Any) -> None:
        rebuilt = job.rebuild is not None  # .xls, .ods, Strict .xlsx: a fresh template, which is small
        size = 0 if rebuilt else unpacked_size(job.source)
        if size <= self.fast_max and not rebuilt:
            try:
                path = write_fast_feedback(job.source, job.issues, job.out, page=job.page)
            except (OSError, ValueError) as exc:  # the worker tries again and reports it
                logger.debug("fast feedback for %s failed: %s", job.original_name, exc)
                path = None
            if path is not None:
                self.done.append((result, path))
                return
        if size > self.markup_max:
            logger.info(
                "Tệp %s quá lớn để đánh dấu từng ô; phản hồi chỉ gồm danh sách lỗi", job.original_name
            )
            self.done.append((result, self._issues_only(job)))
            return
        if self.pool is None:
            self.pool = BoundedPool(self.write, min(self.size, 30), self.timeout, MEMORY_BYTES)
        self.jobs[id(job)] = (job, result)
        self.pool.submit(id(job), job)

    def finished(self) -> Iterator[tuple[Any, Path | None]]:
        """Wait (within bounds) for every workbook; yield (file result, path or None)."""
        yield from self.done
        self.done = []
        if self.pool is None:
            return
        for tag, answer in self.pool.results():
            job, result = self.jobs.pop(tag)
            if isinstance(answer, Failed):
                logger.warning(
                    "Không đánh dấu được tệp phản hồi cho %s (%s); gửi danh sách lỗi",
                    job.original_name,
                    answer.reason.strip().splitlines()[-1],
                )
                yield result, self._issues_only(job)
            else:
                yield result, answer

    @staticmethod
    def _issues_only(job: FeedbackJob) -> Path | None:
        try:
            return write_issues_only(job)
        except Exception as exc:  # the verdict stands without feedback
            logger.warning("Không tạo được tệp phản hồi cho %s: %s", job.original_name, exc)
            return None
