"""The summary workbook of one ``Summary`` (xlsxwriter), as bytes.

Sheets, in the order a reader meets them: ``Tổng hợp`` (where the period stands: who is
missing, rejected or late, the targets, the key totals with the like-for-like change, charts),
``Chi tiết`` (one row per unit, live subtotals), ``Tình hình nộp``, ``Đánh giá``, ``Cảnh báo``,
``So sánh`` and ``Số liệu biểu đồ``. Each sheet has its writer (``overview``, ``detail``,
``sheets``) drawing on one ``style.Canvas``; this module only creates the book and calls them in
dependency order (the totals of ``Chi tiết`` first: the first sheet refers to them). The caller
puts the bytes on disk (``files.write_output``).

The book is written in xlsxwriter's ``constant_memory`` mode: each sheet's rows go to a temporary
file as soon as the next row starts, so a summary of 10,000 units does not hold its half a million
cells in memory (it did: 88 MB of the 211 MB peak of consolidate at 10,000 units). The price is
that every sheet writer must write its rows top to bottom (a cell or row height written above the
current row is dropped by xlsxwriter), merges over two rows go through ``style.merge_written``,
and charts carry their cached data themselves (``categories_data``/``values_data``: the mode keeps
no cells to read them from). Formulas keep the cached values the writers pass with them.
"""

from __future__ import annotations

import io

import xlsxwriter

from baocao.report.detail import write_detail
from baocao.report.overview import CHART_SHEET, write_chart_data, write_overview
from baocao.report.sheets import write_assessment, write_comparison, write_status, write_warnings
from baocao.report.style import Canvas, Formats, StreamedSheet
from baocao.report.summary import Summary

SHEETS = ("Tổng hợp", "Chi tiết", "Tình hình nộp", "Đánh giá", "Cảnh báo", "So sánh", CHART_SHEET)
DRAWN = {"Tổng hợp", "So sánh"}  # the sheets that get charts


def render_summary(summary: Summary, *, streamed: bool = True) -> bytes:
    """The summary workbook as xlsx bytes (pure but for xlsxwriter's temporary files).

    ``streamed=False`` builds the whole book in memory instead: the same cells, kept so that a
    test can check that every sheet writer still writes its rows in order.
    """
    buffer = io.BytesIO()
    mode = {"constant_memory": True} if streamed else {"in_memory": True}
    book = xlsxwriter.Workbook(buffer, mode | {"strings_to_formulas": False, "strings_to_urls": False})
    book.set_properties(
        {
            "title": f"Tổng hợp {summary.form.title} – {summary.period.name}",
            "author": summary.organisation,
            "comments": f"baocao {summary.form.id} {summary.form.version}",
        }
    )
    sheets = {name: book.add_worksheet(name, worksheet_class=StreamedSheet) for name in SHEETS}
    for name in DRAWN:
        sheets[name].drawn = True
    canvas = Canvas(book, summary, Formats(book), sheets)
    write_chart_data(canvas)
    write_detail(canvas)
    write_overview(canvas)
    write_status(canvas)
    write_assessment(canvas)
    write_warnings(canvas)
    write_comparison(canvas)
    book.close()
    return buffer.getvalue()
