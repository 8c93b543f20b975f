"""The Word draft of a summary report (python-docx), in the Vietnamese administrative layout.

Layout after Nghị định 30/2020/NĐ-CP: issuing body and national heading side by side in a
borderless table, number and place/date line, title, body in Times New Roman 14, A4 with margins
top/bottom 2 cm, left 3 cm, right 1.5 cm, then "Nơi nhận:" and the signature block.

It is a *draft*: what only a person can decide (the document number, date of signing, the
recipients, the signer's title and name, next period's tasks) is a placeholder highlighted in
yellow, so an unfinished document stands out and is not sent by mistake.
"""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from baocao.report.summary import Summary, has_text, lower_first
from baocao.spec.config import Settings

FONT = "Times New Roman"
PLACEHOLDER = WD_COLOR_INDEX.YELLOW
PLACEHOLDER_STYLE = {"italic": True, "placeholder": True}


def _font(run, size: float | None = None, bold: bool = False, italic: bool = False) -> None:
    run.font.name = FONT
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    if size:
        run.font.size = Pt(size)
    run.bold = bold or None
    run.italic = italic or None


def _para(container, parts, *, align=None, size: float = 14, indent: bool = False, after: float = 6):
    """A paragraph of ``parts``: strings, or (text, {"bold", "italic", "placeholder", "size"})."""
    p = container.add_paragraph()
    p.alignment = align
    fmt = p.paragraph_format
    fmt.space_after = Pt(after)
    fmt.space_before = Pt(0)
    if indent:
        fmt.first_line_indent = Cm(1.27)
    for part in [parts] if isinstance(parts, str | tuple) else parts:
        text, style = (part, {}) if isinstance(part, str) else part
        run = p.add_run(text)
        _font(run, style.get("size", size), style.get("bold", False), style.get("italic", False))
        if style.get("placeholder"):
            run.font.highlight_color = PLACEHOLDER
    return p


def _blank_cell(cell):
    """The first paragraph of a cell, emptied, so content starts at the top."""
    p = cell.paragraphs[0]
    p._element.getparent().remove(p._element)
    return cell


def _widths(table, cms: list[float]) -> None:
    """Fix column widths (grid and every cell: Word reads one, LibreOffice the other)."""
    table.autofit = False
    for column, width in zip(table.columns, cms, strict=True):
        column.width = Cm(width)
        for cell in column.cells:
            cell.width = Cm(width)


def sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:].lower()


def period_words(name: str) -> str:
    """``Quý I năm 2025`` -> ``quý I năm 2025`` (only the first letter is lowered)."""
    return name[:1].lower() + name[1:]


def report_subject(summary: Summary) -> str:
    """``Kết quả công tác … cải cách hành chính quý I năm 2025`` from the form's title."""
    title = summary.form.title.strip()
    if title.upper().startswith("BÁO CÁO "):
        title = title[len("BÁO CÁO ") :]
    return f"{sentence_case(title)} {period_words(summary.period.name)}"


def _since(comp) -> str:
    """``kỳ trước (năm 2024)`` / ``cùng kỳ năm trước (quý I năm 2024)``."""
    word = "kỳ trước" if comp.kind == "previous" else "cùng kỳ năm trước"
    return f"{word} ({period_words(comp.period.name)})"


def _n(value: int | float) -> str:
    return f"{value:,.0f}".replace(",", ".")


def _header(doc, summary: Summary, settings: Settings, year: int) -> None:
    table = doc.add_table(rows=1, cols=2)
    table.autofit = False
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _widths(table, [6.0, 10.5])
    left, right = (_blank_cell(c) for c in table.rows[0].cells)
    center = WD_ALIGN_PARAGRAPH.CENTER
    if settings.issuing_body:
        _para(left, settings.issuing_body.upper(), align=center, size=13, after=0)
    _para(left, (summary.organisation.upper(), {"bold": True}), align=center, size=13, after=0)
    _para(left, "――――――", align=center, size=10, after=4)
    code = summary.level.code if summary.level.kind == "department" else ("…", {"placeholder": True})
    _para(left, ["Số: ", ("……", {"placeholder": True}), "/BC-", code], align=center, size=13, after=0)
    _para(right, ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", {"bold": True}), align=center, size=12, after=0)
    _para(right, ("Độc lập - Tự do - Hạnh phúc", {"bold": True}), align=center, size=13, after=0)
    _para(right, "――――――――――――", align=center, size=10, after=4)
    place = (settings.province, {"italic": True}) if settings.province else ("[Địa danh]", PLACEHOLDER_STYLE)
    _para(
        right,
        [
            place,
            (", ngày ", {"italic": True}),
            ("……", {"italic": True, "placeholder": True}),
            (" tháng ", {"italic": True}),
            ("……", {"italic": True, "placeholder": True}),
            (f" năm {year}", {"italic": True}),
        ],
        align=center,
        size=14,
        after=0,
    )


def _totals_table(doc, summary: Summary) -> None:
    comps = summary.comparisons
    heads = ["STT", "Chỉ tiêu", "Đơn vị tính", summary.period.name]
    heads += [f"{c.title.split(': ', 1)[0]} ({c.period.name})" for c in comps]
    widths = [1.3, 7.0, 2.2] + [6.0 / (1 + len(comps))] * (1 + len(comps))
    table = doc.add_table(rows=1, cols=len(heads))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    center, left, right = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.LEFT, WD_ALIGN_PARAGRAPH.RIGHT
    for cell, text in zip(table.rows[0].cells, heads, strict=True):
        _para(_blank_cell(cell), (text, {"bold": True}), align=center, size=12, after=0)
    for number, f in enumerate(summary.form.quantitative_fields, start=1):
        values = [str(number), f.label, f.measure, _n(summary.totals[f.code])]
        values += [_n(c.totals[f.code]) if c.totals else "—" for c in comps]
        for i, (cell, text) in enumerate(zip(table.add_row().cells, values, strict=True)):
            align = left if i == 1 else (center if i in (0, 2) else right)
            _para(_blank_cell(cell), text, align=align, size=12, after=0)
    _widths(table, widths)


def _results(doc, summary: Summary, tz: ZoneInfo) -> None:
    c, just = summary.counts, WD_ALIGN_PARAGRAPH.JUSTIFY
    _para(doc, ("I. KẾT QUẢ THỰC HIỆN", {"bold": True}), align=just)
    _para(doc, ("1. Tình hình gửi báo cáo của các đơn vị", {"bold": True}), align=just, indent=True)
    share = f" ({c['reported'] / c['expected']:.0%})" if c["expected"] else ""
    text = (
        f"Tổng số đơn vị phải báo cáo: {c['expected']}; đã báo cáo {c['reported']} đơn vị{share}, "
        f"trong đó đúng hạn {c['on_time']}, chậm hạn {c['late']}; bị trả lại chưa gửi lại bản đạt yêu "
        f"cầu {c['rejected']}; chưa báo cáo {c['missing']} đơn vị."
    )
    if summary.provisional:
        made = summary.made_at.astimezone(tz)
        text += f" Số liệu tạm thời, tính đến {made:%H} giờ {made:%M} ngày {made:%d/%m/%Y}."
    _para(doc, text, align=just, indent=True)
    absent = [r.unit.name for r in summary.rows if not r.reported]
    if absent:
        _para(
            doc,
            "Các đơn vị chưa có báo cáo được tiếp nhận: " + "; ".join(absent) + ".",
            align=just,
            indent=True,
        )
    _para(doc, ("2. Kết quả cụ thể", {"bold": True}), align=just, indent=True)
    comps = [comp for comp in summary.comparisons if comp.totals]
    group = None
    for f in summary.form.quantitative_fields:
        if f.group != group:
            group = f.group
            _para(doc, (group, {"italic": True}), align=just, indent=True, after=2)
        line = f"- {f.label}: {_n(summary.totals[f.code])} {lower_first(f.measure)}"
        if comps:
            line += (
                " ("
                + "; ".join(f"{_since(comp)}: {_n((comp.totals or {}).get(f.code, 0))}" for comp in comps)
                + ")"
            )
        _para(doc, line + ".", align=just, indent=True, after=2)
        t = summary.target
        if t and f.code == t.field and summary.target_judged:
            _para(
                doc,
                f"- Số đơn vị đạt chỉ tiêu tối thiểu {t.per_month:g} {t.measure} mỗi tháng ({t.value:g} "
                f"{t.measure} trong kỳ): {summary.target_met}/{summary.target_judged} đơn vị đã báo cáo "
                f"({summary.target_met / summary.target_judged:.0%}).",
                align=just,
                indent=True,
                after=2,
            )
    _para(doc, ("Bảng tổng hợp số liệu", {"bold": True, "italic": True}), align=WD_ALIGN_PARAGRAPH.CENTER)
    _totals_table(doc, summary)


def _assessment(doc, summary: Summary) -> None:
    just = WD_ALIGN_PARAGRAPH.JUSTIFY
    _para(doc, "", after=0)
    _para(doc, ("II. ĐÁNH GIÁ, ĐỀ XUẤT CỦA CÁC ĐƠN VỊ", {"bold": True}), align=just)
    for number, f in enumerate(summary.form.text_fields, start=1):
        _para(doc, (f"{number}. {f.label}", {"bold": True}), align=just, indent=True)
        lines = [
            (r.unit.name, " ".join(r.texts[f.code].split()))
            for r in summary.rows
            if r.reported and has_text(r.texts.get(f.code, ""))
        ]
        for name, text in lines:
            _para(doc, [(f"- {name}: ", {"italic": True}), text], align=just, indent=True, after=2)
        if not lines:
            _para(doc, "Các đơn vị không nêu nội dung này.", align=just, indent=True)
    _para(doc, ("III. PHƯƠNG HƯỚNG, NHIỆM VỤ KỲ TỚI", {"bold": True}), align=just)
    _para(doc, ("[Nội dung do cơ quan tổng hợp bổ sung]", {"placeholder": True}), align=just, indent=True)
    _para(
        doc,
        f"Trên đây là báo cáo {report_subject(summary)[:1].lower()}{report_subject(summary)[1:]} "
        f"của {summary.organisation}./.",
        align=just,
        indent=True,
    )


def _signature(doc) -> None:
    _para(doc, "", after=0)
    table = doc.add_table(rows=1, cols=2)
    _widths(table, [7.5, 9.0])
    left, right = (_blank_cell(c) for c in table.rows[0].cells)
    _para(left, ("Nơi nhận:", {"bold": True, "italic": True}), size=12, after=0)
    _para(left, ["- ", ("[Cơ quan nhận báo cáo]", {"placeholder": True}), ";"], size=11, after=0)
    _para(left, "- Lưu: VT.", size=11, after=0)
    center = WD_ALIGN_PARAGRAPH.CENTER
    _para(right, ("[CHỨC VỤ NGƯỜI KÝ]", {"bold": True, "placeholder": True}), align=center, after=0)
    _para(right, ("(Ký, ghi rõ họ tên, đóng dấu)", {"italic": True}), align=center, size=13, after=60)
    _para(right, ("[Họ và tên người ký]", {"bold": True, "placeholder": True}), align=center, after=0)


def render_docx(summary: Summary, settings: Settings, tz: ZoneInfo) -> bytes:
    """The Word draft of ``summary`` as .docx bytes (pure)."""
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(2), Cm(2)
    section.left_margin, section.right_margin = Cm(3), Cm(1.5)
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(14)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    normal.paragraph_format.line_spacing = 1.1
    doc.core_properties.title = report_subject(summary)
    doc.core_properties.author = summary.organisation
    _header(doc, summary, settings, summary.made_at.astimezone(tz).year)
    _para(doc, "", after=0)
    _para(doc, ("BÁO CÁO", {"bold": True}), align=WD_ALIGN_PARAGRAPH.CENTER, after=0)
    _para(doc, (report_subject(summary), {"bold": True}), align=WD_ALIGN_PARAGRAPH.CENTER, after=12)
    _para(
        doc,
        f"{summary.organisation} báo cáo {report_subject(summary)[:1].lower()}{report_subject(summary)[1:]} "
        "như sau:",
        align=WD_ALIGN_PARAGRAPH.JUSTIFY,
        indent=True,
    )
    _results(doc, summary, tz)
    _assessment(doc, summary)
    _signature(doc)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
