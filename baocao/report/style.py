"""Shared look of the summary workbook: fonts, fills, cell formats, page setup, headings."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import xlsxwriter

if TYPE_CHECKING:
    from baocao.report.summary import Summary

FONT = "Times New Roman"
MISSING_FILL = "#F8CBAD"
WARN_FILL = "#FFE699"
HEAD_FILL = "#D9E1F2"
DEPT_FILL = "#EDEDED"
STATUS_COLORS = {"on_time": "#70AD47", "late": "#FFC000", "rejected": "#C00000", "missing": "#A5A5A5"}


class Formats:
    """The cell styles of the summary workbook, created once per workbook."""

    def __init__(self, book: xlsxwriter.Workbook):
        base = {"font_name": FONT, "font_size": 11, "valign": "vcenter"}

        def add(**extra):
            return book.add_format(base | extra)

        self.text = add()
        self.wrap = add(text_wrap=True)
        self.title = add(bold=True, font_size=14, align="center", text_wrap=True)
        self.bold = add(bold=True)
        self.italic = add(italic=True)
        self.center_italic = add(italic=True, align="center")
        self.head = add(bold=True, align="center", text_wrap=True, border=1, bg_color=HEAD_FILL, font_size=10)
        self.head_small = add(
            bold=True, align="center", text_wrap=True, border=1, bg_color=HEAD_FILL, font_size=9
        )
        self.cell = add(border=1, text_wrap=True)
        self.cell_top = add(border=1, text_wrap=True, valign="top")
        self.center = add(border=1, align="center")
        self.int = add(border=1, num_format="#,##0")
        self.pct = add(border=1, num_format="0.0%")
        self.when = add(border=1, align="center", num_format="dd/mm/yyyy hh:mm")
        self.dept = add(border=1, bold=True, bg_color=DEPT_FILL)
        self.sub_label = add(border=1, bold=True, italic=True, bg_color=DEPT_FILL)
        self.sub_int = add(border=1, bold=True, italic=True, bg_color=DEPT_FILL, num_format="#,##0")
        self.total_label = add(border=1, bold=True, bg_color=HEAD_FILL)
        self.total_int = add(border=1, bold=True, bg_color=HEAD_FILL, num_format="#,##0")
        self.group = add(border=1, bold=True, italic=True)
        self.missing = book.add_format({"bg_color": MISSING_FILL, "font_color": "#833C0B"})
        self.below = book.add_format({"bg_color": WARN_FILL, "font_color": "#9C0006", "bold": True})


def page(ws, landscape: bool, repeat: tuple[int, int] | None = None) -> None:
    ws.set_paper(9)  # A4
    ws.set_landscape() if landscape else ws.set_portrait()
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.fit_to_pages(1, 0)
    if repeat:
        ws.repeat_rows(*repeat)
    ws.set_footer('&C&"Times New Roman"&9Trang &P/&N')


def lines(text: str, width: int) -> int:
    """About how many lines ``text`` takes in a wrapped column ``width`` characters wide."""
    return sum(max(1, -(-len(part) // width)) for part in text.split("\n")) if text else 1


def local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    return moment.astimezone(tz).replace(tzinfo=None) if moment else None


def heading(ws, summary: Summary, title: str, last_col: int, fmt: Formats) -> None:
    ws.merge_range(0, 0, 0, last_col, summary.organisation.upper(), fmt.bold)
    ws.set_row(1, 36)
    ws.merge_range(1, 0, 1, last_col, title, fmt.title)
    p = summary.period
    ws.merge_range(
        2,
        0,
        2,
        last_col,
        f"Cấp tổng hợp: {summary.level.name} – {p.name} (từ {p.start:%d/%m/%Y} đến {p.end:%d/%m/%Y})",
        fmt.center_italic,
    )


def style_chart(chart, title: str) -> None:
    chart.set_title({"name": title, "name_font": {"name": FONT, "size": 12}})
    chart.set_legend({"position": "bottom", "font": {"name": FONT, "size": 9}})
    chart.set_x_axis({"num_font": {"name": FONT, "size": 8}})
