"""What the command line shows: streams, tables, JSON, labels, and the exit codes it returns.

Every command writes through these, so they live apart from the commands: the console width,
column arithmetic that counts a Vietnamese letter as one column, the labels of a file's verdict
and of its source. Most are pure (text in, text out); the rest only write to the stream given.
"""

from __future__ import annotations

import json
import shutil
import textwrap
import unicodedata
from collections.abc import Sequence
from typing import Any, TextIO

from baocao.names import printable

EXIT_OK, EXIT_DATA, EXIT_USAGE = 0, 1, 2


class Shown:
    """A text stream that shows control characters instead of sending them to the terminal.

    File names and cell text reach the output (a name with an ESC sequence, a cell with ``\\r``
    or a bidi override); ``printable`` turns them into visible ``\\uXXXX`` escapes, which keeps
    ``--json`` output valid JSON with the same meaning.
    """

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(printable(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _width(text: str) -> int:
    return sum(0 if unicodedata.combining(ch) else 1 for ch in text)


def _clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` columns, with "…" when something was cut."""
    if _width(text) <= limit:
        return text
    out, used = "", 0
    for ch in text:
        step = 0 if unicodedata.combining(ch) else 1
        if used + step > limit - 1:
            break
        out, used = out + ch, used + step
    return out + "…"


def console_width() -> int:
    """The terminal's width (``COLUMNS`` if set), 120 when the output is not a terminal."""
    return max(60, shutil.get_terminal_size((120, 24)).columns)


def format_table(
    rows: Sequence[Sequence[Any]],
    headers: Sequence[str],
    width: int | None = None,
    clip: dict[int, int] | None = None,
) -> str:
    """A plain aligned text table (Vietnamese letters count as one column each).

    ``clip`` caps some columns (index -> columns, cut with "…"); with ``width`` the last column
    wraps onto indented continuation lines so that no line is longer than ``width``.
    """
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    for index, limit in (clip or {}).items():
        for row in cells:
            row[index] = _clip(row[index], limit)
    widths = [max([_width(h)] + [_width(r[i]) for r in cells]) for i, h in enumerate(headers)]
    last = len(headers) - 1
    if width is not None:
        indent = sum(widths[:last]) + 2 * last
        widths[last] = max(12, min(widths[last], width - indent))

    def line(values: Sequence[str]) -> list[str]:
        head = [v + " " * (w - _width(v)) for v, w in zip(values[:last], widths, strict=False)]
        tail = values[last] if len(values) > last else ""
        parts = textwrap.wrap(tail, widths[last]) if width is not None and tail else [tail]
        first = "  ".join([*head, parts[0]]).rstrip()
        indent = " " * (sum(widths[:last]) + 2 * last)
        return [first, *(indent + part for part in parts[1:])]

    out = line(headers) + line(["-" * w for w in widths])
    for row in cells:
        out += line(row)
    return "\n".join(out)


def print_json(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


SOURCE_LABELS = {"folder": "thư mục nộp báo cáo", "imap": "hộp thư"}


def via(source: str | None, sender: str | None) -> str:
    """Where a unit's last file came from, for the status table: the folder, or the e-mail
    address it was sent from."""
    if source == "imap":
        return f"thư {sender}" if sender else "thư điện tử"
    return {"folder": "thư mục", "web": "trang web", None: ""}.get(source, source or "")


RESULT_LABELS = {
    "accepted": "tiếp nhận",
    "rejected": "trả lại",
    "held": "chờ xác minh",
    "duplicate": "trùng lặp",
    "locked": "kỳ đã khóa",
    "failed": "lỗi xử lý",
}


def write_wrapped(out: TextIO, text: str, indent: str = "  ") -> None:
    """A list line, wrapped to the console like the table (continuations indented)."""
    width = console_width()
    out.write("\n".join(textwrap.wrap(text, width, initial_indent=indent, subsequent_indent="      ")) + "\n")
