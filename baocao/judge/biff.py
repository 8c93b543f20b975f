"""Binary Excel files: an OLE2 compound file (.xls, or an encrypted .xlsx) or an older BIFF stream.

Why by hand: python-calamine builds every sheet's grid when it opens an .xls and aborts the
process when that allocation fails, so each sheet's cells are measured here first by walking
the BIFF records once. Stream names are compared without case (Excel 5 and some generators
write ``BOOK`` or ``WORKBOOK``), and a compound file whose sector chains are slightly damaged
(the kind Excel opens anyway) is still read: only what cannot be followed is refused.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

from xlrd.compdoc import CompDoc, CompDocError

from baocao.judge.safety import (
    CORRUPT_XLS,
    PASSWORD,
    SAVE_AS_XLSX,
    Extent,
    ReadLimits,
    check_extents,
    not_a_spreadsheet,
    refuse,
)

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# A worksheet file of Excel 2.x-4.0 is a bare BIFF stream: it starts with its BOF record.
_OLD_BOF = (b"\x09\x00", b"\x09\x02", b"\x09\x04")
_WORKBOOK_STREAMS = ("workbook", "book")
_OTHER_DOCUMENTS = {
    "worddocument": "văn bản Word (.doc)",
    "powerpoint document": "bài trình chiếu PowerPoint",
}
# Everything xlrd's compound-file reader raises on a damaged file (it asserts, too).
_DAMAGED = (CompDocError, AssertionError, IndexError, KeyError, struct.error, ValueError, OverflowError)

# BIFF8 records: FILEPASS, BOUNDSHEET, BOF, and the cell records (all start with row, col).
_FILEPASS, _BOUNDSHEET, _BOF = 0x002F, 0x0085, 0x0809
_CELLS = {0x0006, 0x00BD, 0x00BE, 0x00D6, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E}
_MULTI = {0x00BD, 0x00BE}  # MULRK, MULBLANK: last column in the final two bytes


def is_old_biff(head: bytes) -> bool:
    """An Excel 2.x-4.0 worksheet (not an OLE2 file): BOF record type and a plausible length."""
    return head[:2] in _OLD_BOF and 4 <= int.from_bytes(head[2:4], "little") <= 16


OLD_BIFF = (
    f"được lưu theo định dạng Excel rất cũ (Excel 2.x-4.0), chương trình không đọc được; {SAVE_AS_XLSX}"
)


def inspect_ole2(path: Path, ext: str, limits: ReadLimits) -> None:
    """An OLE2 file: an encrypted OOXML package, an .xls (maybe with FILEPASS), or not ours."""
    try:
        doc = CompDoc(path.read_bytes(), logfile=io.StringIO(), ignore_workbook_corruption=True)
        streams = {entry.name.lower(): entry.name for entry in doc.dirlist}
        if streams.keys() & {"encryptioninfo", "encryptedpackage"}:
            raise refuse(path, PASSWORD)
        name = next((streams[n] for n in _WORKBOOK_STREAMS if n in streams), None)
        if name is None:
            other = next((label for key, label in _OTHER_DOCUMENTS.items() if key in streams), None)
            raise refuse(path, f"là {other}, không phải bảng tính" if other else not_a_spreadsheet(ext))
        mem, base, size = doc.locate_named_stream(name)
        stream = bytes(mem[base : base + size]) if mem is not None else b""
    except _DAMAGED as exc:
        raise refuse(path, CORRUPT_XLS) from exc
    check_extents(path, _biff_extents(path, stream), limits, whole_book=True)


def _biff_extents(path: Path, stream: bytes) -> dict[str, Extent]:
    """Walk the BIFF records once: refuse FILEPASS, measure each sheet's cells."""
    by_offset: dict[int, Extent] = {}
    sheet_names: dict[int, str] = {}
    current = Extent()
    pos, end = 0, len(stream)
    while pos + 4 <= end:
        rtype, length = struct.unpack_from("<HH", stream, pos)
        body = pos + 4
        if rtype == _FILEPASS:
            raise refuse(path, PASSWORD)
        if rtype == _BOF:
            current = by_offset.setdefault(pos, Extent())
        elif rtype == _BOUNDSHEET and length >= 8 and body + length <= end:
            offset, cch, flags = struct.unpack_from("<I2xBB", stream, body)
            raw = stream[body + 8 : body + 8 + cch * (2 if flags & 1 else 1)]
            sheet_names[offset] = raw.decode("utf-16-le" if flags & 1 else "latin-1", "replace")
        elif rtype in _CELLS and length >= 4 and body + length <= end:
            row, col = struct.unpack_from("<HH", stream, body)
            last = struct.unpack_from("<H", stream, body + length - 2)[0] if rtype in _MULTI else col
            current.add(row, col, 1, max(last - col + 1, 1))
        pos = body + length
    return {sheet_names.get(off, f"#{i}"): ext for i, (off, ext) in enumerate(by_offset.items())}
