"""Writing the pre-filled Excel template a unit fills, with xlsxwriter.

Each template carries, beyond what the clerk sees:
- a workbook-level defined name per field code, so the reader finds values even when a unit
  inserted a row, and any tool can fill or read the template by field code;
- Excel data validation and an input message per input cell, so most mistakes are stopped
  while typing rather than a week later by a rejection e-mail;
- a very hidden ``_meta`` sheet (form id, version, unit, period, a signature keyed with the
  deployment's secret and the key's public id) from which the validator tells whose template it
  is, provably (``spec.identity``), and notices an edited unit code;
- sheet protection without a password: it keeps the layout, lets the unit type in the yellow
  cells, and can still be lifted by an administrator who needs to.

Regenerating is idempotent: the same inputs give the same bytes (fixed creation date), and an
unchanged file on the share is not rewritten.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from baocao.a1 import sheet_ref
from baocao.names import ascii_slug, inside, safe_name
from baocao.spec.deployment import Deployment
from baocao.spec.form import FIRST_BODY_ROW, LABEL_COLUMN, MEASURE_COLUMN, VALUE_COLUMN, Field, Form
from baocao.spec.periods import Period
from baocao.spec.registry import Unit
from baocao.workbook.context import TemplateContext
from baocao.workbook.guide import write_guide
from baocao.workbook.layout import input_message, item_numbers, lines, points, shown

if TYPE_CHECKING:
    import xlsxwriter

META_SHEET = "_meta"
FONT = "Times New Roman"
INPUT_FILL = "#FFF2CC"
LOCKED_FILL = "#E7E6E6"


def template_filename(unit: Unit, period: Period) -> str:
    """ASCII, unit code first, no spaces: ``LD_KHTC_2025-Q1_phong-ke-hoach-tai-chinh.xlsx``."""
    return safe_name(f"{unit.code}_{period.code}_{ascii_slug(unit.name)}.xlsx")


def prefill_values(form: Form, ctx: TemplateContext) -> dict[str, str]:
    """The values of the pre-filled header fields for this unit and period."""
    sources = {
        "unit.code": ctx.unit.code,
        "unit.name": ctx.unit.name,
        "period.code": ctx.period.code,
        "form.version": form.version,
    }
    return {f.code: sources[f.prefill] for f in form.fields if f.prefill}


def _validation(f: Field, number: str = "") -> dict | None:
    """The Excel data validation matching the field's type, or None."""
    title, message = input_message(f, number)
    common = {"input_title": title, "input_message": message, "error_title": title}
    if f.type == "integer":
        rule = {"validate": "integer", "criteria": ">=", "value": f.min or 0}
        if f.max is not None:
            rule = {"validate": "integer", "criteria": "between", "minimum": f.min or 0, "maximum": f.max}
        return rule | common | {"error_message": "Chỉ nhập số nguyên không âm, ví dụ 0, 5, 12."}
    if f.type == "choice":
        return (
            {"validate": "list", "source": list(f.choices)}
            | common
            | {"error_message": "Chọn một giá trị trong danh sách: " + ", ".join(f.choices)}
        )
    if f.type == "date":
        return (
            {
                "validate": "date",
                "criteria": "between",
                "minimum": date(2000, 1, 1),
                "maximum": date(2100, 12, 31),
            }
            | common
            | {"error_message": "Nhập ngày hợp lệ dạng ngày/tháng/năm, ví dụ 05/03/2025."}
        )
    return {"validate": "any"} | common


class _Formats:
    """The handful of cell styles a template uses, created once per workbook."""

    def __init__(self, book: xlsxwriter.Workbook):
        base = {"font_name": FONT, "font_size": 12, "valign": "vcenter", "text_wrap": True}
        self.book, self.base = book, base

        def add(**extra):
            return book.add_format(base | extra)

        self.text = add()
        self.center_bold = add(bold=True, align="center")
        self.center_italic = add(italic=True, align="center")
        self.title = add(bold=True, align="center", font_size=14)
        self.head = add(bold=True, align="center", border=1, bg_color="#D9E1F2")
        self.section = add(bold=True, border=1, bg_color="#F2F2F2")
        self.group = add(bold=True, italic=True, border=1)
        self.label = add(border=1)
        self.stt = add(border=1, align="center")
        self.measure = add(border=1, align="center", font_size=11)
        self.locked = add(border=1, bg_color=LOCKED_FILL, bold=True)
        self.input_text = add(border=1, bg_color=INPUT_FILL, locked=False, num_format="@")
        self.input_long = add(border=1, bg_color=INPUT_FILL, locked=False, valign="top")
        self.input_int = add(border=1, bg_color=INPUT_FILL, locked=False, num_format="#,##0")
        self.input_date = add(border=1, bg_color=INPUT_FILL, locked=False, num_format="dd/mm/yyyy")
        self.input_choice = add(border=1, bg_color=INPUT_FILL, locked=False, align="center")
        self.top = add(valign="top")
        self.top_bold = add(valign="top", bold=True)
        self.cell_top = add(border=1, valign="top")
        self.cell_centre_top = add(border=1, valign="top", align="center")
        self.small = add(font_size=9, italic=True, font_color="#808080")
        self._locked_labels: dict[str, object] = {}

    def locked_as(self, label: str):
        """A locked cell that shows ``label`` instead of its text value (the period cell holds
        ``2025-Q1`` for the reader and shows ``Quý I năm 2025`` to the clerk): the text section
        of a number format replaces a text value by its literal."""
        if label not in self._locked_labels:
            literal = label.replace('"', "'")
            self._locked_labels[label] = self.book.add_format(
                self.base
                | {"border": 1, "bg_color": LOCKED_FILL, "bold": True, "num_format": f';;;"{literal}"'}
            )
        return self._locked_labels[label]


def _input_format(f: Field, fmt: _Formats):
    if f.type == "integer":
        return fmt.input_int
    if f.type == "date":
        return fmt.input_date
    if f.type == "choice":
        return fmt.input_choice
    return fmt.input_long if f.multiline else fmt.input_text


def _write_input(ws, row: int, f: Field, value: object, style) -> None:
    """An input cell, blank or filled; text is always written as text, never as a formula."""
    if value is None or value == "":
        ws.write_blank(row, VALUE_COLUMN, None, style)
    elif isinstance(value, bool):
        ws.write_string(row, VALUE_COLUMN, str(value), style)
    elif isinstance(value, int | float):
        ws.write_number(row, VALUE_COLUMN, value, style)
    elif isinstance(value, datetime | date):
        moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
        ws.write_datetime(row, VALUE_COLUMN, moment, style)
    else:
        ws.write_string(row, VALUE_COLUMN, str(value), style)


WIDTHS = (6, 50, 11, 50)  # STT, label, measure, value: A4 portrait at about 90 %


def _write_heading(ws, form: Form, ctx: TemplateContext, fmt: _Formats) -> None:
    left = WIDTHS[0] + WIDTHS[1]
    ws.merge_range(0, 0, 0, 1, ctx.parent_name.upper(), fmt.center_bold)
    ws.merge_range(1, 0, 1, 1, ctx.unit.name.upper(), fmt.center_bold)
    ws.set_row(1, points(lines(ctx.unit.name, left)))
    ws.merge_range(0, 2, 0, 3, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", fmt.center_bold)
    ws.merge_range(1, 2, 1, 3, "Độc lập - Tự do - Hạnh phúc", fmt.center_bold)
    ws.set_row(3, 36)
    ws.merge_range(3, 0, 3, 3, form.title, fmt.title)
    period = ctx.period
    estimates = "; sau ngày lập là số ước thực hiện" if period.includes_estimates else ""
    line = f"Kỳ báo cáo: {period.name} ({period.window_text}{estimates}) – Hạn nộp: {ctx.due}"
    ws.set_row(4, points(lines(line, sum(WIDTHS))))
    ws.merge_range(4, 0, 4, 3, line, fmt.center_italic)
    legend = (
        "Ô nền vàng: đơn vị nhập. Ô nền xám: đã điền sẵn, không sửa. (*): bắt buộc. Xem trang “Hướng dẫn”."
    )
    ws.set_row(5, points(lines(legend, sum(WIDTHS))))
    ws.merge_range(5, 0, 5, 3, legend, fmt.center_italic)
    for col, text in enumerate(("STT", "Nội dung", "Đơn vị tính", "Số liệu / Nội dung")):
        ws.write_string(6, col, text, fmt.head)


def _write_body(ws, form: Form, ctx: TemplateContext, values: dict[str, object], fmt: _Formats) -> int:
    """Draw the section, group and field rows; return the first row after the body.

    The unit code and form version rows are hidden (``shown``): the reader finds them by name,
    the footer prints them; the period cell shows the period's name over its code.
    """
    numbers = item_numbers(form)
    row = FIRST_BODY_ROW - 1
    for kind, key, text in form.rows:
        if kind == "section":
            ws.merge_range(row, 0, row, VALUE_COLUMN, text, fmt.section)
        elif kind == "group":
            ws.merge_range(row, 0, row, VALUE_COLUMN, text, fmt.group)
        else:
            f = form.field(key)
            number = numbers.get(f.code, "")
            label = text + (" (*)" if f.required else "")
            ws.write_string(row, 0, number.rsplit(".", 1)[-1], fmt.stt)
            ws.write_string(row, LABEL_COLUMN, label, fmt.label)
            ws.write_string(row, MEASURE_COLUMN, f.measure, fmt.measure)
            if f.locked:
                value = str(values.get(f.code, ""))
                style = fmt.locked_as(ctx.period.name) if f.prefill == "period.code" else fmt.locked
                ws.write_string(row, VALUE_COLUMN, value, style)
            else:
                _write_input(ws, row, f, values.get(f.code), _input_format(f, fmt))
                rule = _validation(f, number)
                if rule:
                    ws.data_validation(row, VALUE_COLUMN, row, VALUE_COLUMN, rule)
            height = points(lines(label, WIDTHS[LABEL_COLUMN]))
            if f.multiline:  # narrative answers get room: about eight lines of the wide column,
                # more for a filled one (a department's roll-up joins its units' texts)
                filled = str(values.get(f.code) or "")
                need = points(lines(filled, WIDTHS[VALUE_COLUMN])) if filled else 0
                height = min(409.0, max(height, 140 if f.required else 100, need))  # Excel's limit
            if not shown(f):
                ws.set_row(row, height, None, {"hidden": True})
            else:
                ws.set_row(row, height)
        row += 1
    return row


def _write_signatures(ws, row: int, ctx: TemplateContext, fmt: _Formats) -> None:
    row += 1
    ws.merge_range(row, 2, row, 3, "…………, ngày …… tháng …… năm ……", fmt.center_italic)
    ws.merge_range(row + 1, 0, row + 1, 1, "NGƯỜI LẬP BIỂU", fmt.center_bold)
    ws.merge_range(row + 1, 2, row + 1, 3, "THỦ TRƯỞNG ĐƠN VỊ", fmt.center_bold)
    ws.merge_range(row + 2, 0, row + 2, 1, "(Ký, ghi rõ họ tên)", fmt.center_italic)
    ws.merge_range(row + 2, 2, row + 2, 3, "(Ký tên, đóng dấu)", fmt.center_italic)


def _footer(form: Form, ctx: TemplateContext) -> str:
    """Unit code and form version where a coordinator on the phone can read them, out of the
    clerk's way; ``&`` doubled (a footer control character)."""
    ident = f"Mã đơn vị {ctx.unit.code} – biểu mẫu {form.version}".replace("&", "&&")
    return f'&L&"Times New Roman"&8{ident}&C&"Times New Roman"&10Trang &P/&N'


def _write_form_sheet(book, form: Form, ctx: TemplateContext, fmt: _Formats) -> None:
    ws = book.add_worksheet(form.sheet)
    for col, width in enumerate(WIDTHS):
        ws.set_column(col, col, width)
    _write_heading(ws, form, ctx, fmt)
    end = _write_body(ws, form, ctx, {**(ctx.values or {}), **prefill_values(form, ctx)}, fmt)
    _write_signatures(ws, end, ctx, fmt)
    for f in form.fields:
        ref = form.layout[f.code]
        book.define_name(f.code, sheet_ref(ref.sheet, ref.cell))
    ws.protect("", {"format_rows": True, "format_columns": True})
    ws.set_paper(9)  # A4
    ws.set_portrait()
    ws.set_margins(left=0.6, right=0.4, top=0.6, bottom=0.6)
    ws.fit_to_pages(1, 0)
    ws.print_area(0, 0, end + 3, VALUE_COLUMN)
    ws.repeat_rows(6)
    ws.freeze_panes(7, 0)  # the column headings stay in view while scrolling
    ws.set_footer(_footer(form, ctx))
    first_input = next(f for f in form.fields if not f.locked)
    ws.activate()
    ws.set_first_sheet()
    ws.set_selection(form.layout[first_input.code].cell)


def _write_meta(book, form: Form, ctx: TemplateContext) -> None:
    ws = book.add_worksheet(META_SHEET)
    meta = {
        "form_id": form.id,
        "form_version": form.version,
        "unit": ctx.unit.code,
        "unit_name": ctx.unit.name,
        "period": ctx.period.code,
        "signature": ctx.key.sign(form.id, form.version, ctx.unit.code, ctx.period.code),
        "key_id": ctx.key.key_id,
    }
    for row, (key, value) in enumerate(meta.items()):
        ws.write_string(row, 0, key)
        ws.write_string(row, 1, value)
    ws.protect("")
    ws.very_hidden()


def render_template(form: Form, ctx: TemplateContext) -> bytes:
    """The template for one unit and period, as xlsx bytes (pure: no file is touched)."""
    import xlsxwriter  # here only: most commands never write a template

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer,
        {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
    )
    book.set_properties(
        {
            "title": f"{form.title} – {ctx.period.name}",
            "subject": f"{ctx.unit.name} – {ctx.period.name}",
            "author": ctx.organisation,
            "comments": f"baocao {form.id} {form.version}",
            "created": datetime(ctx.period.year, 1, 1),
        }
    )
    fmt = _Formats(book)
    _write_form_sheet(book, form, ctx, fmt)
    write_guide(book, form, ctx, fmt)
    _write_meta(book, form, ctx)
    book.close()
    return buffer.getvalue()


def template_context(dep: Deployment, unit: Unit, period: Period) -> TemplateContext:
    """What the template of ``unit`` for ``period`` says here: parent, deadline, where to send."""
    day = dep.registry.reference_day(period)
    parent = dep.registry.get(unit.parent, day) if unit.parent else None
    return TemplateContext(
        unit=unit,
        period=period,
        parent_name=parent.name if parent else dep.settings.organisation,
        deadline=dep.last_on_time_day(unit, period),
        due_before=period.due_before_for(dep.level_of(unit, period)),
        due_text=dep.due_text(unit, period),
        contact=dep.settings.contact,
        submit_to=dep.settings.submit_to,
        organisation=dep.settings.organisation,
        key=dep.signing_key,
    )


def template_path(dep: Deployment, unit: Unit, period: Period) -> Path:
    """Where the template of ``unit`` for ``period`` is kept: ``<templates>/<period>/<file name>``."""
    return inside(dep.settings.path("templates"), period.code, template_filename(unit, period))
