"""The first sheet of the summary workbook: where the period stands, readable in 30 seconds.

Top to bottom: who has not reported (by name, with days overdue once the deadline has passed),
who was rejected and why, who was late; the targets judged at their level with their coverage;
the key totals with the like-for-like change and, next to it, how many units it covers; then
the chart. Everything here is also in the detailed sheets; this sheet only chooses and orders.
"""

from __future__ import annotations

from baocao.report.cells import vn_number
from baocao.report.status import STATUS_LABELS
from baocao.report.style import FONT, STATUS_COLORS, Canvas, fit_row, heading, page
from baocao.report.summary import Summary
from baocao.report.targets import Verdict

SHEET = "Tổng hợp"
WIDTHS = (5, 44, 24, 15, 14, 14, 18)
LAST = len(WIDTHS) - 1
NOTE_WIDTH = WIDTHS[5] + WIDTHS[6]  # the last two columns, merged for notes


def _note(ws, row: int, text: str, style) -> None:
    ws.merge_range(row, 5, row, 6, text, style)


def write_overview(c: Canvas) -> None:
    s, fmt = c.summary, c.fmt
    ws = c.ws(SHEET)
    for col, width in enumerate(WIDTHS):
        ws.set_column(col, col, width)
    total_width = sum(WIDTHS)
    row = heading(ws, c, f"TỔNG HỢP {s.form.title}", LAST, total_width)
    row = _status_block(c, ws, row)
    row = _target_block(c, ws, row)
    # the table of figures starts a page: it fits one (a row per field) and is read whole, and a
    # page break inside it left its columns without their headings on the next page
    figures = row
    row = _figures_block(c, ws, row)
    ws.merge_range(row, 0, row, LAST, "IV. BIỂU ĐỒ", fmt.bold)
    chart = c.book.add_chart({"type": "pie"})
    chart.add_series(
        {
            "name": "Tình hình gửi báo cáo",
            "categories": [CHART_SHEET, 2, 0, 5, 0],
            "values": [CHART_SHEET, 2, 1, 5, 1],
            # the book streams its rows (report.xlsx): the chart carries its cached data
            "categories_data": [STATUS_LABELS[status] for status in STATUS_COLORS],
            "values_data": [s.counts[status] for status in STATUS_COLORS],
            "data_labels": {"value": True, "category": True, "separator": "\n", "leader_lines": True},
            "points": [{"fill": {"color": col}} for col in STATUS_COLORS.values()],
        }
    )
    chart.set_title({"name": "Tình hình gửi báo cáo", "name_font": {"name": FONT, "size": 12}})
    chart.set_legend({"none": True})  # the labels name each slice
    ws.insert_chart(row + 1, 1, chart, {"x_offset": 10})
    if "target" in c.charts:
        ws.insert_chart(row + 1, 3, c.charts["target"], {"x_offset": 10})
    ws.set_h_pagebreaks([figures, row])
    page(ws, landscape=True)
    ws.activate()


def _status_block(c: Canvas, ws, row: int) -> int:
    s, fmt = c.summary, c.fmt
    ws.merge_range(row, 0, row, LAST, "I. TÌNH HÌNH GỬI BÁO CÁO", fmt.bold)
    text = s.completeness
    if s.problems:
        text += (
            f" Có {len(s.problems)} giá trị trong báo cáo của đơn vị không dùng được (không tính vào "
            "tổng, xem trang Cảnh báo)."
        )
    ws.merge_range(row + 1, 0, row + 1, LAST, text, fmt.wrap)
    fit_row(ws, row + 1, [(text, sum(WIDTHS))])
    row += 2
    rows = s.attention()
    if not rows:
        ws.merge_range(row, 0, row, LAST, "Tất cả đơn vị đã gửi báo cáo đúng hạn.", fmt.cell)
        return row + 2
    for col, text in enumerate(("STT", "Đơn vị", "Thuộc", "Tình trạng", "Hạn nộp")):
        ws.write_string(row, col, text, fmt.head)
    _note(ws, row, "Ghi chú", fmt.head)
    for number, r in enumerate(rows, start=1):
        row += 1
        st = r.status
        style = fmt.warn if st.status == "late" else fmt.bad
        ws.write_number(row, 0, number, fmt.center)
        ws.write_string(row, 1, r.unit.name, fmt.cell)
        ws.write_string(row, 2, s.department_name(r), fmt.cell)
        ws.write_string(row, 3, st.overdue_label, style)
        if st.deadline:
            ws.write_string(row, 4, f"{st.deadline:%d/%m/%Y}", fmt.center)
        else:
            ws.write_blank(row, 4, None, fmt.center)
        note = r.note
        _note(ws, row, note, fmt.cell)
        fit_row(
            ws,
            row,
            [
                (r.unit.name, WIDTHS[1]),
                (s.department_name(r), WIDTHS[2]),
                (st.overdue_label, WIDTHS[3]),
                (note, NOTE_WIDTH),
            ],
        )
    return row + 2


def verdict_rows(s: Summary) -> list[Verdict]:
    """Verdicts on totals (province, departments); unit verdicts are summed up in one line."""
    return [*s.verdicts, *(v for b in s.blocks for v in b.verdicts)]


def _target_block(c: Canvas, ws, row: int) -> int:
    s, fmt = c.summary, c.fmt
    totals = verdict_rows(s)
    per_unit = [v for r in s.rows for v in r.verdicts]
    if not totals and not per_unit:
        return row
    ws.merge_range(row, 0, row, LAST, "II. THỰC HIỆN CHỈ TIÊU", fmt.bold)
    row += 1
    if totals:
        first = totals[0]
        rule = f"{first.label}: {first.rule_text}."
        ws.merge_range(row, 0, row, LAST, rule, fmt.wrap)
        fit_row(ws, row, [(rule, sum(WIDTHS))])
        row += 1
        for col, text in enumerate(("STT", "Phạm vi", "Chỉ tiêu", "Kết quả", "Đánh giá")):
            ws.write_string(row, col, text, fmt.head)
        _note(ws, row, "Căn cứ đánh giá", fmt.head)
        for number, v in enumerate(totals, start=1):
            row += 1
            ws.write_number(row, 0, number, fmt.center)
            ws.write_string(row, 1, v.scope.name, fmt.cell)
            ws.write_string(row, 2, f"≥ {vn_number(v.required)} {v.measure}", fmt.center)
            ws.write_number(row, 3, v.value, fmt.int)
            style = {True: fmt.good, False: fmt.bad, None: fmt.center}[v.met]
            ws.write_string(row, 4, v.word, style)
            _note(ws, row, v.caveat, fmt.cell)
            fit_row(ws, row, [(v.scope.name, WIDTHS[1]), (v.caveat, NOTE_WIDTH)])
        row += 1
    if per_unit:
        judged = [v for v in per_unit if v.met is not None]
        below = [v.scope.name for v in judged if not v.met]
        text = (
            f"{per_unit[0].label} ({per_unit[0].rule_text}): {sum(1 for v in judged if v.met)}/{len(judged)} "
            "đơn vị đã báo cáo đạt"
        )
        text += f"; chưa đạt: {', '.join(below)}." if below else "."
        ws.merge_range(row, 0, row, LAST, text, fmt.wrap)
        fit_row(ws, row, [(text, sum(WIDTHS))])
        row += 1
    return row + 1


def _figures_block(c: Canvas, ws, row: int) -> int:
    s, fmt = c.summary, c.fmt
    ws.merge_range(row, 0, row, LAST, "III. SỐ LIỆU CHÍNH", fmt.bold)
    row += 1
    comps = [x for x in s.comparisons if x.comparable][:1]
    for other in (x for x in s.comparisons if not x.comparable):
        ws.merge_range(row, 0, row, LAST, other.reason, fmt.italic)
        fit_row(ws, row, [(other.reason, sum(WIDTHS))])
        row += 1
    comp = comps[0] if comps else None
    if comp is not None:
        left = len(comp.left_out_now)
        note = (
            f"So sánh với {comp.words} ({comp.period.name}) chỉ tính {len(comp.units_now)} đơn vị có số "
            f"liệu ở cả hai kỳ ({comp.coverage})"
        )
        note += f"; không tính {left} đơn vị không có số liệu tương ứng kỳ trước." if left else "."
        ws.merge_range(row, 0, row, LAST, note, fmt.italic)
        fit_row(ws, row, [(note, sum(WIDTHS))])
        row += 1
    heads = ["STT", "Chỉ tiêu", "Đơn vị tính", f"Kỳ này ({s.counts['reported']} đơn vị)"]
    if comp is not None:
        n = len(comp.units_now)
        heads += [
            f"So với {comp.words} (cùng {n} đơn vị)",
            f"Cùng {n} đơn vị: kỳ này",
            f"{comp.words.capitalize()} ({len(comp.units_then)} đơn vị)",
        ]
    for col, text in enumerate(heads):
        ws.write_string(row, col, text, fmt.head)
    fit_row(ws, row, [(h, w) for h, w in zip(heads, WIDTHS, strict=False)], bold=True)
    row += 1
    for number, f in c.numbered_fields():
        ws.write_number(row, 0, number, fmt.center)
        ws.write_string(row, 1, f.label, fmt.cell)
        ws.write_string(row, 2, f.measure, fmt.center)
        cached = s.totals[f.code]
        if f.code in c.total_cells:
            ws.write_formula(row, 3, "=" + c.total_cells[f.code], fmt.int, cached)
        else:
            ws.write_number(row, 3, cached, fmt.int)
        if comp is not None and comp.changes is not None:
            ch = comp.changes[f.code]
            if ch.ratio is None:
                ws.write_string(row, 4, "kỳ trước 0" if ch.now else "—", fmt.center)
            else:
                ws.write_number(row, 4, ch.ratio, fmt.pct)
            ws.write_number(row, 5, ch.now, fmt.int)
            ws.write_number(row, 6, ch.then, fmt.int)
        fit_row(ws, row, [(f.label, WIDTHS[1])])
        row += 1
    return row + 1


CHART_SHEET = "Số liệu biểu đồ"


def write_chart_data(c: Canvas) -> None:
    """The data the charts are drawn from (status mix; the target per scope), on its own sheet."""
    s, fmt = c.summary, c.fmt
    ws = c.ws(CHART_SHEET)
    ws.merge_range(0, 0, 0, 2, "Số liệu cho biểu đồ", fmt.bold)
    for col, text in enumerate(("Tình trạng", "Số đơn vị")):
        ws.write_string(1, col, text, fmt.head)
    for i, status in enumerate(STATUS_COLORS):
        ws.write_string(2 + i, 0, STATUS_LABELS[status], fmt.cell)
        ws.write_number(2 + i, 1, s.counts[status], fmt.int)
    ws.set_column(0, 0, 40)
    ws.set_column(1, 2, 12)
    page(ws, landscape=False)
    verdicts = verdict_rows(s) or [v for r in s.rows for v in r.verdicts if v.met is not None]
    if not verdicts:
        return
    top = 8
    v0 = verdicts[0]
    title = f"{v0.label}: chỉ tiêu {v0.rule_text}"  # the measure may hold a comma ("tin, bài")
    ws.merge_range(top, 0, top, 2, title, fmt.wrap)
    fit_row(ws, top, [(title, 60)])
    for col, text in enumerate(("Phạm vi", v0.measure.capitalize(), "Chỉ tiêu")):
        ws.write_string(top + 1, col, text, fmt.head)
    for i, v in enumerate(verdicts):
        ws.write_string(top + 2 + i, 0, v.scope.name, fmt.cell)
        ws.write_number(top + 2 + i, 1, v.value, fmt.int)
        ws.write_number(top + 2 + i, 2, v.required, fmt.int)
    first, last = top + 2, top + 1 + len(verdicts)
    scopes = [v.scope.name for v in verdicts]  # the charts' cached data (the book streams its rows)
    column = c.book.add_chart({"type": "column"})
    column.add_series(
        {
            "name": v0.measure.capitalize(),
            "categories": [CHART_SHEET, first, 0, last, 0],
            "values": [CHART_SHEET, first, 1, last, 1],
            "categories_data": scopes,
            "values_data": [v.value for v in verdicts],
            "fill": {"color": "#4472C4"},
            "gap": 80,
            "data_labels": {"value": True},
        }
    )
    line = c.book.add_chart({"type": "line"})
    line.add_series(
        {
            "name": f"Chỉ tiêu ({vn_number(v0.required)})",
            "categories": [CHART_SHEET, first, 0, last, 0],
            "values": [CHART_SHEET, first, 2, last, 2],
            "categories_data": scopes,
            "values_data": [v.required for v in verdicts],
            "line": {"color": "#C00000", "width": 2.25},
            "marker": {"type": "none"},
        }
    )
    column.combine(line)
    name = f"{v0.measure.capitalize()}: kết quả so với chỉ tiêu"
    column.set_title({"name": name, "name_font": {"name": FONT, "size": 12}})
    column.set_legend({"position": "bottom", "font": {"name": FONT, "size": 9}})
    column.set_x_axis({"num_font": {"name": FONT, "size": 9}})
    c.charts["target"] = column
