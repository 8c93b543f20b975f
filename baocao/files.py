"""Putting files on disk safely: the one place where outputs are written.

Everything baocao writes for people (templates, feedback workbooks, summaries, e-mails in the
outbox) goes through a temporary file in the same folder renamed into place, so nobody watching
a share ever opens a half-written file. Summaries add one more rule: a file a coordinator has
open in Excel is never clobbered; a new name is used instead.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from baocao.errors import BaocaoError


def atomic_write(path: Path, content: bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file and a rename (``OSError`` on failure)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
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


def write_output(path: Path, content: bytes, attempts: int = 50) -> Path:
    """Write ``content`` atomically to ``path`` or, if that is open in Excel, to ``stem_N``.

    Returns the path written. Raises ``BaocaoError`` when no name could be used.
    """
    for n in range(1, attempts + 1):
        candidate = path if n == 1 else path.with_name(f"{path.stem}_{n}{path.suffix}")
        if owner_file_present(candidate):
            continue
        try:
            return atomic_write(candidate, content)
        except PermissionError:  # Windows: the target is open in another program
            continue
    raise BaocaoError(f"Không ghi được {path.name}: tệp và các tên thay thế đều đang được mở")
