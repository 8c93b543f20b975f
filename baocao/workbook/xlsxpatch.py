"""Feedback marks written straight into an .xlsx package's XML: the fast path of ``feedback``.

Why: loading a unit's workbook with openpyxl and saving it again costs ~40 ms (half of it
binding merged cells), three quarters of a whole collect run's CPU. Marking a few cells only
touches a few small parts, so this module edits those parts as text and copies the rest:
about 2 ms per workbook.

What ``add_feedback`` changes (bytes in, bytes out; nothing else is touched):
- ``xl/styles.xml``: one fill per colour used, one clone of each marked cell's ``<xf>`` with that
  fill, plus the fonts, border and formats of the issues sheet;
- each marked sheet: the cell's ``s=`` points to the clone; a comments part, the legacy VML
  drawing Excel needs to show comment boxes (the shapes xlsxwriter writes), the sheet's rels and
  ``<legacyDrawing>`` at its place in the schema order;
- a new first sheet listing the issues (inline strings: text is never a formula), made the
  active tab; ``tabSelected`` is cleared on the other sheets (two selected tabs = grouped
  sheets, where typing edits both); every ``localSheetId`` is shifted by one;
- ``docProps/app.xml``: the optional list of sheet titles is dropped rather than left stale.

The input must already have passed ``package.inspect_package`` (sizes, bombs, DTDs). XML is read
with defusedxml; edits are made with regular expressions on known structures, with a tag pattern
that respects quoted attributes. Anything unexpected raises ``Unpatchable`` and the caller uses
openpyxl instead: a macro-enabled package (the feedback is a plain .xlsx), strict OOXML or a
prefixed main namespace, a marked sheet that already has comments or a legacy drawing, a marked
cell without a ``<c>`` element, an existing sheet with the issues sheet's name, a missing styles
section, a non-UTF-8 part.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from baocao.a1 import cell_name, parse_cell

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_COMMENTS = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"
_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_ATTRS = r"""(?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*"""
_TOKEN = re.compile(rf"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<(/?)([\w:.-]+){_ATTRS}(/?)>", re.S)
_ATTR = r"""\s{name}\s*=\s*(?:"[^"]*"|'[^']*')"""
# children of <worksheet> that come after <legacyDrawing> (ECMA-376 CT_Worksheet order)
_AFTER_LEGACY = {"legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls"}
_AFTER_LEGACY |= {"webPublishItems", "tableParts", "extLst"}
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_EXCEL_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")


class Unpatchable(Exception):
    """The package has something this module does not handle; use openpyxl instead.

    Internal to ``feedback`` (not a ``BaocaoError``): it never reaches a caller of
    ``write_feedback``.
    """


@dataclass(frozen=True)
class Mark:
    """One cell to highlight (``rgb`` like ``FFC7CE``) and comment.

    Several marks may name one cell: their comments are joined, the first one sets the colour.
    """

    sheet: str
    cell: str
    rgb: str
    comment: str


@dataclass(frozen=True)
class IssueRow:
    """One listed issue: its number, level, place (``D32 – mục II.9``), message, the colour of
    its level, the row height in points (spreadsheet apps do not grow a row for wrapped text on
    opening) and ``link``, the cell the place jumps to (``'BaoCao'!D32``), if any."""

    number: int
    level: str
    place: str
    message: str
    rgb: str
    height: float
    link: str | None = None


@dataclass(frozen=True)
class IssuesSheet:
    """The issues list: a title, ``intro`` lines (text, height) on what to do, a header row and
    the rows."""

    name: str
    title: str
    headers: tuple[str, str, str, str]
    widths: tuple[float, float, float, float]
    rows: Sequence[IssueRow]
    intro: Sequence[tuple[str, float]] = ()


def text(value: str) -> str:
    """``value`` as XML element text that Excel shows unchanged.

    Characters XML cannot hold are dropped; ``_x0041_``-like runs are escaped, since Excel reads
    them as character codes in strings.
    """
    value = _BAD_CHARS.sub("", value)
    value = _EXCEL_ESCAPE.sub(r"_x005F_\1", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def attr(value: str) -> str:
    return text(value).replace('"', "&quot;")


def add_feedback(package: bytes, marks: Sequence[Mark], issues: IssuesSheet) -> bytes:
    """Return ``package`` (xlsx bytes) with ``marks`` applied and ``issues`` as the first sheet.

    Marks on sheets the workbook does not have are ignored (the issues sheet lists them).
    Raises ``Unpatchable`` for anything outside what is described in the module docstring.
    """
    patch = _Patch(_Parts(package))
    by_sheet: dict[str, list[Mark]] = {}
    for mark in marks:
        if mark.sheet in patch.sheets:
            by_sheet.setdefault(mark.sheet, []).append(mark)
    for sheet, sheet_marks in by_sheet.items():
        patch.mark_sheet(sheet, sheet_marks)
    patch.add_issues_sheet(issues)
    return patch.write()


class _Parts:
    """The entries of a zip package: read (inflated) on first use; unchanged ones are copied
    compressed as they are when the package is written again."""

    def __init__(self, package: bytes) -> None:
        self.package = package
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(package))  # in memory: nothing to close
            self.infos = {info.filename: info for info in self.zip.infolist()}
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise Unpatchable(f"not a readable zip: {exc}") from exc
        self.changed: dict[str, bytes] = {}
        self.read: dict[str, bytes] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.changed or name in self.infos

    def __getitem__(self, name: str) -> bytes:
        if name in self.changed:
            return self.changed[name]
        if name not in self.read:
            try:
                self.read[name] = self.zip.read(self.infos[name])
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
                raise Unpatchable(f"cannot read {name}: {exc}") from exc
        return self.read[name]

    def __setitem__(self, name: str, data: bytes) -> None:
        self.changed[name] = data

    def names(self) -> list[str]:
        return [*self.infos, *(n for n in self.changed if n not in self.infos)]

    def write(self) -> bytes:
        """The package again: [Content_Types].xml first, then every entry in its old order."""
        out, central = io.BytesIO(), []
        names = self.names()
        for name in ["[Content_Types].xml", *(n for n in names if n != "[Content_Types].xml")]:
            info = self.infos.get(name)
            if name in self.changed or info is None or info.flag_bits & 0x08 or info.file_size >= 1 << 31:
                data = self[name]
                packer = zlib.compressobj(1, zlib.DEFLATED, -15)
                entry = (zlib.crc32(data), len(data), packer.compress(data) + packer.flush(), 8)
            else:  # as it was: no inflating and deflating again
                start = info.header_offset + 26
                skip = sum(struct.unpack("<HH", self.package[start : start + 4]))
                begin = start + 4 + skip
                raw = self.package[begin : begin + info.compress_size]
                entry = (info.CRC, info.file_size, raw, info.compress_type)
            central.append(_zip_entry(out, name, *entry))
        directory = b"".join(central)
        end = struct.pack(
            "<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), len(directory), out.tell(), 0
        )
        return out.getvalue() + directory + end


_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01: the same input gives the same bytes


def _zip_entry(out: io.BytesIO, name: str, crc: int, size: int, data: bytes, method: int) -> bytes:
    """Write one local header and its data to ``out``; return its central directory record."""
    encoded = name.encode("utf-8")
    flags = 0x800 if not name.isascii() else 0
    offset = out.tell()
    fields = (20, flags, method, 0, _DOS_DATE, crc, len(data), size, len(encoded))
    out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", *fields, 0) + encoded + data)
    return struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, 0, offset) + encoded


def _text_part(parts: _Parts, name: str) -> str:
    try:
        data = parts[name]
    except KeyError:
        raise Unpatchable(f"missing part {name}") from None
    try:
        xml = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unpatchable(f"{name} is not UTF-8") from None
    if "<!DOCTYPE" in xml or "<!ENTITY" in xml:
        raise Unpatchable(f"{name} has a DTD")
    return xml


def _parse(xml: str, name: str) -> Element:
    try:
        return SafeET.fromstring(xml, forbid_dtd=True)
    except (DefusedXmlException, ParseError) as exc:
        raise Unpatchable(f"cannot parse {name}: {exc}") from exc


def _get(tag: str, name: str) -> str | None:
    match = re.search(_ATTR.format(name=name), tag)
    return match.group(0).split("=", 1)[1].strip()[1:-1] if match else None


def _set(tag: str, name: str, value: str) -> str:
    """``tag`` (one start tag's text) with attribute ``name`` set to ``value``."""
    pattern = re.compile(_ATTR.format(name=name))
    if pattern.search(tag):
        return pattern.sub(f' {name}="{value}"', tag, count=1)
    end = len(tag) - (2 if tag.endswith("/>") else 1)
    return f'{tag[:end].rstrip()} {name}="{value}"{tag[end:]}'


def _root_is(xml: str, tag: str, namespace: str) -> None:
    """Refuse a part whose root is prefixed or in another namespace (strict OOXML)."""
    match = re.search(rf"<{tag}{_ATTRS}>", xml)
    if match is None or _get(match.group(0), "xmlns") != namespace:
        raise Unpatchable(f"<{tag}> root not in the transitional namespace")


def _rels_path(part: str) -> str:
    folder, _, base = part.rpartition("/")
    return f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"


def _free(parts: _Parts, pattern: str) -> tuple[int, str]:
    number = 1
    while pattern.format(number) in parts:
        number += 1
    return number, pattern.format(number)


def _free_id(used: set[str]) -> str:
    number = len(used) + 1
    while f"rId{number}" in used:
        number += 1
    used.add(f"rId{number}")
    return f"rId{number}"


_STYLE_LISTS = {"fonts": "font", "fills": "fill", "borders": "border", "cellXfs": "xf"}


class _Styles:
    """Appends fills, fonts, borders and cell formats to ``xl/styles.xml``."""

    def __init__(self, xml: str) -> None:
        _root_is(xml, "styleSheet", MAIN)
        self.xml = xml
        self.added: dict[str, list[str]] = {"fonts": [], "fills": [], "borders": [], "cellXfs": []}
        self.start = {name: self._children(name, child) for name, child in _STYLE_LISTS.items()}
        xfs = re.search(rf"<cellXfs{_ATTRS}>(.*?)</cellXfs>", xml, re.S)
        items = re.findall(rf"<xf\b{_ATTRS}(?:/>|>.*?</xf>)", xfs.group(1), re.S) if xfs else []
        if len(items) != self.start["cellXfs"]:
            raise Unpatchable("cellXfs not understood")
        self.xfs = items
        self.fills: dict[str, int] = {}
        self.clones: dict[tuple[int, int], int] = {}

    def _children(self, section: str, child: str) -> int:
        match = re.search(rf"<{section}{_ATTRS}>(.*?)</{section}>", self.xml, re.S)
        if match is None:
            raise Unpatchable(f"styles.xml has no <{section}> list")
        return len(re.findall(rf"<{child}\b", match.group(1)))

    def add(self, section: str, xml: str) -> int:
        self.added[section].append(xml)
        return self.start[section] + len(self.added[section]) - 1

    def fill(self, rgb: str) -> int:
        if rgb not in self.fills:
            self.fills[rgb] = self.add(
                "fills",
                f'<fill><patternFill patternType="solid"><fgColor rgb="FF{rgb}"/>'
                '<bgColor indexed="64"/></patternFill></fill>',
            )
        return self.fills[rgb]

    def with_fill(self, style: int, rgb: str) -> int:
        """The index of a copy of cell format ``style`` with a solid ``rgb`` fill."""
        fill = self.fill(rgb)
        if (style, fill) not in self.clones:
            if not 0 <= style < len(self.xfs):
                raise Unpatchable(f"cell style {style} does not exist")
            xf = self.xfs[style]
            found = re.match(rf"<xf\b{_ATTRS}/?>", xf)
            if found is None:
                raise Unpatchable(f"cell style {style} is not an <xf> element")
            head = found.group(0)
            new = _set(_set(head, "fillId", str(fill)), "applyFill", "1")
            self.clones[(style, fill)] = self.add("cellXfs", new + xf[len(head) :])
        return self.clones[(style, fill)]

    def xml_out(self) -> str:
        xml = self.xml
        for section, added in self.added.items():
            if not added:
                continue
            start = re.search(rf"<{section}{_ATTRS}>", xml)
            if start is None:  # the section was found when the styles were read
                raise Unpatchable(f"styles have no <{section}> element")
            end = xml.index(f"</{section}>", start.end())
            tag = _set(start.group(0), "count", str(self.start[section] + len(added)))
            xml = xml[: start.start()] + tag + xml[start.end() : end] + "".join(added) + xml[end:]
        return xml


def _top_level(xml: str, start: int) -> tuple[list[tuple[str, int]], int]:
    """Children of the root that start at or after ``start``: (name, offset); and the root's end."""
    children: list[tuple[str, int]] = []
    depth = 0
    for match in _TOKEN.finditer(xml, start):
        closing, name, empty = match.groups()
        if name is None:
            continue
        if closing:
            depth -= 1
            if depth < 0:
                return children, match.start()
        else:
            if depth == 0:
                children.append((name, match.start()))
            if not empty:
                depth += 1
    raise Unpatchable("worksheet root not closed")


def _vml(shapes: list[str], block: int) -> str:
    return (
        '<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office"'
        ' xmlns:x="urn:schemas-microsoft-com:office:excel"><o:shapelayout v:ext="edit">'
        f'<o:idmap v:ext="edit" data="{block}"/></o:shapelayout>'
        '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202"'
        ' path="m,l,21600r21600,l21600,xe"><v:stroke joinstyle="miter"/>'
        '<v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>' + "".join(shapes) + "</xml>"
    )


def _shape(shape_id: int, row: int, col: int, z: int) -> str:
    """One hidden note box, as xlsxwriter writes it: 5 columns wide, 7 rows high, right of the cell."""
    top = max(row - 1, 0)
    anchor = f"{col + 1}, 15, {top}, 10, {col + 6}, 15, {top + 7}, 4"
    return (
        f'<v:shape id="_x0000_s{shape_id}" type="#_x0000_t202" style="position:absolute;'
        f"margin-left:{48 * (col + 1) + 11.25}pt;margin-top:{15 * top + 7.5}pt;width:240pt;height:105pt;"
        f'z-index:{z};visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto">'
        '<v:fill color2="#ffffe1"/><v:shadow on="t" color="black" obscured="t"/>'
        '<v:path o:connecttype="none"/><v:textbox style="mso-direction-alt:auto">'
        '<div style="text-align:left"></div></v:textbox><x:ClientData ObjectType="Note">'
        f"<x:MoveWithCells/><x:SizeWithCells/><x:Anchor>{anchor}</x:Anchor><x:AutoFill>False</x:AutoFill>"
        f"<x:Row>{row}</x:Row><x:Column>{col}</x:Column></x:ClientData></v:shape>"
    )


def _comments(cells: dict[str, str]) -> str:
    font = '<rPr><sz val="9"/><color indexed="81"/><rFont val="Tahoma"/><family val="2"/></rPr>'
    items = "".join(
        f'<comment ref="{cell}" authorId="0"><text><r>{font}<t xml:space="preserve">{text(body)}</t>'
        "</r></text></comment>"
        for cell, body in cells.items()
    )
    return (
        f'{_DECL}<comments xmlns="{MAIN}"><authors><author>baocao</author></authors>'
        f"<commentList>{items}</commentList></comments>"
    )


class _Patch:
    """The parts of one package and the edits made to them so far."""

    def __init__(self, parts: _Parts) -> None:
        self.parts = parts
        self.types = _text_part(parts, "[Content_Types].xml")
        if "macroEnabled" in self.types:
            raise Unpatchable("macro-enabled workbook (the feedback is a plain .xlsx)")
        self.book = _text_part(parts, "xl/workbook.xml")
        _root_is(self.book, "workbook", MAIN)
        self.book_rels = _text_part(parts, "xl/_rels/workbook.xml.rels")
        rels = _parse(self.book_rels, "workbook rels")
        targets = {el.get("Id"): _target("xl", el.get("Target", "")) for el in rels}
        self.book_rel_ids = {rid for rid in targets if rid is not None}
        self.sheets: dict[str, str] = {}  # sheet name -> part
        self.sheet_ids: list[int] = []
        for el in _parse(self.book, "workbook.xml").iter(f"{{{MAIN}}}sheet"):
            part = targets.get(el.get(f"{{{REL}}}id"))
            if part is None or part not in parts:
                raise Unpatchable(f"sheet {el.get('name')!r} has no part")
            self.sheets[el.get("name", "")] = part
            self.sheet_ids.append(int(el.get("sheetId", "0")))
        self.styles = _Styles(_text_part(parts, "xl/styles.xml"))
        self.overrides: list[str] = []
        self.block = 1 + max(
            (
                int(n)
                for name in parts.names()
                if name.endswith(".vml")
                for n in re.findall(rb'<o:idmap[^>]*\bdata="(\d+)', parts[name])
            ),
            default=0,
        )

    def mark_sheet(self, sheet: str, marks: list[Mark]) -> None:
        part = self.sheets[sheet]
        xml = _text_part(self.parts, part)
        _root_is(xml, "worksheet", MAIN)
        rels_part = _rels_path(part)
        rels = _text_part(self.parts, rels_part) if rels_part in self.parts else None
        used: set[str] = set()
        if rels is not None:
            for el in _parse(rels, rels_part):
                if el.get("Type", "").endswith(("/comments", "/vmlDrawing")):
                    raise Unpatchable(f"sheet {sheet!r} already has comments")
                used.add(el.get("Id", ""))
        data_end = xml.find("</sheetData>")
        if data_end < 0:
            raise Unpatchable(f"sheet {sheet!r} has no cells")
        rgb: dict[str, str] = {}
        notes: dict[str, str] = {}
        for mark in marks:
            try:
                cell = cell_name(*parse_cell(mark.cell))
            except ValueError:
                raise Unpatchable(f"not a cell address: {mark.cell!r}") from None
            rgb.setdefault(cell, mark.rgb)  # the first mark of a cell decides its colour
            notes[cell] = f"{notes[cell]}\n{mark.comment}" if cell in notes else mark.comment
        for cell, colour in rgb.items():
            found = re.search(rf"""<c\s[^>]*?\br=["']{cell}["'][^>]*>""", xml[:data_end])
            if found is None:
                raise Unpatchable(f"no <c> element for {sheet}!{cell}")
            tag = found.group(0)
            style = self.styles.with_fill(int(_get(tag, "s") or 0), colour)
            xml = xml[: found.start()] + _set(tag, "s", str(style)) + xml[found.end() :]
            data_end = xml.find("</sheetData>")
        children, end = _top_level(xml, data_end + len("</sheetData>"))
        if any(name == "legacyDrawing" or ":" in name for name, _ in children):
            raise Unpatchable(f"sheet {sheet!r} has a legacy drawing or extension elements")
        vml_id, comments_id = _free_id(used), _free_id(used)
        at = next((pos for name, pos in children if name in _AFTER_LEGACY), end)
        legacy = f'<legacyDrawing xmlns:r="{REL}" r:id="{vml_id}"/>'
        self.parts[part] = (xml[:at] + legacy + xml[at:]).encode()
        number, comments_part = _free(self.parts, "xl/comments{}.xml")
        vml_part = f"xl/drawings/vmlDrawing{number}.vml"
        while vml_part in self.parts:
            number += 1
            vml_part = f"xl/drawings/vmlDrawing{number}.vml"
        base = 1024 * self.block
        shapes = []
        for z, cell in enumerate(notes, start=1):
            row, col = parse_cell(cell)
            shapes.append(_shape(base + z, row, col, z))
        self.parts[vml_part] = _vml(shapes, self.block).encode()
        self.block += 1
        self.parts[comments_part] = _comments(notes).encode()
        folder_depth = part.count("/")
        up = "../" * folder_depth
        new_rels = (
            f'<Relationship Id="{vml_id}" Type="{REL}/vmlDrawing" Target="{up}{vml_part}"/>'
            f'<Relationship Id="{comments_id}" Type="{REL}/comments" Target="{up}{comments_part}"/>'
        )
        if rels is None:
            rels = f'{_DECL}<Relationships xmlns="{PKG_REL}"></Relationships>'
        at = rels.rindex("</Relationships>")
        self.parts[rels_part] = (rels[:at] + new_rels + rels[at:]).encode()
        self.overrides.append(f'<Override PartName="/{comments_part}" ContentType="{CT_COMMENTS}"/>')

    def add_issues_sheet(self, issues: IssuesSheet) -> None:
        if issues.name in self.sheets:
            raise Unpatchable(f"the workbook already has a sheet {issues.name!r}")
        _, part = _free(self.parts, "xl/worksheets/sheet{}.xml")
        self.parts[part] = _issues_xml(issues, self.styles).encode()
        rid = _free_id(self.book_rel_ids)
        at = self.book_rels.rindex("</Relationships>")
        rel = f'<Relationship Id="{rid}" Type="{REL}/worksheet" Target="/{part}"/>'
        self.parts["xl/_rels/workbook.xml.rels"] = (self.book_rels[:at] + rel + self.book_rels[at:]).encode()
        self.overrides.append(f'<Override PartName="/{part}" ContentType="{CT_SHEET}"/>')
        self.parts["xl/workbook.xml"] = _first_sheet(self.book, issues.name, max(self.sheet_ids) + 1, rid)
        for other in self.sheets.values():  # one selected tab: two would group the sheets
            data = self.parts[other]
            head_end = data.find(b"<sheetData")
            head = re.sub(rb"""\stabSelected\s*=\s*["'](?:1|true)["']""", b"", data[:head_end])
            if len(head) != head_end:
                self.parts[other] = head + data[head_end:]
        if "docProps/app.xml" in self.parts:
            app = _text_part(self.parts, "docProps/app.xml")
            app = re.sub(r"<(?:\w+:)?(HeadingPairs|TitlesOfParts)\b.*?</(?:\w+:)?\1>", "", app, flags=re.S)
            self.parts["docProps/app.xml"] = app.encode()

    def write(self) -> bytes:
        self.parts["xl/styles.xml"] = self.styles.xml_out().encode()
        types = self.types
        if not re.search(r"""Extension=["']vml["']""", types, re.I) and any(
            n.endswith(".vml") for n in self.parts.names()
        ):
            self.overrides.append(f'<Default Extension="vml" ContentType="{CT_VML}"/>')
        at = types.rindex("</Types>")
        self.parts["[Content_Types].xml"] = (types[:at] + "".join(self.overrides) + types[at:]).encode()
        return self.parts.write()


def _target(base: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    parts: list[str] = base.split("/")
    for piece in target.split("/"):
        if piece == "..":
            parts = parts[:-1]
        elif piece not in ("", "."):
            parts.append(piece)
    return "/".join(parts)


def _first_sheet(book: str, name: str, sheet_id: int, rid: str) -> bytes:
    """workbook.xml with the new sheet first and active; sheet-scoped names shifted by one."""
    sheets = re.search(rf"<sheets{_ATTRS}>", book)
    if sheets is None:
        raise Unpatchable("workbook.xml has no <sheets>")
    new = f'<sheet xmlns:r="{REL}" name="{attr(name)}" sheetId="{sheet_id}" r:id="{rid}"/>'
    book = book[: sheets.end()] + new + book[sheets.end() :]
    book = re.sub(
        r"""(<definedName\b(?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*?\s+localSheetId\s*=\s*["'])(\d+)""",
        lambda m: m.group(1) + str(int(m.group(2)) + 1),
        book,
    )
    views = list(re.finditer(rf"<workbookView{_ATTRS}/?>", book))
    if not views:
        at = book.index("<sheets")
        return (book[:at] + '<bookViews><workbookView activeTab="0"/></bookViews>' + book[at:]).encode()
    for view in reversed(views):
        tag = _set(_set(view.group(0), "activeTab", "0"), "firstSheet", "0")
        book = book[: view.start()] + tag + book[view.end() :]
    return book.encode()


def _cell(ref: str, style: int, value: str) -> str:
    """A text cell as an inline string (never a formula), or a styled empty cell."""
    if not value:
        return f'<c r="{ref}" s="{style}"/>'
    return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t xml:space="preserve">{text(value)}</t></is></c>'


def _issues_xml(issues: IssuesSheet, styles: _Styles) -> str:
    """The issues sheet: title across the columns, lines on what to do, a frozen header, wrapped
    text, cells that link to the marked cell, A4 landscape."""
    title_font = styles.add(
        "fonts", '<font><b/><sz val="13"/><name val="Times New Roman"/><family val="1"/></font>'
    )
    bold = styles.add(
        "fonts", '<font><b/><sz val="11"/><name val="Times New Roman"/><family val="1"/></font>'
    )
    plain = styles.add("fonts", '<font><sz val="11"/><name val="Times New Roman"/><family val="1"/></font>')
    link_font = styles.add(
        "fonts",
        '<font><u/><sz val="11"/><color rgb="FF0563C1"/><name val="Times New Roman"/>'
        '<family val="1"/></font>',
    )
    border = styles.add(
        "borders",
        "<border>"
        + "".join(f'<{s} style="thin"><color auto="1"/></{s}>' for s in ("left", "right", "top", "bottom"))
        + "<diagonal/></border>",
    )
    head_fill = styles.fill("D9E1F2")

    def xf(font: int, fill: int, brd: int, horizontal: str, vertical: str) -> int:
        return styles.add(
            "cellXfs",
            f'<xf numFmtId="0" fontId="{font}" fillId="{fill}" borderId="{brd}" xfId="0" applyFont="1"'
            f' applyFill="1" applyBorder="1" applyAlignment="1"><alignment horizontal="{horizontal}"'
            f' vertical="{vertical}" wrapText="1"/></xf>',
        )

    title = xf(title_font, 0, 0, "center", "center")
    intro = xf(plain, 0, 0, "left", "top")
    head = xf(bold, head_fill, border, "center", "center")
    centre = xf(plain, 0, border, "center", "top")
    linked = xf(link_font, 0, border, "center", "top")
    left = xf(plain, 0, border, "left", "top")
    levels: dict[str, int] = {}
    height: float = 22 if len(issues.title) <= 90 else 40
    rows = [
        f'<row r="1" ht="{height}" customHeight="1"><c r="A1" s="{title}" t="inlineStr">'
        f'<is><t xml:space="preserve">{text(issues.title)}</t></is></c>'
        + "".join(f'<c r="{c}1" s="{title}"/>' for c in "BCD")
        + "</row>",
    ]
    merges = ["A1:D1"]
    for r, (line, line_height) in enumerate(issues.intro, start=2):
        rows.append(
            f'<row r="{r}" ht="{line_height}" customHeight="1">{_cell(f"A{r}", intro, line)}'
            + "".join(f'<c r="{c}{r}" s="{intro}"/>' for c in "BCD")
            + "</row>"
        )
        merges.append(f"A{r}:D{r}")
    top = len(issues.intro) + 3  # the header row: one blank row after the lines
    rows.append(
        f'<row r="{top}">'
        + "".join(
            f'<c r="{c}{top}" s="{head}" t="inlineStr"><is><t>{text(h)}</t></is></c>'
            for c, h in zip("ABCD", issues.headers, strict=True)
        )
        + "</row>"
    )
    links = []
    for r, row in enumerate(issues.rows, start=top + 1):
        if row.rgb not in levels:
            levels[row.rgb] = xf(bold, styles.fill(row.rgb), border, "center", "top")
        if row.link:
            links.append(f'<hyperlink ref="C{r}" location="{attr(row.link)}" display="{attr(row.place)}"/>')
        place = _cell(f"C{r}", linked if row.link else centre, row.place)
        rows.append(
            f'<row r="{r}" ht="{row.height}" customHeight="1">'
            f'<c r="A{r}" s="{centre}"><v>{row.number}</v></c>'
            f"{_cell(f'B{r}', levels[row.rgb], row.level)}{place}{_cell(f'D{r}', left, row.message)}</row>"
        )
    last = top + len(issues.rows)
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
        for i, w in enumerate(issues.widths, start=1)
    )
    merge_xml = "".join(f'<mergeCell ref="{m}"/>' for m in merges)
    link_xml = f"<hyperlinks>{''.join(links)}</hyperlinks>" if links else ""
    return (
        f'{_DECL}<worksheet xmlns="{MAIN}" xmlns:r="{REL}"><sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
        f'<dimension ref="A1:D{last}"/><sheetViews><sheetView tabSelected="1" workbookViewId="0">'
        f'<pane ySplit="{top}" topLeftCell="A{top + 1}" activePane="bottomLeft" state="frozen"/>'
        f'<selection pane="bottomLeft" activeCell="A{top + 1}" sqref="A{top + 1}"/></sheetView></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>{"".join(rows)}</sheetData>'
        f'<mergeCells count="{len(merges)}">{merge_xml}</mergeCells>{link_xml}'
        '<pageMargins left="0.5" right="0.5" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>'
        '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/></worksheet>'
    )
