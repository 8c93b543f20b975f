"""The shared-folder intake: files units save into the inbox folder (or its subfolders).

What it vouches for:
- **complete**: a file is delivered once its size and modification time have stopped changing
  for ``stable_seconds`` (a copy over the network is still growing);
- **regular**: only regular files are opened, without following links (``O_NOFOLLOW`` where
  the system has it, and the opened file must be the one listed); symbolic links, junctions,
  FIFOs, devices and sockets are skipped and reported, never read; the size limit is checked
  before anything is copied;
- **received time** (``received_time``): when the file arrived on the share, as the file
  system records it in a way saving cannot set — Windows and BSD/macOS: the creation time;
  Linux: the inode change time (set by creating, renaming into the folder or writing the file,
  and by nothing a unit does when saving makes it earlier). It is bounded below by the last scan
  of the inbox that did not see the file and above by the first scan that did. So a file saved
  on time while the collecting machine was off counts as on time, and a file moved in from
  elsewhere (keeping an old creation time) counts from when it could first have been seen.
  Trust assumption: units write to the share but do not administer it (someone who can set
  creation times on purpose, e.g. with PowerShell, can only move the time back to the last
  scan before the file appeared);
- **release**: the original is deleted only if it is still the file that was archived (same
  file identity, size and modification time), checked after moving it aside under a temporary
  name so a save landing at that moment is not lost; a file saved over in the meantime (Excel
  writes a new file and renames it over the old one) stays for the next run. A file that cannot
  be deleted (open in Excel on Windows, a read-only share) is recorded once and left; later runs
  only try the deletion again.

Names: file names that are not valid UTF-8 (an old Windows share in windows-1258) are decoded
for people and the ledger (``display_name``); the file itself is opened by its real name.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, NamedTuple

from baocao.files import TEMP_PREFIX
from baocao.intake.base import Arrival, Changed, IntakeBase, Refused, ReleaseOutcome, Releasing, released
from baocao.model import FileRecord, Sighting
from baocao.store.archive import file_hash
from baocao.store.base import Store

logger = logging.getLogger(__name__)

IGNORED_NAMES = {"desktop.ini", "thumbs.db", ".ds_store"}
SCANNED_AT = "folder.scanned_at"  # store state: when the inbox was last listed
ASIDE = ".baocao-xoa-"  # prefix of an original moved aside for the moment of its deletion
_NAME_SURROGATE = 0x20000000  # Windows reparse tags that redirect to another name (links, junctions)


def is_ignored(name: str) -> bool:
    """Lock and system files that are never submissions: Excel's ``~$…``, LibreOffice's
    ``.~lock.…#``, ``desktop.ini``, ``Thumbs.db``, macOS ``._…`` and our own temporary files."""
    lower = name.lower()
    return (
        lower in IGNORED_NAMES
        or name.startswith(("~$", ".~lock.", "._", TEMP_PREFIX))
        or lower.endswith((".tmp", ".crdownload", ".part"))
    )


def display_name(name: str) -> str:
    """A file name as people read it: NFC, and decoded from windows-1258 when it is not UTF-8.

    On POSIX a name that is not UTF-8 arrives with its bytes escaped (``surrogateescape``); an
    old Vietnamese Windows share writes windows-1258. Anything still undecodable becomes ``�``.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.fsencode(name) if os.name != "nt" else name.encode("utf-8", "surrogatepass")
        try:
            name = raw.decode("cp1258")
        except UnicodeDecodeError:
            name = raw.decode("utf-8", "replace")
        name = name.encode("utf-8", "replace").decode("utf-8")
    return unicodedata.normalize("NFC", name)


def received_time(
    filed_at: datetime, first_seen: datetime, not_seen_at: datetime | None, now: datetime
) -> datetime:
    """When a file arrived: its file-system time, no earlier than the last scan that did not
    see it, no later than the first scan that did (nor than ``now``)."""
    when = filed_at if not_seen_at is None else max(filed_at, not_seen_at)
    return min(when, first_seen, now)


def filed_time(st: os.stat_result) -> float:
    """Seconds since the epoch when the file was created in (or moved into) its folder."""
    birth = getattr(st, "st_birthtime", None)  # Windows (3.12+), macOS, BSD
    return birth if birth else st.st_ctime  # Windows 3.11: creation; Linux: inode change


def _special(st: os.stat_result) -> str | None:
    """Why an entry (``lstat``) is not a file to open, or None for a regular file."""
    tag = getattr(st, "st_reparse_tag", 0)
    attributes = getattr(st, "st_file_attributes", 0)
    if attributes & stat.FILE_ATTRIBUTE_REPARSE_POINT and tag & _NAME_SURROGATE:
        return "là lối tắt (liên kết) tới nơi khác"
    if stat.S_ISLNK(st.st_mode):
        return "là liên kết (symlink) tới nơi khác"
    if stat.S_ISDIR(st.st_mode):
        return "là thư mục"
    if not stat.S_ISREG(st.st_mode):
        return "không phải tệp thông thường (FIFO, thiết bị hoặc socket)"
    return None


def _same_file(st: os.stat_result, size: int, mtime_ns: int, ino: int | None) -> bool:
    return (st.st_size, st.st_mtime_ns) == (size, mtime_ns) and (not ino or not st.st_ino or st.st_ino == ino)


class _Entry(NamedTuple):
    """A candidate file as listed: its path (a string), where it sits below the inbox, its size,
    modification time and ``filed_time``. Not the ``stat_result`` and a ``Path``: those were
    1 KB a file, all held at once while an inbox of 10,000 files was listed."""

    path: str
    location: str
    size: int
    mtime_ns: int
    filed: float

    @property
    def key(self) -> str:
        return folder_key(self.location, self.size, self.mtime_ns)


class Listing(NamedTuple):
    """What one look at the inbox found."""

    entries: list[_Entry]  # candidate files (regular files, by path below the inbox)
    skipped: list[tuple[str, str]]  # entries not to open, with the reason (links, FIFOs, …)
    moved_aside: list[Path]  # originals a killed run had moved aside to delete them


def scan(inbox: Path) -> Listing:
    """Every candidate file below ``inbox``, what is skipped and why, and the originals left
    moved aside by a run killed in the middle of deleting them."""
    found: list[_Entry] = []
    skipped: list[tuple[str, str]] = []
    aside: list[Path] = []
    _walk(inbox, "", found, skipped, aside)
    return Listing(sorted(found, key=lambda e: e.location), skipped, aside)


def _walk(
    folder: Path, prefix: str, found: list[_Entry], skipped: list[tuple[str, str]], aside: list[Path]
) -> None:
    try:
        with os.scandir(folder) as listing:
            for entry in listing:  # one entry at a time: a list of 10,000 held 8 MB with their stats
                _look_at(entry, prefix, found, skipped, aside)
    except FileNotFoundError:
        return
    except OSError as exc:
        skipped.append((prefix or ".", f"không đọc được thư mục: {exc.strerror or exc}"))


def _look_at(
    entry: os.DirEntry[str],
    prefix: str,
    found: list[_Entry],
    skipped: list[tuple[str, str]],
    aside: list[Path],
) -> None:
    """Sort one directory entry: a candidate, a folder to walk, an original moved aside, or
    something skipped (with why)."""
    location = f"{prefix}{display_name(entry.name)}"
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return  # gone since the listing
    if stat.S_ISDIR(st.st_mode) and not _special_link(st):
        if not entry.name.startswith("."):
            _walk(Path(entry.path), f"{location}/", found, skipped, aside)
        return
    if entry.name.startswith(ASIDE):
        if stat.S_ISREG(st.st_mode):
            aside.append(Path(entry.path))
        return
    if is_ignored(entry.name):
        return
    reason = _special(st)
    if reason:
        skipped.append((location, f"bỏ qua, {reason}; hãy lưu báo cáo thành tệp bình thường"))
        return
    found.append(_Entry(entry.path, location, st.st_size, st.st_mtime_ns, filed_time(st)))


def list_inbox(inbox: Path) -> list[str]:
    """What a collect would consider in ``inbox`` (paths below it), for a dry run."""
    return [e.location for e in scan(inbox).entries]


def folder_key(location: str, size: int, mtime_ns: int) -> str:
    """The arrival key of a version of a file in the folder: same path, size and time."""
    return f"{size}:{mtime_ns}:{location}"


def parse_key(key: str) -> tuple[int, int, str] | None:
    try:
        size, mtime, location = key.split(":", 2)
        return int(size), int(mtime), location
    except ValueError:
        return None


class FolderIntake(IntakeBase):
    """The inbox folder as an intake (see the module docstring).

    ``store`` keeps the sightings (stability wait, received-time bounds); ``now`` is the run's
    clock; ``simulated`` (a replay with ``--now``) counts a file unchanged for ``stable_seconds``
    of real time as complete at once; ``max_bytes`` refuses larger files before copying.
    """

    source = "folder"

    def __init__(
        self,
        inbox: Path,
        store: Store,
        now: datetime,
        *,
        stable_seconds: float = 5.0,
        simulated: bool = False,
        max_bytes: int | None = None,
    ) -> None:
        self.inbox = inbox
        self.store = store
        self.now = now
        self.stable_seconds = stable_seconds
        self.simulated = simulated
        self.max_bytes = max_bytes
        self._waiting: list[str] = []
        self._skipped: list[tuple[str, str]] = []
        self._opened: dict[str, os.stat_result] = {}

    # --- listing -----------------------------------------------------------------------------

    def _scan(self) -> list[_Entry]:
        listing = scan(self.inbox)
        if listing.moved_aside:  # only after a run was killed mid-deletion: rare, so look again
            for path in listing.moved_aside:
                restore_moved_aside(path)
            listing = scan(self.inbox)
        self._skipped = listing.skipped
        return listing.entries

    def arrivals(self) -> list[Arrival]:
        """Complete files not taken yet, with their received times (sightings updated)."""
        entries = self._scan()
        taken = self.store.taken_keys(e.key for e in entries)
        fresh = [e for e in entries if e.key not in taken]
        previous = self.store.state(SCANNED_AT)
        not_seen_at = datetime.fromisoformat(previous) if previous else None
        before = self.store.sightings()
        ready: list[tuple[_Entry, Sighting]] = []
        unsure: list[tuple[_Entry, Sighting]] = []
        with self.store.transaction():  # one commit for all sightings, not one per file
            seen = [(e.location, e.size, e.mtime_ns) for e in fresh]
            for e, sighting in zip(fresh, self.store.see_all(seen, self.now, not_seen_at), strict=True):
                if self._complete(e, before.get(e.location)):
                    ready.append((e, sighting))
                else:
                    unsure.append((e, sighting))
            self.store.forget_sightings({e.location for e in fresh})
            self.store.set_state(SCANNED_AT, self.now.isoformat())
        if unsure:
            time.sleep(self.stable_seconds)  # one look again after the wait, for the whole batch
            ready += self._settled(unsure)
        return [self._arrival(e, s) for e, s in sorted(ready, key=lambda pair: pair[0].location)]

    def _complete(self, e: _Entry, old: Sighting | None) -> bool:
        wait = self.stable_seconds
        if wait <= 0:
            return True
        unchanged = old is not None and (old.size, old.mtime_ns) == (e.size, e.mtime_ns)
        if unchanged and old is not None and (self.now - old.last_seen).total_seconds() >= wait:
            return True
        return self.simulated and time.time() - e.mtime_ns / 1e9 >= wait  # replaying: an old file is complete

    def _settled(self, unsure: list[tuple[_Entry, Sighting]]) -> list[tuple[_Entry, Sighting]]:
        settled = []
        with self.store.transaction():
            for e, sighting in unsure:
                try:
                    st = os.lstat(e.path)
                except OSError:
                    continue
                if (st.st_size, st.st_mtime_ns) == (e.size, e.mtime_ns):
                    settled.append((e, sighting))
                else:
                    self.store.see(e.location, st.st_size, st.st_mtime_ns, self.now, sighting.not_seen_at)
                    self._waiting.append(e.location)
        return settled

    def _arrival(self, e: _Entry, sighting: Sighting) -> Arrival:
        filed = datetime.fromtimestamp(e.filed, self.now.tzinfo)
        return Arrival(
            key=e.key,
            name=e.location.rsplit("/", 1)[-1],
            location=e.location,
            received_at=received_time(filed, sighting.first_seen, sighting.not_seen_at, self.now),
            source=self.source,
            size=e.size,
            path=e.path,
        )

    def waiting(self) -> list[str]:
        return list(self._waiting)

    def skipped(self) -> list[tuple[str, str]]:
        return list(self._skipped)

    # --- taking ------------------------------------------------------------------------------

    def open(self, arrival: Arrival) -> AbstractContextManager[BinaryIO]:
        """Open the listed file itself: never a link, never anything but a regular file."""
        assert arrival.path is not None
        if self.max_bytes is not None and (arrival.size or 0) > self.max_bytes:
            raise Refused(_too_large(arrival.size or 0, self.max_bytes), "too_large")
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
        flags |= getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in after the listing cannot hang us
        fd = os.open(arrival.path, flags)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise Refused(f"'{arrival.location}' không phải tệp thông thường; bỏ qua")
            parsed = parse_key(arrival.key)
            if parsed and (st.st_size, st.st_mtime_ns) != parsed[:2]:
                raise Changed(arrival.location)
            if self.max_bytes is not None and st.st_size > self.max_bytes:
                raise Refused(_too_large(st.st_size, self.max_bytes), "too_large")
            self._opened[arrival.key] = st
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise

    def unchanged(self, arrival: Arrival) -> bool:
        """The file at the listed path is still the one that was opened and copied."""
        opened = self._opened.get(arrival.key)
        if opened is None or arrival.path is None:
            return False
        try:
            st = os.lstat(arrival.path)
        except OSError:
            return False
        return _same_file(st, opened.st_size, opened.st_mtime_ns, opened.st_ino)

    # --- releasing ---------------------------------------------------------------------------

    def release(self, arrival: Arrival) -> bool:
        """Delete the original if it is still what was archived (see the module docstring).
        Touches nothing but the inbox: ``release_all`` drops the sightings."""
        assert arrival.path is not None
        opened = self._opened.pop(arrival.key, None)  # released once: a run keeps no stat per file
        parsed = parse_key(arrival.key)
        if opened is not None:
            return remove_if_same(arrival.path, opened.st_size, opened.st_mtime_ns, opened.st_ino)
        if parsed is not None:
            return remove_if_same(arrival.path, parsed[0], parsed[1], None)
        return False

    def release_all(self, arrivals: Sequence[Arrival]) -> Releasing:
        """``release`` for each, done a few at a time when collect has nothing else to do
        (``Releasing.step``: while it waits for its workers), the rest in ``wait``, which
        also drops the sightings.

        Why: a deletion waits on the file system's journal (0.1–0.7 ms a file on ext4 while the
        workers sync their copies), which collect spent on its serial path while the workers
        waited for their next jobs. Each original is checked, moved aside and deleted as
        ``release`` does, so a run killed meanwhile is mended the same way; the caller records
        what was deleted only after ``wait``."""
        paths = {a.location for a in arrivals}
        return _Removing(self.release, arrivals, lambda: self.store.drop_sightings(paths))

    def release_pending(self, records: list[FileRecord]) -> list[int]:
        """Originals recorded by an earlier run and not deleted yet (open in Excel, read-only
        share, a run killed after its commit): delete those still unchanged; a changed or vanished
        file is no longer ours to delete."""
        if not records:
            return []
        where = {e.location: e for e in self._scan()}
        done = []
        for rec in records:
            entry = where.get(rec.inbox_path)
            parsed = parse_key(rec.arrival_key or "")
            if entry is None:
                done.append(rec.saved_id)  # gone (deleted by a person, or by a run killed before marking)
            elif parsed is not None:
                if remove_if_same(entry.path, parsed[0], parsed[1], None):
                    done.append(rec.saved_id)
            elif _legacy_remove(entry.path, rec.sha256):
                done.append(rec.saved_id)
        return done


class _Removing:
    """Originals being deleted (``FolderIntake.release_all``): ``step`` deletes one, ``wait``
    the rest and then runs ``then`` (the ledger's part). All in the caller's thread."""

    def __init__(
        self, release: Callable[[Arrival], bool], arrivals: Sequence[Arrival], then: Callable[[], None]
    ) -> None:
        self.release = release
        self.todo = deque(arrivals)
        self.outcomes: list[ReleaseOutcome] = []
        self.then = then

    def step(self) -> bool:
        if not self.todo:
            return False
        self.outcomes.append(released(self.release, self.todo.popleft()))  # an error: the next run
        return True

    def wait(self) -> list[ReleaseOutcome]:
        while self.step():
            pass
        self.then()
        return self.outcomes


def _special_link(st: os.stat_result) -> bool:
    """A directory entry that is a junction or directory link (never walked into)."""
    attributes = getattr(st, "st_file_attributes", 0)
    return bool(
        attributes & stat.FILE_ATTRIBUTE_REPARSE_POINT and getattr(st, "st_reparse_tag", 0) & _NAME_SURROGATE
    )


def _too_large(size: int, limit: int) -> str:
    return (
        f"Tệp lớn {size / 2**20:.1f} MB, vượt giới hạn {limit / 2**20:g} MB; tệp được để lại trong thư mục "
        "nộp và không được lưu trữ. Hãy gửi lại tệp biểu mẫu đã điền (thường chỉ vài chục KB)"
    )


def remove_if_same(path: str | Path, size: int, mtime_ns: int, ino: int | None) -> bool:
    """Delete ``path`` if it is still the file with this size, time (and identity); True when
    nothing is left to do (deleted, gone, or replaced by a new version that stays)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if not _same_file(st, size, mtime_ns, ino):
        return True  # saved over since: the new version is a new arrival, left for the next run
    folder, name = os.path.split(path)  # strings: no Path built per released file
    aside = os.path.join(folder, f"{ASIDE}{secrets.token_hex(4)}-{name}")
    try:
        os.rename(path, aside)  # Windows refuses while Excel holds the file open
    except FileNotFoundError:
        return True
    except OSError as exc:
        logger.warning("Đã lưu trữ nhưng chưa xóa được %s: %s", display_name(str(path)), exc)
        return False
    try:
        moved = os.lstat(aside)
        if _same_file(moved, size, mtime_ns, ino or st.st_ino):
            os.unlink(aside)
            return True
    except OSError as exc:
        logger.warning("Đã lưu trữ nhưng chưa xóa được %s: %s", display_name(str(path)), exc)
        _put_back(aside, Path(path))
        return False
    _put_back(aside, Path(path))  # a save landed between the check and the move: keep it
    return True


def restore_moved_aside(aside: Path) -> None:
    """Give an original that a killed run left moved aside (``remove_if_same`` was stopped between
    its move and its deletion) its name back: it is either an archived original, which the
    pending release then deletes, or a save that landed at that moment, which the run then takes.
    Either way it is visible again and nothing is lost."""
    original = aside.name[len(ASIDE) :].partition("-")[2]
    if not original:
        return
    logger.info("Trả lại tên cho tệp do lần chạy bị ngắt để dở: %s", display_name(original))
    path = aside.with_name(original)
    try:
        if path.exists() and os.path.samefile(aside, path):
            os.unlink(aside)  # killed inside ``_put_back``, after its link: the name is back already
            return
        _put_back(str(aside), path)
    except OSError as exc:
        logger.warning("Chưa trả lại được tên cho %s: %s", display_name(aside.name), exc)


def _put_back(aside: str, path: Path) -> None:
    """Give ``aside`` its name back without overwriting a file saved there meanwhile."""
    try:
        if os.name == "nt":
            os.rename(aside, path)  # fails if the name is taken
        else:
            os.link(aside, path)  # fails if the name is taken
            os.unlink(aside)
        return
    except FileExistsError:
        pass
    except OSError:
        if not path.exists():
            os.rename(aside, path)
            return
    keep = path.with_name(f"{path.stem} (ban-truoc-{secrets.token_hex(3)}){path.suffix}")
    os.rename(aside, keep)  # visible, so the next run takes it: nothing is lost


def _legacy_remove(path: str | Path, sha256: str) -> bool:
    """Records from before arrival keys: delete the original if its bytes are still the same."""
    try:
        st = os.lstat(path)
        if file_hash(Path(path)) != sha256:
            return True
    except OSError:
        return False
    return remove_if_same(path, st.st_size, st.st_mtime_ns, st.st_ino)
