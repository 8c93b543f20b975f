"""Putting files on disk safely: the one place where outputs are written.

Everything baocao writes for people (templates, feedback workbooks, summaries, e-mails in the
outbox) goes through a temporary file in the same folder renamed into place, so nobody watching
a share ever opens a half-written file. Summaries add one more rule: a file a coordinator has
open in Excel is never clobbered; a new name is used instead.

Files are created with the permissions the process umask gives (``0666 & ~umask``), not the
owner-only 0600 of ``tempfile.mkstemp``: other accounts on a share must be able to open a
summary or a feedback workbook, exactly as if the file had been saved by hand.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterable
from pathlib import Path

from baocao.errors import BaocaoError

TEMP_PREFIX = ".tmp-"  # temporary files; the inbox ignores them, collect sweeps leftovers


_EXCLUSIVE = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def create_temp(folder: Path, suffix: str = "") -> tuple[int, Path]:
    """A new temporary file in ``folder`` (created if missing): (descriptor open for reading and
    writing, path).

    Created exclusively under a random ``TEMP_PREFIX`` name with mode ``0666``, so its
    permissions are what the umask gives (see the module docstring) with no chmod after, and
    the folder is made only when the first create finds it missing (collect writes thousands of
    these). Raises ``OSError``.
    """
    for _ in range(100):
        path = os.path.join(folder, f"{TEMP_PREFIX}{secrets.token_hex(8)}{suffix}")
        try:
            return os.open(path, _EXCLUSIVE, 0o666), Path(path)
        except FileExistsError:
            continue
        except FileNotFoundError:
            folder.mkdir(parents=True, exist_ok=True)
    raise FileExistsError(f"không tạo được tệp tạm trong {folder}")


def write_all(fd: int, content: bytes) -> None:
    """Write all of ``content`` on an open descriptor (no buffered file object for one write)."""
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view) :]


def sweep_temporary(folder: Path) -> list[Path]:
    """Remove the temporary files a killed run left below ``folder``; return them.

    Only for folders nobody else writes while the caller holds its lock (collect's archive and
    feedback folders): a temporary file of a write in progress elsewhere must not be removed.
    """
    swept = []
    if folder.is_dir():
        for leftover in folder.rglob(TEMP_PREFIX + "*"):
            try:
                if leftover.is_file() and not leftover.is_symlink():
                    leftover.unlink()
                    swept.append(leftover)
            except OSError:
                continue
    return swept


def atomic_write(path: Path, content: bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file and a rename (``OSError`` on failure)."""
    fd, tmp = create_temp(path.parent, suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def write_if_changed(path: Path, content: bytes) -> bool:
    """Atomically write ``content`` unless ``path`` already holds exactly that; True if written.

    Regenerating templates then leaves unchanged files (and their dates on the share) alone.
    """
    if path.is_file() and path.read_bytes() == content:
        return False
    atomic_write(path, content)
    return True


def owner_file_present(path: Path) -> bool:
    """True when Excel's lock file sits beside ``path`` (``~$name``; long names lose 2 characters)."""
    return any((path.parent / f"~${name}").exists() for name in (path.name, path.name[2:]))


def unwritable_folder(folder: Path, exc: OSError) -> BaocaoError:
    """The coordinator's message for a folder baocao cannot write into (the system's words, in
    English, stay in the traceback behind ``--debug``)."""
    return BaocaoError(
        f"Không ghi được vào thư mục {folder}: thư mục không tạo được, không cho ghi hoặc đĩa đã đầy "
        f"({type(exc).__name__}); hãy kiểm tra đường dẫn trong config.toml (hoặc --out) và quyền ghi"
    )


def write_output(path: Path, content: bytes, attempts: int = 50) -> Path:
    """Write ``content`` atomically to ``path`` or, if that is open in Excel, to ``stem_N``.

    Returns the path written. Raises ``BaocaoError`` when no name could be used, or when the
    folder cannot be made or written (a POSIX ``PermissionError`` is the folder's, never a file
    held open: only Windows locks open files).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unwritable_folder(path.parent, exc) from exc
    for n in range(1, attempts + 1):
        candidate = path if n == 1 else path.with_name(f"{path.stem}_{n}{path.suffix}")
        if owner_file_present(candidate):
            continue
        try:
            return atomic_write(candidate, content)
        except PermissionError as exc:
            if os.name == "nt":  # Windows: the target is open in another program
                continue
            raise unwritable_folder(path.parent, exc) from exc
        except OSError as exc:
            raise unwritable_folder(path.parent, exc) from exc
    raise BaocaoError(
        f"Không ghi được {path.name}: tệp và các tên thay thế đều đang được mở, hoặc thư mục "
        f"{path.parent} không cho ghi"
    )


# Whether one call flushes a whole file system (Linux ``syncfs``): then files written by many
# processes are made durable once per batch instead of one fsync each (measured: an fsync costs
# ~0.3 ms of CPU and 2-8 ms of waiting per file on the test machine; a syncfs per batch, ~nothing
# more than not syncing). Elsewhere each file is fsynced by whoever writes it.
FILE_SYSTEM_SYNC = sys.platform.startswith("linux")


def sync_folders(folders: Iterable[Path], file_system: bool) -> None:
    """Make files written (and renamed) into ``folders`` survive a power cut: on POSIX, a
    ``syncfs`` of each file system they are on first when ``file_system`` (else the writers
    fsynced each file), then an fsync of each folder (its entries); Windows has no folder
    fsync, NTFS journals its renames. Raises ``OSError`` naming the folder."""
    folders = set(folders)
    if os.name == "nt" or not folders:
        return
    if file_system:
        devices = set()
        for folder in folders:  # one syncfs per file system the folders are on
            device = os.stat(folder).st_dev
            if device not in devices:
                devices.add(device)
                _syncfs(folder)
    for folder in folders:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(folder)) from None
        finally:
            os.close(fd)


def _syncfs(folder: Path) -> None:
    """Flush everything written to the file system holding ``folder`` (Linux ``syncfs``; where
    the C library lacks it, every file system: ``sync``)."""
    import ctypes

    syncfs = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
    if syncfs is None:
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), str(folder))
    finally:
        os.close(fd)
