"""The inbox edge: which files are there, and copying one into the archive with its hash.

Only file-system work lives here (no ledger, no judgement), so the rules a coordinator cares
about — which names are never submissions, how an archived copy is named — are in one place.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path

from baocao.names import ascii_slug, safe_name

IGNORED_NAMES = {"desktop.ini", "thumbs.db", ".ds_store"}
CHUNK = 1 << 20


def is_ignored(name: str) -> bool:
    """Lock and system files that are never submissions: Excel's ``~$…``, LibreOffice's
    ``.~lock.…#``, ``desktop.ini``, ``Thumbs.db``, macOS ``._…`` and our own temporary files."""
    lower = name.lower()
    return (
        lower in IGNORED_NAMES
        or name.startswith(("~$", ".~lock.", "._", ".tmp-"))
        or lower.endswith((".tmp", ".crdownload", ".part"))
    )


def scan_inbox(inbox: Path) -> list[Path]:
    """Every candidate file below ``inbox`` (recursively), lock and system files left out."""
    if not inbox.is_dir():
        return []
    found = []
    for folder, dirs, files in os.walk(inbox):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(folder) / name for name in files if not is_ignored(name)]
    return sorted(found)


def inbox_key(path: Path, inbox: Path) -> str:
    """The file's path relative to the inbox, NFC, with forward slashes (stable across OSes)."""
    return unicodedata.normalize("NFC", path.relative_to(inbox).as_posix())


def copy_and_hash(source: Path, folder: Path) -> tuple[Path, str, int]:
    """Copy ``source`` into a temporary file in ``folder`` while hashing it.

    Returns (temporary path, SHA-256, size). Reading and hashing in one pass means a file is
    read once before the verification read of the copy.
    """
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with source.open("rb") as src, os.fdopen(fd, "wb") as dst:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                dst.write(chunk)
                size += len(chunk)
            dst.flush()
            os.fsync(dst.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp), digest.hexdigest(), size


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def archive_name(sha256: str, original: str) -> str:
    """``<hash12>_<ascii name>``: unique by content, still recognisable by a person."""
    stem, suffix = os.path.splitext(original.replace("\\", "/").rsplit("/", 1)[-1])
    suffix = suffix.lower() if re.fullmatch(r"\.[A-Za-z0-9]{1,5}", suffix) else ""
    return safe_name(f"{sha256[:12]}_{ascii_slug(stem, 60)}{suffix}")
