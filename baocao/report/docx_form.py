"""The administrative form of a Word document (Nghị định 30/2020/NĐ-CP, Phụ lục I), as small
python-docx helpers: page, fonts and language, paragraphs, short rules, page numbers, tables.

What the decree asks and where it is done here:
- A4, margins top/bottom 2 cm, left 3 cm, right 1.5 cm; Times New Roman (``setup``);
- text 13–14 pt, paragraphs at least 6 pt apart, line spacing from single to 1.5 (``para``);
- page numbers in Arabic numerals, centred at the top, not on the first page (``page_numbers``);
- short horizontal rules under the issuing body, the national motto and the title (``rule``);
- tables whose heading rows repeat on every page and whose rows never split (``table_rows``);
- the document language Vietnamese (vi-VN), so Word does not spell-check it as English.
Placeholders (what only a person can decide) are highlighted in yellow.
"""

from __future__ import annotations

from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from baocao.report.cells import safe_text

FONT = "Times New Roman"
LANGUAGE = "vi-VN"
PLACEHOLDER = WD_COLOR_INDEX.YELLOW
PH = {"placeholder": True}
PARAGRAPH_GAP = 6  # points between paragraphs (the decree's minimum)
TEXT_WIDTH_CM = 16.5  # A4 minus the margins
CENTER, JUSTIFY, LEFT, RIGHT = (
    WD_ALIGN_PARAGRAPH.CENTER,
    WD_ALIGN_PARAGRAPH.JUSTIFY,
    WD_ALIGN_PARAGRAPH.LEFT,
    WD_ALIGN_PARAGRAPH.RIGHT,
)


def _lang(rpr) -> None:
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    for attr in ("w:val", "w:eastAsia"):
        lang.set(qn(attr), LANGUAGE)


def setup(doc) -> None:
    """Page size and margins, the Normal style's font, size, spacing and language."""
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(2), Cm(2)
    section.left_margin, section.right_margin = Cm(3), Cm(1.5)
    section.header_distance = Cm(1)
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(14)
    rpr = normal.element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    _lang(rpr)
    normal.paragraph_format.line_spacing = 1.15
    normal.paragraph_format.space_after = Pt(PARAGRAPH_GAP)
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    if defaults is None:
        defaults = OxmlElement("w:docDefaults")
        doc.styles.element.insert(0, defaults)
    rpr_default = defaults.find(qn("w:rPrDefault"))
    if rpr_default is None:
        rpr_default = OxmlElement("w:rPrDefault")
        defaults.insert(0, rpr_default)
    rpr = rpr_default.find(qn("w:rPr"))
    if rpr is None:
        rpr = OxmlElement("w:rPr")
        rpr_default.append(rpr)
    _lang(rpr)


def _insert(parent, child, successors: tuple[str, ...]) -> None:
    """Insert ``child`` before the first of ``successors`` present: WordprocessingML fixes the
    order of properties, and Word calls a file with them out of order damaged."""
    for element in parent:
        if element.tag in {qn(tag) for tag in successors}:
            element.addprevious(child)
            return
    parent.append(child)


def font(run, size: float | None = None, bold: bool = False, italic: bool = False) -> None:
    run.font.name = FONT
    rpr = run._element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    if size:
        run.font.size = Pt(size)
    run.bold = bold or None
    run.italic = italic or None


def para(
    container,
    parts,
    *,
    align=JUSTIFY,
    size: float = 14,
    indent: bool = False,
    after: float = PARAGRAPH_GAP,
    before: float = 0,
    keep_next: bool = False,
):
    """A paragraph of ``parts``: strings, or (text, {"bold", "italic", "placeholder", "size"}).

    Text goes through ``safe_text``: a control character in a unit's text cannot break the file.
    """
    p = container.add_paragraph()
    p.alignment = align
    fmt = p.paragraph_format
    fmt.space_after = Pt(after)
    fmt.space_before = Pt(before)
    fmt.keep_with_next = keep_next or None
    if indent:
        fmt.first_line_indent = Cm(1.27)
    for part in [parts] if isinstance(parts, str | tuple) else parts:
        text, style = (part, {}) if isinstance(part, str) else part
        run = p.add_run(safe_text(text))
        font(run, style.get("size", size), style.get("bold", False), style.get("italic", False))
        if style.get("placeholder"):
            run.font.highlight_color = PLACEHOLDER
    return p


def rule(container, length_cm: float, width_cm: float, after: float = 0) -> None:
    """A short centred horizontal rule ``length_cm`` long in a column ``width_cm`` wide: an empty
    paragraph with a bottom border, narrowed by equal indents (Word and LibreOffice draw it the
    same way, and it moves with the text, unlike a drawn line)."""
    p = container.add_paragraph()
    fmt = p.paragraph_format
    side = max(0.0, (width_cm - length_cm) / 2)
    fmt.left_indent, fmt.right_indent = Cm(side), Cm(side)
    fmt.space_before, fmt.space_after = Pt(0), Pt(after)
    fmt.line_spacing = Pt(2)
    ppr = p._p.get_or_add_pPr()
    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for attr, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "auto")):
        bottom.set(qn(attr), value)
    border.append(bottom)
    _insert(ppr, border, PPR_AFTER_BORDER)


PPR_AFTER_BORDER = (
    "w:shd",
    "w:tabs",
    "w:suppressAutoHyphens",
    "w:kinsoku",
    "w:wordWrap",
    "w:overflowPunct",
    "w:topLinePunct",
    "w:autoSpaceDE",
    "w:autoSpaceDN",
    "w:bidi",
    "w:adjustRightInd",
    "w:snapToGrid",
    "w:spacing",
    "w:ind",
    "w:contextualSpacing",
    "w:mirrorIndents",
    "w:suppressOverlap",
    "w:jc",
    "w:textDirection",
    "w:textAlignment",
    "w:textboxTightWrap",
    "w:outlineLvl",
    "w:divId",
    "w:cnfStyle",
    "w:rPr",
    "w:sectPr",
    "w:pPrChange",
)


def _field(paragraph, instruction: str, size: float) -> None:
    """A Word field (``PAGE``) as begin / instruction / separate / cached text / end runs."""
    for kind, text in (("begin", None), (None, instruction), ("separate", None), (None, "2"), ("end", None)):
        run = paragraph.add_run()
        font(run, size)
        if kind:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._element.append(char)
        elif text == instruction:
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = f" {instruction} "
            run._element.append(instr)
        else:
            run.text = text


def page_numbers(doc, size: float = 13) -> None:
    """Page numbers centred in the header from the second page on (the first page has none)."""
    section = doc.sections[0]
    section.different_first_page_header_footer = True
    header = section.header
    p = header.paragraphs[0] if header.paragraphs else header.add_paragraph()
    p.alignment = CENTER
    _field(p, "PAGE", size)


def blank_cell(cell):
    """The cell with its first paragraph removed, so content starts at the top."""
    p = cell.paragraphs[0]
    p._element.getparent().remove(p._element)
    return cell


def widths(table, cms: list[float]) -> None:
    """Fix column widths (grid and every cell: Word reads one, LibreOffice the other)."""
    table.autofit = False
    for column, width in zip(table.columns, cms, strict=True):
        column.width = Cm(width)
        for cell in column.cells:
            cell.width = Cm(width)


def table_rows(table, header_rows: int = 1) -> None:
    """Heading rows repeat on every page; no row splits across a page break."""
    for index, row in enumerate(table.rows):
        trpr = row._tr.get_or_add_trPr()
        trpr.append(OxmlElement("w:cantSplit"))
        if index < header_rows:
            trpr.append(OxmlElement("w:tblHeader"))


def no_borders(table) -> None:
    """A layout table (heading, signature): no borders drawn."""
    tblpr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        edge = OxmlElement(f"w:{side}")
        edge.set(qn("w:val"), "nil")
        borders.append(edge)
    _insert(tblpr, borders, ("w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption"))
