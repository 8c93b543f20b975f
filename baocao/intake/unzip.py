"""Spreadsheets inside a .zip attachment, one level deep, with the limits of a single file.

Why a zip is opened at all: clerks zip a report to get it past a mail filter or to send the
workbook with its scanned signature page. Why only one level and with bounded memory: a zip is
the classic carrier of decompression bombs (a zip of zips, a 10 KB entry that inflates to
gigabytes), and a mail intake must cost at most its limits whatever arrives. Entries are
inflated with ``judge.package.entry_chunks``, the same bounded inflater that checks workbooks,
so sizes written in the zip's directory are never trusted.
"""

from __future__ import annotations

import io
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from baocao.errors import WorkbookError
from baocao.judge.package import HOSTILE, ReadLimits, entry_chunks

_MIB = 1 << 20
_UTF8_FLAG = 0x800


@dataclass(frozen=True)
class ZipContent:
    """What came out of one zip: (name, bytes) of each spreadsheet, names of other entries,
    and Vietnamese sentences for what was refused."""

    files: tuple[tuple[str, bytes], ...]
    skipped: tuple[str, ...]
    problems: tuple[str, ...]


def spreadsheets_in_zip(
    zip_name: str, data: bytes, limits: ReadLimits, extensions: tuple[str, ...]
) -> ZipContent:
    """The entries of ``data`` whose names end in ``extensions`` (any case), each at most
    ``limits.max_file_bytes``, all together at most ``limits.max_unpacked_bytes`` inflated, none
    inflating more than ``limits.max_entry_ratio`` times. A zip inside the zip is not opened.
    Never raises: a corrupt, encrypted or hostile zip gives a problem and whatever was safe."""
    label = f"Tệp nén '{zip_name}'"
    files: list[tuple[str, bytes]] = []
    skipped: list[str] = []
    problems: list[str] = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            return ZipContent((), (), (f"{label} có quá nhiều tệp bên trong ({len(infos)}); {HOSTILE}",))
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            name = _entry_name(info)
            lower = name.lower()
            if lower.endswith(".zip"):
                problems.append(f"{label} chứa tệp nén lồng nhau '{name}': không được mở; hãy nén một lần")
                continue
            if not lower.endswith(extensions):
                skipped.append(name)
                continue
            blob, why, total = _inflate(archive, info, name, limits, total)
            if why:
                problems.append(f"{label}: {why}")
                if total > limits.max_unpacked_bytes:
                    break
            elif blob is not None:
                files.append((name, blob))
    except WorkbookError as exc:  # an encrypted entry: the message names the entry
        problems.append(f"{label}: {exc}")
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        OSError,
        struct.error,
        zlib.error,
        ValueError,
    ):
        problems.append(f"{label} bị hỏng hoặc không phải tệp nén ZIP; hãy nén lại rồi gửi lại")
    return ZipContent(tuple(files), tuple(skipped), tuple(problems))


def _inflate(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limits: ReadLimits, total: int
) -> tuple[bytes | None, str, int]:
    """(bytes, "", new total) or (None, why refused, new total); stops at the first limit."""
    if info.file_size > limits.max_file_bytes:
        return None, _too_big(name, info.file_size, limits), total
    if archive.fp is None:
        raise zipfile.BadZipFile("closed")
    chunks: list[bytes] = []
    size = 0
    for chunk in entry_chunks(Path(name), archive.fp, info):
        size += len(chunk)
        total += len(chunk)
        if total > limits.max_unpacked_bytes:
            return (
                None,
                f"kích thước giải nén quá lớn (trên {limits.max_unpacked_bytes // _MIB} MB); {HOSTILE}",
                total,
            )
        if size > limits.max_file_bytes:
            return None, _too_big(name, size, limits), total
        if size > _MIB and size > limits.max_entry_ratio * max(info.compress_size, 1):
            return None, f"tỉ lệ nén bất thường ở '{name}'; {HOSTILE}", total
        chunks.append(chunk)
    return b"".join(chunks), "", total


def _too_big(name: str, size: int, limits: ReadLimits) -> str:
    return f"tệp '{name}' quá lớn ({size / _MIB:.1f} MB, tối đa {limits.max_file_bytes / _MIB:g} MB)"


def _entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's file name without folders, NFC. Names not flagged UTF-8 were decoded as
    cp437 by zipfile; Windows' own zip writes the OEM code page, which for Vietnamese is
    windows-1258, and many tools write UTF-8 without the flag."""
    name = info.filename
    if not info.flag_bits & _UTF8_FLAG:
        raw = name.encode("cp437", "replace")
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            name = raw.decode("cp1258", "replace")
    return unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
