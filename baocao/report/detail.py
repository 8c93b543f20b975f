"""The ``Chi tiết`` sheet: one row per unit, a subtotal per department, the grand total.

Subtotals and totals are live SUM formulas with correct cached values, so any reader (Excel,
LibreOffice, a script reading cached values) sees the right numbers and a coordinator who
corrects a unit's figure by hand sees the totals follow. The target column shows each verdict
on the row it applies to: a unit's own row, its department's subtotal or the grand total.
Printed on A3 landscape, fit to the width, headings repeated on every page.
"""

from __future__ import annotations

from baocao.a1 import column_letters
from baocao.report.status import STATUS_LABELS
from baocao.report.style import A3, Canvas, fit_row, heading, merge_written, page
from baocao.report.summary import UnitRow
from baocao.report.targets import LEVEL_WORDS, Verdict, lower_first

SHEET = "Chi tiết"
FIRST = 4  # first figure column (E)
FIGURE_WIDTH = 10
HEAD_ROWS = (5, 6)


def cell_name(row: int, col: int, absolute: bool = False) -> str:
    """(13, 3) -> D14 (``$D$14`` with ``absolute``): ``a1.cell_name`` without its cache, which
    kept every subtotal's addresses of a 10,000-unit sheet (1.3 MB, issue 13)."""
    letters = column_letters(col)
    return f"${letters}${row + 1}" if absolute else f"{letters}{row + 1}"


def _verdict_cell(
    ws, row: int, col: int, verdicts: tuple[Verdict, ...] | list[Verdict], c: Canvas, base
) -> None:
    fmt = c.fmt
    v = verdicts[0] if verdicts else None
    if v is None:
        ws.write_blank(row, col, None, base)
        return
    style = {True: fmt.good, False: fmt.bad, None: base}[v.met]
    ws.write_string(row, col, v.word, style)


def write_detail(c: Canvas) -> None:
    s, fmt = c.summary, c.fmt
    ws = c.ws(SHEET)
    numbered = c.numbered_fields()
    has_target = bool(s.form.targets)
    target_col = FIRST + len(numbered)
    last = target_col if has_target else target_col - 1
    widths = [4.5, 10, 30, 13] + [FIGURE_WIDTH] * len(numbered) + ([14] if has_target else [])
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    heading(ws, c, f"CHI TIẾT SỐ LIỆU THEO ĐƠN VỊ – {s.period.name.upper()}", last, sum(widths))
    top_head, field_head = HEAD_ROWS
    tall = [(col, text) for col, text in enumerate(("STT", "Mã đơn vị", "Tên đơn vị", "Tình trạng"))]
    if has_target:
        rule = s.form.targets[0]
        f = s.form.field(rule.params["field"])
        tall.append(
            (
                target_col,
                f"Chỉ tiêu mục {[x.code for _, x in numbered].index(f.code) + 1} ({LEVEL_WORDS[rule.level]})",
            )
        )
    # the two heading rows are written in order (the book streams its rows), the columns that
    # span both merged afterwards
    for col, text in tall:
        ws.write_string(top_head, col, text, fmt.head)
    start = 0
    while start < len(numbered):
        group = numbered[start][1].group
        end = start
        while end + 1 < len(numbered) and numbered[end + 1][1].group == group:
            end += 1
        if end > start:
            ws.merge_range(top_head, FIRST + start, top_head, FIRST + end, group, fmt.head)
        else:
            ws.write_string(top_head, FIRST + start, group, fmt.head)
        start = end + 1
    fit_row(ws, top_head, [(f.group, FIGURE_WIDTH * 2) for _, f in numbered], minimum=30, bold=True)
    labels = []
    for col, _ in tall[:4]:
        ws.write_blank(field_head, col, None, fmt.head)
    for i, (number, f) in enumerate(numbered):
        label = f"{number}. {f.label} ({lower_first(f.measure)})" if f.measure else f"{number}. {f.label}"
        labels.append(label)
        ws.write_string(field_head, FIRST + i, label, fmt.head)
    for col, _ in tall[4:]:
        ws.write_blank(field_head, col, None, fmt.head)
    fit_row(ws, field_head, [(text, FIGURE_WIDTH) for text in labels], minimum=30, bold=True)
    for col, _ in tall:
        merge_written(ws, top_head, col, field_head, col)
    row = field_head + 1
    single = len(s.blocks) == 1 and s.blocks[0].department is None
    subtotal_rows: list[int] = []
    number = 0
    for block in s.blocks:
        if not single:
            ws.merge_range(row, 0, row, last, block.name, fmt.dept)
            row += 1
        first_row = row
        for r in block.rows:
            number += 1
            _unit_row(c, ws, row, number, r, target_col if has_target else None)
            row += 1
        bottom = row - 1
        status_col = column_letters(3)
        miss = f'=OR(${status_col}{first_row + 1}="{STATUS_LABELS["missing"]}",'
        miss += f'${status_col}{first_row + 1}="{STATUS_LABELS["rejected"]}")'
        ws.conditional_format(
            first_row, 0, bottom, last, {"type": "formula", "criteria": miss, "format": fmt.missing}
        )
        if not single:
            label = f"Cộng: {block.name} ({block.reported}/{len(block.rows)} đơn vị đã báo cáo)"
            ws.merge_range(row, 0, row, 3, label, fmt.sub_label)
            fit_row(ws, row, [(label, 57)])
            for i, (_, f) in enumerate(numbered):
                col = FIRST + i
                formula = f"=SUM({cell_name(first_row, col)}:{cell_name(bottom, col)})"
                ws.write_formula(row, col, formula, fmt.sub_int, block.totals[f.code])
            if has_target:
                _verdict_cell(ws, row, target_col, block.verdicts, c, fmt.sub_center)
            subtotal_rows.append(row)
            row += 1
    label = f"TỔNG CỘNG ({s.counts['reported']}/{s.counts['expected']} đơn vị đã báo cáo)"
    ws.merge_range(row, 0, row, 3, label, fmt.total_label)
    for i, (_, f) in enumerate(numbered):
        col = FIRST + i
        if single:
            formula = f"=SUM({cell_name(field_head + 1, col)}:{cell_name(row - 1, col)})"
        else:
            formula = "=" + "+".join(cell_name(r, col) for r in subtotal_rows) if subtotal_rows else "=0"
        ws.write_formula(row, col, formula, fmt.total_int, s.totals[f.code])
        c.total_cells[f.code] = f"'{SHEET}'!{cell_name(row, col, absolute=True)}"
    if has_target:
        _verdict_cell(ws, row, target_col, list(s.verdicts), c, fmt.total_label)
    note = (
        "Ghi chú: dòng tô màu cam là đơn vị chưa có báo cáo được tiếp nhận; ô trống trong dòng của đơn "
        "vị đã báo cáo là giá trị không dùng được (xem trang Cảnh báo)."
    )
    if has_target:
        note += " Cột chỉ tiêu: đánh giá ở dòng mà chỉ tiêu áp dụng (đơn vị, cộng của sở hoặc tổng cộng)."
    ws.merge_range(row + 2, 0, row + 2, last, note, fmt.italic)
    fit_row(ws, row + 2, [(note, sum(widths))])
    ws.freeze_panes(field_head + 1, 3)
    ws.autofilter(field_head, 0, row - 1, last)
    page(ws, paper=A3, landscape=True, repeat=HEAD_ROWS)


def _unit_row(c: Canvas, ws, row: int, number: int, r: UnitRow, target_col: int | None) -> None:
    fmt = c.fmt
    ws.write_number(row, 0, number, fmt.center)
    ws.write_string(row, 1, r.unit.code, fmt.cell)
    ws.write_string(row, 2, r.unit.name, fmt.cell)
    ws.write_string(row, 3, r.status.label, fmt.center)
    fit_row(ws, row, [(r.unit.name, 30), (r.status.label, 13)])
    for i, (_, f) in enumerate(c.numbered_fields()):
        value = r.values.get(f.code) if r.values is not None else None
        if value is None:
            ws.write_blank(row, FIRST + i, None, fmt.int)
        else:
            ws.write_number(row, FIRST + i, value, fmt.int)
    if target_col is not None:
        _verdict_cell(ws, row, target_col, r.verdicts, c, fmt.center)
