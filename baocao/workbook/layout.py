"""What the clerk reads on a template, shared by the form sheet, the guide and the feedback:
item numbers ("mục II.9"), which rows are shown, the input hints, and row heights that fit text.

Why one place: "mục II.9" in a rejection e-mail, the feedback's list and the guide must point at
the row the template prints as item 9 of section II; a hint's words are the same in the cell's
pop-up and in the guide; a row tall enough for its wrapped text never prints cut or overlapped.
"""

from __future__ import annotations

import math
import re

from baocao.spec.form import Field, Form

_ROMAN = re.compile(r"^([IVXLC]+|[A-Z])\.\s")
HIDDEN_PREFILLS = ("unit.code", "form.version")  # kept for the reader, not shown to the clerk


def _roman(number: int) -> str:
    out = ""
    for value, letters in ((100, "C"), (90, "XC"), (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V")):
        while number >= value:
            out, number = out + letters, number - value
    return out + ("IV" if number == 4 else "I" * number)


def shown(f: Field) -> bool:
    """Whether the clerk sees the field's row (the unit code and form version rows are hidden:
    the reader finds them by name, the clerk has the unit's name and the period instead)."""
    return f.prefill not in HIDDEN_PREFILLS


def item_numbers(form: Form) -> dict[str, str]:
    """Field code -> the item number printed on the form, ``II.9``: the section's own number
    (the "II." its title starts with, else its position) and the row's number within it.

    The one numbering of the template's STT column, the guide sheet, the feedback's cell list
    and the e-mails, so "mục II.9" means the same row everywhere. Hidden rows get no number.
    """
    numbers: dict[str, str] = {}
    for index, section in enumerate(form.sections, start=1):
        found = _ROMAN.match(section.title)
        prefix = found.group(1) if found else _roman(index)
        visible = [f for f in section.fields if shown(f)]
        numbers.update({f.code: f"{prefix}.{n}" for n, f in enumerate(visible, start=1)})
    return numbers


_KIND_HINTS = {  # the input hint's title after "Mục II.9: " (Excel shows at most 32 characters)
    "integer": "nhập số nguyên",
    "date": "nhập ngày",
    "choice": "chọn trong danh sách",
    "email": "thư điện tử",
    "phone": "số điện thoại",
}


def input_message(f: Field, number: str = "") -> tuple[str, str]:
    """Title (Excel shows at most 32 characters: short by design, never cut) and message (255)
    of a cell's input hint: the item number and what to type; the label and help below it."""
    kind = _KIND_HINTS.get(f.type, "nhập nội dung" if f.multiline else "nhập chữ")
    title = f"Mục {number}: {kind}" if number else kind[:1].upper() + kind[1:]
    hints = {
        "integer": "Nhập số nguyên từ 0 trở lên (0 nếu không có).",
        "date": "Nhập ngày dạng ngày/tháng/năm, ví dụ 05/03/2025.",
        "choice": "Chọn trong danh sách: " + ", ".join(f.choices) + ".",
    }
    message = f.help or hints.get(f.type, "")
    if f.multiline:
        message += " Xuống dòng trong ô: Alt+Enter."
    if f.required and "bắt buộc" not in message.lower():
        message += " Bắt buộc nhập."
    message = f"{f.label}. {message.strip()}"
    if len(message) > 255:
        message = message[:254].rsplit(" ", 1)[0] + "…"
    return title[:32], message


def lines(text: str, width: float) -> int:
    """How many lines ``text`` wraps to in a column ``width`` characters wide (12 pt)."""
    usable = max(int(width * 1.15) - 2, 8)
    return sum(max(1, math.ceil(len(part) / usable)) for part in str(text).split("\n"))


def points(lines: int) -> float:
    return 16.5 * lines + 3
