"""One bounded pass over every entry of a zip package (.xlsx, .xlsm, .ods).

Why: ``ZipFile.read`` of a bomb entry allocates gigabytes, and directory sizes can lie. So each
entry is inflated here from its raw deflate stream in bounded chunks, counting *actual* bytes
and ratios, refusing DTDs (entity bombs, XXE), measuring each sheet's used area and noting
which worksheets hold formulas. Entry names are compared the way OPC says they are: without
case, ``\\`` read as ``/`` (some generators write ``xl\\workbook.xml``).
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from baocao.judge.safety import (
    HOSTILE,
    MIB,
    PASSWORD,
    Extent,
    ReadLimits,
    column_index,
    is_worksheet_entry,
    refuse,
)

ZIP_MAGIC = b"PK\x03\x04"
_CHUNK, _OUT_CHUNK, _TAIL = 1 << 16, 1 << 18, 512
# Every cell that holds something: r="XFD1048576" on a <c> that is not self-closing (a
# self-closing <c .../> carries only a style, and the reader leaves it out of its grid). Other
# attributes ending in r with a cell-like value only make the measured area larger (a refusal,
# never a miss). A tag split between chunks is kept in _TAIL.
_CELL_RE = re.compile(rb"""r=["']([A-Za-z]{1,8})([0-9]{1,9})["'][^<>]*(?<!/)>""")
_FORMULA_RE = re.compile(rb"<(?:[\w.-]{1,16}:)?f[\s/>]")  # <f>, <f t="shared" .../>, <x:f>
_DTD_RE = re.compile(rb"<!(?:DOCTYPE|ENTITY)")
# Small structural parts kept from the scan (any folder for the workbook): the rest is read
# again on demand, after the scan has vouched for it.
_KEEP = ("mimetype", "content.xml", "meta-inf/manifest.xml", "[content_types].xml", "_rels/.rels")
_KEEP_ENDINGS = ("workbook.xml", "workbook.xml.rels")
# LibreOffice Basic macros and dialogs always start with a DOCTYPE; nothing ever parses them.
_ODF_SCRIPT_FOLDERS = ("basic/", "dialogs/")


def normal(name: str) -> str:
    """An entry or part name as OPC compares them: ``/``-separated, no leading ``/``, no case."""
    return name.replace("\\", "/").lstrip("/").lower()


@dataclass
class ZipScan:
    """What one pass over a zip package found; ``part`` reads a checked entry again."""

    path: Path
    fp: IO[bytes]
    entries: dict[str, zipfile.ZipInfo]  # normal name -> entry
    kept: dict[str, bytes] = field(default_factory=dict)  # normal name -> bytes
    extents: dict[str, Extent] = field(default_factory=dict)  # entry name -> used area
    formulas: set[str] = field(default_factory=set)  # worksheet entry names holding a formula
    script_dtds: list[str] = field(default_factory=list)  # Basic/Dialogs entries with a DTD

    def name(self, normal_name: str) -> str | None:
        """The entry's name as stored in the zip, or None when there is no such entry."""
        info = self.entries.get(normal_name)
        return info.filename if info is not None else None

    def part(self, normal_name: str) -> bytes | None:
        """The bytes of an entry (already checked by the scan), or None when it is absent."""
        if normal_name in self.kept:
            return self.kept[normal_name]
        info = self.entries.get(normal_name)
        if info is None:
            return None
        return b"".join(entry_chunks(self.path, self.fp, info))


def scan_zip(path: Path, fp: IO[bytes], infos: list[zipfile.ZipInfo], limits: ReadLimits) -> ZipScan:
    """Inflate every entry once: count real bytes, refuse DTDs, measure cell extents, note
    which worksheets hold formulas, keep the small structural parts."""
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        key = normal(info.filename)
        if key in entries:  # two readers could each see a different one of them
            raise refuse(path, f"có hai thành phần cùng tên '{info.filename}'; {HOSTILE}")
        entries[key] = info
    scan = ZipScan(path, fp, entries)
    total = 0
    for key, info in entries.items():
        kept: list[bytes] = []
        keep = key in _KEEP or key.endswith(_KEEP_ENDINGS)
        size, tail, extent = 0, b"", scan.extents.setdefault(info.filename, Extent())
        is_xml = key.endswith((".xml", ".rels", ".vml"))  # not images, binaries
        is_sheet = is_worksheet_entry(key)
        for chunk in entry_chunks(path, fp, info):
            size, total = size + len(chunk), total + len(chunk)
            if total > limits.max_unpacked_bytes:
                raise refuse(
                    path,
                    f"có kích thước giải nén quá lớn (trên {limits.max_unpacked_bytes // MIB} MB); {HOSTILE}",
                )
            if size > MIB and size > limits.max_entry_ratio * max(info.compress_size, 1):
                raise refuse(path, f"có tỉ lệ nén bất thường ở '{info.filename}'; {HOSTILE}")
            if is_xml:
                window = tail + chunk if tail else chunk
                if _DTD_RE.search(window):  # one pass for both: faster than two `in` tests
                    if not key.startswith(_ODF_SCRIPT_FOLDERS):
                        raise refuse(path, f"chứa khai báo XML bị cấm (DTD) ở '{info.filename}'; {HOSTILE}")
                    if not scan.script_dtds or scan.script_dtds[-1] != info.filename:
                        scan.script_dtds.append(info.filename)
                _grow_extent(extent, window)
                if is_sheet and _FORMULA_RE.search(window):
                    scan.formulas.add(info.filename)
                tail = window[-_TAIL:]
            if keep:
                kept.append(chunk)
        if keep:
            scan.kept[key] = b"".join(kept)
    return scan


def _grow_extent(extent: Extent, window: bytes) -> None:
    """Grow ``extent`` by every filled ``<c r="...">`` in ``window`` (seeing one twice is harmless)."""
    refs = _CELL_RE.findall(window)
    if refs:
        rows = [int(row) - 1 for _, row in refs]
        cols = [column_index(letters.decode()) for letters in {letters for letters, _ in refs}]
        extent.add(min(rows), min(cols), max(rows) - min(rows) + 1, max(cols) - min(cols) + 1)


def entry_chunks(path: Path, fp: IO[bytes], info: zipfile.ZipInfo) -> Iterator[bytes]:
    """Yield the inflated bytes of one entry, at most 256 KiB at a time.

    Reads the raw deflate stream rather than trusting ``ZipExtFile``: directory sizes can lie,
    and a reader that believes them is what a bomb targets. CRC and size are checked at the end.
    """
    if info.flag_bits & 0x1:
        raise refuse(path, PASSWORD)
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise refuse(path, f"dùng kiểu nén không hỗ trợ ở '{info.filename}'; {HOSTILE}")
    fp.seek(info.header_offset)
    header = fp.read(30)
    if len(header) != 30 or not header.startswith(ZIP_MAGIC):
        raise zipfile.BadZipFile(f"bad local header: {info.filename}")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    fp.seek(info.header_offset + 30 + name_len + extra_len)
    inflate = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    crc = size = 0
    remaining = info.compress_size
    while remaining:
        raw = fp.read(min(_CHUNK, remaining))
        if not raw:
            raise zipfile.BadZipFile(f"truncated entry: {info.filename}")
        remaining -= len(raw)
        for out in _inflate(inflate, raw):
            crc, size = zlib.crc32(out, crc), size + len(out)
            yield out
    if (inflate is not None and not inflate.eof) or crc != info.CRC or size != info.file_size:
        raise zipfile.BadZipFile(f"incomplete entry, bad CRC or lying size: {info.filename}")


def _inflate(inflate: zlib._Decompress | None, raw: bytes) -> Iterator[bytes]:
    """Decompress one compressed chunk, never producing more than 256 KiB per step."""
    if inflate is None:
        yield raw
        return
    try:
        while raw and not inflate.eof:
            out = inflate.decompress(raw, _OUT_CHUNK)
            raw = inflate.unconsumed_tail
            if out:
                yield out
    except zlib.error as exc:
        raise zipfile.BadZipFile(str(exc)) from exc
