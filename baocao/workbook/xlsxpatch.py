"""Feedback marks written straight into an .xlsx package's XML: the fast path of ``feedback``.

Why: loading a unit's workbook with openpyxl and saving it again costs ~40 ms (half of it
binding merged cells), three quarters of a whole collect run's CPU. Marking a few cells only
touches a few small parts, so this module edits those parts as text and copies the rest as
their compressed bytes (``xlsxzip``): well under 1 ms per workbook.

What ``add_feedback`` changes (bytes in, bytes out; nothing else is touched):
- ``xl/styles.xml``: one fill per colour used, one clone of each marked cell's ``<xf>`` with that
  fill, plus the fonts, border and formats of the issues sheet;
- each marked sheet: the cell's ``s=`` points to the clone; a comments part, the legacy VML
  drawing Excel needs to show comment boxes (the shapes xlsxwriter writes), the sheet's rels and
  ``<legacyDrawing>`` at its place in the schema order;
- a new first sheet listing the issues (``xlsxparts``: inline strings, text is never a
  formula), made the active tab; ``tabSelected`` is cleared on the other sheets (two selected
  tabs = grouped sheets, where typing edits both); every ``localSheetId`` is shifted by one;
- ``docProps/app.xml``: the optional list of sheet titles is dropped rather than left stale.

Why caches: every file of a form version carries the same workbook, styles, relationships and
content types, and the same sheet XML after the cells. What is read or written from those parts
is kept per process (``recent.Recent``), keyed by the parts' exact compressed bytes (or the exact
text), so a worker parses a template's parts once, not once per file, and a cached result is
the one the same input would give again.

The input must already have passed ``package.inspect_package`` (sizes, bombs, DTDs). XML is read
with defusedxml; edits are made with regular expressions on known structures, with a tag pattern
that respects quoted attributes. Anything unexpected raises ``Unpatchable`` and the caller uses
openpyxl instead: a macro-enabled package (the feedback is a plain .xlsx), strict OOXML or a
prefixed main namespace, a marked sheet that already has comments or a legacy drawing, a marked
cell without a ``<c>`` element, an existing sheet with the issues sheet's name, a missing styles
section, a non-UTF-8 part.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from baocao.a1 import cell_name, parse_cell
from baocao.recent import Recent
from baocao.workbook import xlsxzip
from baocao.workbook.xlsxparts import (
    DECL,
    MAIN,
    REL,
    IssueRow,
    IssuesSheet,
    Mark,
    attr,
    comments,
    issues_sheet,
    text,
    vml_drawing,
)
from baocao.workbook.xlsxzip import Entry

__all__ = ["IssueRow", "IssuesSheet", "Mark", "Unpatchable", "add_feedback", "attr", "text"]

PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_COMMENTS = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"
_ATTRS = r"""(?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*"""
_TOKEN = re.compile(rf"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<(/?)([\w:.-]+){_ATTRS}(/?)>", re.S)
_ATTR = r"""\s{name}\s*=\s*(?:"[^"]*"|'[^']*')"""
_TAB_SELECTED = re.compile(rb"""\stabSelected\s*=\s*["'](?:1|true)["']""")
_TITLES = re.compile(r"<(?:\w+:)?(HeadingPairs|TitlesOfParts)\b.*?</(?:\w+:)?\1>", re.S)
# children of <worksheet> that come after <legacyDrawing> (ECMA-376 CT_Worksheet order)
_AFTER_LEGACY = {"legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls"}
_AFTER_LEGACY |= {"webPublishItems", "tableParts", "extLst"}
_AROUND_MAX = 1 << 20  # a sheet's XML before and after its cells is cached up to this size
_FIXED = ("[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml")


class Unpatchable(Exception):
    """The package has something this module does not handle; use openpyxl instead.

    Internal to ``feedback`` (not a ``BaocaoError``): it never reaches a caller of
    ``write_feedback``.
    """


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
    """The members of a package: read (inflated) on first use; set anew (``changed``, as
    content or as a ready ``Entry``, in the order they were set); the others are copied
    compressed as they are."""

    def __init__(self, package: bytes) -> None:
        try:
            self.zip = xlsxzip.Zip(package)
        except xlsxzip.BadPackage as exc:
            raise Unpatchable(str(exc)) from exc
        self.members = self.zip.members
        self.changed: dict[str, bytes | Entry] = {}
        self.read: dict[str, bytes] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.changed or name in self.members

    def __getitem__(self, name: str) -> bytes:
        if name in self.changed:
            value = self.changed[name]
            return value if isinstance(value, bytes) else zlib.decompress(value.data, -15)
        if name not in self.read:
            try:
                self.read[name] = self.zip.read(name)
            except xlsxzip.BadPackage as exc:
                raise Unpatchable(str(exc)) from exc
        return self.read[name]

    def __setitem__(self, name: str, data: bytes | Entry) -> None:
        self.changed[name] = data

    def pristine(self, name: str) -> Hashable:
        """The key of a member not changed so far (``xlsxzip.Zip.key``; None if there is none)."""
        if name in self.changed:
            return None
        try:
            return self.zip.key(name)
        except xlsxzip.BadPackage as exc:
            raise Unpatchable(str(exc)) from exc

    def names(self) -> list[str]:
        return [*self.members, *(n for n in self.changed if n not in self.members)]

    def write(self) -> bytes:
        """The package again: [Content_Types].xml first, then every entry in its old order."""
        names = self.names()
        order = ["[Content_Types].xml", *(n for n in names if n != "[Content_Types].xml")]
        return xlsxzip.write((name, self._entry(name)) for name in order)

    def _entry(self, name: str) -> Entry:
        value = self.changed.get(name)
        if isinstance(value, Entry):
            return value
        member = self.members.get(name)
        copied = None if value is not None or member is None else self.zip.copied(member)
        return copied if copied is not None else xlsxzip.fresh(self[name])


def _decoded(data: bytes, name: str) -> str:
    try:
        xml = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unpatchable(f"{name} is not UTF-8") from None
    if "<!DOCTYPE" in xml or "<!ENTITY" in xml:
        raise Unpatchable(f"{name} has a DTD")
    return xml


def _text_part(parts: _Parts, name: str) -> str:
    try:
        data = parts[name]
    except KeyError:
        raise Unpatchable(f"missing part {name}") from None
    return _decoded(data, name)


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


@dataclass(frozen=True)
class _StyleBase:
    """What ``xl/styles.xml`` holds: its text, how many items each list has, the cell formats."""

    xml: str
    start: dict[str, int]
    xfs: tuple[str, ...]

    @classmethod
    def read(cls, xml: str) -> _StyleBase:
        _root_is(xml, "styleSheet", MAIN)
        start = {}
        for section, child in _STYLE_LISTS.items():
            match = re.search(rf"<{section}{_ATTRS}>(.*?)</{section}>", xml, re.S)
            if match is None:
                raise Unpatchable(f"styles.xml has no <{section}> list")
            start[section] = len(re.findall(rf"<{child}\b", match.group(1)))
        xfs = re.search(rf"<cellXfs{_ATTRS}>(.*?)</cellXfs>", xml, re.S)
        items = re.findall(rf"<xf\b{_ATTRS}(?:/>|>.*?</xf>)", xfs.group(1), re.S) if xfs else []
        if len(items) != start["cellXfs"]:
            raise Unpatchable("cellXfs not understood")
        return cls(xml, start, tuple(items))


class _Styles:
    """Appends fills, fonts, borders and cell formats to ``xl/styles.xml``."""

    def __init__(self, base: _StyleBase) -> None:
        self.base = base
        self.start = base.start
        self.added: dict[str, list[str]] = {"fonts": [], "fills": [], "borders": [], "cellXfs": []}
        self.fills: dict[str, int] = {}
        self.clones: dict[tuple[int, int], int] = {}

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
            xfs = self.base.xfs
            if not 0 <= style < len(xfs):
                raise Unpatchable(f"cell style {style} does not exist")
            xf = xfs[style]
            found = re.match(rf"<xf\b{_ATTRS}/?>", xf)
            if found is None:
                raise Unpatchable(f"cell style {style} is not an <xf> element")
            head = found.group(0)
            new = _set(_set(head, "fillId", str(fill)), "applyFill", "1")
            self.clones[(style, fill)] = self.add("cellXfs", new + xf[len(head) :])
        return self.clones[(style, fill)]

    def entry(self) -> Entry:
        """The styles part with everything added (the same additions to the same styles give
        the same part: cached)."""
        added = tuple(tuple(items) for items in self.added.values())
        return _STYLES_OUT.get((self.base.xml, added), lambda: xlsxzip.entry(self.xml_out().encode()))

    def xml_out(self) -> str:
        xml = self.base.xml
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


Children = tuple[tuple[str, int], ...]  # a sheet's children after its cells: (name, offset)


def _top_level(xml: str, start: int = 0, before: Children = ()) -> tuple[Children, int]:
    """The children of the root in ``xml`` (the part after ``</sheetData>``): (name, offset);
    and where the root ends. From ``start`` on when the children ``before`` it are known (a
    child starts at ``start``: the root's depth is 0 there)."""
    children: list[tuple[str, int]] = list(before)
    depth = 0
    for match in _TOKEN.finditer(xml, start):
        closing, name, empty = match.groups()
        if name is None:
            continue
        if closing:
            depth -= 1
            if depth < 0:
                return tuple(children), match.start()
        else:
            if depth == 0:
                children.append((name, match.start()))
            if not empty:
                depth += 1
    raise Unpatchable("worksheet root not closed")


class _Tail(NamedTuple):
    """A sheet's XML after its cells as ``_top_level`` read it, and up to where every ``<`` in
    it starts a token the tokenizer matched (``plain``: a comment, CDATA or instruction never
    closed, or a broken tag, is a ``<`` matched by nothing, whose reading looked further on)."""

    xml: str
    children: Children
    end: int
    plain: int


def _tail_of(xml: str) -> _Tail:
    children, end = _top_level(xml)
    at = 0
    for match in _TOKEN.finditer(xml):
        unmatched = xml.find("<", at, match.start())  # a "<" where the tokenizer matched nothing
        if unmatched >= 0:
            return _Tail(xml, children, end, unmatched)
        at = match.end()
    unmatched = xml.find("<", at)
    return _Tail(xml, children, end, unmatched if unmatched >= 0 else len(xml))


def _children(head: str, tail: str) -> tuple[Children, int]:
    """``_top_level(tail)``, reusing what an earlier tail after the same ``head`` (a file of the
    same template) gave for the children they share byte for byte: tails differ from unit to
    unit in their last children only (a page footer naming the unit), and reading the rest
    again was a tenth of a feedback workbook's CPU.

    Why it is the same answer: up to where the earlier tail's every ``<`` began a matched token
    (``_Tail.plain``), the tokenizer never looks past the end of the token it matches; so on a
    shared prefix ending where a child starts, it finds the same tokens, at depth 0 there."""
    known = _TAIL_SHAPES.find(head)
    if known is not None:
        if known.xml == tail:
            return known.children, known.end
        for index in range(len(known.children) - 1, 0, -1):
            at = known.children[index][1]
            if at <= known.plain and tail.startswith(known.xml[:at]):
                return _top_level(tail, at, known.children[:index])
    found = _tail_of(tail)
    _TAIL_SHAPES.put(head, found)
    return found.children, found.end


def _cell_tag(xml: str, cell: str, data_end: int) -> re.Match[str] | None:
    """The first ``<c>`` start tag of ``cell`` in ``xml`` before ``data_end``.

    Searched from the last ``>`` before the first ``r="cell"`` (or ``r='cell'``) anywhere: the
    pattern holds no ``>`` from its ``<c`` to its address, so no match starts before that
    ``>``; searching the whole sheet with it for each marked cell was a twentieth of a
    feedback workbook's CPU."""
    found = [at for at in (xml.find(f'r="{cell}"'), xml.find(f"r='{cell}'")) if at >= 0]
    if not found:
        return None
    start = xml.rfind(">", 0, min(found)) + 1
    return re.compile(rf"""<c\s[^>]*?\br=["']{cell}["'][^>]*>""").search(xml, start, data_end)


def _untabbed_head(head: str) -> bytes:
    """The XML of a sheet before its cells, without ``tabSelected`` (see ``_untabbed``)."""
    return _TAB_SELECTED.sub(b"", head.encode())


def _untabbed(data: bytes) -> bytes | None:
    """A sheet part without ``tabSelected`` on its views; None when it had none."""
    head_end = data.find(b"<sheetData")
    head = _TAB_SELECTED.sub(b"", data[:head_end])
    return head + data[head_end:] if len(head) != head_end else None


@dataclass(frozen=True)
class _Book:
    """What a package's workbook, relationships, content types and styles say, read once per
    template (``_BOOKS``)."""

    types: str
    book: str
    book_rels: str
    book_rel_ids: frozenset[str]
    sheets: dict[str, str]  # sheet name -> part
    sheet_ids: tuple[int, ...]
    styles: _StyleBase
    block: int  # the first free block of VML shape ids

    @classmethod
    def read(cls, parts: _Parts) -> _Book:
        types = _text_part(parts, "[Content_Types].xml")
        if "macroEnabled" in types:
            raise Unpatchable("macro-enabled workbook (the feedback is a plain .xlsx)")
        book = _text_part(parts, "xl/workbook.xml")
        _root_is(book, "workbook", MAIN)
        book_rels = _text_part(parts, "xl/_rels/workbook.xml.rels")
        rels = _parse(book_rels, "workbook rels")
        targets = {el.get("Id"): _target("xl", el.get("Target", "")) for el in rels}
        sheets: dict[str, str] = {}
        sheet_ids: list[int] = []
        for el in _parse(book, "workbook.xml").iter(f"{{{MAIN}}}sheet"):
            part = targets.get(el.get(f"{{{REL}}}id"))
            if part is None or part not in parts:
                raise Unpatchable(f"sheet {el.get('name')!r} has no part")
            sheets[el.get("name", "")] = part
            sheet_ids.append(int(el.get("sheetId", "0")))
        block = 1 + max(
            (
                int(n)
                for name in parts.names()
                if name.endswith(".vml")
                for n in re.findall(rb'<o:idmap[^>]*\bdata="(\d+)', parts[name])
            ),
            default=0,
        )
        styles = _StyleBase.read(_text_part(parts, "xl/styles.xml"))
        ids = frozenset(rid for rid in targets if rid is not None)
        return cls(types, book, book_rels, ids, sheets, tuple(sheet_ids), styles, block)

    @classmethod
    def of(cls, parts: _Parts) -> _Book:
        names = tuple(parts.names())
        vml = tuple(parts.pristine(name) for name in names if name.endswith(".vml"))
        key = (names, *(parts.pristine(name) for name in _FIXED), vml)
        return _BOOKS.get(key, lambda: cls.read(parts))


@dataclass(frozen=True)
class _SheetRels:
    """A sheet's relationships part (None: it has none) and the ids used in it."""

    xml: str | None
    used: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def read(cls, parts: _Parts, name: str, sheet: str) -> _SheetRels:
        if name not in parts:
            return cls(None)
        xml = _text_part(parts, name)
        used = set()
        for el in _parse(xml, name):
            if el.get("Type", "").endswith(("/comments", "/vmlDrawing")):
                raise Unpatchable(f"sheet {sheet!r} already has comments")
            used.add(el.get("Id", ""))
        return cls(xml, frozenset(used))


# What is derived from the parts every file of a template shares (see the module docstring).
_BOOKS: Recent[Hashable, _Book] = Recent(16)
_SHEET_RELS: Recent[Hashable, _SheetRels] = Recent(64)
_TAIL_SHAPES: Recent[str, _Tail] = Recent(16)  # by the sheet's XML before its cells (``_children``)
_HEADS: Recent[str, bytes] = Recent(64)
_ENDINGS: Recent[tuple[str, str], bytes] = Recent(64)
_UNTABBED: Recent[Hashable, Entry | None] = Recent(64)
_ENTRIES: Recent[tuple[Hashable, ...], Entry] = Recent(256)
_STYLES_OUT: Recent[tuple[str, tuple[tuple[str, ...], ...]], Entry] = Recent(64)


class _Patch:
    """The parts of one package and the edits made to them so far."""

    def __init__(self, parts: _Parts) -> None:
        self.parts = parts
        self.fixed = _Book.of(parts)
        self.sheets = self.fixed.sheets
        self.styles = _Styles(self.fixed.styles)
        self.overrides: list[str] = []
        self.block = self.fixed.block
        self.marked: set[str] = set()

    def mark_sheet(self, sheet: str, marks: list[Mark]) -> None:
        part = self.sheets[sheet]
        if part in self.marked:
            raise Unpatchable(f"sheet {sheet!r} shares its part with another sheet")
        xml = _text_part(self.parts, part)
        _root_is(xml, "worksheet", MAIN)
        rels_part = _rels_path(part)
        rels_key = self.parts.pristine(rels_part) if rels_part in self.parts else ("none", rels_part)
        if rels_key is None:  # changed already (a part listed twice): read as it is now
            rels = _SheetRels.read(self.parts, rels_part, sheet)
        else:
            rels = _SHEET_RELS.get(rels_key, lambda: _SheetRels.read(self.parts, rels_part, sheet))
        used = set(rels.used)
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
            found = _cell_tag(xml, cell, data_end)
            if found is None:
                raise Unpatchable(f"no <c> element for {sheet}!{cell}")
            tag = found.group(0)
            style = self.styles.with_fill(int(_get(tag, "s") or 0), colour)
            new = _set(tag, "s", str(style))
            xml = xml[: found.start()] + new + xml[found.end() :]
            data_end += len(new) - len(tag)
        tail_start = data_end + len("</sheetData>")
        tail = xml[tail_start:]
        cells_start = xml.find("<sheetData")
        # the XML around the cells is the template's (cached), unless it is not small
        around = 0 <= cells_start < tail_start and cells_start + len(tail) <= _AROUND_MAX
        head_xml = xml[:cells_start]
        children, end = _children(head_xml, tail) if around else _top_level(tail)
        if any(name == "legacyDrawing" or ":" in name for name, _ in children):
            raise Unpatchable(f"sheet {sheet!r} has a legacy drawing or extension elements")
        vml_id, comments_id = _free_id(used), _free_id(used)
        at = next((pos for name, pos in children if name in _AFTER_LEGACY), end)
        legacy = f'<legacyDrawing xmlns:r="{REL}" r:id="{vml_id}"/>'
        split = children[-1][1] if children else 0  # where the last child starts
        if around and 0 < split <= at:
            # the last child (a unit's own page footer, in templates) apart from the XML before
            # it, which files of one template share: that is deflated once, this stored
            head = _HEADS.get(head_xml, partial(_untabbed_head, head_xml))
            last = (tail[split:at] + legacy + tail[at:]).encode()
            cells = xml[cells_start:tail_start].encode()
            self.parts[part] = xlsxzip.spliced(head, cells, tail[:split].encode(), last)
        elif around:
            head = _HEADS.get(head_xml, partial(_untabbed_head, head_xml))
            ending = _ENDINGS.get((tail, legacy), lambda: (tail[:at] + legacy + tail[at:]).encode())
            self.parts[part] = xlsxzip.spliced(head, xml[cells_start:tail_start].encode(), ending)
        else:
            at += tail_start
            sheet_xml = (xml[:at] + legacy + xml[at:]).encode()
            self.parts[part] = _untabbed(sheet_xml) or sheet_xml
        self.marked.add(part)
        number, comments_part = _free(self.parts, "xl/comments{}.xml")
        vml_part = f"xl/drawings/vmlDrawing{number}.vml"
        while vml_part in self.parts:
            number += 1
            vml_part = f"xl/drawings/vmlDrawing{number}.vml"
        self.parts[vml_part] = vml_drawing({cell: parse_cell(cell) for cell in notes}, self.block).encode()
        self.block += 1
        self.parts[comments_part] = comments(notes).encode()
        up = "../" * part.count("/")
        new_rels = (
            f'<Relationship Id="{vml_id}" Type="{REL}/vmlDrawing" Target="{up}{vml_part}"/>'
            f'<Relationship Id="{comments_id}" Type="{REL}/comments" Target="{up}{comments_part}"/>'
        )
        xml_rels = rels.xml
        self.parts[rels_part] = _ENTRIES.get(
            ("rels", xml_rels, new_rels), lambda: xlsxzip.entry(_with_rels(xml_rels, new_rels))
        )
        self.overrides.append(f'<Override PartName="/{comments_part}" ContentType="{CT_COMMENTS}"/>')

    def add_issues_sheet(self, issues: IssuesSheet) -> None:
        fixed = self.fixed
        if issues.name in self.sheets:
            raise Unpatchable(f"the workbook already has a sheet {issues.name!r}")
        _, part = _free(self.parts, "xl/worksheets/sheet{}.xml")
        self.parts[part] = issues_sheet(issues, self.styles).encode()
        rid = _free_id(set(fixed.book_rel_ids))
        rel = f'<Relationship Id="{rid}" Type="{REL}/worksheet" Target="/{part}"/>'
        self.parts["xl/_rels/workbook.xml.rels"] = _ENTRIES.get(
            ("book rels", fixed.book_rels, rel), lambda: xlsxzip.entry(_with_rels(fixed.book_rels, rel))
        )
        self.overrides.append(f'<Override PartName="/{part}" ContentType="{CT_SHEET}"/>')
        sheet_id = max(fixed.sheet_ids) + 1
        self.parts["xl/workbook.xml"] = _ENTRIES.get(
            ("book", fixed.book, issues.name, sheet_id, rid),
            lambda: xlsxzip.entry(_first_sheet(fixed.book, issues.name, sheet_id, rid)),
        )
        for other in dict.fromkeys(self.sheets.values()):  # one selected tab: two would group the sheets
            if other in self.marked:
                continue  # cleared when it was marked
            key = self.parts.pristine(other)
            if key is None:
                untabbed = _untabbed(self.parts[other])
                if untabbed is not None:
                    self.parts[other] = untabbed
                continue
            done = _UNTABBED.get(key, partial(self._untabbed_entry, other))
            if done is not None:
                self.parts[other] = done
        if "docProps/app.xml" in self.parts:
            key = self.parts.pristine("docProps/app.xml")
            self.parts["docProps/app.xml"] = _ENTRIES.get(("app", key), self._app_without_titles)

    def _untabbed_entry(self, part: str) -> Entry | None:
        untabbed = _untabbed(self.parts[part])
        return None if untabbed is None else xlsxzip.entry(untabbed)

    def _app_without_titles(self) -> Entry:
        app = _text_part(self.parts, "docProps/app.xml")
        return xlsxzip.entry(_TITLES.sub("", app).encode())

    def write(self) -> bytes:
        self.parts["xl/styles.xml"] = self.styles.entry()
        types = self.fixed.types
        vml = any(n.endswith(".vml") for n in self.parts.names())
        overrides = tuple(self.overrides)
        self.parts["[Content_Types].xml"] = _ENTRIES.get(
            ("types", types, overrides, vml), lambda: xlsxzip.entry(_types(types, overrides, vml))
        )
        return self.parts.write()


def _with_rels(rels: str | None, new: str) -> bytes:
    """A relationships part (a new one for None) with the ``new`` relationships added."""
    if rels is None:
        rels = f'{DECL}<Relationships xmlns="{PKG_REL}"></Relationships>'
    at = rels.rindex("</Relationships>")
    return (rels[:at] + new + rels[at:]).encode()


def _types(types: str, overrides: tuple[str, ...], vml: bool) -> bytes:
    """[Content_Types].xml with ``overrides`` and, when the package has VML drawings, their
    default type."""
    added = list(overrides)
    if vml and not re.search(r"""Extension=["']vml["']""", types, re.I):
        added.append(f'<Default Extension="vml" ContentType="{CT_VML}"/>')
    at = types.rindex("</Types>")
    return (types[:at] + "".join(added) + types[at:]).encode()


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
