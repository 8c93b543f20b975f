"""The scorecard workbook (xlsxwriter): ``Chấm điểm`` per unit and ``Theo sở`` per department.

Both sheets carry a title, the rule the score follows and a print setup (A4 landscape, fit to
the width, headings repeated), because this is what goes into the annual assessment file.
"""

from __future__ import annotations

import io

import xlsxwriter

from baocao.report.scorecard import KINDS, SCORE_RULE, Scorecard
from baocao.report.status import STATUS_LABELS
from baocao.report.style import A4, MISSING_FILL, WARN_FILL, Formats, fit_row, page


def _title(ws, fmt: Formats, organisation: str, title: str, made: str, last: int, width: float) -> int:
    ws.merge_range(0, 0, 0, last, organisation.upper(), fmt.org)
    ws.merge_range(1, 0, 1, last, title, fmt.title)
    ws.set_row(1, 24)
    ws.merge_range(2, 0, 2, last, made, fmt.center_italic)
    ws.merge_range(3, 0, 3, last, SCORE_RULE, fmt.italic)
    fit_row(ws, 3, [(SCORE_RULE, width)])
    return 5


def render_scorecard(result: Scorecard, organisation: str) -> bytes:
    """The scorecard as xlsx bytes (pure)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    fmt = Formats(book)
    made = f"Lập lúc {result.made_at:%H:%M} ngày {result.made_at:%d/%m/%Y}; kỳ chưa đến hạn không tính"
    _units_sheet(book, fmt, result, organisation, made)
    _departments_sheet(book, fmt, result, organisation, made)
    book.close()
    return buffer.getvalue()


def _units_sheet(book, fmt: Formats, result: Scorecard, organisation: str, made: str) -> None:
    ws = book.add_worksheet("Chấm điểm")
    n = len(result.periods)
    heads = ["STT", "Mã đơn vị", "Tên đơn vị", "Thuộc"] + [p.name for p in result.periods]
    heads += ["Số kỳ đã đến hạn"] + [STATUS_LABELS[k] for k in KINDS[:4]]
    heads += ["Tỷ lệ đúng hạn", "Điểm", "Xếp hạng"]
    widths = [5, 11, 28, 20] + [12] * n + [8] * 5 + [9, 7, 7]
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    last = len(heads) - 1
    row = _title(
        ws,
        fmt,
        organisation,
        f"THEO DÕI, CHẤM ĐIỂM VIỆC GỬI BÁO CÁO NĂM {result.year}",
        made,
        last,
        sum(widths),
    )
    head_row = row
    for col, text in enumerate(heads):
        ws.write_string(row, col, text, fmt.head)
    fit_row(ws, row, list(zip(heads, widths, strict=True)), bold=True)
    for i, r in enumerate(result.rows):
        row += 1
        ws.write_number(row, 0, i + 1, fmt.center)
        for col, text in enumerate((r.code, r.name, r.department_name), start=1):
            ws.write_string(row, col, text, fmt.cell)
        for j, c in enumerate(r.cells.values()):
            ws.write_string(row, 4 + j, c.label, fmt.center)
        counts = r.counts()
        col = 4 + n
        ws.write_number(row, col, r.due, fmt.int)
        for j, k in enumerate(KINDS[:4]):
            ws.write_number(row, col + 1 + j, counts[k], fmt.int)
        for j, value in enumerate((r.on_time_rate, r.score, r.rank)):
            style = fmt.pct0 if j == 0 else fmt.center
            if value is None:
                ws.write_string(row, col + 5 + j, "—", fmt.center)
            else:
                ws.write_number(row, col + 5 + j, value, style)
        fit_row(ws, row, [(r.name, widths[2]), (r.department_name, widths[3])])
    for text, color in (
        (STATUS_LABELS["missing"], MISSING_FILL),
        (STATUS_LABELS["rejected"], MISSING_FILL),
        ("Chậm", WARN_FILL),
    ):
        ws.conditional_format(
            head_row + 1,
            4,
            max(row, head_row + 1),
            3 + n,
            {
                "type": "text",
                "criteria": "begins with",
                "value": text,
                "format": book.add_format({"bg_color": color}),
            },
        )
    ws.freeze_panes(head_row + 1, 3)
    ws.autofilter(head_row, 0, max(row, head_row), last)
    page(ws, paper=A4, landscape=True, repeat=(head_row, head_row))


def _departments_sheet(book, fmt: Formats, result: Scorecard, organisation: str, made: str) -> None:
    ws = book.add_worksheet("Theo sở")
    heads = ["STT", "Sở, cơ quan chủ quản"] + [STATUS_LABELS[k] for k in KINDS] + ["Tỷ lệ đúng hạn"]
    widths = [5, 44] + [12] * len(KINDS) + [12]
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    last = len(heads) - 1
    title = f"TỔNG HỢP VIỆC GỬI BÁO CÁO THEO SỞ, CƠ QUAN NĂM {result.year}"
    row = _title(ws, fmt, organisation, title, made, last, sum(widths))
    head_row = row
    for col, text in enumerate(heads):
        ws.write_string(row, col, text, fmt.head)
    fit_row(ws, row, list(zip(heads, widths, strict=True)), bold=True)
    order = {r.department: i for i, r in reversed(list(enumerate(result.rows)))}
    entries = sorted(result.departments.items(), key=lambda item: order.get(item[0], len(order)))
    for i, (_, entry) in enumerate(entries, start=1):
        row += 1
        ws.write_number(row, 0, i, fmt.center)
        name = entry["name"] or "Đơn vị trực thuộc cấp tỉnh"
        ws.write_string(row, 1, name, fmt.cell)
        for j, k in enumerate(KINDS):
            ws.write_number(row, 2 + j, entry["counts"][k], fmt.int)
        rate = entry["on_time_rate"]
        if rate is None:
            ws.write_string(row, 2 + len(KINDS), "—", fmt.center)
        else:
            ws.write_number(row, 2 + len(KINDS), rate, fmt.pct0)
        fit_row(ws, row, [(name, 44)])
    note = "Mỗi ô đếm số lượt đơn vị–kỳ báo cáo; đơn vị được tính vào sở mà nó trực thuộc trong kỳ đó."
    ws.merge_range(row + 2, 0, row + 2, last, note, fmt.italic)
    fit_row(ws, row + 2, [(note, sum(widths))])
    ws.freeze_panes(head_row + 1, 2)
    page(ws, paper=A4, landscape=True, repeat=(head_row, head_row))
