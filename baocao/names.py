"""Names derived from text, and text made safe to show: the one place for both.

Why one place: file names are built from what units typed (the unit code cell), what the registry
says, what an e-mail attachment was called. A cell holding ``../../x`` or ``C:\\x`` must not
choose where a file is written, a unit called ``CON`` must not hit a Windows device, and a file
name holding an ESC sequence must not repaint the coordinator's terminal. Every name baocao
builds goes through ``safe_name`` and every path through ``inside``; every line printed or
logged goes through ``printable``.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

MAX_NAME = 120  # characters (= bytes, names are ASCII); every file system takes 255
# Windows device names, reserved with any extension and in any case (``nul.txt``, ``Com1.xlsx``).
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9]|conin\$|conout\$|clock\$)$", re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RUNS = re.compile(r"_{2,}")


def _ascii(text: str) -> str:
    """Vietnamese letters to their base letter (``Đ`` -> ``D``, ``ộ`` -> ``o``), NFC or NFD alike."""
    text = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return text.encode("ascii", "ignore").decode("ascii")


def ascii_slug(text: str, limit: int = 40) -> str:
    """``Phòng Kế hoạch – Tài chính`` -> ``phong-ke-hoach-tai-chinh`` (any file system accepts it)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", _ascii(text)).strip("-").lower()
    return slug[:limit].rstrip("-") or "don-vi"


def safe_name(text: str, default: str = "tep", limit: int = MAX_NAME) -> str:
    """One file-name component any file system accepts, however hostile ``text`` is.

    ASCII letters, digits, ``.``, ``_`` and ``-`` only (Vietnamese letters lose their marks;
    separators, drive colons, control characters and spaces become ``_``); never ``.``/``..``,
    never starting with ``.`` or ``-`` (hidden files, options), never ending with ``.`` (Windows
    drops it), never a Windows device name (``CON``, ``nul.txt``, ``COM1.xlsx`` get a ``_``
    prefix), at most ``limit`` characters with the extension kept. Empty results give
    ``default`` (itself made safe). Pure and idempotent: ``safe_name(safe_name(x)) == safe_name(x)``.
    """
    name = _UNSAFE.sub("_", _ascii(str(text)))
    name = _RUNS.sub("_", name).strip("._- ")
    if not name:
        return safe_name(default, "tep", limit) if default != text else "tep"
    if _RESERVED.match(name.split(".", 1)[0]):
        name = "_" + name
    if len(name) > limit:
        stem, dot, suffix = name.rpartition(".")
        keep = f".{suffix}" if dot and stem and 0 < len(suffix) <= 8 else ""
        name = name[: limit - len(keep)].rstrip("._-") + keep
    return name


def inside(folder: Path, *parts: str) -> Path:
    """``folder / part / …`` with each part made a ``safe_name``, checked to stay inside ``folder``.

    The check resolves symbolic links that already exist, so a link planted in a sub-folder
    cannot lead a write outside either. Raises ``ValueError`` if the result would leave
    ``folder`` (which ``safe_name`` alone already prevents: the check guards the next change).
    """
    path = folder.joinpath(*(safe_name(p) for p in parts))
    if not path.resolve().is_relative_to(folder.resolve()):
        raise ValueError(f"{path} is outside {folder}")
    return path


def printable(text: object, keep: str = "\n\t") -> str:
    """``text`` with every control, format and line-separator character shown as ``\\uXXXX``.

    For terminals and log files: an ESC sequence, a carriage return or a bidi override taken
    from a file name or a cell is shown, not obeyed. The escape is JSON's, so a JSON document
    stays valid and means the same after this. Characters in ``keep`` pass through.
    """
    out = []
    for ch in str(text):
        if ch in keep or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append(ch)
        elif ord(ch) > 0xFFFF:  # a surrogate pair, as JSON writes it
            high, low = divmod(ord(ch) - 0x10000, 0x400)
            out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
        else:
            out.append(f"\\u{ord(ch):04x}")
    return "".join(out)
