"""The look shared by the summary workbook's sheets: fonts, fills, cell formats, page setup,
headings, row heights, and the ``Canvas`` that the sheet writers draw on.

Print rules (what a leader gets on paper): A4 for narrow sheets, A3 landscape for the wide ones
(one row per unit and a column per figure), always fit to the page width with the column
headings repeated on every page, page numbers in the footer, and row heights computed from the
wrapped text so nothing is cut off (xlsxwriter cannot measure text; ``lines`` estimates it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from baocao.report.summary import Summary

FONT = "Times New Roman"
MISSING_FILL = "#F8CBAD"
WARN_FILL = "#FFE699"
HEAD_FILL = "#D9E1F2"
DEPT_FILL = "#EDEDED"
GOOD_FILL = "#E2EFDA"
STATUS_COLORS = {"on_time": "#70AD47", "late": "#FFC000", "rejected": "#C00000", "missing": "#A5A5A5"}
A4, A3 = 9, 8  # Excel paper codes
LINE_POINTS = 15.0  # one line of 11-pt text
MAX_ROW_POINTS = 409.0  # Excel's limit for a row height


class Formats:
    """The cell styles of the summary workbook, created once per workbook."""

    def __init__(self, book: xlsxwriter.Workbook):
        base = {"font_name": FONT, "font_size": 11, "valign": "vcenter"}

        def add(**extra):
            return book.add_format(base | extra)

        self.text = add()
        self.wrap = add(text_wrap=True)
        self.title = add(bold=True, font_size=14, align="center", text_wrap=True)
        self.org = add(bold=True, font_size=12)
        self.bold = add(bold=True, font_size=12)
        self.italic = add(italic=True, text_wrap=True, valign="top")
        self.center_italic = add(italic=True, align="center", text_wrap=True)
        self.head = add(bold=True, align="center", text_wrap=True, border=1, bg_color=HEAD_FILL, font_size=10)
        self.cell = add(border=1, text_wrap=True)
        self.cell_top = add(border=1, text_wrap=True, valign="top")
        self.center = add(border=1, align="center", text_wrap=True)
        self.int = add(border=1, num_format="#,##0")
        self.pct = add(border=1, num_format="+0.0%;-0.0%;0.0%")
        self.pct0 = add(border=1, align="center", num_format="0%")
        self.when = add(border=1, align="center", num_format="dd/mm/yyyy hh:mm")
        self.day = add(border=1, align="center", num_format="dd/mm/yyyy")
        self.dept = add(border=1, bold=True, bg_color=DEPT_FILL)
        self.sub_label = add(border=1, bold=True, italic=True, bg_color=DEPT_FILL, text_wrap=True)
        self.sub_int = add(border=1, bold=True, italic=True, bg_color=DEPT_FILL, num_format="#,##0")
        self.sub_center = add(border=1, bold=True, italic=True, bg_color=DEPT_FILL, align="center")
        self.total_label = add(border=1, bold=True, bg_color=HEAD_FILL, text_wrap=True)
        self.total_int = add(border=1, bold=True, bg_color=HEAD_FILL, num_format="#,##0")
        self.group = add(border=1, bold=True, italic=True)
        self.bad = add(border=1, text_wrap=True, bg_color=MISSING_FILL)
        self.warn = add(border=1, text_wrap=True, bg_color=WARN_FILL)
        self.good = add(border=1, text_wrap=True, bg_color=GOOD_FILL, align="center")
        self.missing = book.add_format({"bg_color": MISSING_FILL, "font_color": "#833C0B"})
        self.below = book.add_format({"bg_color": WARN_FILL, "font_color": "#9C0006", "bold": True})


@dataclass
class Canvas:
    """One summary workbook being drawn: the book, its formats and sheets, and what one sheet
    leaves for another (the cells holding the totals, charts drawn from another sheet's data)."""

    book: xlsxwriter.Workbook
    summary: Summary
    fmt: Formats
    sheets: dict[str, Any]
    total_cells: dict[str, str] = field(default_factory=dict)  # field code -> 'Chi tiết'!$E$40
    charts: dict[str, Any] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return self.summary.tz

    def ws(self, name: str):
        return self.sheets[name]

    def numbered_fields(self) -> list[tuple[int, Any]]:
        """The figures with the numbers every sheet shows them under (1, 2, …)."""
        return list(enumerate(self.summary.form.quantitative_fields, start=1))


def page(ws, *, paper: int = A4, landscape: bool = True, repeat: tuple[int, int] | None = None) -> None:
    """Print setup: paper, orientation, fit to the page width, repeated headings, page numbers."""
    ws.set_paper(paper)
    ws.set_landscape() if landscape else ws.set_portrait()
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.fit_to_pages(1, 0)
    if repeat:
        ws.repeat_rows(*repeat)
    ws.set_footer('&C&"Times New Roman"&10Trang &P/&N')


def lines(text: str, width: float, bold: bool = False) -> int:
    """About how many lines ``text`` takes in a wrapped column ``width`` characters wide.

    A width unit is the width of a digit of the default font; 11-pt Times New Roman fits about
    1.25 Vietnamese characters per unit (1.05 in bold headings). Erring on one line too many
    only wastes a little paper; one too few hides text.
    """
    if not text:
        return 1
    per_line = max(1, int(width * (1.05 if bold else 1.25)))
    return sum(max(1, -(-len(part) // per_line)) for part in text.split("\n"))


def fit_row(
    ws, row: int, cells: Sequence[tuple[str, float]], minimum: float = LINE_POINTS, bold: bool = False
) -> None:
    """Set ``row``'s height to show every ``(text, column width)`` in it, wrapped."""
    needed = max([lines(text, width, bold) for text, width in cells] or [1])
    ws.set_row(row, min(MAX_ROW_POINTS, max(minimum, LINE_POINTS * needed + 3)))


def merge_written(ws, first_row: int, first_col: int, last_row: int, last_col: int) -> None:
    """Merge a range whose cells are already written (the top-left one with the text, the others
    formatted blanks), row by row.

    The summary book streams its rows (``constant_memory``, see ``report.xlsx``): ``merge_range``
    over two rows writes the blanks of the lower row at once, which flushes the upper row before
    the rest of its cells are written, and xlsxwriter will not support it (its maintainer,
    libxlsxwriter#435). So the sheet writes both rows in order and records the range here, in the
    list ``merge_range`` itself appends to (``Worksheet.merge``); the summary tests read the
    merges back from the saved workbook.
    """
    ws.merge.append([first_row, first_col, last_row, last_col])


class StreamedSheet(Worksheet):
    """A sheet of a streamed book (``constant_memory``) that forgets each row once it is written.

    xlsxwriter streams a row's cells to its temporary file when the next row starts, but keeps
    every row's format and height (``row_info``, ``row_sizes``) and every merged cell's range
    (``merged_cells``) until the book closes: at 10,000 units, the sheets of one row per unit
    held 11 MB that way (issue 13). Once a row is written nothing can change it (the mode drops
    any later write above the current row), so its entries go with it; but the row sizes place
    the drawings, so a sheet that gets a chart (``drawn``) keeps those. The summary tests read
    the streamed book back against the same book built in memory (heights and merges included).
    """

    drawn = False  # True: charts are placed on this sheet (its row sizes are kept)

    def _write_single_row(self, current_row_num: int = 0) -> None:
        written = self.previous_row
        super()._write_single_row(current_row_num)
        self.row_info.pop(written, None)
        if not self.drawn:
            self.row_sizes.pop(written, None)
        for col in range((self.dim_colmax or 0) + 1):
            self.merged_cells.pop((written, col), None)

    def insert_chart(self, *args, **kwargs):
        if not self.drawn:
            raise TypeError("StreamedSheet: the sizes of the rows that place a drawing are not kept")
        return super().insert_chart(*args, **kwargs)


def local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    return moment.astimezone(tz).replace(tzinfo=None) if moment else None


def heading(ws, c: Canvas, title: str, last_col: int, width: float) -> int:
    """Organisation, title, level with period and data window, and when it was made; returns the
    first free row. ``width``: the characters the merged heading spans (for its height)."""
    s, fmt = c.summary, c.fmt
    ws.merge_range(0, 0, 0, last_col, s.organisation.upper(), fmt.org)
    ws.merge_range(1, 0, 1, last_col, title, fmt.title)
    fit_row(ws, 1, [(title, width * 0.8)], minimum=24)
    ws.merge_range(2, 0, 2, last_col, s.heading, fmt.center_italic)
    fit_row(ws, 2, [(s.heading, width)])
    ws.merge_range(3, 0, 3, last_col, s.state, fmt.center_italic)
    fit_row(ws, 3, [(s.state, width)])
    return 5


def style_chart(chart, title: str) -> None:
    chart.set_title({"name": title, "name_font": {"name": FONT, "size": 12}})
    chart.set_legend({"position": "bottom", "font": {"name": FONT, "size": 9}})
    chart.set_x_axis({"num_font": {"name": FONT, "size": 9}})
