"""The pieces every e-mail is written from: clean one-line text, dates, and blocks rendered twice.

Each message is written once as a list of small blocks (paragraph, list, table) and rendered
twice, to plain text and to HTML, so the two parts never drift apart and HTML escaping happens
in exactly one place. Text that comes from units or file names (unit names, original file
names, issue messages) is flattened to one line and stripped of control characters by
``one_line`` before it is used anywhere, so it can never start a new header line or paragraph.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

_SPACES = re.compile(r"\s+")


# --- cleaning and formatting ----------------------------------------------------------------


def one_line(value: object) -> str:
    """NFC text on one line: control, format (bidi overrides), line-separator characters and
    lone surrogates (from a mis-decoded file name) become spaces and runs of whitespace collapse.
    Safe for a header or a list item, and always encodable as UTF-8."""
    text = unicodedata.normalize("NFC", str(value))
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch for ch in text)
    return _SPACES.sub(" ", text).strip()


def vn_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def vn_number(value: int) -> str:
    """Vietnamese thousands separator: 12345 -> ``12.345``."""
    return f"{value:,}".replace(",", ".")


def days_left_phrase(last_day: date, today: date) -> str:
    """How long is left until the end of ``last_day`` (the last on-time day), today included:
    with "trước ngày 10/03", on 03/03 there are 7 days (3rd to 9th) left."""
    days = (last_day - today).days + 1
    if days > 1:
        return f"còn {days} ngày"
    if days == 1:
        return "hôm nay là ngày cuối"
    return f"đã quá hạn {-days + 1} ngày"


# --- blocks and their two renderings ----------------------------------------------------------


@dataclass(frozen=True)
class Para:
    text: str  # may contain "\n" for a line break (signature); never unit text with breaks
    small: bool = False


@dataclass(frozen=True)
class Items:
    items: tuple[str, ...]
    ordered: bool = False
    title: str = ""  # the lead-in line ("Cách gửi báo cáo:"), kept next to its list


@dataclass(frozen=True)
class Table:
    caption: str
    rows: tuple[tuple[str, str], ...]


Block = Para | Items | Table


def render_text(blocks: Iterable[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Para):
            out.append(block.text)
        elif isinstance(block, Items):
            lines = (
                f"  {f'{n}.' if block.ordered else '-'} {item}" for n, item in enumerate(block.items, start=1)
            )
            out.append("\n".join([block.title, *lines] if block.title else lines))
        else:
            width = max((len(label) for label, _ in block.rows), default=0)
            rows = [f"  {label.ljust(width)}  {value}" for label, value in block.rows]
            out.append("\n".join([block.caption, *rows]))
    return "\n\n".join(out) + "\n"


def _html_block(block: Block) -> str:
    esc = html.escape
    if isinstance(block, Para):
        style = ' style="color:#666;font-size:smaller"' if block.small else ""
        return f"<p{style}>" + esc(block.text).replace("\n", "<br>\n") + "</p>"
    if isinstance(block, Items):
        tag = "ol" if block.ordered else "ul"
        items = "".join(f"<li>{esc(item)}</li>\n" for item in block.items)
        title = f"<p>{esc(block.title)}</p>\n" if block.title else ""
        return f"{title}<{tag}>\n{items}</{tag}>"
    cell = 'style="border:1px solid #999;padding:2px 8px"'
    rows = "".join(
        f'<tr><td {cell}>{esc(label)}</td><td {cell} align="right">{esc(value)}</td></tr>\n'
        for label, value in block.rows
    )
    return (
        '<table style="border-collapse:collapse">\n'
        f'<caption style="text-align:left;font-weight:bold">{esc(block.caption)}</caption>\n'
        f"{rows}</table>"
    )


def render_html(blocks: Iterable[Block]) -> str:
    body = "\n".join(_html_block(block) for block in blocks)
    return (
        '<!DOCTYPE html>\n<html lang="vi">\n<head><meta charset="utf-8"></head>\n'
        '<body style="font-family:Arial,sans-serif;font-size:14px">\n'
        f"{body}\n</body>\n</html>\n"
    )
