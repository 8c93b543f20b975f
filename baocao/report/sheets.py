"""The text and status sheets of the summary workbook: who sent what and when, what units said,
warnings and values that could not be used, and the like-for-like comparison.

Only labels reach these sheets, never internal names (field codes, rule kinds, sheet-qualified
cell references): a figure is shown as "3. Số văn bản…", a cell as "Ô D32". Unit-supplied text
is always written with ``write_string``, so a narrative starting with ``=`` stays text.
"""

from __future__ import annotations

from baocao.report.compare import Comparison
from baocao.report.status import STATUS_LABELS
from baocao.report.style import A3, FONT, MISSING_FILL, WARN_FILL, Canvas, fit_row, heading, local, page

STATUS_WIDTHS = (5, 11, 30, 22, 15, 12, 16, 9, 8, 40)


def write_status(c: Canvas) -> None:
    s, fmt = c.summary, c.fmt
    ws = c.ws("Tình hình nộp")
    heads = (
        "STT",
        "Mã đơn vị",
        "Tên đơn vị",
        "Thuộc",
        "Tình trạng",
        "Hạn nộp (hết ngày)",
        "Thời điểm nhận bản đạt đầu tiên",
        "Số ngày chậm / quá hạn",
        "Số tệp đã gửi",
        "Ghi chú (lý do trả lại, bản sửa)",
    )
    last = len(heads) - 1
    for col, width in enumerate(STATUS_WIDTHS):
        ws.set_column(col, col, width)
    row = heading(ws, c, f"TÌNH HÌNH GỬI BÁO CÁO – {s.period.name.upper()}", last, sum(STATUS_WIDTHS))
    head_row = row
    for col, text in enumerate(heads):
        ws.write_string(head_row, col, text, fmt.head)
    fit_row(ws, head_row, list(zip(heads, STATUS_WIDTHS, strict=True)), bold=True)
    row += 1
    for number, r in enumerate(s.rows, start=1):
        st = r.status
        ws.write_number(row, 0, number, fmt.center)
        ws.write_string(row, 1, r.unit.code, fmt.cell)
        ws.write_string(row, 2, r.unit.name, fmt.cell)
        dept = s.department_name(r)
        ws.write_string(row, 3, dept, fmt.cell)
        ws.write_string(row, 4, st.label, fmt.center)
        if st.deadline:
            ws.write_string(row, 5, f"{st.deadline:%d/%m/%Y}", fmt.center)
        else:
            ws.write_blank(row, 5, None, fmt.center)
        received = local(st.received_at, c.tz) if st.reported else None
        if received:
            ws.write_datetime(row, 6, received, fmt.when)
        else:
            ws.write_blank(row, 6, None, fmt.when)
        ws.write_number(row, 7, st.days_late or st.days_overdue, fmt.int)
        ws.write_number(row, 8, st.files, fmt.int)
        note = r.note if r.status.status != "missing" else ""
        ws.write_string(row, 9, note, fmt.cell)
        fit_row(
            ws, row, [(r.unit.name, STATUS_WIDTHS[2]), (dept, STATUS_WIDTHS[3]), (note, STATUS_WIDTHS[9])]
        )
        row += 1
    for status, color in (("missing", MISSING_FILL), ("rejected", MISSING_FILL), ("late", WARN_FILL)):
        label = STATUS_LABELS[status]
        crit = f'=LEFT($E{head_row + 2},{len(label)})="{label}"'
        ws.conditional_format(
            head_row + 1,
            0,
            max(row - 1, head_row + 1),
            last,
            {"type": "formula", "criteria": crit, "format": c.book.add_format({"bg_color": color})},
        )
    deadlines = "; ".join(
        f"{'báo cáo gửi ' + LEVEL_TO.get(level, level) if level else 'hạn chung'}: hết ngày {day:%d/%m/%Y}"
        for level, day in sorted(s.deadlines.items())
    )
    note = f"Hạn nộp theo cấp nhận báo cáo ({deadlines}). Số ngày quá hạn tính đến lúc lập bảng."
    ws.merge_range(row + 1, 0, row + 1, last, note, fmt.italic)
    fit_row(ws, row + 1, [(note, sum(STATUS_WIDTHS))])
    ws.freeze_panes(head_row + 1, 3)
    ws.autofilter(head_row, 0, max(row - 1, head_row), last)
    page(ws, landscape=True, repeat=(head_row, head_row))


LEVEL_TO = {"department": "sở, cơ quan chủ quản", "province": "cấp tỉnh"}


def write_assessment(c: Canvas) -> None:
    s, fmt = c.summary, c.fmt
    texts = s.form.text_fields
    ws = c.ws("Đánh giá")
    widths = [5, 26] + [44] * len(texts)
    last = 1 + len(texts)
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    row = heading(ws, c, f"ĐÁNH GIÁ CỦA CÁC ĐƠN VỊ – {s.period.name.upper()}", last, sum(widths))
    head_row = row
    ws.write_string(row, 0, "STT", fmt.head)
    ws.write_string(row, 1, "Đơn vị", fmt.head)
    for i, f in enumerate(texts):
        ws.write_string(row, 2 + i, f.label, fmt.head)
    fit_row(ws, row, [(f.label, 44) for f in texts])
    row, number = row + 1, 0
    said = s.texts_by_row()  # in row order, read as they are written (not all held at once)
    for block in s.blocks:
        ws.merge_range(row, 0, row, last, block.name, fmt.dept)
        row += 1
        for r in block.rows:
            number += 1
            _, unit_texts = next(said)
            ws.write_number(row, 0, number, fmt.center)
            ws.write_string(row, 1, r.unit.name, fmt.cell_top)
            if not r.reported:
                ws.merge_range(row, 2, row, last, f"({r.status.overdue_label})", fmt.cell)
            else:
                for i, f in enumerate(texts):
                    ws.write_string(row, 2 + i, unit_texts.get(f.code, ""), fmt.cell_top)
            fit_row(ws, row, [(r.unit.name, 26)] + [(unit_texts.get(f.code, ""), 44) for f in texts])
            row += 1
    ws.freeze_panes(head_row + 1, 2)
    page(ws, paper=A3, landscape=True, repeat=(head_row, head_row))


def write_warnings(c: Canvas) -> None:
    """Warnings on accepted reports, then values the summary could not use."""
    s, fmt = c.summary, c.fmt
    ws = c.ws("Cảnh báo")
    widths = (5, 34, 44, 60, 8)
    heads = ("STT", "Đơn vị", "Chỉ tiêu", "Nội dung", "Ô")
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    title = f"CẢNH BÁO TRONG CÁC BÁO CÁO ĐÃ TIẾP NHẬN – {s.period.name.upper()}"
    row = heading(ws, c, title, len(heads) - 1, sum(widths))
    head_row = row
    for col, text in enumerate(heads):
        ws.write_string(row, col, text, fmt.head)
    labels = {f.code: f"{n}. {f.label}" for n, f in c.numbered_fields()}
    labels |= {f.code: f.label for f in s.form.fields if f.code not in labels}
    names = {r.unit.code: r.unit.name for r in s.rows}
    entries = [(r.unit.name, labels.get(i.field, ""), i.message, i.cell) for r, i in s.warnings]
    entries += [
        (names.get(p.unit, p.unit), labels.get(p.field, ""), f"Giá trị không dùng được: {p.message}", "")
        for p in s.problems
    ]
    for number, entry in enumerate(entries, start=1):
        row += 1
        ws.write_number(row, 0, number, fmt.center)
        for col, text in enumerate(entry, start=1):
            ws.write_string(row, col, text, fmt.cell)
        fit_row(ws, row, list(zip(entry, widths[1:], strict=True)))
    if not entries:
        row += 1
        ws.merge_range(row, 0, row, len(heads) - 1, "Không có cảnh báo.", fmt.cell)
    ws.freeze_panes(head_row + 1, 0)
    page(ws, landscape=True, repeat=(head_row, head_row))


COMPARE_WIDTHS = (5, 52, 12, 14, 16, 14, 12)


def write_comparison(c: Canvas) -> None:
    s, fmt = c.summary, c.fmt
    ws = c.ws("So sánh")
    last = len(COMPARE_WIDTHS) - 1
    for col, width in enumerate(COMPARE_WIDTHS):
        ws.set_column(col, col, width)
    row = heading(ws, c, "SO SÁNH VỚI KỲ TRƯỚC VÀ CÙNG KỲ NĂM TRƯỚC (CÙNG ĐƠN VỊ)", last, sum(COMPARE_WIDTHS))
    method = (
        "Cách so sánh: chỉ tính các đơn vị có số liệu ở cả hai kỳ. Đơn vị đổi tên, sáp nhập được so với "
        "(tổng) các đơn vị mà nó kế thừa, khi tất cả các đơn vị đó đã báo cáo ở kỳ trước; đơn vị mới thành "
        "lập, đơn vị giải thể không có đơn vị kế thừa không được tính; kỳ khác độ dài không so sánh."
    )
    ws.merge_range(row, 0, row, last, method, fmt.italic)
    fit_row(ws, row, [(method, sum(COMPARE_WIDTHS))])
    row += 2
    heads: list[int] = []
    for comp in s.comparisons:
        row = _comparison_block(c, ws, row, comp, last, heads)
    page(ws, landscape=True, repeat=(heads[0], heads[0]) if heads else None)


def _comparison_block(c: Canvas, ws, row: int, comp: Comparison, last: int, heads: list[int]) -> int:
    """One comparison: who is compared, the table, the chart; ``heads`` gets its heading row."""
    s, fmt = c.summary, c.fmt
    ws.merge_range(row, 0, row, last, f"So với {comp.words} ({comp.period.name})", fmt.bold)
    row += 1
    if not comp.comparable or comp.changes is None:
        ws.merge_range(row, 0, row, last, comp.reason, fmt.wrap)
        fit_row(ws, row, [(comp.reason, sum(COMPARE_WIDTHS))])
        return row + 2
    names = {r.unit.code: r.unit.name for r in s.rows} | dict(comp.names)
    lines = [
        f"Kỳ này: {len(comp.units_now)} đơn vị ({', '.join(names.get(u, u) for u in comp.units_now)}).",
        f"{comp.words.capitalize()}: {len(comp.units_then)} đơn vị "
        f"({', '.join(names.get(u, u) for u in comp.units_then)}).",
    ]
    if comp.left_out_now:
        lines.append(
            f"Không tính (không có số liệu tương ứng ở {comp.words}): "
            + ", ".join(names.get(u, u) for u in comp.left_out_now)
            + "."
        )
    if comp.left_out_then:
        lines.append(
            f"Số liệu {comp.words} không tính (đơn vị giải thể không có đơn vị kế thừa, hoặc đơn vị kế thừa "
            f"chưa báo cáo kỳ này): {', '.join(names.get(u, u) for u in comp.left_out_then)}."
        )
    for text in lines:
        ws.merge_range(row, 0, row, last, text, fmt.wrap)
        fit_row(ws, row, [(text, sum(COMPARE_WIDTHS))])
        row += 1
    n = len(comp.units_now)
    titles = (
        "STT",
        "Chỉ tiêu",
        "Đơn vị tính",
        f"Kỳ này (cùng {n} đơn vị)",
        f"{comp.words.capitalize()} ({len(comp.units_then)} đơn vị)",
        "Tăng (+)/ giảm (−)",
        "Tỷ lệ tăng/ giảm",
    )
    for col, text in enumerate(titles):
        ws.write_string(row, col, text, fmt.head)
    fit_row(ws, row, list(zip(titles, COMPARE_WIDTHS, strict=True)), bold=True)
    heads.append(row)
    first = row + 1
    for number, f in c.numbered_fields():
        row += 1
        ch = comp.changes[f.code]
        ws.write_number(row, 0, number, fmt.center)
        ws.write_string(row, 1, f.label, fmt.cell)
        ws.write_string(row, 2, f.measure, fmt.center)
        ws.write_number(row, 3, ch.now, fmt.int)
        ws.write_number(row, 4, ch.then, fmt.int)
        ws.write_number(row, 5, ch.delta, fmt.int)
        if ch.ratio is None:
            ws.write_string(row, 6, "—", fmt.center)
        else:
            ws.write_number(row, 6, ch.ratio, fmt.pct)
        fit_row(ws, row, [(f.label, 52)])
    if "compare" not in c.charts:
        chart = c.book.add_chart({"type": "bar"})
        fields = [f for _, f in c.numbered_fields()]
        series = (
            (f"Kỳ này (cùng {n} đơn vị)", 3, [comp.changes[f.code].now for f in fields]),
            (f"{comp.title}", 4, [comp.changes[f.code].then for f in fields]),
        )
        for name, col, cached in series:
            chart.add_series(
                {
                    "name": name,
                    "categories": ["So sánh", first, 1, row, 1],
                    "values": ["So sánh", first, col, row, col],
                    # the book streams its rows (report.xlsx): the chart carries its cached data
                    "categories_data": [f.label for f in fields],
                    "values_data": cached,
                    "gap": 60,
                }
            )
        chart.set_title(
            {"name": f"So sánh cùng {n} đơn vị với {comp.words}", "name_font": {"name": FONT, "size": 12}}
        )
        chart.set_legend({"position": "bottom", "font": {"name": FONT, "size": 9}})
        chart.set_y_axis({"reverse": True, "num_font": {"name": FONT, "size": 8}})
        chart.set_size({"width": 960, "height": 560})
        ws.insert_chart(row + 2, 1, chart)
        c.charts["compare"] = chart
        return row + 32
    return row + 3
