"""The parts a feedback workbook adds to a unit's package, as XML text: the issues sheet, the
comments of the marked cells and the VML drawing Excel needs to show their boxes.

Why apart from ``xlsxpatch``: these are written from scratch (nothing of the unit's file in
them), the same way on every file; ``xlsxpatch`` fits them into the package. Text goes into
cells as inline strings, so a message starting with "=" is never a formula.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_EXCEL_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")


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


class Styles(Protocol):
    """Where the issues sheet's fonts, borders, fills and cell formats go (``xl/styles.xml``)."""

    def add(self, section: str, xml: str) -> int: ...

    def fill(self, rgb: str) -> int: ...


def vml_drawing(notes: dict[str, tuple[int, int]], block: int) -> str:
    """The legacy drawing of the note boxes of ``notes`` (cell -> (row, column), zero-based), its
    shapes numbered in ``block`` (one block of 1024 shape ids per drawing of the workbook)."""
    base = 1024 * block
    shapes = "".join(_shape(base + z, row, col, z) for z, (row, col) in enumerate(notes.values(), start=1))
    return (
        '<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office"'
        ' xmlns:x="urn:schemas-microsoft-com:office:excel"><o:shapelayout v:ext="edit">'
        f'<o:idmap v:ext="edit" data="{block}"/></o:shapelayout>'
        '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202"'
        ' path="m,l,21600r21600,l21600,xe"><v:stroke joinstyle="miter"/>'
        '<v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>' + shapes + "</xml>"
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


def comments(cells: dict[str, str]) -> str:
    """The comments part: each cell's note, by "baocao"."""
    font = '<rPr><sz val="9"/><color indexed="81"/><rFont val="Tahoma"/><family val="2"/></rPr>'
    items = "".join(
        f'<comment ref="{cell}" authorId="0"><text><r>{font}<t xml:space="preserve">{text(body)}</t>'
        "</r></text></comment>"
        for cell, body in cells.items()
    )
    return (
        f'{DECL}<comments xmlns="{MAIN}"><authors><author>baocao</author></authors>'
        f"<commentList>{items}</commentList></comments>"
    )


def _cell(ref: str, style: int, value: str) -> str:
    """A text cell as an inline string (never a formula), or a styled empty cell."""
    if not value:
        return f'<c r="{ref}" s="{style}"/>'
    return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t xml:space="preserve">{text(value)}</t></is></c>'


def issues_sheet(issues: IssuesSheet, styles: Styles) -> str:
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
        f'{DECL}<worksheet xmlns="{MAIN}" xmlns:r="{REL}"><sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
        f'<dimension ref="A1:D{last}"/><sheetViews><sheetView tabSelected="1" workbookViewId="0">'
        f'<pane ySplit="{top}" topLeftCell="A{top + 1}" activePane="bottomLeft" state="frozen"/>'
        f'<selection pane="bottomLeft" activeCell="A{top + 1}" sqref="A{top + 1}"/></sheetView></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>{"".join(rows)}</sheetData>'
        f'<mergeCells count="{len(merges)}">{merge_xml}</mergeCells>{link_xml}'
        '<pageMargins left="0.5" right="0.5" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>'
        '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/></worksheet>'
    )
