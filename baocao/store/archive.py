"""The archive folder: every original, byte for byte, the source of truth of the ledger.

Layout: ``<archive>/<YYYY-MM-DD>/<hash12>_<ascii name>`` (the day the file was received, in the
deployment's zone), each copy's modification time set to its received time, and in every day
folder a journal ``nhat-ky.jsonl`` with one JSON line per arrival taken that day: original name,
where it came from, received time, sender, e-mail it came in. The journal is what lets
``baocao ledger rebuild`` give back the exact received times and names; for copies made before
the journal existed, the day folder and the copy's time are used instead.

An original is read once and hashed (``Archive.copy``); its bytes are written to a temporary
file, synced, read back and hashed again, and only then renamed into place (``write_copy``,
usually in the worker process that then reads the same bytes): a copy that is in place is
complete and verified, and its folder is synced before the ledger records it. Temporary files
a killed run left behind are swept (``sweep``) by the next run, under the collect lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from baocao import files
from baocao.errors import StoreError
from baocao.files import TEMP_PREFIX, create_temp, sweep_temporary, write_all
from baocao.names import ascii_slug, safe_name

CHUNK = 1 << 20
JOURNAL = "nhat-ky.jsonl"
# How copies are made durable before the ledger records them: "filesystem" (Linux) flushes the
# archive's file system once per batch (``syncfs``: measured to cost ~nothing more than not
# syncing, where an fsync per copy cost ~0.4 s per 100 files on the test machine); "file" (where
# nothing like it exists) fsyncs each copy in the worker that writes it. Either way each folder
# is synced after its renames. "none" syncs nothing: set only by bench/bench.py, to measure
# what durability costs; the product never uses it.
SYNC = "filesystem" if files.FILE_SYSTEM_SYNC else "file"
REOPENINGS = "mo-lai-ky.jsonl"  # at the archive's root: ``baocao reopen`` decisions, for a rebuild
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class ArchiveError(StoreError):
    """The archive folder cannot be written (permissions, disk full, missing share)."""


class SourceError(Exception):
    """The original could not be read while copying it (it stays where it is for the next run)."""


class TooLarge(Exception):
    """The original is larger than the limit (nothing was kept)."""


@dataclass(frozen=True)
class Copy:
    """An original's bytes, read once and hashed: what goes into the archive (``write_copy``)."""

    content: bytes
    sha256: str
    size: int


@dataclass(frozen=True)
class Entry:
    """One journal line: an arrival as it was taken (``archive_path`` relative to the archive)."""

    archive_path: str
    sha256: str
    size: int
    original_name: str
    inbox_path: str
    received_at: str
    source: str = "folder"
    sender: str | None = None
    arrival_key: str | None = None
    parent_key: str | None = None
    container: bool = False
    mail: dict | None = None  # ``model.MailThread.to_dict()`` of a file that came by e-mail

    @property
    def received(self) -> datetime:
        return datetime.fromisoformat(self.received_at)


def archive_name(sha256: str, original: str) -> str:
    """``<hash12>_<ascii name>``: unique by content, still recognisable by a person."""
    stem, suffix = os.path.splitext(original.replace("\\", "/").rsplit("/", 1)[-1])
    suffix = suffix.lower() if re.fullmatch(r"\.[A-Za-z0-9]{1,5}", suffix) else ""
    return safe_name(f"{sha256[:12]}_{ascii_slug(stem, 60)}{suffix}")


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_copy(dest: Path, content: bytes, sha256: str, stamp: float, sync: bool = True) -> None:
    """Put ``content`` at ``dest``: a temporary file in its folder, written, synced (``sync``),
    read back and hashed again, stamped with the received time (what a rebuild falls back on)
    and only then renamed into place, so a copy in place is complete and verified.

    Raises ``ArchiveError`` when the archive cannot be written or the copy does not read back
    the same. Nothing is left behind on failure. The rename is made durable by
    ``sync_folders`` (the caller batches it).
    """
    folder = dest.parent
    try:
        fd, tmp = create_temp(folder)
    except OSError as exc:
        raise ArchiveError(f"Không ghi được vào thư mục lưu trữ {folder}: {exc}") from None
    try:
        try:
            try:
                write_all(fd, content)
                if sync:
                    os.fsync(fd)
                again = hashlib.sha256(_read_back(fd, len(content))).hexdigest()
                if _UTIME_FD:
                    os.utime(fd, (stamp, stamp))
            finally:
                os.close(fd)
            if not _UTIME_FD:
                os.utime(tmp, (stamp, stamp))
        except OSError as exc:
            raise ArchiveError(f"Không ghi được vào thư mục lưu trữ {folder}: {exc}") from None
        if again != sha256:
            raise ArchiveError(f"Bản sao trong thư mục lưu trữ {folder} không khớp mã băm (đĩa lỗi?)")
        try:
            os.replace(tmp, dest)
        except OSError as exc:
            raise ArchiveError(f"Không ghi được vào thư mục lưu trữ {folder}: {exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_UTIME_FD = os.utime in os.supports_fd


def _read_back(fd: int, size: int) -> bytes:
    """The file's bytes as the system gives them back (one byte more than written is asked
    for: a longer file does not hash the same)."""
    if hasattr(os, "pread"):
        return os.pread(fd, size + 1, 0)
    os.lseek(fd, 0, os.SEEK_SET)  # Windows
    chunks = []
    while chunk := os.read(fd, CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)


def sync_folders(folders: Iterable[Path]) -> None:
    """Make the copies and names just written into ``folders`` survive a power cut (POSIX:
    fsync each folder, after one ``syncfs`` of their file system when ``SYNC`` is
    "filesystem"; Windows has no folder fsync, NTFS journals its renames)."""
    if SYNC == "none":
        return
    try:
        files.sync_folders(folders, SYNC == "filesystem")
    except OSError as exc:
        raise ArchiveError(f"Không ghi được vào thư mục lưu trữ {exc.filename}: {exc.strerror}") from None


class Archive:
    """The archive folder of a deployment (``root``), days counted in ``tz``."""

    def __init__(self, root: Path, tz: ZoneInfo) -> None:
        self.root = root
        self.tz = tz

    def day(self, received_at: datetime) -> str:
        """The day folder of a file received at ``received_at`` (``YYYY-MM-DD`` in ``tz``;
        ``isoformat`` writes what ``strftime("%Y-%m-%d")`` did, at a fifth of its cost: three
        calls per file taken)."""
        return received_at.astimezone(self.tz).date().isoformat()

    def copy(self, source: BinaryIO, received_at: datetime, limit: int | None = None) -> Copy:
        """Read ``source`` whole while hashing it (it is written by ``write_copy``, often in a
        worker process, and read from these same bytes).

        Raises ``SourceError`` when reading ``source`` fails and ``TooLarge`` past ``limit`` bytes.
        """
        digest, chunks, size = hashlib.sha256(), [], 0
        while True:
            try:
                chunk = source.read(CHUNK)
            except OSError as exc:
                raise SourceError(str(exc)) from None
            if not chunk:
                break
            size += len(chunk)
            if limit is not None and size > limit:
                raise TooLarge(size)
            digest.update(chunk)
            chunks.append(chunk)
        return Copy(b"".join(chunks), digest.hexdigest(), size)

    def destination(self, copy: Copy, original_name: str, received_at: datetime) -> str:
        """Where a copy goes, relative to the archive: ``<day>/<hash12>_<ascii name>``."""
        return f"{self.day(received_at)}/{archive_name(copy.sha256, original_name)}"

    def place(self, copy: Copy, original_name: str, received_at: datetime) -> str:
        """Write a copy in place, synced and verified, here and now; return its relative path."""
        relative = self.destination(copy, original_name, received_at)
        write_copy(self.root / relative, copy.content, copy.sha256, received_at.timestamp(), SYNC != "none")
        sync_folders([self.root / relative.rpartition("/")[0]])
        return relative

    def discard(self, copy: Copy) -> None:
        """Forget a copy that will not be kept (nothing of it is on disk yet)."""

    def path(self, archive_path: str) -> Path:
        return self.root / archive_path

    def journal(self, entries: Iterable[Entry], sync: bool = True) -> None:
        """Append ``entries`` to their day folders' journals and flush them to disk (unless
        ``sync`` is False: the caller syncs the file system next)."""
        by_day: dict[str, list[Entry]] = {}
        for entry in entries:
            by_day.setdefault(self.day(entry.received), []).append(entry)
        for day, items in by_day.items():
            path = self.root / day / JOURNAL
            lines = "".join(json.dumps(vars(e), ensure_ascii=False) + "\n" for e in items)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as handle:
                    handle.write(lines)
                    handle.flush()
                    if sync and SYNC != "none":
                        os.fsync(handle.fileno())
            except OSError as exc:
                raise ArchiveError(f"Không ghi được nhật ký lưu trữ {path}: {exc}") from None

    def journal_reopening(self, period: str, unit: str, at: datetime) -> None:
        """Keep a coordinator's ``reopen`` with the originals, so a rebuilt ledger has it too."""
        line = json.dumps({"period": period, "unit": unit, "opened_at": at.isoformat()}, ensure_ascii=False)
        path = self.root / REOPENINGS
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise ArchiveError(f"Không ghi được nhật ký lưu trữ {path}: {exc}") from None

    def reopenings(self) -> list[tuple[str, str, datetime]]:
        """(period, unit, when) of every ``reopen`` kept in the archive, oldest first."""
        path = self.root / REOPENINGS
        found = []
        if path.is_file():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    data = json.loads(line)
                    found.append((data["period"], data["unit"], datetime.fromisoformat(data["opened_at"])))
                except (ValueError, KeyError, TypeError):
                    continue
        return sorted(found, key=lambda r: r[2])

    def sweep(self) -> list[Path]:
        """Remove the temporary copies a killed run left in the day folders; return them."""
        return [p for folder in self._days() for p in sweep_temporary(folder)]

    def has_files(self) -> bool:
        """True when any day folder holds an archived copy (cheap: stops at the first)."""
        for folder in self._days():
            with os.scandir(folder) as it:
                if any(e.is_file() and _is_copy(e.name) for e in it):
                    return True
        return False

    def entries(self) -> list[Entry]:
        """Every arrival the archive knows, oldest received first (for ``ledger rebuild``).

        Journal lines come first; an archived copy no journal line names (made before the
        journal existed) gets an entry from its name and modification time. A line repeated by
        a run killed after writing its journal and before its ledger commit counts once.
        """
        found: dict[tuple[str, str, str], Entry] = {}
        named: set[str] = set()
        for folder in self._days():
            for entry in self._journal_lines(folder / JOURNAL):
                found.setdefault((entry.sha256, entry.inbox_path, entry.received_at), entry)
                named.add(entry.archive_path)
            for path in sorted(folder.iterdir()):
                rel = path.relative_to(self.root).as_posix()
                if path.is_file() and _is_copy(path.name) and rel not in named:
                    found[(rel, "", "")] = self._unjournaled(path, rel)
        return sorted(found.values(), key=lambda e: e.received)

    def _unjournaled(self, path: Path, rel: str) -> Entry:
        sha = file_hash(path)
        name = path.name.split("_", 1)[1] if "_" in path.name else path.name
        received = datetime.fromtimestamp(path.stat().st_mtime, self.tz)
        return Entry(rel, sha, path.stat().st_size, name, name, received.isoformat())

    @staticmethod
    def _journal_lines(path: Path) -> Iterator[Entry]:
        if not path.is_file():
            return
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    data = json.loads(line)
                    yield Entry(**{k: v for k, v in data.items() if k in Entry.__dataclass_fields__})
                except (ValueError, TypeError):  # a line cut by a crash: the copy is found by name
                    continue

    def _days(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir() and DAY.fullmatch(p.name))


def _is_copy(name: str) -> bool:
    return not name.startswith(TEMP_PREFIX) and name != JOURNAL
