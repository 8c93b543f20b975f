"""Writing the summary workbook (xlsxwriter) and the CSV of one ``Summary``.

Sheets: ``Tổng hợp`` (headline), ``Chi tiết`` (one row per unit, subtotals per department, live
SUM formulas with correct cached values so any reader sees the right numbers), ``Tình hình nộp``,
``Đánh giá``, ``Cảnh báo``, ``So sánh`` and ``Biểu đồ`` (native charts). Unit-supplied text is
always written with ``write_string``: a narrative starting with ``=`` stays text.

This module writes the sheets with figures (``Tổng hợp``, ``Chi tiết``, ``Biểu đồ``);
``summary_sheets`` writes the sheets of text and status; ``summary_style`` holds their shared
look. The caller puts the bytes on disk with ``files.write_output``.
"""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

import xlsxwriter

from baocao.a1 import cell_name, column_letters
from baocao.report.sheets import write_assessment, write_comparison, write_status, write_warnings
from baocao.report.status import STATUS_LABELS
from baocao.report.style import FONT, STATUS_COLORS, Formats, heading, lines, local, page, style_chart
from baocao.report.summary import Summary, UnitRow

CSV_FIXED = ("unit_code", "unit_name", "parent_code", "status")


# --- CSV -----------------------------------------------------------------------------------


def render_csv(summary: Summary) -> bytes:
    """One row per unit: code, name, parent, status, then every quantitative field (UTF-8 with BOM)."""
    codes = [f.code for f in summary.form.quantitative_fields]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*CSV_FIXED, *codes])
    for r in summary.rows:
        figures = [r.values[c] if r.values else "" for c in codes]
        writer.writerow([r.unit.code, r.unit.name, r.unit.parent or "", r.status.status, *figures])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# --- workbook ------------------------------------------------------------------------------


class _Writer:
    """Writes the sheets of one summary; remembers where the totals are for cross-references."""

    def __init__(self, book: xlsxwriter.Workbook, summary: Summary, tz: ZoneInfo):
        self.book, self.s, self.tz = book, summary, tz
        self.fmt = Formats(book)
        self.fields = summary.form.quantitative_fields
        self.total_cells: dict[str, str] = {}  # field code -> 'Chi tiết'!E40
        self.compare_chart = None  # made with So sánh, shown on Biểu đồ
        # Sheets are created in display order and filled in dependency order (totals first).
        names = ("Tổng hợp", "Chi tiết", "Tình hình nộp", "Đánh giá", "Cảnh báo", "So sánh", "Biểu đồ")
        self.ws = {name: book.add_worksheet(name) for name in names}

    # Chi tiết ---------------------------------------------------------------------------------
    def detail(self) -> None:
        s, fmt = self.s, self.fmt
        ws = self.ws["Chi tiết"]
        first = 4  # first field column (E)
        target_col = first + len(self.fields)
        last = target_col
        heading(ws, s, f"CHI TIẾT SỐ LIỆU THEO ĐƠN VỊ – {s.period.name.upper()}", last, fmt)
        for col, text in enumerate(("STT", "Mã đơn vị", "Tên đơn vị", "Tình trạng")):
            ws.merge_range(4, col, 5, col, text, fmt.head)
        start = 0
        while start < len(self.fields):
            group = self.fields[start].group
            end = start
            while end + 1 < len(self.fields) and self.fields[end + 1].group == group:
                end += 1
            if end > start:
                ws.merge_range(4, first + start, 4, first + end, group, fmt.head)
            else:
                ws.write_string(4, first + start, group, fmt.head)
            start = end + 1
        for i, f in enumerate(self.fields):
            ws.write_string(
                5, first + i, f"{f.label} ({f.measure})" if f.measure else f.label, fmt.head_small
            )
        target = s.target
        label = f"Đạt chỉ tiêu ≥ {target.value:g} {target.measure}" if target else "Đạt chỉ tiêu"
        ws.merge_range(4, target_col, 5, target_col, label, fmt.head)
        ws.set_row(4, 30)
        ws.set_row(5, 132)
        row = 6
        single = len(s.blocks) == 1 and s.blocks[0].department is None
        subtotal_rows: list[int] = []
        tcol = first + [f.code for f in self.fields].index(target.field) if target else None
        number = 0
        for block in s.blocks:
            if not single:
                ws.merge_range(row, 0, row, last, block.name, fmt.dept)
                row += 1
            top = row
            for r in block.rows:
                number += 1
                self._unit_row(ws, row, number, r, first, target_col)
                row += 1
            bottom = row - 1
            miss = f'=OR(${column_letters(3)}{top + 1}="{STATUS_LABELS["missing"]}",'
            miss += f'${column_letters(3)}{top + 1}="{STATUS_LABELS["rejected"]}")'
            ws.conditional_format(
                top, 0, bottom, last, {"type": "formula", "criteria": miss, "format": fmt.missing}
            )
            if tcol is not None and target is not None:
                ref = cell_name(top, tcol)
                rule = f"=AND(ISNUMBER({ref}),{ref}<{target.value:g})"
                ws.conditional_format(
                    top, tcol, bottom, tcol, {"type": "formula", "criteria": rule, "format": fmt.below}
                )
            if not single:
                ws.merge_range(row, 0, row, 3, f"Cộng: {block.name}", fmt.sub_label)
                for i, f in enumerate(self.fields):
                    col = first + i
                    formula = f"=SUM({cell_name(top, col)}:{cell_name(bottom, col)})"
                    ws.write_formula(row, col, formula, fmt.sub_int, block.totals[f.code])
                ws.write_blank(row, target_col, None, fmt.sub_label)
                subtotal_rows.append(row)
                row += 1
        ws.merge_range(
            row,
            0,
            row,
            3,
            f"TỔNG CỘNG ({s.counts['reported']}/{s.counts['expected']} đơn vị)",
            fmt.total_label,
        )
        for i, f in enumerate(self.fields):
            col = first + i
            if single:
                formula = f"=SUM({cell_name(6, col)}:{cell_name(row - 1, col)})"
            else:
                formula = "=" + "+".join(cell_name(r, col) for r in subtotal_rows) if subtotal_rows else "=0"
            ws.write_formula(row, col, formula, fmt.total_int, s.totals[f.code])
            self.total_cells[f.code] = f"'Chi tiết'!{cell_name(row, col, absolute=True)}"
        ws.write_blank(row, target_col, None, fmt.total_label)
        ws.write_string(
            row + 2,
            0,
            "Ghi chú: dòng tô màu cam là đơn vị chưa có báo cáo được tiếp nhận; ô "
            "tô vàng là dưới chỉ tiêu của kỳ.",
            fmt.italic,
        )
        ws.set_column(0, 0, 4.5)
        ws.set_column(1, 1, 10)
        ws.set_column(2, 2, 30)
        ws.set_column(3, 3, 12)
        ws.set_column(first, first + len(self.fields) - 1, 9)
        ws.set_column(target_col, target_col, 9)
        ws.freeze_panes(6, 4)
        ws.autofilter(5, 0, row - 1, last)
        page(ws, landscape=True, repeat=(4, 5))

    def _unit_row(self, ws, row: int, number: int, r: UnitRow, first: int, target_col: int) -> None:
        fmt = self.fmt
        ws.write_number(row, 0, number, fmt.center)
        ws.write_string(row, 1, r.unit.code, fmt.cell)
        ws.write_string(row, 2, r.unit.name, fmt.cell)
        ws.set_row(row, 15 * lines(r.unit.name, 36) + 1)
        ws.write_string(row, 3, r.status.label, fmt.center)
        for i, f in enumerate(self.fields):
            if r.values is None:
                ws.write_blank(row, first + i, None, fmt.int)
            else:
                ws.write_number(row, first + i, r.values[f.code], fmt.int)
        verdict = {True: "Đạt", False: "Không đạt", None: ""}[r.meets_target]
        ws.write_string(row, target_col, verdict, fmt.center)

    # Tổng hợp ---------------------------------------------------------------------------------
    def overview(self) -> None:
        s, fmt, c = self.s, self.fmt, self.s.counts
        ws = self.ws["Tổng hợp"]
        heading(ws, s, f"TỔNG HỢP {s.form.title}", 3, fmt)
        made = local(s.made_at, self.tz)
        state = (
            "số liệu tạm thời, lập trước hạn báo cáo" if s.provisional else "số liệu chính thức (đã hết hạn)"
        )
        ws.merge_range(3, 0, 3, 3, f"Lập lúc {made:%H:%M} ngày {made:%d/%m/%Y} – {state}", fmt.center_italic)
        ws.merge_range(5, 0, 5, 3, "I. TÌNH HÌNH GỬI BÁO CÁO", fmt.bold)
        for col, text in enumerate(("STT", "Nội dung", "Số đơn vị", "Tỷ lệ")):
            ws.write_string(6, col, text, fmt.head)
        expected = c["expected"] or 1
        lines = [
            ("Số đơn vị phải báo cáo", c["expected"]),
            ("Đã báo cáo (được tiếp nhận)", c["reported"]),
            ("– trong đó đúng hạn", c["on_time"]),
            ("– trong đó chậm hạn", c["late"]),
            ("Bị trả lại, chưa gửi lại bản đạt", c["rejected"]),
            ("Chưa báo cáo", c["missing"]),
        ]
        for i, (label, value) in enumerate(lines):
            ws.write_number(7 + i, 0, i + 1, fmt.center)
            ws.write_string(7 + i, 1, label, fmt.cell)
            ws.write_number(7 + i, 2, value, fmt.int)
            ws.write_number(7 + i, 3, value / expected, fmt.pct)
        row = 14
        if s.target:
            t = s.target
            ws.merge_range(row, 0, row, 3, "II. ĐƠN VỊ ĐẠT CHỈ TIÊU", fmt.bold)
            text = (
                f"Số đơn vị đạt chỉ tiêu ({t.label[:1].lower()}{t.label[1:]} ≥ {t.value:g}: "
                f"{t.per_month:g} mỗi tháng × {t.months} tháng) trên số đơn vị đã báo cáo"
            )
            ws.set_row(row + 1, 45)
            ws.write_string(row + 1, 1, text, fmt.cell)
            ws.write_string(row + 1, 2, f"{s.target_met}/{s.target_judged}", fmt.center)
            ws.write_number(row + 1, 3, s.target_met / s.target_judged if s.target_judged else 0, fmt.pct)
            ws.write_blank(row + 1, 0, None, fmt.center)
            row += 3
        ws.merge_range(row, 0, row, 3, "III. TỔNG HỢP SỐ LIỆU", fmt.bold)
        for col, text in enumerate(("STT", "Chỉ tiêu", "Đơn vị tính", "Tổng số")):
            ws.write_string(row + 1, col, text, fmt.head)
        row += 2
        group = None
        for number, f in enumerate(self.fields, start=1):
            if f.group != group:
                group = f.group
                ws.merge_range(row, 0, row, 3, group, fmt.group)
                row += 1
            ws.write_number(row, 0, number, fmt.center)
            ws.write_string(row, 1, f.label, fmt.cell)
            ws.write_string(row, 2, f.measure, fmt.center)
            ws.write_formula(row, 3, "=" + self.total_cells[f.code], fmt.int, s.totals[f.code])
            row += 1
        ws.set_column(0, 0, 5)
        ws.set_column(1, 1, 66)
        ws.set_column(2, 3, 13)
        chart = self.book.add_chart({"type": "pie"})
        chart.add_series(
            {
                "name": "Tình hình gửi báo cáo",
                "categories": ["Biểu đồ", 2, 0, 5, 0],
                "values": ["Biểu đồ", 2, 1, 5, 1],
                "data_labels": {"value": True, "percentage": False},
                "points": [{"fill": {"color": col}} for col in STATUS_COLORS.values()],
            }
        )
        chart.set_title({"name": "Tình hình gửi báo cáo", "name_font": {"name": FONT, "size": 12}})
        chart.set_legend({"position": "right", "font": {"name": FONT, "size": 9}})
        ws.insert_chart(5, 5, chart, {"x_scale": 1.0, "y_scale": 1.0})
        page(ws, landscape=True)
        ws.activate()

    # Biểu đồ ----------------------------------------------------------------------------------
    def charts(self) -> None:
        """Chart data (status mix, portal items per unit) and the per-unit chart."""
        s, fmt = self.s, self.fmt
        ws = self.ws["Biểu đồ"]
        ws.merge_range(0, 0, 0, 2, "Số liệu cho biểu đồ", fmt.bold)
        for col, text in enumerate(("Tình trạng", "Số đơn vị")):
            ws.write_string(1, col, text, fmt.head)
        for i, status in enumerate(STATUS_COLORS):
            ws.write_string(2 + i, 0, STATUS_LABELS[status], fmt.cell)
            ws.write_number(2 + i, 1, s.counts[status], fmt.int)
        ws.set_column(0, 0, 34)
        ws.set_column(1, 2, 10)
        page(ws, landscape=True)
        if self.compare_chart is not None:
            ws.set_h_pagebreaks([30])
            ws.write_string(
                30, 0, "So sánh với kỳ trước và cùng kỳ năm trước (số liệu: trang So sánh)", fmt.bold
            )
            ws.insert_chart(31, 0, self.compare_chart)
        t = s.target
        if t is None:
            return
        top = 8
        ws.merge_range(top, 0, top, 2, f"{t.label} (chỉ tiêu {t.value:g})", fmt.wrap)
        ws.set_row(top, 48)
        for col, text in enumerate(("Đơn vị", t.measure.capitalize(), "Chỉ tiêu")):
            ws.write_string(top + 1, col, text, fmt.head)
        rows = [r for r in s.rows if r.reported]
        for i, r in enumerate(rows):
            ws.write_string(top + 2 + i, 0, r.unit.name, fmt.cell)
            ws.write_number(top + 2 + i, 1, (r.values or {}).get(t.field, 0), fmt.int)
            ws.write_number(top + 2 + i, 2, t.value, fmt.int)
        if not rows:
            ws.write_string(top + 2, 0, "Chưa có báo cáo nào được tiếp nhận.", fmt.italic)
            return
        first, last = top + 2, top + 1 + len(rows)
        column = self.book.add_chart({"type": "column"})
        column.add_series(
            {
                "name": t.measure.capitalize(),
                "categories": ["Biểu đồ", first, 0, last, 0],
                "values": ["Biểu đồ", first, 1, last, 1],
                "fill": {"color": "#4472C4"},
                "gap": 50,
            }
        )
        line = self.book.add_chart({"type": "line"})
        line.add_series(
            {
                "name": f"Chỉ tiêu ({t.value:g})",
                "categories": ["Biểu đồ", first, 0, last, 0],
                "values": ["Biểu đồ", first, 2, last, 2],
                "line": {"color": "#C00000", "width": 2.25},
            }
        )
        column.combine(line)
        style_chart(column, f"{t.label} – theo đơn vị, so với chỉ tiêu")
        column.set_x_axis({"num_font": {"name": FONT, "size": 8, "rotation": -45}})
        column.set_size({"width": max(760, 36 * len(rows)), "height": 480})
        ws.insert_chart(1, 4, column)


def render_summary(summary: Summary, tz: ZoneInfo) -> bytes:
    """The summary workbook as xlsx bytes (pure)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    book.set_properties(
        {
            "title": f"Tổng hợp {summary.form.title} – {summary.period.name}",
            "author": summary.organisation,
            "comments": f"baocao {summary.form.id} {summary.form.version}",
        }
    )
    writer = _Writer(book, summary, tz)
    # Chi tiết is written first (Tổng hợp refers to its totals) but shown second.
    writer.detail()
    writer.overview()
    write_status(writer)
    write_assessment(writer)
    write_warnings(writer)
    write_comparison(writer)
    writer.charts()
    book.close()
    return buffer.getvalue()
