"""The "Hướng dẫn" sheet of a template: deadline, where to send, whom to call, how to fill, and
every field by item number and label (no field codes: those are for tools, not clerks).

Every line is merged across the page and given the height its wrapped text needs, so it prints
on A4 portrait without cut-off text or overlapping rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from baocao.spec.form import Form
from baocao.workbook.layout import input_message, item_numbers, lines, points

if TYPE_CHECKING:
    from baocao.workbook.context import TemplateContext

GUIDE_SHEET = "Hướng dẫn"
GUIDE_WIDTHS = (8, 42, 52)  # item, label, how to fill: A4 portrait, nothing cut


def write_guide(book: Any, form: Form, ctx: TemplateContext, fmt: Any) -> None:
    """The "Hướng dẫn" sheet: deadline, where to send, whom to call, how to fill, and every
    field by item number and label (no field codes: those are for tools, not clerks)."""
    ws = book.add_worksheet(GUIDE_SHEET)
    for col, width in enumerate(GUIDE_WIDTHS):
        ws.set_column(col, col, width)
    full = sum(GUIDE_WIDTHS)
    period = ctx.period
    row = 0

    def line(text: str, style=fmt.top) -> None:
        nonlocal row
        ws.merge_range(row, 0, row, 2, text, style)
        ws.set_row(row, points(lines(text, full)))
        row += 1

    ws.merge_range(row, 0, row, 2, f"HƯỚNG DẪN LẬP BÁO CÁO – {period.name.upper()}", fmt.title)
    ws.set_row(row, 24)
    row += 1
    line(f"Đơn vị: {ctx.unit.name}.")
    line(f"Kỳ báo cáo: {period.name}, {period.window_text}.")
    line(f"Hạn nộp: {ctx.due}.", fmt.top_bold)
    if period.includes_estimates:
        line(
            f"Báo cáo được lập trước khi hết kỳ: số liệu từ ngày lập báo cáo đến {period.end:%d/%m/%Y}"
            " là số ước thực hiện.",
            fmt.top_bold,
        )
    line(f"Nơi nộp: lưu tệp đã điền vào {ctx.submit_to}.")
    line(f"Cơ quan tổng hợp: {ctx.organisation}." + (f" Cần hỗ trợ: {ctx.contact}." if ctx.contact else ""))
    row += 1
    line("Cách điền:", fmt.top_bold)
    for i, text in enumerate(form.instructions, start=1):
        line(f"{i}. {text}")
    rename = "Có thể đổi tên tệp: hệ thống nhận biết đơn vị và kỳ báo cáo từ nội dung biểu mẫu."
    line(f"{len(form.instructions) + 1}. {rename}")
    row += 1
    line("Các mục cần điền ((*): bắt buộc):", fmt.top_bold)
    for col, text in enumerate(("Mục", "Nội dung", "Cách nhập")):
        ws.write_string(row, col, text, fmt.head)
    ws.repeat_rows(row)
    row += 1
    numbers = item_numbers(form)
    for section in form.sections:
        inputs = [f for f in section.fields if not f.locked]
        if not inputs:
            continue
        ws.merge_range(row, 0, row, 2, section.title, fmt.section)
        row += 1
        for f in inputs:
            label = f.label + (" (*)" if f.required else "")
            how = input_message(f)[1].removeprefix(f"{f.label}. ")
            ws.write_string(row, 0, numbers.get(f.code, ""), fmt.cell_centre_top)
            ws.write_string(row, 1, label, fmt.cell_top)
            ws.write_string(row, 2, how, fmt.cell_top)
            ws.set_row(row, points(max(lines(label, GUIDE_WIDTHS[1]), lines(how, GUIDE_WIDTHS[2]))))
            row += 1
    ws.protect("")
    ws.set_paper(9)
    ws.set_portrait()
    ws.set_margins(left=0.6, right=0.4, top=0.6, bottom=0.6)
    ws.fit_to_pages(1, 0)
    ws.print_area(0, 0, row - 1, 2)
    ws.set_footer('&C&"Times New Roman"&10Hướng dẫn – trang &P/&N')
