"""Conversion of one cell value to a field's type: ``(typed value, problem or None)``.

Pure functions, no field or form: ``validate`` adds the cell and the label. Every value a cell
can hold is at worst a problem here, never an exception: numbers thousands of digits long typed
as text, NaN and infinities from generated files, 1e308, dates out of any range, 32,767
characters of text. And what a problem echoes from the cell is cut to a readable length
(``shown``): the message goes into a feedback sheet, an e-mail and a terminal line.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta
from typing import Any

from baocao.judge.values import EXCEL_CELL_CHARS, clean_text
from baocao.spec.addresses import AddressError, sendable

PHONE_RE = re.compile(r"^(0\d{9}|\+84\d{9})$")
MAX_DIGITS = 15  # Excel keeps 15 significant digits: a longer "whole number" is not exact
MAX_INTEGER = 10**MAX_DIGITS - 1
_SHOWN = 60  # characters of a cell's text echoed in a message


def text_of(value: Any) -> str:
    """The cell's value as cleaned text ("" for empty); an integral float without ``.0``."""
    if type(value) is str:  # the usual: no number to write out
        return clean_text(value)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and abs(value) > MAX_INTEGER:
        # str() of a 400-digit int is slow, of a 5,000-digit one raises: show its magnitude
        return f"{float(value):.6g}" if value.bit_length() < 1000 else f"(số dài hơn {MAX_DIGITS} chữ số)"
    return clean_text(str(value))


def shown(value: Any, limit: int = _SHOWN) -> str:
    """What a message echoes of a cell: one line, at most ``limit`` characters (then "…")."""
    text = " ".join(text_of(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def day(value: date) -> str:
    """dd/mm/yyyy on every platform (``strftime`` differs for years before 1000)."""
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def value_problem(value: Any) -> str | None:
    """What no field type accepts: a number that is not finite, text longer than a cell holds."""
    if isinstance(value, float) and not math.isfinite(value):
        return (
            "ô chứa giá trị số không hợp lệ (NaN hoặc vô cực), có thể do phần mềm khác tạo ra; hãy nhập lại"
        )
    if isinstance(value, str) and len(value) > EXCEL_CELL_CHARS:
        return (
            f"nội dung quá dài ({len(value):,} ký tự; một ô chỉ chứa tối đa {EXCEL_CELL_CHARS:,} ký tự)"
        ).replace(",", ".")
    return None


def to_integer(value: Any) -> tuple[int | None, str | None]:
    """Whole numbers >= any bound are checked elsewhere; here only "is it a whole number".

    Text "12" is a number; "12 tin", "mười", "1.234" and "1,234" are errors: a separator is
    ambiguous (thousands in Vietnamese, decimal elsewhere), so we ask rather than guess. More
    than 15 digits is an error too: no report counts that high, and Excel would not keep it.
    """
    too_big = f"số quá lớn (quá {MAX_DIGITS} chữ số); hãy kiểm tra lại"
    if isinstance(value, bool):
        return None, f"'{value}' không phải số"
    if isinstance(value, int):
        return (value, None) if abs(value) <= MAX_INTEGER else (None, too_big)
    if isinstance(value, float):
        if not value.is_integer():
            return None, f"{value:g} không phải số nguyên"
        return to_integer(int(value))
    if isinstance(value, datetime | date | time | timedelta):
        return None, "ô chứa ngày hoặc giờ, cần một số nguyên"
    text = text_of(value)
    if re.fullmatch(r"[+-]?[0-9]+", text):
        return (int(text), None) if len(text.lstrip("+-0")) <= MAX_DIGITS else (None, too_big)
    if re.fullmatch(r"[0-9]{1,3}([.,][0-9]{3})+", text):
        return (
            None,
            f"'{text}' có dấu phân cách; hãy nhập số không có dấu chấm hay phẩy, "
            f"ví dụ {re.sub(r'[.,]', '', text)}",
        )
    return None, f"'{shown(text)}' không phải số; chỉ nhập chữ số, ví dụ 5 (không ghi \"5 tin\")"


def to_date(value: Any) -> tuple[date | None, str | None]:
    if isinstance(value, datetime):
        return value.date(), None
    if isinstance(value, date):
        return value, None
    text = text_of(value)
    for fmt in ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date(), None
        except ValueError:
            continue
    return None, f"'{shown(text)}' không phải ngày hợp lệ; nhập dạng ngày/tháng/năm, ví dụ 05/03/2025"


def to_phone(value: Any) -> tuple[str | None, str | None]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A General-formatted cell turns 0912345678 into 912345678: restore the leading zero.
        digits = text_of(value)
        candidate = "0" + digits if len(digits) == 9 else digits
    else:
        candidate = re.sub(r"[\s.\-()]", "", text_of(value))
    if PHONE_RE.match(candidate):
        return candidate, None
    return None, f"'{shown(value)}' không phải số điện thoại hợp lệ (10 chữ số bắt đầu bằng 0, hoặc +84)"


def to_email(value: Any) -> tuple[str | None, str | None]:
    """An address the mailer can send to (``addresses.sendable``: what is accepted here is what
    feedback can later be sent to), kept as typed."""
    text = text_of(value)
    try:
        if len(text) > 254:
            raise AddressError("quá dài")
        sendable(text)
    except AddressError as exc:
        return None, f"'{shown(text)}' không phải địa chỉ thư điện tử hợp lệ: {exc}"
    return text, None


def to_choice(value: Any, choices: tuple[str, ...]) -> tuple[str | None, str | None]:
    text = text_of(value)
    for choice in choices:
        if text.casefold() == choice.casefold():
            return choice, None
    return None, f"'{shown(text)}' không có trong danh sách; chọn một trong: {', '.join(choices)}"
