"""The text and status sheets of the summary workbook: who sent what, what they said, warnings,
and the comparison with earlier periods. Unit-supplied text is always written with
``write_string``, so a narrative starting with ``=`` stays text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from baocao.report.status import STATUS_LABELS
from baocao.report.style import FONT, MISSING_FILL, WARN_FILL, heading, lines, local, page, style_chart

if TYPE_CHECKING:
    from baocao.report.xlsx import _Writer


def write_status(w: _Writer) -> None:
    s, fmt = w.s, w.fmt
    ws = w.ws["Tình hình nộp"]
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
    heading(ws, s, f"TÌNH HÌNH GỬI BÁO CÁO – {s.period.name.upper()}", len(heads) - 1, fmt)
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
            received = local(st.received_at, w.tz)
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
            {"type": "formula", "criteria": crit, "format": w.book.add_format({"bg_color": color})},
        )
    for col, width in enumerate((5, 11, 34, 24, 13, 16, 8, 8, 50)):
        ws.set_column(col, col, width)
    ws.set_row(4, 30)
    ws.freeze_panes(5, 3)
    ws.autofilter(4, 0, max(row - 1, 4), 8)
    page(ws, landscape=True, repeat=(4, 4))


def write_assessment(w: _Writer) -> None:
    s, fmt = w.s, w.fmt
    texts = s.form.text_fields
    ws = w.ws["Đánh giá"]
    last = 1 + len(texts)
    heading(ws, s, f"ĐÁNH GIÁ CỦA CÁC ĐƠN VỊ – {s.period.name.upper()}", last, fmt)
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
                needed = [lines(r.texts.get(f.code, ""), 36) for f in texts] + [lines(r.unit.name, 24)]
                ws.set_row(row, min(409, 15 * max(needed) + 4))
            row += 1
    ws.set_column(0, 0, 5)
    ws.set_column(1, 1, 26)
    ws.set_column(2, 1 + len(texts), 40)
    ws.freeze_panes(5, 2)
    page(ws, landscape=True, repeat=(4, 4))


def write_warnings(w: _Writer) -> None:
    s, fmt = w.s, w.fmt
    ws = w.ws["Cảnh báo"]
    heads = ("STT", "Mã đơn vị", "Tên đơn vị", "Chỉ tiêu", "Mã trường", "Loại", "Nội dung", "Ô")
    heading(ws, s, f"CẢNH BÁO TRONG CÁC BÁO CÁO ĐÃ TIẾP NHẬN – {s.period.name.upper()}", 7, fmt)
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
    page(ws, landscape=True, repeat=(4, 4))


def write_comparison(w: _Writer) -> None:
    s, fmt = w.s, w.fmt
    ws = w.ws["So sánh"]
    comps = s.comparisons
    last = 3 + 3 * len(comps)
    heading(ws, s, "SO SÁNH VỚI KỲ TRƯỚC VÀ CÙNG KỲ NĂM TRƯỚC", last, fmt)
    heads = ["STT", "Chỉ tiêu", "Đơn vị tính", s.period.name]
    for comp in comps:
        heads += [comp.title, "Tăng (+)/giảm (−)", "Tỷ lệ tăng/giảm"]
    for col, text in enumerate(heads):
        ws.write_string(4, col, text, fmt.head)
    for i, f in enumerate(w.fields):
        row = 5 + i
        now = s.totals[f.code]
        ws.write_number(row, 0, i + 1, fmt.center)
        ws.write_string(row, 1, f.label, fmt.cell)
        ws.write_string(row, 2, f.measure, fmt.center)
        ws.write_number(row, 3, now, fmt.int)
        ws.set_row(row, 15 * lines(f.label, 62) + 2)
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
    end = 5 + len(w.fields)
    notes = [f"Số đơn vị có số liệu: {s.period.name}: {s.counts['reported']}"]
    notes += [f"{c.title}: {c.units if c.totals else 'không có số liệu trong sổ theo dõi'}" for c in comps]
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
        chart = w.book.add_chart({"type": "bar"})
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
        style_chart(chart, "So sánh tổng số theo chỉ tiêu")
        chart.set_y_axis({"reverse": True, "num_font": {"name": FONT, "size": 8}})
        chart.set_size({"width": 1050, "height": 640})
        w.compare_chart = chart
    page(ws, landscape=True, repeat=(4, 4))
