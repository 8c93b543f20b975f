"""Reading many workbooks in worker processes, one bad file costing that file only.

Why processes: python-calamine aborts the whole process when a grid allocation fails, and any
reader can hang on a hostile file; each file is read in a ``baocao.workers.Pool`` worker, and
a worker that dies or passes its time costs that file only (reported as a ``WorkbookError``,
what it printed logged), never the batch.

``read_file`` is what a worker does with one file: the template reader first when asked
(``judge.template_reader``, from the bytes in hand), else the checked reader.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baocao.errors import WorkbookError
from baocao.judge.reader import RESAVE, Layouts, ReadLimits, read_workbook
from baocao.judge.template_reader import read_template
from baocao.model import RawWorkbook
from baocao.spec.deployment import Deployment
from baocao.workers import Failed, Pool

__all__ = ["Reading", "outcome", "read_file", "read_workbooks", "reading_of"]

logger = logging.getLogger(__name__)

PRELOAD = ("baocao.judge.workers",)  # what a forkserver imports once for every reader worker


@dataclass(frozen=True)
class Reading:
    """How files are read: the form versions' layouts, the limits, where the version is told,
    and whether the template reader goes first (``template``)."""

    layouts: dict[str, dict[str, Any]]
    limits: ReadLimits = field(default_factory=ReadLimits)
    meta_sheet: str = "_meta"
    version_field: str | None = None
    template: bool = False

    @classmethod
    def of(cls, layouts: Layouts, limits: ReadLimits, template: bool = False, **kw: Any) -> Reading:
        unknown = set(kw) - {"meta_sheet", "version_field"}
        if unknown:  # caught here, not as one "reader bug" per file in the workers
            raise TypeError(f"read_workbooks() got unexpected keyword arguments: {sorted(unknown)}")
        copied = {version: dict(layout) for version, layout in layouts.items()}
        return cls(copied, limits, template=template, **kw)


def reading_of(dep: Deployment) -> Reading:
    """How a deployment's files are read (collect and check alike): its forms' layouts, its
    ``[collect]`` limits, the template reader first."""
    settings = dep.settings.collect
    limits = ReadLimits(
        max_file_bytes=int(settings.max_file_mb * 2**20),
        max_unpacked_bytes=int(settings.max_unpacked_mb * 2**20),
        timeout_seconds=settings.read_timeout_seconds,
    )
    return Reading.of(dep.catalog.layouts(), limits, template=True, version_field=dep.catalog.version_field)


def read_file(path: Path, reading: Reading, content: bytes | None = None) -> RawWorkbook | WorkbookError:
    """One file's fields, or the reason it cannot be read. ``content``: its bytes when already
    in hand (else they are read here for the template reader, within the size limit)."""
    if reading.template and path.suffix.lower() == ".xlsx":
        if content is None:
            try:
                if path.stat().st_size <= reading.limits.max_file_bytes:
                    content = path.read_bytes()
            except OSError:
                content = None
        if content is not None:
            raw = read_template(
                content, path.name, reading.layouts, meta_sheet=reading.meta_sheet, limits=reading.limits
            )
            if raw is not None:
                return raw
    try:
        return read_workbook(
            path,
            reading.layouts,
            meta_sheet=reading.meta_sheet,
            version_field=reading.version_field,
            limits=reading.limits,
        )
    except WorkbookError as exc:
        return exc


def _read_one(path: Path, reading: Reading) -> RawWorkbook | WorkbookError:
    return read_file(path, reading)


def outcome(path: Path, answer: Any) -> RawWorkbook | WorkbookError:
    """A worker's answer for ``path`` as the reader's result: a ``Failed`` (the worker died, ran
    late or hit a bug) becomes a ``WorkbookError`` for the clerk, the details go to the log."""
    if not isinstance(answer, Failed):
        return answer
    if answer.kind in ("died", "late"):
        if _logging_set_up():
            what = "timed out" if answer.kind == "late" else "died"
            logger.warning(
                "reader process %s on %s; it printed: %s", what, path.name, answer.printed or "nothing"
            )
        why = f" ({answer.reason})" if answer.kind == "late" else ""
        return WorkbookError(
            f"Không đọc được tệp '{path.name}': chương trình đọc bị dừng bất thường{why};"
            " hãy mở tệp bằng Excel, lưu lại rồi gửi lại"
        )
    logged = _logging_set_up(logging.ERROR)
    if logged:
        logger.error("unexpected error while reading %s:\n%s", path, answer.reason)
    note = " (đã ghi nhật ký)" if logged else ""
    return WorkbookError(f"Không đọc được tệp '{path.name}': lỗi chương trình đọc{note}; {RESAVE}")


def _logging_set_up(level: int = logging.WARNING) -> bool:
    """Whether a log handler takes the reader's warnings. Without one Python prints them (and
    a traceback) on the console, which a clerk or coordinator must never see; so the reader
    logs only where logging was set up (``check`` and ``run`` do) and says "logged" only then."""
    return logger.isEnabledFor(level) and logger.hasHandlers()


def read_workbooks(
    paths: Sequence[Path],
    layouts: Layouts,
    *,
    workers: int = 0,
    limits: ReadLimits = ReadLimits(),  # noqa: B008 - frozen dataclass, safe as a default
    template: bool = False,
    reading: Reading | None = None,
    **kw: Any,
) -> Iterator[tuple[Path, RawWorkbook | WorkbookError]]:
    """Read many files in worker processes; yield ``(path, RawWorkbook | WorkbookError)``.

    ``workers=0`` means one per CPU. Results come in completion order. A worker that dies or
    exceeds ``limits.timeout_seconds`` on a file costs that file only (reported as a
    ``WorkbookError``) and is replaced. ``template``: the template reader first (what collect
    and check do); ``kw`` goes to ``read_workbook`` (``meta_sheet``, ``version_field``);
    ``reading`` replaces all of these (``reading_of`` a deployment).
    """
    paths = [Path(p) for p in paths]
    reading = reading or Reading.of(layouts, limits, template, **kw)
    limits = reading.limits
    if not paths:
        return
    size = min(workers or os.cpu_count() or 1, len(paths))
    # forked as it is: a caller reading files holds no lock or ledger a worker could keep open
    with Pool(_read_one, size, limits.timeout_seconds, context=reading, preload=PRELOAD, fork=True) as pool:
        step = max(1, min(8, len(paths) // (2 * size)))  # a few files a message, every worker busy
        for start in range(0, len(paths), step):
            pool.submit(start, paths[start : start + step])
        for start, index, answer in pool.drain():
            path = paths[start + index]
            yield path, outcome(path, answer)
