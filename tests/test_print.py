"""Prints a person can read: every user-facing sheet fits its paper's width at a scale that keeps
11-pt text at 8 pt or more, repeats its headings, numbers its pages, and shows labels, never the
engine's internal names (field codes, rule kinds, sheet-qualified cells)."""

from __future__ import annotations

from datetime import datetime

import openpyxl
import pytest
from helpers import TZ, seed_quarter

from baocao import api
from baocao.consolidate import consolidate

NOW = datetime(2025, 3, 20, 9, 0, tzinfo=TZ)
PAPER_MM = {"9": (210, 297), "8": (297, 420)}  # Excel paper codes: A4, A3
PIXELS_PER_WIDTH = 7  # a width unit is a digit of the default font: 7 px, plus 5 px padding


def print_scale(ws) -> float:
    """The scale a fit-to-width print uses: printable width / the sheet's used width."""
    short, long = PAPER_MM[str(ws.page_setup.paperSize)]
    paper = long if ws.page_setup.orientation == "landscape" else short
    margins = (ws.page_margins.left + ws.page_margins.right) * 25.4
    printable_pt = (paper - margins) / 25.4 * 72
    widths = dict.fromkeys(range(1, ws.max_column + 1), 8.43)
    for dim in list(ws.column_dimensions.values()):  # one entry may cover a range of columns
        for col in range(dim.min or 1, (dim.max or dim.min or 1) + 1):
            if col in widths and dim.width:
                widths[col] = dim.width
    used_px = sum(width * PIXELS_PER_WIDTH + 5 for width in widths.values())
    return min(1.0, printable_pt / (used_px * 0.75))


@pytest.fixture
def outputs(deployment: api.Deployment):
    seed_quarter(deployment)
    summary = consolidate(deployment, "2025-Q1", now=NOW).xlsx
    scorecard = api.scorecard(deployment, 2025, now=NOW).path
    return deployment, summary, scorecard


def test_every_sheet_prints_legibly(outputs):
    _, summary, scorecard = outputs
    for path in (summary, scorecard):
        for ws in openpyxl.load_workbook(path):
            if ws.title == "Số liệu biểu đồ":
                continue
            where = f"{path.name}!{ws.title}"
            assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0, where
            assert print_scale(ws) * 11 >= 8, (where, print_scale(ws))
            assert "&P" in ws.oddFooter.center.text, where
            tables = any(row[0] == "STT" for row in ws.iter_rows(values_only=True))
            if ws.title != "Tổng hợp" and tables:  # headings of a table repeat on every page
                assert ws.print_title_rows, where
    book = openpyxl.load_workbook(summary)
    assert {book[name].page_setup.paperSize for name in ("Chi tiết", "Đánh giá")} == {8}  # A3


def test_no_internal_names_in_what_people_read(outputs):
    dep, summary, scorecard = outputs
    internal = {f.code for f in dep.form.fields if "_" in f.code} | {r.kind for r in dep.form.rules}
    for path in (summary, scorecard):
        for ws in openpyxl.load_workbook(path):
            for row in ws.iter_rows(values_only=True):
                for value in row:
                    if isinstance(value, str):
                        words = set(value.replace("(", " ").replace(")", " ").replace(",", " ").split())
                        assert not words & internal, (ws.title, value)
                        assert f"{dep.form.sheet}!" not in value, (ws.title, value)


def test_row_heights_fit_wrapped_text(outputs):
    """A unit name that wraps in its column gets a row tall enough for its lines."""
    _, summary, _ = outputs
    ws = openpyxl.load_workbook(summary)["Chi tiết"]
    row = next(r[0].row for r in ws.iter_rows() if r[1].value == "NV_TCBC")
    name = ws.cell(row, 3).value
    width = ws.column_dimensions["C"].width
    assert len(name) > width  # "Phòng Tổ chức, biên chế và Tổ chức phi chính phủ" wraps
    assert ws.row_dimensions[row].height >= 2 * 15


def test_the_chart_data_states_the_target_whole(outputs):
    """The measure "tin, bài" holds a comma: the target's wording is not cut at it (the title
    read "chỉ tiêu 12, bài (4 mỗi tháng × 3 tháng)…", the word "tin" lost)."""
    dep, summary, _ = outputs
    ws = openpyxl.load_workbook(summary)["Số liệu biểu đồ"]
    [title] = [
        v for row in ws.iter_rows(values_only=True) for v in row if isinstance(v, str) and "chỉ tiêu" in v
    ]
    label = dep.form.field("tin_bai_cong_ttdt").label
    # the form's 4 a month over the quarter's 3 months, judged on each department's total
    assert title == f"{label}: chỉ tiêu ≥ 12 tin, bài (4 mỗi tháng × 3 tháng), tính trên tổng của sở"


def test_every_sheet_heading_states_the_data_window(outputs):
    """Issue 11.3: the data window is on every output heading, not only on the first sheet."""
    _, summary, _ = outputs
    window = "số liệu từ 01/01/2025 đến 31/03/2025"  # the test config's Q1: months 1–3, no cut-off
    for ws in openpyxl.load_workbook(summary):
        if ws.title == "Số liệu biểu đồ":  # the charts' data, not a report
            continue
        top = [v for row in ws.iter_rows(max_row=5, values_only=True) for v in row if isinstance(v, str)]
        assert any(window in v for v in top), ws.title


def test_the_table_of_figures_starts_a_page_with_its_headings(outputs):
    """Printed, the overview's table of figures ran over onto a second page without its column
    headings: it now starts a page (and the charts the next one)."""
    _, summary, _ = outputs
    ws = openpyxl.load_workbook(summary)["Tổng hợp"]
    heading = next(r[0].row for r in ws.iter_rows() if r[0].value == "III. SỐ LIỆU CHÍNH")
    charts = next(r[0].row for r in ws.iter_rows() if r[0].value == "IV. BIỂU ĐỒ")
    assert [brk.id for brk in ws.row_breaks.brk] == [heading - 1, charts - 1]  # a break above each
