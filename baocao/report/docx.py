"""The Word draft of a summary report (python-docx), in the form of Nghị định 30/2020/NĐ-CP.

Content, in the order of a Vietnamese administrative report: the heading (cơ quan chủ quản and
cơ quan ban hành beside the national motto, số/ký hiệu, place and date), the title with its
short rule, an opening sentence citing the plan it answers, I. results (completeness; figures
by group a), b)… each with its like-for-like change and the units it covers; targets at their
level), the table of totals, II. what units assessed and proposed, III. next tasks, the closing
sentence, then Nơi nhận and the signature block.

It is a *draft*: what config does not say and only a person can decide (the document number,
date of signing, recipients, signer, next period's tasks, a section no unit wrote about) is a
placeholder highlighted in yellow, so an unfinished document stands out and is not sent upward
by mistake. The form itself (page, fonts, spacing, page numbers, rules) is in ``docx_form``.
"""

from __future__ import annotations

import io
import re

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT

from baocao.report.cells import short, vn_number, vn_percent
from baocao.report.docx_form import (
    CENTER,
    LEFT,
    PH,
    RIGHT,
    TEXT_WIDTH_CM,
    blank_cell,
    no_borders,
    page_numbers,
    para,
    rule,
    setup,
    table_rows,
    widths,
)
from baocao.report.summary import Summary, has_text
from baocao.report.targets import lower_first
from baocao.spec.config import Settings

NARRATIVE_LIMIT = 3000  # characters of one unit's text quoted in the draft (all of it is in the workbook)
HEAD_WIDTHS = [6.5, 10.0]
SUB_ITEMS = "abcdđeghiklmnopqrstuvxy"


def sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:].lower()


def report_subject(summary: Summary) -> str:
    """``Kết quả công tác … cải cách hành chính quý I năm 2025`` from the form's title."""
    title = summary.form.title.strip()
    if title.upper().startswith("BÁO CÁO "):
        title = title[len("BÁO CÁO ") :]
    return f"{sentence_case(title)} {lower_first(summary.period.name)}"


def _agency(summary: Summary, settings: Settings) -> tuple[str, str]:
    """(cơ quan ban hành as named, ký hiệu after the number) for the level of the summary."""
    top = summary.level.kind == "province" or summary.level.parent is None
    if top and settings.report.agency:
        return settings.report.agency, settings.report.number_suffix
    if top:
        return summary.organisation, settings.report.number_suffix
    return summary.level.name, ""


def _header(doc, summary: Summary, settings: Settings) -> None:
    table = doc.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    no_borders(table)
    widths(table, HEAD_WIDTHS)
    left, right = (blank_cell(c) for c in table.rows[0].cells)
    agency, suffix = _agency(summary, settings)
    if settings.issuing_body:
        para(left, settings.issuing_body.upper(), align=CENTER, size=13, after=0)
    para(left, (agency.upper(), {"bold": True}), align=CENTER, size=13, after=0)
    rule(left, 2.5, HEAD_WIDTHS[0], after=6)
    number = ["Số:      /", suffix] if suffix else ["Số: ", ("……/BC-……", PH)]
    para(left, number, align=CENTER, size=13, after=0)
    para(right, ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", {"bold": True}), align=CENTER, size=13, after=0)
    para(right, ("Độc lập - Tự do - Hạnh phúc", {"bold": True}), align=CENTER, size=14, after=0)
    rule(right, 6.0, HEAD_WIDTHS[1], after=6)
    place = (
        (settings.province, {"italic": True}) if settings.province else ("[Địa danh]", PH | {"italic": True})
    )
    italic_ph = {"italic": True, "placeholder": True}
    para(
        right,
        [
            place,
            (", ngày ", {"italic": True}),
            ("……", italic_ph),
            (" tháng ", {"italic": True}),
            ("……", italic_ph),
            (f" năm {summary.made_at.year}", {"italic": True}),
        ],
        align=CENTER,
        size=14,
        after=0,
    )


def _title(doc, summary: Summary, settings: Settings) -> None:
    para(doc, "", after=0)
    para(doc, ("BÁO CÁO", {"bold": True}), align=CENTER, after=0)
    para(doc, (report_subject(summary), {"bold": True}), align=CENTER, after=0)
    rule(doc, 5.5, TEXT_WIDTH_CM, after=12)
    agency = _agency(summary, settings)[0]
    subject = lower_first(report_subject(summary))
    window = f"{summary.period.window_text}"
    if summary.period.includes_estimates:
        window += "; sau ngày lập báo cáo là số ước thực hiện"
    plan = settings.report.plan
    opening = (
        ["Thực hiện ", plan.rstrip(". ")]
        if plan
        else ["Thực hiện Kế hoạch số ", ("……/KH-…… ngày …… của ……", PH), " về ", ("……", PH)]
    )
    para(doc, [*opening, f"; {agency} báo cáo {subject} ({window}) như sau:"], indent=True)


def _change_text(summary: Summary, code: str, measure: str) -> str:
    """What the total is compared with, covering what it covers.

    When every unit in the total has comparable figures: ``, tăng 12,3 % so với cùng kỳ năm trước
    (cùng 5 đơn vị)``. When only some have, the change is of those units' figures, so the sentence
    gives them and does not hang the rate on the full total (a leader would read "125, down 14 %"
    while 125 counts 7 units and the rate 5): ``; tính riêng 5 đơn vị có số liệu ở cả hai kỳ là
    102 tin, bài, giảm 14,3 % so với cùng kỳ năm trước (119 tin, bài; cùng 5 đơn vị)``.
    """
    words = []
    for comp in summary.comparisons:
        if not comp.comparable or comp.changes is None:
            continue
        ch = comp.changes[code]
        if ch.ratio is None:
            continue
        trend = "tăng" if ch.ratio > 0 else "giảm" if ch.ratio < 0 else "bằng"
        amount = "" if trend == "bằng" else " " + vn_percent(abs(ch.ratio)).lstrip("+")
        coverage = f"cùng {len(comp.units_now)} đơn vị"  # the units the rate covers
        change = f"{trend}{amount} so với {comp.words}"
        if len(comp.units_now) == summary.counts["reported"]:
            words.append(f", {change} ({coverage})")
        else:
            words.append(
                f"; tính riêng {len(comp.units_now)} đơn vị có số liệu ở cả hai kỳ là {vn_number(ch.now)} "
                f"{measure}, {change} ({vn_number(ch.then)} {measure}; {coverage})"
            )
    return "".join(words)


def _who(row) -> str:
    """``Phòng A (quá hạn 2 ngày)`` / ``Phòng B (chậm 3 ngày)`` / ``Phòng C``."""
    st = row.status
    if st.status == "late":
        return f"{row.unit.name} (chậm {st.days_late} ngày)"
    return f"{row.unit.name} (quá hạn {st.days_overdue} ngày)" if st.days_overdue else row.unit.name


def _results(doc, summary: Summary) -> None:
    para(doc, ("I. KẾT QUẢ THỰC HIỆN", {"bold": True}), keep_next=True)
    para(doc, ("1. Tình hình gửi báo cáo của các đơn vị", {"bold": True}), indent=True, keep_next=True)
    text = summary.completeness
    if summary.provisional:
        made = summary.made_at
        text += f" Số liệu tạm thời, tính đến {made:%H} giờ {made:%M} ngày {made:%d/%m/%Y}."
    para(doc, text, indent=True)
    for status, words in (
        ("missing", "Chưa nộp"),
        ("rejected", "Bị trả lại, chưa gửi lại bản đạt"),
        ("late", "Chậm hạn"),
    ):
        rows = [r for r in summary.attention() if r.status.status == status]
        if rows:
            para(doc, f"- {words}: {'; '.join(_who(r) for r in rows)}.", indent=True)
    if summary.problems:
        para(
            doc,
            f"- Có {len(summary.problems)} giá trị trong báo cáo của đơn vị không dùng được, không tính vào "
            "tổng (chi tiết ở trang Cảnh báo của bảng tổng hợp).",
            indent=True,
        )
    para(doc, ("2. Kết quả cụ thể", {"bold": True}), indent=True, keep_next=True)
    for comp in summary.comparisons:
        if not comp.comparable:
            para(doc, (comp.reason, {"italic": True}), indent=True)
        elif comp.left_out_now:
            para(
                doc,
                (
                    f"Tỷ lệ tăng/giảm so với {comp.words} chỉ tính {len(comp.units_now)} đơn vị có số liệu ở "
                    f"cả hai kỳ; {len(comp.left_out_now)} đơn vị không có số liệu tương ứng không được tính.",
                    {"italic": True},
                ),
                indent=True,
            )
    group, letter = None, -1
    for f in summary.form.quantitative_fields:
        if f.group != group:
            group, letter = f.group, letter + 1
            title = re.sub(r"^[A-ZĐ]\.\s*", "", group or "")
            para(
                doc,
                (f"{SUB_ITEMS[letter % len(SUB_ITEMS)]}) {title}", {"italic": True}),
                indent=True,
                keep_next=True,
            )
        measure = lower_first(f.measure)
        line = f"- {f.label}: {vn_number(summary.totals[f.code])} {measure}"
        para(doc, line + _change_text(summary, f.code, measure) + ".", indent=True)
    verdicts = [*summary.verdicts, *(v for b in summary.blocks for v in b.verdicts)]
    per_unit = [v for r in summary.rows for v in r.verdicts if v.met is not None]
    if verdicts or per_unit:
        para(doc, ("3. Thực hiện chỉ tiêu", {"bold": True}), indent=True, keep_next=True)
        first = (verdicts or per_unit)[0]
        para(doc, f"{first.label}: chỉ tiêu {first.rule_text}.", indent=True)
        for v in verdicts:
            caveat = f" ({v.caveat})" if v.caveat else ""
            para(
                doc,
                f"- {v.scope.name}: {vn_number(v.value)} {v.measure}, {v.word.lower()}{caveat}.",
                indent=True,
            )
        if per_unit:
            met = sum(1 for v in per_unit if v.met)
            para(doc, f"- Số đơn vị đạt: {met}/{len(per_unit)} đơn vị đã báo cáo.", indent=True)
    para(doc, ("Bảng tổng hợp số liệu", {"bold": True, "italic": True}), align=CENTER, keep_next=True)
    _totals_table(doc, summary)


def _totals_table(doc, summary: Summary) -> None:
    comp = next((c for c in summary.comparisons if c.comparable and c.changes is not None), None)
    heads = ["STT", "Chỉ tiêu", "Đơn vị tính", f"{summary.period.name} ({summary.counts['reported']} đơn vị)"]
    sizes = [1.2, 8.5, 2.4, 4.4]
    if comp is not None:
        n = len(comp.units_now)
        heads += [
            f"Cùng {n} đơn vị: kỳ này",
            f"{comp.words.capitalize()} ({len(comp.units_then)} đơn vị)",
            "Tăng/ giảm",
        ]
        sizes = [1.2, 5.2, 1.9, 2.1, 2.0, 2.0, 2.1]
    table = doc.add_table(rows=1, cols=len(heads))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, heads, strict=True):
        para(blank_cell(cell), (text, {"bold": True}), align=CENTER, size=12, after=0)
    for number, f in enumerate(summary.form.quantitative_fields, start=1):
        values = [str(number), f.label, f.measure, vn_number(summary.totals[f.code])]
        if comp is not None and comp.changes is not None:
            ch = comp.changes[f.code]
            rate = vn_percent(ch.ratio) if ch.ratio is not None else "—"
            values += [vn_number(ch.now), vn_number(ch.then), rate]
        for i, (cell, text) in enumerate(zip(table.add_row().cells, values, strict=True)):
            align = LEFT if i == 1 else (CENTER if i in (0, 2) else RIGHT)
            para(blank_cell(cell), text, align=align, size=12, after=0)
    widths(table, sizes)
    table_rows(table, header_rows=1)


def _assessment(doc, summary: Summary) -> None:
    para(doc, "", after=0)
    para(doc, ("II. ĐÁNH GIÁ, ĐỀ XUẤT CỦA CÁC ĐƠN VỊ", {"bold": True}), keep_next=True)
    said: dict[str, list[tuple[str, str]]] = {f.code: [] for f in summary.form.text_fields}
    for r, texts in summary.texts_by_row():  # the narratives are read once, for every field
        for code, lines in said.items():
            if r.reported and has_text(texts.get(code, "")):
                lines.append((r.unit.name, " ".join(texts[code].split())))
    for number, f in enumerate(summary.form.text_fields, start=1):
        para(doc, (f"{number}. {f.label}", {"bold": True}), indent=True, keep_next=True)
        lines = said[f.code]
        for name, text in lines:
            quoted = short(text, NARRATIVE_LIMIT)
            extra = " (trích; toàn văn ở trang Đánh giá của bảng tổng hợp)" if quoted != text else ""
            para(doc, [(f"- {name}: ", {"italic": True}), quoted + extra], indent=True)
        if not lines:
            para(
                doc,
                ("[Các đơn vị không nêu nội dung này; cơ quan tổng hợp bổ sung hoặc bỏ mục]", PH),
                indent=True,
            )
    para(doc, ("III. PHƯƠNG HƯỚNG, NHIỆM VỤ KỲ TỚI", {"bold": True}), keep_next=True)
    para(doc, ("[Nội dung do cơ quan tổng hợp bổ sung]", PH), indent=True)


def _signature(doc, summary: Summary, settings: Settings) -> None:
    agency = _agency(summary, settings)[0]
    # the closing sentence stays on the page of the signature block (a page with only a
    # signature is not a document anyone can sign)
    closing = f"Trên đây là báo cáo {lower_first(report_subject(summary))} của {agency}./."
    para(doc, closing, indent=True, keep_next=True)
    para(doc, "", after=0, keep_next=True)
    table = doc.add_table(rows=1, cols=2)
    no_borders(table)
    widths(table, [8.0, 8.5])
    left, right = (blank_cell(c) for c in table.rows[0].cells)
    para(left, ("Nơi nhận:", {"bold": True, "italic": True}), align=LEFT, size=12, after=0)
    recipients = (
        list(settings.report.recipients)
        if summary.level.parent is None or summary.level.kind == "province"
        else []
    )
    if not recipients:
        para(left, ["- ", ("[Cơ quan nhận báo cáo]", PH), ";"], align=LEFT, size=11, after=0)
        recipients = ["Lưu: VT"]
    for i, name in enumerate(recipients):
        end = "." if i == len(recipients) - 1 else ";"
        para(left, f"- {name.rstrip(';.')}{end}", align=LEFT, size=11, after=0)
    r = settings.report
    if r.signer_authority:
        para(right, (r.signer_authority.upper(), {"bold": True}), align=CENTER, size=14, after=0)
    title = (
        (r.signer_title.upper(), {"bold": True})
        if r.signer_title
        else ("[CHỨC VỤ NGƯỜI KÝ]", PH | {"bold": True})
    )
    para(right, title, align=CENTER, size=14, after=72)
    signer = (
        (r.signer_name, {"bold": True}) if r.signer_name else ("[Họ và tên người ký]", PH | {"bold": True})
    )
    para(right, signer, align=CENTER, size=14, after=0)
    table_rows(table, header_rows=0)


def render_docx(summary: Summary, settings: Settings) -> bytes:
    """The Word draft of ``summary`` as .docx bytes (pure)."""
    doc = Document()
    setup(doc)
    page_numbers(doc)
    doc.core_properties.title = report_subject(summary)
    doc.core_properties.author = _agency(summary, settings)[0]
    doc.core_properties.language = "vi-VN"
    _header(doc, summary, settings)
    _title(doc, summary, settings)
    _results(doc, summary)
    _assessment(doc, summary)
    _signature(doc, summary, settings)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
