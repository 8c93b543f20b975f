"""``baocao ledger rebuild``: a new ledger made from the archive, which is the source of truth.

Every archived copy is taken again in received order and judged again, exactly as collect
does (same reader, same validation, same closed-period rule, each file judged as of the day it
was received), and the coordinator's ``reopen`` decisions kept in the archive are applied again.
The new ledger is built beside the old one and put in place only when it is complete; the old
file (damaged or not) is kept under a new name, never deleted.

What a rebuild cannot give back: the log of messages sent (reminders, feedback, summaries),
which lived only in the ledger. Feedback is never mailed again for rebuilt files; a reminder or
a summary whose moment is current may go out once more.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from baocao.collect import _Taker, collect_lock, local_time, worker_pool
from baocao.errors import UsageError
from baocao.intake.archive import ArchiveIntake
from baocao.judging import CollectReport, Judge, reopen_in
from baocao.spec.deployment import Deployment
from baocao.store import LedgerError, Store, archive_of, open_store
from baocao.store.archive import Archive
from baocao.store.ledger import REBUILT_AT

SUFFIXES = ("", "-wal", "-shm")


@dataclass
class RebuildResult:
    """What a rebuild made: counts by status, where the old ledger went, notes for the coordinator."""

    ledger: Path
    files: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    reopenings: int = 0
    old_ledger: Path | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "ledger": str(self.ledger),
            "files": self.files,
            "counts": self.counts,
            "reopenings": self.reopenings,
            "old_ledger": str(self.old_ledger) if self.old_ledger else None,
            "notes": self.notes,
        }


def _usable(dep: Deployment, path: Path) -> bool:
    """True when ``path`` is a ledger that opens, reads and records files (an empty one has
    nothing a rebuild would lose but its message log)."""
    try:
        with open_store(dep.settings, location=path) as store:
            return bool(store.files())
    except LedgerError:
        return False


def rebuild(dep: Deployment, now: datetime | None = None, *, force: bool = False) -> RebuildResult:
    """Rebuild the ledger of ``dep`` from its archive (see the module docstring).

    Refuses (``UsageError``) when the ledger still opens and records files, unless ``force``; holds the
    collect lock (``LockedError`` when a collect is running).
    """
    now = local_time(now, dep.settings.timezone)
    target = dep.settings.path("ledger")
    lock = collect_lock(dep)
    try:
        if target.exists() and not force and _usable(dep, target):
            raise UsageError(
                f"Sổ theo dõi {target} vẫn đọc được; dựng lại sẽ mất nhật ký thư đã gửi. "
                "Nếu chắc chắn muốn dựng lại từ thư mục lưu trữ, chạy lại với --force"
            )
        fresh = target.with_name(target.name + ".dung-lai")
        _remove(fresh)
        archive = archive_of(dep.settings)
        archive.sweep()
        result = RebuildResult(target)
        with open_store(dep.settings, location=fresh) as store:
            _refill(dep, store, archive, now, result)
        if target.exists():
            result.old_ledger = target.with_name(f"{target.name}.cu-{now:%Y%m%d-%H%M%S}")
            for suffix in SUFFIXES:
                old = Path(str(target) + suffix)
                if old.exists():
                    os.replace(old, Path(str(result.old_ledger) + suffix))
        os.replace(fresh, target)
        result.notes.append(
            "Sổ dựng lại không có nhật ký thư đã gửi: phản hồi các tệp cũ không gửi lại, nhưng thư "
            "nhắc hoặc bản tổng hợp của mốc đang đến hạn có thể được gửi thêm một lần"
        )
        return result
    finally:
        lock.release()


def _refill(dep: Deployment, store: Store, archive: Archive, now: datetime, result: RebuildResult) -> None:
    report = CollectReport()
    store.claim_key(dep.signing_key.key_id)  # the files are judged with this key
    entries = archive.entries()
    intake = ArchiveIntake(archive, entries)
    _Taker(store, archive, report, limit=2**62).take_all(intake, intake.arrivals())
    judge = Judge(dep, store, archive, now, report, feedback=False)  # each as of its received day
    with worker_pool(dep, len(entries)) as pool:
        judge.judge_all(pool)
        decisions = archive.reopenings()
        with store.transaction():
            for period, unit, at in decisions:
                reopen_in(store, period, unit, at)
        judge.judge_all(pool)
    with store.transaction():
        store.set_state(REBUILT_AT, now.isoformat())  # files judged here are never mailed again
    files = store.files()
    result.files = len(files)
    result.reopenings = len(decisions)
    for rec in files:
        result.counts[rec.status] = result.counts.get(rec.status, 0) + 1


def _remove(path: Path) -> None:
    for suffix in SUFFIXES:
        Path(str(path) + suffix).unlink(missing_ok=True)
