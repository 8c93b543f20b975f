"""One unit's value made safe for every rendering of the summary (pure).

The ledger holds what the judge accepted, but the summary must not trust that blindly: a value
that slipped through (a 400-digit number, NaN, a text with control characters pasted from a
PDF, a 30,000-character narrative) would otherwise stop the workbook, the CSV or the Word draft
for every unit. Here each value becomes either something every renderer can write, or nothing
plus a ``CellProblem`` that the summary shows: a bad value costs that unit's cell only.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

# Excel keeps 15 significant digits: a larger count is not a count anyone typed on purpose, and
# a sum of such values would lose its last digits silently.
MAX_FIGURE = 10**15 - 1
MAX_CELL_TEXT = 32000  # Excel holds 32,767 characters in a cell; leave room for a note
# Characters XML 1.0 (xlsx, docx) cannot hold, and C1 controls that render as boxes: tabs and
# line breaks stay.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class CellProblem:
    """A unit's value that the summary could not use as it stood, and what was done instead."""

    unit: str
    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"unit": self.unit, "field": self.field, "message": self.message}


def clean_figure(value: object) -> tuple[int | None, str | None]:
    """An integer count usable in sums and cells, or ``None`` with the reason (Vietnamese).

    ``None``/blank stays ``None`` without a reason (nothing was entered); a float that holds a
    whole number (JSON may give ``5.0``) becomes ``5``.
    """
    if value is None or value == "":
        return None, None
    if isinstance(value, bool):
        return None, f"giá trị {value!r} không phải số"
    if isinstance(value, float):
        if not math.isfinite(value):
            return None, "giá trị không phải số hữu hạn (NaN hoặc vô cực)"
        if not value.is_integer():
            return None, f"giá trị {value:g} không phải số nguyên"
        value = int(value)
    if not isinstance(value, int):
        return None, f"giá trị {short(str(value), 40)!r} không phải số"
    if abs(value) > MAX_FIGURE:
        return None, f"số có {len(str(abs(value)))} chữ số, vượt giới hạn {len(str(MAX_FIGURE))} chữ số"
    return value, None


def clean_text(value: object, limit: int = MAX_CELL_TEXT) -> tuple[str, str | None]:
    """Text every renderer can write: NFC, without control characters, at most ``limit`` long.

    Returns the text and, when something had to change, what (Vietnamese), else ``None``.
    """
    if value is None:
        return "", None
    text = unicodedata.normalize("NFC", str(value))
    notes = []
    safe = _UNSAFE.sub("", text)
    if safe != text:
        notes.append(f"đã bỏ {len(text) - len(safe)} ký tự điều khiển")
    if len(safe) > limit:
        notes.append(f"dài {len(safe):,} ký tự, chỉ giữ {limit:,} ký tự đầu".replace(",", "."))
        safe = safe[: limit - 1] + "…"
    return safe, "; ".join(notes) or None


def safe_text(value: object, limit: int = MAX_CELL_TEXT) -> str:
    """``clean_text`` without the note: for text that is not a unit's answer (names, messages)."""
    return clean_text(value, limit)[0]


def short(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (for quoting values in messages)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def vn_number(value: float) -> str:
    """``1234567`` -> ``1.234.567`` (Vietnamese thousands separator)."""
    return f"{value:,.0f}".replace(",", ".")


def vn_percent(ratio: float) -> str:
    """``-0.4457`` -> ``−44,6 %``; ``0.123`` -> ``+12,3 %`` (sign always shown)."""
    sign = "+" if ratio > 0 else "−" if ratio < 0 else ""
    return f"{sign}{abs(ratio) * 100:.1f} %".replace(".", ",")
