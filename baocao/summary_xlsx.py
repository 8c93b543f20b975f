"""Writing the summary workbook (xlsxwriter) and CSV of one ``Summary``, and placing files safely.

Sheets: ``Tổng hợp`` (headline), ``Chi tiết`` (one row per unit, subtotals per department, live
SUM formulas with correct cached values so any reader sees the right numbers), ``Tình hình nộp``,
``Đánh giá``, ``Cảnh báo``, ``So sánh`` and ``Biểu đồ`` (native charts). Unit-supplied text is
always written with ``write_string``: a narrative starting with ``=`` stays text.

Files land on disk through ``files.write_output`` (a new name when the target is open in Excel).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import xlsxwriter

from .a1 import cell_name, column_letters
from .consolidate import Summary, UnitRow
from .status import STATUS_LABELS

FONT = "Times New Roman"
MISSING_FILL = "#F8CBAD"
WARN_FILL = "#FFE699"
HEAD_FILL = "#D9E1F2"
DEPT_FILL = "#EDEDED"
STATUS_COLORS = {"on_time": "#70AD47", "late": "#FFC000", "rejected": "#C00000", "missing": "#A5A5A5"}
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


class _Formats:
    def __init__(self, book: xlsxwriter.Workbook):
        base = {"font_name": FONT, "font_size": 11, "valign": "vcenter"}

        def add(**extra):
            return book.add_format(base | extra)

        self.text = add()
        self.wrap = add(text_wrap=True)
        self.title = add(bold=True, font_size=14, align="center", text_wrap=True)
        self.bold = add(bold=True)
        self.italic = add(italic=True)
        self.center_italic = add(italic=True, align="center")
        self.head = add(bold=True, align="center", text_wrap=True, border=1, bg_color=HEAD_FILL, font_size=10)
        self.head_small = add(
            bold=True, align="center", text_wrap=True, border=1, bg_color=HEAD_FILL, font_size=9
        )
        self.cell = add(border=1, text_wrap=True)
        self.cell_top = add(border=1, text_wrap=True, valign="top")
        self.center = add(border=1, align="center")
        self.int = add(border=1, num_format="#,##0")
        self.pct = add(border=1, num_format="0.0%")
        self.when = add(border=1, align="center", num_format="dd/mm/yyyy hh:mm")
        self.dept = add(border=1, bold=True, bg_color=DEPT_FILL)
        self.sub_label = add(border=1, bold=True, italic=True, bg_color=DEPT_FILL)
        self.sub_int = add(border=1, bold=True, italic=True, bg_color=DEPT_FILL, num_format="#,##0")
        self.total_label = add(border=1, bold=True, bg_color=HEAD_FILL)
        self.total_int = add(border=1, bold=True, bg_color=HEAD_FILL, num_format="#,##0")
        self.group = add(border=1, bold=True, italic=True)
        self.missing = book.add_format({"bg_color": MISSING_FILL, "font_color": "#833C0B"})
        self.below = book.add_format({"bg_color": WARN_FILL, "font_color": "#9C0006", "bold": True})


def _page(ws, landscape: bool, repeat: tuple[int, int] | None = None) -> None:
    ws.set_paper(9)  # A4
    ws.set_landscape() if landscape else ws.set_portrait()
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.fit_to_pages(1, 0)
    if repeat:
        ws.repeat_rows(*repeat)
    ws.set_footer('&C&"Times New Roman"&9Trang &P/&N')


def _lines(text: str, width: int) -> int:
    """About how many lines ``text`` takes in a wrapped column ``width`` characters wide."""
    return sum(max(1, -(-len(part) // width)) for part in text.split("\n")) if text else 1


def _local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    return moment.astimezone(tz).replace(tzinfo=None) if moment else None


def _heading(ws, summary: Summary, title: str, last_col: int, fmt: _Formats) -> None:
    ws.merge_range(0, 0, 0, last_col, summary.organisation.upper(), fmt.bold)
    ws.set_row(1, 36)
    ws.merge_range(1, 0, 1, last_col, title, fmt.title)
    p = summary.period
    ws.merge_range(
        2,
        0,
        2,
        last_col,
        f"Cấp tổng hợp: {summary.level.name} – {p.name} (từ {p.start:%d/%m/%Y} đến {p.end:%d/%m/%Y})",
        fmt.center_italic,
    )


class _Writer:
    """Writes the sheets of one summary; remembers where the totals are for cross-references."""

    def __init__(self, book: xlsxwriter.Workbook, summary: Summary, tz: ZoneInfo):
        self.book, self.s, self.tz = book, summary, tz
        self.fmt = _Formats(book)
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
        _heading(ws, s, f"CHI TIẾT SỐ LIỆU THEO ĐƠN VỊ – {s.period.name.upper()}", last, fmt)
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
            if tcol is not None:
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
        _page(ws, landscape=True, repeat=(4, 5))

    def _unit_row(self, ws, row: int, number: int, r: UnitRow, first: int, target_col: int) -> None:
        fmt = self.fmt
        ws.write_number(row, 0, number, fmt.center)
        ws.write_string(row, 1, r.unit.code, fmt.cell)
        ws.write_string(row, 2, r.unit.name, fmt.cell)
        ws.set_row(row, 15 * _lines(r.unit.name, 36) + 1)
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
        _heading(ws, s, f"TỔNG HỢP {s.form.title}", 3, fmt)
        made = _local(s.made_at, self.tz)
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
        _page(ws, landscape=True)
        ws.activate()

    # Tình hình nộp ----------------------------------------------------------------------------
    def status(self) -> None:
        s, fmt = self.s, self.fmt
        ws = self.ws["Tình hình nộp"]
        heads = (
            "STT",
            "Mã đơn vị",
            "Tên đơn vị",
            "Thuộc",
            "Tình trạng",
            "Thời điểm nhận",
            "Số ngày chậm",
            "Số tệp đã gửi",
            "Ghi chú (lỗi đầu tiên nếu bị trả lại)",
        )
        _heading(ws, s, f"TÌNH HÌNH GỬI BÁO CÁO – {s.period.name.upper()}", len(heads) - 1, fmt)
        for col, text in enumerate(heads):
            ws.write_string(4, col, text, fmt.head)
        row = 5
        for block in s.blocks:
            for r in block.rows:
                st = r.status
                ws.write_number(row, 0, row - 4, fmt.center)
                ws.write_string(row, 1, r.unit.code, fmt.cell)
                ws.write_string(row, 2, r.unit.name, fmt.cell)
                ws.write_string(row, 3, block.department.name if block.department else s.level.name, fmt.cell)
                ws.write_string(row, 4, st.label, fmt.center)
                received = _local(st.received_at, self.tz)
                if received:
                    ws.write_datetime(row, 5, received, fmt.when)
                else:
                    ws.write_blank(row, 5, None, fmt.when)
                ws.write_number(row, 6, st.days_late, fmt.int)
                ws.write_number(row, 7, st.files, fmt.int)
                note = ""
                if st.status == "rejected" and st.issues:
                    first = st.issues[0]
                    note = f"{first.location}: {first.message}" if first.location else first.message
                elif st.corrected:
                    note = "Đã gửi bản sửa; dùng số liệu bản mới nhất"
                ws.write_string(row, 8, note, fmt.cell)
                row += 1
        for status, color in (("missing", MISSING_FILL), ("rejected", MISSING_FILL), ("late", WARN_FILL)):
            crit = f'=LEFT($E6,{len(STATUS_LABELS[status])})="{STATUS_LABELS[status]}"'
            ws.conditional_format(
                5,
                0,
                max(row - 1, 5),
                8,
                {"type": "formula", "criteria": crit, "format": self.book.add_format({"bg_color": color})},
            )
        for col, width in enumerate((5, 11, 34, 24, 13, 16, 8, 8, 50)):
            ws.set_column(col, col, width)
        ws.set_row(4, 30)
        ws.freeze_panes(5, 3)
        ws.autofilter(4, 0, max(row - 1, 4), 8)
        _page(ws, landscape=True, repeat=(4, 4))

    # Đánh giá ---------------------------------------------------------------------------------
    def assessment(self) -> None:
        s, fmt = self.s, self.fmt
        texts = s.form.text_fields
        ws = self.ws["Đánh giá"]
        last = 1 + len(texts)
        _heading(ws, s, f"ĐÁNH GIÁ CỦA CÁC ĐƠN VỊ – {s.period.name.upper()}", last, fmt)
        ws.write_string(4, 0, "STT", fmt.head)
        ws.write_string(4, 1, "Đơn vị", fmt.head)
        for i, f in enumerate(texts):
            ws.write_string(4, 2 + i, f.label, fmt.head)
        row, number = 5, 0
        for block in s.blocks:
            ws.merge_range(row, 0, row, last, block.name, fmt.dept)
            row += 1
            for r in block.rows:
                number += 1
                ws.write_number(row, 0, number, fmt.center)
                ws.write_string(row, 1, r.unit.name, fmt.cell_top)
                for i, f in enumerate(texts):
                    text = r.texts.get(f.code, "") if r.reported else ""
                    ws.write_string(row, 2 + i, text, fmt.cell_top)
                if not r.reported:
                    ws.merge_range(row, 2, row, last, f"({r.status.label})", fmt.cell)
                else:
                    lines = [_lines(r.texts.get(f.code, ""), 36) for f in texts] + [_lines(r.unit.name, 24)]
                    ws.set_row(row, min(409, 15 * max(lines) + 4))
                row += 1
        ws.set_column(0, 0, 5)
        ws.set_column(1, 1, 26)
        ws.set_column(2, 1 + len(texts), 40)
        ws.freeze_panes(5, 2)
        _page(ws, landscape=True, repeat=(4, 4))

    # Cảnh báo ---------------------------------------------------------------------------------
    def warnings(self) -> None:
        s, fmt = self.s, self.fmt
        ws = self.ws["Cảnh báo"]
        heads = ("STT", "Mã đơn vị", "Tên đơn vị", "Chỉ tiêu", "Mã trường", "Loại", "Nội dung", "Ô")
        _heading(ws, s, f"CẢNH BÁO TRONG CÁC BÁO CÁO ĐÃ TIẾP NHẬN – {s.period.name.upper()}", 7, fmt)
        for col, text in enumerate(heads):
            ws.write_string(4, col, text, fmt.head)
        labels = {f.code: f.label for f in s.form.fields}
        for i, (r, issue) in enumerate(s.warnings):
            row = 5 + i
            ws.write_number(row, 0, i + 1, fmt.center)
            for col, text in enumerate(
                (
                    r.unit.code,
                    r.unit.name,
                    labels.get(issue.field, ""),
                    issue.field,
                    issue.code,
                    issue.message,
                    issue.location,
                ),
                start=1,
            ):
                ws.write_string(row, col, text, fmt.cell)
        if not s.warnings:
            ws.merge_range(5, 0, 5, 7, "Không có cảnh báo.", fmt.cell)
        for col, width in enumerate((5, 11, 30, 34, 18, 14, 56, 12)):
            ws.set_column(col, col, width)
        ws.freeze_panes(5, 0)
        ws.autofilter(4, 0, 5 + max(len(s.warnings) - 1, 0), 7)
        _page(ws, landscape=True, repeat=(4, 4))

    # So sánh ----------------------------------------------------------------------------------
    def comparison(self) -> None:
        s, fmt = self.s, self.fmt
        ws = self.ws["So sánh"]
        comps = s.comparisons
        last = 3 + 3 * len(comps)
        _heading(ws, s, "SO SÁNH VỚI KỲ TRƯỚC VÀ CÙNG KỲ NĂM TRƯỚC", last, fmt)
        heads = ["STT", "Chỉ tiêu", "Đơn vị tính", s.period.name]
        for comp in comps:
            heads += [comp.title, "Tăng (+)/giảm (−)", "Tỷ lệ tăng/giảm"]
        for col, text in enumerate(heads):
            ws.write_string(4, col, text, fmt.head)
        for i, f in enumerate(self.fields):
            row = 5 + i
            now = s.totals[f.code]
            ws.write_number(row, 0, i + 1, fmt.center)
            ws.write_string(row, 1, f.label, fmt.cell)
            ws.write_string(row, 2, f.measure, fmt.center)
            ws.write_number(row, 3, now, fmt.int)
            ws.set_row(row, 15 * _lines(f.label, 62) + 2)
            for j, comp in enumerate(comps):
                col = 4 + 3 * j
                if comp.totals is None:
                    for k in range(3):
                        ws.write_string(row, col + k, "—", fmt.center)
                    continue
                then = comp.totals[f.code]
                ws.write_number(row, col, then, fmt.int)
                ws.write_number(row, col + 1, now - then, fmt.int)
                if then:
                    ws.write_number(row, col + 2, now / then - 1, fmt.pct)
                else:
                    ws.write_string(row, col + 2, "—", fmt.center)
        end = 5 + len(self.fields)
        notes = [f"Số đơn vị có số liệu: {s.period.name}: {s.counts['reported']}"]
        notes += [
            f"{c.title}: {c.units if c.totals else 'không có số liệu trong sổ theo dõi'}" for c in comps
        ]
        ws.merge_range(end + 1, 0, end + 1, last, "; ".join(notes) + ".", fmt.italic)
        ws.set_row(end + 2, 45)
        ws.merge_range(
            end + 2,
            0,
            end + 2,
            last,
            "Cách tính: số liệu của đơn vị ở kỳ trước được tính cho cấp tổng hợp đang nắm giữ đơn vị đó hoặc "
            "đơn vị kế thừa của nó (đơn vị đổi tên, sáp nhập); đơn vị giải thể không có đơn vị kế thừa được "
            "tính theo cơ quan chủ quản cũ và đơn vị kế thừa của cơ quan đó.",
            fmt.wrap,
        )
        ws.set_row(4, 45)
        ws.set_column(0, 0, 5)
        ws.set_column(1, 1, 50)
        ws.set_column(2, 2, 11)
        ws.set_column(3, last, 12)
        ws.freeze_panes(5, 2)
        if any(c.totals is not None for c in comps):
            chart = self.book.add_chart({"type": "bar"})
            series = [(s.period.name, 3)] + [(c.title, 4 + 3 * j) for j, c in enumerate(comps) if c.totals]
            for name, col in series:
                chart.add_series(
                    {
                        "name": name,
                        "categories": ["So sánh", 5, 1, end - 1, 1],
                        "values": ["So sánh", 5, col, end - 1, col],
                        "gap": 60,
                    }
                )
            self._style_chart(chart, "So sánh tổng số theo chỉ tiêu")
            chart.set_y_axis({"reverse": True, "num_font": {"name": FONT, "size": 8}})
            chart.set_size({"width": 1050, "height": 640})
            self.compare_chart = chart
        _page(ws, landscape=True, repeat=(4, 4))

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
        _page(ws, landscape=True)
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
            ws.write_number(top + 2 + i, 1, r.values[t.field], fmt.int)
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
        self._style_chart(column, f"{t.label} – theo đơn vị, so với chỉ tiêu")
        column.set_x_axis({"num_font": {"name": FONT, "size": 8, "rotation": -45}})
        column.set_size({"width": max(760, 36 * len(rows)), "height": 480})
        ws.insert_chart(1, 4, column)

    def _style_chart(self, chart, title: str) -> None:
        chart.set_title({"name": title, "name_font": {"name": FONT, "size": 12}})
        chart.set_legend({"position": "bottom", "font": {"name": FONT, "size": 9}})
        chart.set_x_axis({"num_font": {"name": FONT, "size": 8}})


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
    writer.status()
    writer.assessment()
    writer.warnings()
    writer.comparison()
    writer.charts()
    book.close()
    return buffer.getvalue()
