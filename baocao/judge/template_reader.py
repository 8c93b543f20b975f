"""A reader made for the template: a known form's fields, read from the few parts that hold them.

Why: the checked reader (``judge.reader``) inspects the whole package in Python, then calamine
opens and parses the file again; that was most of a collect's CPU. A unit's report is a
template of a known form version: its fields sit in one data sheet, the hidden ``_meta``
sheet, the shared strings and the workbook's names. This reader inflates those parts (and the
other worksheets, for their used area), finds the cells with regular expressions over the
XML and decodes only the cells the layout names.

The package check's safety, on every part it inflates: actual inflated size and ratio (one
inflate capped at the limit), CRC and declared size; no DTD, comment, CDATA or processing
instruction (any ``<!`` or a second ``<?``); no entity but XML's five and character
references; each worksheet's used area within the limits. From the zip directory, for every
entry: count, duplicate names, encryption, compression method, declared sizes and ratios. It
builds no grid, so a far cell costs it nothing; a sheet past the limits still goes to the
checked reader, which refuses it.

The same values as the checked reader, or none: ``read_template`` returns None for anything
it is not sure to read exactly as calamine does (not an .xlsx zip; Strict, macro-enabled or
1904-dated workbooks; prefixed or redeclared namespaces; no ``_meta`` sheet or an unknown
form version; cells holding errors, ISO dates, times or ``_x00HH_`` escapes; a sheet that is
not a worksheet…) and the caller uses ``read_workbook``. ``tests/test_template_reader.py``
reads every fixture, corpus and hostile file with both and requires equal results wherever
this one answers. What it does not look at: the bytes of parts it never inflates (styles are
read only for number formats; theme, images, document properties are not read). A package
whose directory lies about those parts only is read here and refused as corrupt by the
checked reader: nothing of it is ever inflated by baocao trusting that directory.
"""

from __future__ import annotations

import posixpath
import re
import struct
import zipfile
import zlib
from datetime import date, timedelta
from typing import NamedTuple

from baocao.a1 import column_letters, parse_cell
from baocao.judge.ooxml import XLSX_REF, single_cell
from baocao.judge.reader import Layouts, extract
from baocao.judge.safety import MIB, Extent, ReadLimits
from baocao.judge.zipscan import ZIP_MAGIC, normal
from baocao.model import CellRef, RawWorkbook
from baocao.recent import Recent, remembered

__all__ = ["read_template"]

MAIN = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
PKG_REL = b"http://schemas.openxmlformats.org/package/2006/relationships"
_WORKBOOK = "xl/workbook.xml"  # where calamine and the checked reader agree it is
_SHARED, _STYLES = "xl/sharedstrings.xml", "xl/styles.xml"  # calamine reads these only (normal case)
_STATES = (None, "visible", "hidden", "veryHidden")

_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')""")
_ATTRS = rb"""((?:[^>"']|"[^"]*"|'[^']*')*?)"""  # a start tag's attributes, quotes respected
_TAG = {  # elements found by name in a part that passed ``_plain`` (no prefixes, one namespace)
    name: re.compile(rb"<" + name.encode() + rb"\s" + _ATTRS + rb"/?>")
    for name in ("Relationship", "sheet", "workbookPr", "numFmt")
}
_DEFINED_NAME = re.compile(rb"<definedName\s" + _ATTRS + rb"(?:/>|>([^<]*)</definedName>)")
_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")
# every <c> element, however written, with its address when written first (as Excel, LibreOffice,
# WPS, xlsxwriter and openpyxl do): one pass that both counts the cells and finds their area
_REF = re.compile(rb'<c(?: r="([A-Z]{1,3})([0-9]{1,7})"|[ >/\t\n\r])')
# a <c> element that is not addressed first as a cell of columns A-Z, rows up to 9999 (where every
# template's fields are): when none is found, ``_REF`` finds every cell addressed and within that box
_OUTSIDE_SMALL = re.compile(rb'<c(?:[>/\t\n\r]| (?!r="[A-Z][0-9]{1,4}"))')
_SMALL_ROWS, _SMALL_COLS = 10_000, 26  # rows 0-9999 (a row 0 makes the top -1), columns A-Z
_CELL_TAIL = (  # after the address: style and type where those writers put them, then the rest
    rb'"(?:\s+s="([0-9]+)")?(?:\s+t="(\w+)")?([^>]*?)(?:/>|>(.*?)</c>)'
)
_COLUMN_CELLS: dict[bytes, re.Pattern[bytes]] = {}
_STYLE_OR_TYPE = re.compile(rb"(?:^|\s)[st]\s*=")
_CHILD = re.compile(rb"\s*<(f|v|is)(\s[^>]*?)?(?:/>|>(.*?)</\1>)", re.S)
_HAS_VALUE = re.compile(rb"<(?:v>\s*[^<\s]|is>)")  # the checked reader's test, on the same bytes
_T = re.compile(rb"<t(\s[^>]*?)?(?:/>|>(.*?)</t>)", re.S)
_PHONETIC = re.compile(rb"<rPh\b(?:[^>]*?/>|.*?</rPh>)", re.S)
_CELL_XFS = re.compile(rb"<cellXfs\b[^>]*?(?:/>|>(.*?)</cellXfs>)", re.S)
_NUM_FMTS = re.compile(rb"<numFmts\b[^>]*?(?:/>|>(.*?)</numFmts>)", re.S)
_XF_FORMAT = re.compile(rb'<xf\b(?:[^>]*?\snumFmtId="([^"]*)")?')
_NUMBER = re.compile(rb"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot|apos)|#([0-9]{1,7})|#x([0-9A-Fa-f]{1,6}));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_EPOCH = date(1899, 12, 30)  # Excel's day zero (1900 system, serials from 61 on)
_LAST_DAY = 2958465  # 9999-12-31: calamine gives a number beyond Python's dates
_DATE, _DURATION, _OTHER = "date", "duration", "other"
_STRINGS: dict[bytes, str] = {}  # a shared string's <si> content -> its text (labels, codes repeat)


class _Part:
    """One inflated part and what was already checked of it (the roots it was found plain
    XML for, its cells under given limits): kept in ``_INFLATED`` by its compressed bytes, so a
    part that files made from one template repeat is inflated, checked and indexed once."""

    __slots__ = ("columns", "data", "plain", "raw", "within")

    def __init__(self, raw: bytes, data: bytes) -> None:
        self.raw = raw
        self.data = data
        self.plain: set[bytes] = set()  # roots it is plain XML of (``_plain``)
        # limits its used area was found within, by identity (a frozen dataclass hashes in Python)
        self.within: dict[int, ReadLimits] = {}
        self.columns: dict[int, dict[int, _Cell]] = {}  # column -> row -> cell (``_column_cells``)


_Cell = tuple[bytes, bytes, bytes, bytes, bytes]  # a cell's row, style, type, other attributes, body
_INFLATED: Recent[tuple[int, int, int, int], _Part] = Recent()
# parts found again (a template's, not one file's own): apart, so that the data sheet and shared
# strings every file brings anew do not push them out of ``_INFLATED`` between two files
_REPEATED: Recent[tuple[int, int, int, int], _Part] = Recent(128)


class _Decline(Exception):
    """Not a file this reader is sure to read as the checked reader does."""


def read_template(
    content: bytes,
    name: str,
    layouts: Layouts,
    *,
    meta_sheet: str = "_meta",
    limits: ReadLimits = ReadLimits(),  # noqa: B008 - frozen dataclass, safe as a default
) -> RawWorkbook | None:
    """The fields of ``content`` (an .xlsx named ``name``) if its ``_meta`` sheet names a form
    version in ``layouts``; None when the checked reader must read it (see the module docstring).
    """
    if not name.lower().endswith(".xlsx") or not content.startswith(ZIP_MAGIC):
        return None
    if len(content) > limits.max_file_bytes:
        return None
    try:
        return _Template(content, limits).read(layouts, meta_sheet)
    except _Decline:
        return None
    except Exception:  # any surprise: the checked reader reads it, and says what is wrong
        return None


class _Entry(NamedTuple):
    """One zip directory record (what ``zipfile.ZipInfo`` holds, read without its overhead)."""

    flags: int
    method: int
    crc: int
    packed: int
    size: int
    offset: int


_RECORD = struct.Struct("<4s6H3I5H2I")  # a central directory record, up to its name
_ENTRY_NAMES: dict[tuple[bytes, int], str] = {}  # (raw name, UTF-8 flag) -> normal name


def _directory(content: bytes, limits: ReadLimits) -> dict[str, _Entry]:
    """The zip directory by normal entry name, with the package check's directory-level limits;
    declines zip64, multi-disk, prepended data and anything else ``zipfile`` would read
    differently."""
    end = content.rfind(b"PK\x05\x06", max(0, len(content) - 65557))
    _check(end >= 0 and len(content) >= end + 22)
    _, disk, cd_disk, here, total, cd_size, cd_offset, _ = struct.unpack_from("<4s4H2IH", content, end)
    _check(disk == cd_disk == 0 and here == total and cd_offset + cd_size == end)
    _check(total <= limits.max_entries)
    entries: dict[str, _Entry] = {}
    at, declared = cd_offset, 0
    for _ in range(total):
        (sig, _, _, flags, method, _, _, crc, packed, size, n, m, k, _, _, _, offset) = _RECORD.unpack_from(
            content, at
        )
        _check(sig == b"PK\x01\x02" and 0xFFFFFFFF not in (packed, size, offset))
        raw = (content[at + 46 : at + 46 + n], flags & 0x800)
        key = _ENTRY_NAMES.get(raw)
        if key is None:  # every file made from one template names the same entries
            key = normal(raw[0].decode("utf-8" if raw[1] else "cp437"))
            if len(_ENTRY_NAMES) >= 1024:
                _ENTRY_NAMES.clear()
            _ENTRY_NAMES[raw] = key
        _check(
            key not in entries and not flags & 0x1 and method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
        )
        _check(size <= MIB or size <= limits.max_entry_ratio * max(packed, 1))
        declared += size
        entries[key] = _Entry(flags, method, crc, packed, size, offset)
        at += 46 + n + m + k
    _check(at == end and declared <= limits.max_unpacked_bytes)
    return entries


class _Template:
    """One package: the parts inflated on demand, then the cells the layout asks for."""

    def __init__(self, content: bytes, limits: ReadLimits) -> None:
        self.content = content
        self.limits = limits
        self.entries = _directory(content, limits)
        self.unpacked = 0
        self.sheets: dict[str, _Sheet] = {}
        self.strings: list[bytes] | None = None
        self.formats: list[str] | None = None

    # --- parts ---------------------------------------------------------------------------

    def part(self, key: str) -> bytes | None:
        """An entry inflated with the package check's limits, or None when there is none."""
        found = self.inflated(key)
        return None if found is None else found.data

    def inflated(self, key: str) -> _Part | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        header = self.content[entry.offset : entry.offset + 30]
        _check(len(header) == 30 and header.startswith(ZIP_MAGIC))
        name_len, extra_len = struct.unpack_from("<HH", header, 26)
        start = entry.offset + 30 + name_len + extra_len
        raw = self.content[start : start + entry.packed]
        _check(len(raw) == entry.packed)
        room = self.limits.max_unpacked_bytes - self.unpacked
        cap = min(room, max(MIB, int(self.limits.max_entry_ratio * max(entry.packed, 1))))
        known = (entry.method, entry.crc, entry.size, entry.packed)
        found = _REPEATED.find(known)  # the same compressed bytes inflate to the same part
        if found is None:
            found = _INFLATED.find(known)
            if found is not None and found.raw == raw and len(found.data) <= MIB:
                _REPEATED.put(known, found)
        if found is None or found.raw != raw:
            if entry.method == zipfile.ZIP_STORED:
                data = raw
            else:
                inflate = zlib.decompressobj(-15)
                data = inflate.decompress(raw, cap + 1)
                _check(inflate.eof and not inflate.unconsumed_tail)
            _check(len(data) == entry.size and zlib.crc32(data) == entry.crc)
            found = _Part(raw, data)
            _INFLATED.put(known, found)
        _check(len(found.data) <= cap)
        self.unpacked += len(found.data)
        return found

    def xml(self, key: str, root: str, namespace: bytes = MAIN) -> _Part | None:
        """A part that this reader parses, or None when absent; declines any part it could
        misread (see ``_plain``)."""
        found = self.inflated(key)
        if found is not None and root.encode() not in found.plain:
            _check(_plain(found.data, root.encode(), namespace))
            found.plain.add(root.encode())
        return found

    # --- the workbook --------------------------------------------------------------------

    def read(self, layouts: Layouts, meta_sheet: str) -> RawWorkbook:
        types = self.part("[content_types].xml")
        _check(types is not None and b"macroEnabled" not in types)
        _check(self._target("", "officeDocument") == _WORKBOOK)
        book = self.part(_WORKBOOK)
        assert book is not None  # the relationship named an existing entry
        sheets, names = _book(book)
        rels = self._relationships(_WORKBOOK)
        for name, rid in sheets:
            rel_type, part = rels.get(rid, ("", ""))
            _check(rel_type.endswith("/worksheet") and part in self.entries)
            self.sheets[name] = _Sheet(self, self.xml(part, "worksheet"))
        self.names = tuple(self.sheets)
        self.actual = {name.casefold(): sheet for name, sheet in self.sheets.items()}
        _check(meta_sheet.casefold() in self.actual)
        raw = extract(self, "xlsx", names, layouts, meta_sheet, None)
        _check(raw.meta.get("form_version") in layouts)  # a known form version, told by _meta
        return raw

    def _relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationship id -> (type, entry) of ``part`` (``""``: the package), as ``ooxml`` resolves them."""
        folder, _, leaf = part.rpartition("/")
        data = self.part(f"{folder}/_rels/{leaf}.rels" if part else "_rels/.rels")
        return _relationships(data or b"", folder)

    def _target(self, part: str, kind: str) -> str | None:
        return next((t for r, t in self._relationships(part).values() if r.endswith("/" + kind)), None)

    # --- what ``reader.extract`` asks (``reader.Cells``) ------------------------------------

    def value(self, sheet: str, row: int, col: int) -> object:
        found = self.actual.get(sheet.casefold())
        if found is None or col < 0:
            return None
        cells = found.columns.get(col)
        cell = (found.column(col) if cells is None else cells).get(row + 1)
        return None if cell is None else _value(self, cell)

    def pairs(self, sheet: str) -> list[tuple[object, object]]:
        found = self.actual.get(sheet.casefold())
        return [] if found is None else found.pairs()

    def formula_only(self, sheet: str, cell: str) -> bool:
        found = self.actual.get(sheet.casefold())
        return found is not None and found.formula_only(cell)

    # --- shared strings and number formats ------------------------------------------------

    def string(self, index: int) -> str:
        """Shared string ``index``: the table is split at its ``<si>`` tags, only that one decoded."""
        if self.strings is None:
            found = self.xml(_SHARED, "sst")
            data = found.data if found is not None else b""
            self.strings = data.split(b"<si>")[1:]
            _check(data.count(b"<si") == len(self.strings))  # no <si/>, no attributes: none missed
        if index >= len(self.strings):
            raise _Decline
        content, closed, _ = self.strings[index].partition(b"</si>")
        if not closed:
            raise _Decline
        text = _STRINGS.get(content)
        if text is None:
            text = _rich(content)
            if len(_STRINGS) >= 4096:
                _STRINGS.clear()
            _STRINGS[content] = text
        return text

    def kind(self, style: bytes) -> str | None:
        """How calamine reads a number with this ``s`` attribute (b"": none): date, duration or
        other (None: no such style, a plain number)."""
        if not style:
            return _OTHER
        if self.formats is None:
            styles = self.part(_STYLES)
            self.formats = _styles(styles) if styles is not None else []
        index = int(style)  # digits only (the cell pattern)
        return self.formats[index] if index < len(self.formats) else None


@remembered
def _book(data: bytes) -> tuple[list[tuple[str, str]], dict[str, CellRef]]:
    """(sheet name, relationship id) of each sheet, and the workbook-level names of single cells
    (``ooxml.read_book``'s rule) of a workbook part."""
    _check(_plain(data, b"workbook", MAIN))
    for attrs in _TAG["workbookPr"].findall(data):
        _check(_attrs(attrs).get("date1904", "false") in ("0", "false"))
    sheets: list[tuple[str, str]] = []
    for attrs in _TAG["sheet"].findall(data):
        found = _attrs(attrs)
        rid = next((v for k, v in found.items() if k.endswith(":id")), "")
        _check(found.get("state") in _STATES and "name" in found)
        _check(found["name"] not in {name for name, _ in sheets})
        sheets.append((found["name"], rid))
    _check(bool(sheets))
    names: dict[str, CellRef] = {}
    for attrs, text in _DEFINED_NAME.findall(data):
        found = _attrs(attrs)
        if "localSheetId" not in found:
            ref = single_cell(XLSX_REF, _text(text))
            if ref is not None:
                names[found.get("name", "")] = ref
    return sheets, names


@remembered
def _relationships(data: bytes, folder: str) -> dict[str, tuple[str, str]]:
    if not data:
        return {}
    _check(_plain(data, b"Relationships", PKG_REL))
    found = {}
    for attrs in _TAG["Relationship"].findall(data):
        rel = _attrs(attrs)
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External":
            continue
        _check(".." not in target and "\\" not in target)
        full = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        found[rel.get("Id", "")] = (rel.get("Type", ""), normal(posixpath.normpath(full)))
    return found


@remembered
def _styles(data: bytes) -> list[str]:
    """What each cell style (``<cellXfs>``) makes of a number, as calamine decides it."""
    _check(_plain(data, b"styleSheet", MAIN))
    custom: dict[bytes, str] = {}
    for attrs in _section(_NUM_FMTS, data, b"<numFmt", _TAG["numFmt"]):
        found = _attrs(attrs)
        if "numFmtId" in found and "formatCode" in found:
            custom[found["numFmtId"].encode()] = found["formatCode"]
    kinds = []
    for number in _section(_CELL_XFS, data, b"<xf", _XF_FORMAT):
        if not number:
            kinds.append(_OTHER)  # no numFmtId at all
        else:
            kinds.append(number_format_kind(custom[number]) if number in custom else _builtin(number))
    return kinds


class _Sheet:
    """One worksheet: its used area checked at once, the cells of a column indexed when asked."""

    def __init__(self, book: _Template, part: _Part | None) -> None:
        self.book = book
        self.part = part if part is not None else _Part(b"", b"")
        limits = book.limits
        if self.part.within.get(id(limits)) is not limits:  # else the same sheet as in an earlier file
            _check_area(self.part.data, limits)
            self.part.within[id(limits)] = limits
        self.columns = self.part.columns

    def column(self, col: int) -> dict[int, _Cell]:
        """Row (1-based) -> (row, style, type, other attributes, body) of the column's cells."""
        cells = self.columns.get(col)
        if cells is None:
            cells = self.columns[col] = _column_cells(self.part.data, col)
        return cells

    def pairs(self) -> list[tuple[object, object]]:
        keys, values = self.column(0), self.column(1)
        return [(_at(self.book, keys, row), _at(self.book, values, row)) for row in sorted(keys)]

    def formula_only(self, address: str) -> bool:
        row, col = parse_cell(address)
        cell = self.column(col).get(row + 1)
        body = cell[4] if cell else b""
        return body.find(b"<f") >= 0 and not _HAS_VALUE.search(body)


def _check_area(data: bytes, limits: ReadLimits) -> None:
    """Every cell of a worksheet part has its address first (else calamine counts positions:
    not read here), and their area (empty cells too: more than the package check counts) is
    within ``limits``.

    Most sheets hold every cell in A1:Z9999, an area within any sane limits: one search that
    builds nothing tells so (``_small_within``); the others are measured cell by cell."""
    if _small_within(limits) and _OUTSIDE_SMALL.search(data) is None:
        return
    found = _REF.findall(data)
    if not found:
        return
    letters, rows = zip(*found, strict=True)
    names = set(letters)
    _check(b"" not in names)
    numbers = [int(row) for row in set(rows)]
    cols = [_column(name) for name in names]
    extent = Extent(min(numbers) - 1, min(cols), max(numbers) - 1, max(cols))
    _check(not extent.too_big(limits))


def _small_within(limits: ReadLimits) -> bool:
    """Whether any area of cells addressed A0 to Z9999 is within ``limits`` (the last row 9998,
    the top -1 at worst: 10,000 rows of 26 columns)."""
    return (
        limits.max_rows > _SMALL_ROWS - 2
        and limits.max_cols > _SMALL_COLS - 1
        and limits.max_cells >= _SMALL_ROWS * _SMALL_COLS
    )


def _column_cells(data: bytes, col: int) -> dict[int, _Cell]:
    letters = column_letters(col).encode()
    pattern = _COLUMN_CELLS.get(letters)
    if pattern is None:
        pattern = re.compile(rb'<c r="' + letters + rb"([0-9]{1,7})" + _CELL_TAIL, re.S)
        _COLUMN_CELLS[letters] = pattern
    found = pattern.findall(data)
    cells = {int(cell[0]): cell for cell in found}  # the match's groups as they are: no copy
    _check(len(cells) == len(found))
    return cells


# --- decoding -------------------------------------------------------------------------------


def _at(book: _Template, column: dict[int, _Cell], row: int) -> object:
    cell = column.get(row)
    return None if cell is None else _value(book, cell)


def _value(book: _Template, cell: _Cell) -> object:
    """A cell's value as calamine gives it (its last child decides), or ``_Decline``."""
    _, style, kind, rest, body = cell
    if rest and _STYLE_OR_TYPE.search(rest):  # a style or type where the pattern did not look
        raise _Decline
    if body.startswith(b"<v>") and body.endswith(b"</v>"):  # the usual cell, one plain <v>
        content = body[3:-4]
        if content.find(b"<") < 0:  # (``in`` on bytes first fails as an int: dearer per cell)
            if kind == b"s" and content.isdigit():  # the most usual: a shared string
                return book.string(int(content))
            return None if kind == b"inlineStr" else _typed(book, kind, style, content)
    value: object = None
    at = 0
    while at < len(body):
        match = _CHILD.match(body, at)
        if match is None:
            _check(not body[at:].strip())
            break
        tag, child_attrs, content = match.groups()
        at = match.end()
        if tag == b"f":
            value = None
        elif tag == b"is":
            _check(kind == b"inlineStr")
            value = _rich(content or b"")
        else:
            _check(not child_attrs)
            value = None if kind == b"inlineStr" else _typed(book, kind, style, content or b"")
    return value


def _typed(book: _Template, kind: bytes, style: bytes, content: bytes) -> object:
    """What one ``<v>`` holds for calamine: shared strings, numbers, booleans by their raw bytes
    (no entity is decoded in them), formula text (``str``) as XML text."""
    if kind == b"str":
        return _text(content)
    if not content:
        return None
    if kind == b"s":
        if not content.isdigit():
            raise _Decline
        return book.string(int(content))
    if kind == b"b":
        if content not in (b"0", b"1"):
            raise _Decline
        return content == b"1"
    if kind not in (b"", b"n") or (not content.isdigit() and _NUMBER.fullmatch(content) is None):
        raise _Decline
    number = float(content)
    form = book.kind(style)
    if form is None or form == _OTHER:
        return number
    # a date: python-calamine gives a date for a whole serial, a datetime or time otherwise
    _check(form == _DATE and number.is_integer() and 61 <= number <= _LAST_DAY)
    return _EPOCH + timedelta(days=int(number))


def _rich(content: bytes) -> str:
    """A shared or inline string: every ``<t>`` outside phonetic runs, each trimmed of ASCII
    white space unless ``xml:space="preserve"`` (calamine's reading of ``<si>``/``<is>``)."""
    if content.startswith(b"<t>") and content.endswith(b"</t>") and content.find(b"<", 3, -4) < 0:
        found = [(b"", content[3:-4])]  # the usual string: one plain <t>
    else:
        found = _T.findall(_PHONETIC.sub(b"", content) if b"<rPh" in content else content)
    out = []
    for attrs, text in found:
        value = _text(text or b"")
        if "_x00" in value:
            raise _Decline
        preserve = b"preserve" in attrs and _attrs(attrs).get("xml:space") == "preserve"
        out.append(value if preserve else value.strip(" \t\r\n"))
    return "".join(out)


def _text(raw: bytes) -> str:
    """Element text: XML line ends, the five entities and character references, nothing else."""
    if raw.find(b"<") >= 0:
        raise _Decline
    text = raw.decode("utf-8")
    if "&" not in text and "\r" not in text:
        return text
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in text:
        _check(len(_ENTITY.findall(text)) == text.count("&"))  # no entity XML does not define
        text = _ENTITY.sub(_entity, text)
    return text


def _entity(match: re.Match[str]) -> str:
    named, decimal, hexadecimal = match.groups()
    if named:
        return _NAMED[named]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    _check(code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0x10FFFF)
    _check(not 0xFFFE <= code <= 0xFFFF)
    return chr(code)


def _attrs(raw: bytes) -> dict[str, str]:
    found = {}
    for key, double, single in _ATTR.findall(raw):
        value = double or single
        _check(b"\t" not in value and b"\n" not in value and b"\r" not in value)  # XML folds these
        found[key.decode()] = _text(value)
    return found


def _column(letters: bytes) -> int:
    col = 0
    for ch in letters:
        col = col * 26 + ch - 64
    return col - 1


def _plain(data: bytes, root: bytes, namespace: bytes) -> bool:
    """The part is UTF-8 XML whose root is ``root`` in ``namespace`` as the only (default)
    namespace of that vocabulary, with no DTD, comment, CDATA or processing instruction:
    regular expressions read such a part exactly as an XML parser would."""
    if (b"!" in data and b"<!" in data) or _instructions(data) > (
        1 if data[:64].lstrip().startswith(b"<?xml") else 0
    ):
        return False  # ("!" first: one byte is found fast, and most parts have none)
    if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:64]:
        return False
    encoding = _ENCODING.match(data)
    if encoding is not None and encoding.group(1).lower() not in (b"utf-8", b"utf8"):
        return False
    head = re.search(rb"<([\w:.-]+)\s", data)
    if head is None or head.group(1) != root:
        return False
    # one default declaration, and the vocabulary named nowhere else (so no prefix is bound to it)
    once = data.count(b"xmlns=") == 1 and data.count(namespace + b'"') == 1 and namespace + b"'" not in data
    return once and b'xmlns="' + namespace + b'"' in data


def _instructions(data: bytes) -> int:
    """How many ``<?`` ``data`` holds: ``bytes.count`` of two bytes is slow over a part, finding
    one byte is not, and a part holds a ``?`` or two (its XML declaration)."""
    at, found = data.find(b"?"), 0
    for _ in range(8):
        if at < 0:
            return found
        found += at > 0 and data[at - 1] == 0x3C  # "<"
        at = data.find(b"?", at + 1)
    return data.count(b"<?")


def _section(section: re.Pattern[bytes], styles: bytes, tag: bytes, item: re.Pattern[bytes]) -> list:
    """What ``item`` finds in the first ``section`` of ``styles``; declines when some ``tag``
    element is not matched (the indexes after it would shift)."""
    match = section.search(styles)
    body = (match.group(1) or b"") if match else b""
    found = item.findall(body)
    _check(body.count(tag) == len(found))
    return found


def _builtin(number: bytes) -> str:
    if number in (b"14", b"15", b"16", b"17", b"18", b"19", b"20", b"21", b"22", b"45", b"47"):
        return _DATE
    return _DURATION if number == b"46" else _OTHER


def number_format_kind(code: str) -> str:
    """``date``, ``duration`` or ``other``: calamine's ``detect_custom_number_format``, line by
    line (the first section only; quoted text, escapes and ``[...]`` skipped; ``[h]`` a duration)."""
    _check(len(code) <= 255)  # calamine counts brackets in a byte
    escaped = quoted = ampm = hms = False
    brackets = 0
    prev = " "
    for ch in code:
        if escaped:
            escaped = False
        elif ch in "_\\*":
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch == ";":
            return _OTHER
        elif ch == "[":
            brackets += 1
        elif ch == "]" and brackets == 1 and hms:
            return _DURATION
        elif ch == "]":
            brackets = max(0, brackets - 1)
        elif ch in "aA" and not ampm and brackets == 0:
            ampm = True
        elif brackets == 0 and (ch in "pm/PM" if ampm else ch in "dmhysDMHYS"):
            return _DATE
        elif not (hms and ch.lower() == prev.lower()):
            hms = prev == "[" and ch in "mhsMHS"
        prev = ch
    return _OTHER


def _check(condition: bool) -> None:
    if not condition:
        raise _Decline
