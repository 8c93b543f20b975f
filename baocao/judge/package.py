"""Safe inspection of a spreadsheet package before any reader library opens it.

Why: python-calamine densifies each sheet into a ``rows x cols`` grid and *aborts the process*
when that allocation fails, e.g. for a 5 KB legal file with cells at A1 and XFD1048576 (calamine
issue 693; openpyxl hangs on it); ``ZipFile.read`` of a bomb entry allocates gigabytes. So each
file is checked here first, with bounded memory, and refused with a Vietnamese ``WorkbookError``.

Checked: size; signature (zip or OLE2); passwords (an encrypted .xlsx is OLE2 with
``EncryptionInfo``/``EncryptedPackage``, an encrypted .xls has FILEPASS); zip integrity, entry
count, *actual* inflated sizes (raw deflate in bounded chunks, whatever the directory declares)
and ratios; DTDs (never legitimate in OOXML/ODF: entity bombs, XXE); each sheet's used area;
required parts. By-products: defined names, sheet parts, ODS formulas without saved results.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from xlrd.compdoc import CompDoc, CompDocError

from baocao.a1 import column_letters
from baocao.errors import WorkbookError
from baocao.model import CellRef

EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods")
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
HOSTILE = "có thể là tệp độc hại hoặc bị hỏng, không được đọc"
PASSWORD = "được đặt mật khẩu; hãy gỡ mật khẩu rồi gửi lại"
_CORRUPT = "bị hỏng hoặc không đầy đủ (không mở được dạng nén ZIP); hãy lưu lại rồi gửi lại"
_CHUNK, _OUT_CHUNK, _MIB, _TAIL = 1 << 16, 1 << 18, 1 << 20, 512
# Every cell address in an r="XFD1048576" attribute (<c r=...>, prefixed or not, either quote): a
# literal-prefix pattern, ~3x faster than matching the <c tag too. Other attributes ending in r
# with a cell-like value only make the measured area larger (a refusal, never a miss). A tag
# split between chunks is kept in _TAIL.
_CELL_RE = re.compile(rb"""r=["']([A-Za-z]{1,8})([0-9]{1,9})["']""")
_FORMULA_RE = re.compile(rb"<(?:[\w.-]{1,16}:)?f[\s/>]")  # <f>, <f t="shared" .../>, <x:f>
_DTD_RE = re.compile(rb"<!(?:DOCTYPE|ENTITY)")
_SHEETS = "xl/worksheets/"  # where formulas are looked for; a sheet elsewhere is searched by the reader
_KEEP = {"mimetype", "content.xml", "[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"}
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_SHEET = r"(?:'((?:[^']|'')+)'|([^'!.:\s]+))"
_XLSX_REF = re.compile(rf"^=?{_SHEET}!\$?([A-Za-z]{{1,3}})\$?([0-9]{{1,7}})$")
_ODS_REF = re.compile(rf"^\$?{_SHEET}\.\$?([A-Za-z]{{1,3}})\$?([0-9]{{1,7}})$")


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what one unit's file may cost to read, all checked before any parsing."""

    max_file_bytes: int = 20 * 2**20
    max_unpacked_bytes: int = 200 * 2**20  # sum over entries, actual bytes
    max_entry_ratio: float = 200.0  # per entry, checked once an entry passes 1 MiB
    max_entries: int = 2000
    max_rows: int = 100_000
    max_cols: int = 1024
    max_cells: int = 5_000_000  # rows x cols of a sheet's used area = the reader's grid size
    timeout_seconds: float = 60.0  # per file, batch reader only


@dataclass
class Extent:
    """The used area of one sheet as 0-based corners, grown cell by cell."""

    top: int = 1 << 62
    left: int = 1 << 62
    bottom: int = -1
    right: int = -1

    def add(self, row: int, col: int, rows: int = 1, cols: int = 1) -> None:
        self.top, self.left = min(self.top, row), min(self.left, col)
        self.bottom, self.right = max(self.bottom, row + rows - 1), max(self.right, col + cols - 1)

    def too_big(self, limits: ReadLimits) -> bool:
        if self.bottom < 0:
            return False
        area = (self.bottom - self.top + 1) * (self.right - self.left + 1)
        return self.bottom >= limits.max_rows or self.right >= limits.max_cols or (area > limits.max_cells)


@dataclass(frozen=True)
class Package:
    """What the reader needs from a file that passed every check.

    ``names``: workbook-level defined names that refer to one cell (empty for .xls, where xlrd
    reads them); ``sheet_parts``: sheet name -> XML part (xlsx/xlsm); ``formula_only``: per sheet,
    ODS cells holding a formula without a saved result; ``formula_parts``: the parts under
    ``xl/worksheets/`` that hold a formula (None: not known), so that the reader searches only
    those (and any sheet stored elsewhere) for formulas without a saved result.
    """

    def may_have_formulas(self, part: str) -> bool:
        if self.formula_parts is None or not part.startswith(_SHEETS):
            return True
        return part in self.formula_parts

    format: str
    names: dict[str, CellRef] = field(default_factory=dict)
    sheet_parts: dict[str, str] = field(default_factory=dict)
    formula_only: dict[str, frozenset[str]] = field(default_factory=dict)
    formula_parts: frozenset[str] | None = None


def refuse(path: Path, reason: str) -> WorkbookError:
    """A ``WorkbookError`` that starts with the file name: a clerk may have sent several."""
    return WorkbookError(f"Tệp '{path.name}' {reason}")


def _column_index(letters: str) -> int:
    """Letters to a 0-based index, any length: hostile files are not limited to XFD like a1."""
    col = 0
    for ch in letters.upper():
        col = col * 26 + ord(ch) - 64
    return col - 1


def inspect_package(path: Path, limits: ReadLimits) -> Package:
    """Check ``path`` without any reader library; return what the reader needs.

    Raises ``WorkbookError`` for a file that is too big, not a spreadsheet, password protected,
    corrupt, a decompression bomb, carries a DTD, or has a sheet whose used area exceeds limits.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in EXTENSIONS:
        raise refuse(path, "không phải bảng tính (chỉ nhận tệp .xlsx, .xlsm, .xls, .ods)")
    try:
        size = path.stat().st_size
        with path.open("rb") as fp:
            head = fp.read(8)
    except OSError as exc:
        raise refuse(path, f"không mở được ({exc.strerror})") from exc
    if size > limits.max_file_bytes:
        raise refuse(path, f"quá lớn ({size / _MIB:.1f} MB, tối đa {limits.max_file_bytes // _MIB} MB)")
    if head.startswith(ZIP_MAGIC):
        return _inspect_zip(path, ext, limits)
    if head == OLE2_MAGIC:
        _inspect_ole2(path, ext, limits)
        return Package("xls")
    raise refuse(path, f"không phải bảng tính Excel dù có đuôi {ext}")


def _inspect_zip(path: Path, ext: str, limits: ReadLimits) -> Package:
    """Stream every entry once with bounded memory, then parse the few parts we need."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > limits.max_entries:
                raise refuse(path, f"có quá nhiều thành phần bên trong ({len(infos)}); " + HOSTILE)
            if zf.fp is None:  # only after close(); here the archive is open
                raise refuse(path, _CORRUPT)
            parts, extents, formulas = _scan_entries(path, zf.fp, infos, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, struct.error) as exc:
        raise refuse(path, _CORRUPT) from exc
    if parts.get("mimetype", b"").strip() == ODS_MIMETYPE and "content.xml" in parts:
        return _inspect_ods(path, parts["content.xml"], limits)
    if "[Content_Types].xml" not in parts or "xl/workbook.xml" not in parts:
        raise refuse(path, f"không phải bảng tính Excel dù có đuôi {ext}")
    types = _parse(path, parts, "[Content_Types].xml")
    macro = any("macroEnabled" in el.get("ContentType", "") for el in types.iter())
    names, sheet_parts = _xlsx_book(path, parts)
    _check_extents(path, {s: extents.get(p, Extent()) for s, p in sheet_parts.items()}, limits)
    kind = "xlsm" if macro or ext == ".xlsm" else "xlsx"
    return Package(kind, names, sheet_parts, formula_parts=frozenset(formulas))


def _scan_entries(
    path: Path, fp: IO[bytes], infos: list[zipfile.ZipInfo], limits: ReadLimits
) -> tuple[dict[str, bytes], dict[str, Extent], set[str]]:
    """Inflate every entry once: count real bytes, refuse DTDs, measure cell extents, note
    which parts hold formulas."""
    total = 0
    parts: dict[str, bytes] = {}
    extents: dict[str, Extent] = {}
    formulas: set[str] = set()
    for info in infos:
        kept: list[bytes] = []
        size, tail, extent = 0, b"", extents.setdefault(info.filename, Extent())
        is_xml = info.filename.lower().endswith((".xml", ".rels", ".vml"))  # not images, binaries
        for chunk in entry_chunks(path, fp, info):
            size, total = size + len(chunk), total + len(chunk)
            if total > limits.max_unpacked_bytes:
                raise refuse(
                    path,
                    f"có kích thước giải nén quá lớn (trên {limits.max_unpacked_bytes // _MIB} MB);"
                    f" {HOSTILE}",
                )
            if size > _MIB and size > limits.max_entry_ratio * max(info.compress_size, 1):
                raise refuse(path, f"có tỉ lệ nén bất thường ở '{info.filename}'; {HOSTILE}")
            if is_xml:
                window = tail + chunk if tail else chunk
                if _DTD_RE.search(window):  # one pass for both: faster than two `in` tests
                    raise refuse(path, f"chứa khai báo XML bị cấm (DTD) ở '{info.filename}'; {HOSTILE}")
                _grow_extent(extent, window)
                if info.filename.startswith(_SHEETS) and _FORMULA_RE.search(window):
                    formulas.add(info.filename)
                tail = window[-_TAIL:]
            if info.filename in _KEEP:
                kept.append(chunk)
        if info.filename in _KEEP:
            parts[info.filename] = b"".join(kept)
    return parts, extents, formulas


def _grow_extent(extent: Extent, window: bytes) -> None:
    """Grow ``extent`` by every ``<c r="...">`` in ``window`` (seeing one twice is harmless)."""
    refs = _CELL_RE.findall(window)
    if refs:
        rows = [int(row) - 1 for _, row in refs]
        cols = [_column_index(letters.decode()) for letters in {letters for letters, _ in refs}]
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


def _parse(path: Path, parts: dict[str, bytes], name: str) -> Element:
    """Parse one package part with defusedxml: entities and DTDs are refused, never expanded."""
    try:
        return SafeET.fromstring(parts[name], forbid_dtd=True)
    except DefusedXmlException as exc:
        raise refuse(path, f"chứa khai báo XML bị cấm ở '{name}'; {HOSTILE}") from exc
    except (ParseError, KeyError) as exc:
        raise refuse(path, f"bị hỏng: thiếu hoặc không đọc được phần '{name}'") from exc


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _xlsx_book(path: Path, parts: dict[str, bytes]) -> tuple[dict[str, CellRef], dict[str, str]]:
    """Defined names (single cells, workbook scope) and sheet name -> part, from workbook.xml."""
    rels = _parse(path, parts, "xl/_rels/workbook.xml.rels")
    targets = {
        el.get("Id"): _part_path("xl", el.get("Target", ""))
        for el in rels.iter()
        if _local(el.tag) == "Relationship"
    }
    names: dict[str, CellRef] = {}
    sheets: dict[str, str] = {}
    for el in _parse(path, parts, "xl/workbook.xml").iter():
        tag = _local(el.tag)
        if tag == "sheet":
            rid = next((v for k, v in el.attrib.items() if _local(k) == "id" and "}" in k), None)
            if rid in targets:
                sheets[el.get("name", "")] = targets[rid]
        elif tag == "definedName" and el.get("localSheetId") is None:
            ref = single_cell(_XLSX_REF, el.text or "")
            if ref is not None:
                names[el.get("name", "")] = ref
    return names, sheets


def single_cell(pattern: re.Pattern[str], text: str) -> CellRef | None:
    """``'Bao Cao'!$D$14`` / ``$BaoCao.$D$14`` -> CellRef; None for ranges, #REF! and the like."""
    match = pattern.match(text.strip())
    if match is None:
        return None
    quoted, bare, col, row = match.groups()
    sheet = quoted.replace("''", "'") if quoted is not None else bare
    return CellRef(sheet, f"{col.upper()}{row}")


def _part_path(base: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(base, target))


def _inspect_ods(path: Path, content: bytes, limits: ReadLimits) -> Package:
    """One streaming pass over content.xml: named ranges, used areas, unsaved formulas.

    Only cells with a value count towards the used area: LibreOffice legitimately writes empty
    rows repeated a million times, but a *filled* cell repeated a million times is a bomb.
    """
    names: dict[str, CellRef] = {}
    extents: dict[str, Extent] = {}
    formula_only: dict[str, set[str]] = {}
    sheet, row, col, rows_rep = "", 0, 0, 1
    try:
        for event, el in SafeET.iterparse(io.BytesIO(content), ("start", "end"), forbid_dtd=True):
            tag = el.tag
            if event == "start":
                if tag == _TABLE + "table":
                    sheet, row = el.get(_TABLE + "name", ""), 0
                    extents[sheet], formula_only[sheet] = Extent(), set()
                elif tag == _TABLE + "table-row":
                    col, rows_rep = 0, _count(el.get(_TABLE + "number-rows-repeated"))
            elif tag in (_TABLE + "table-cell", _TABLE + "covered-table-cell"):
                reps = _count(el.get(_TABLE + "number-columns-repeated"))
                has_value = el.get(_OFFICE + "value-type") is not None
                if has_value or len(el):
                    extents[sheet].add(row, col, rows_rep, reps)
                if el.get(_TABLE + "formula") and not has_value:
                    formula_only[sheet].add(f"{column_letters(col)}{row + 1}")
                col += reps
                el.clear()
            elif tag == _TABLE + "table-row":
                row += rows_rep
                el.clear()
            elif tag == _TABLE + "named-range":
                ref = single_cell(_ODS_REF, el.get(_TABLE + "cell-range-address", ""))
                if ref is not None:
                    names[el.get(_TABLE + "name", "")] = ref
    except DefusedXmlException as exc:
        raise refuse(path, f"chứa khai báo XML bị cấm ở 'content.xml'; {HOSTILE}") from exc
    except (ParseError, ValueError) as exc:
        raise refuse(path, "bị hỏng: không đọc được phần 'content.xml'") from exc
    _check_extents(path, extents, limits)
    frozen = {s: frozenset(cells) for s, cells in formula_only.items() if cells}
    return Package("ods", names, formula_only=frozen)


def _count(text: str | None) -> int:
    return int(text) if text else 1


def _check_extents(path: Path, extents: dict[str, Extent], limits: ReadLimits) -> None:
    for sheet, extent in extents.items():
        if extent.too_big(limits):
            far = f"{column_letters(extent.right)}{extent.bottom + 1}"
            raise refuse(
                path,
                f"có trang tính '{sheet}' với vùng dữ liệu quá lớn (tới ô {far}); hãy xoá các ô"
                " thừa nằm xa vùng báo cáo rồi gửi lại",
            )


# BIFF8 records: FILEPASS, BOUNDSHEET, BOF, and the cell records (all start with row, col).
_FILEPASS, _BOUNDSHEET, _BOF = 0x002F, 0x0085, 0x0809
_CELLS = {0x0006, 0x00BD, 0x00BE, 0x00D6, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E}
_MULTI = {0x00BD, 0x00BE}  # MULRK, MULBLANK: last column in the final two bytes


def _inspect_ole2(path: Path, ext: str, limits: ReadLimits) -> None:
    """An OLE2 file: an encrypted OOXML package, an .xls (maybe with FILEPASS), or not ours."""
    try:
        doc = CompDoc(path.read_bytes(), logfile=io.StringIO())
        streams = {entry.name for entry in doc.dirlist}
        if streams & {"EncryptionInfo", "EncryptedPackage"}:
            raise refuse(path, PASSWORD)
        name = next((n for n in ("Workbook", "Book") if n in streams), None)
        if name is None:
            raise refuse(path, f"không phải bảng tính Excel dù có đuôi {ext}")
        stream = bytes(doc.get_named_stream(name) or b"")
    except (CompDocError, IndexError, struct.error, ValueError) as exc:
        raise refuse(path, "bị hỏng, không đọc được cấu trúc tệp .xls; hãy lưu lại rồi gửi lại") from exc
    _check_extents(path, _biff_extents(path, stream), limits)


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
