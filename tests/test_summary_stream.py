"""The summary workbook is written row by row (xlsxwriter's ``constant_memory``, issue 13): the
streamed book must hold exactly what the same book built in memory holds. xlsxwriter silently
drops a cell or a row height written above the row it is on in that mode, so a sheet writer that
goes back up a row would lose cells only in the streamed book; this test reads both back."""

from __future__ import annotations

import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
from helpers import TZ, seed_quarter

from baocao import api
from baocao.consolidate import summary_for
from baocao.report.xlsx import render_summary

NOW = datetime(2025, 3, 20, 9, 0, tzinfo=TZ)


def _style(cell) -> tuple:
    font, fill, border, align = cell.font, cell.fill, cell.border, cell.alignment
    return (
        cell.number_format,
        font.b,
        font.i,
        font.name,
        font.sz,
        font.color.rgb if font.color else None,
        fill.fgColor.rgb,
        border.left.style,
        border.right.style,
        border.top.style,
        border.bottom.style,
        align.horizontal,
        align.vertical,
        align.wrap_text,
    )


def read_back(path: Path) -> dict:
    """Everything a reader sees in the book: each cell's formula or value, its cached value and
    style; merges, row heights, column widths, panes, filters, print titles, conditional formats."""
    formulas = openpyxl.load_workbook(path)
    cached = openpyxl.load_workbook(path, data_only=True)
    seen: dict = {"sheets": formulas.sheetnames}
    for ws in formulas.worksheets:
        values = cached[ws.title]
        seen[ws.title] = {
            "merged": sorted(str(r) for r in ws.merged_cells.ranges),
            "heights": {k: d.height for k, d in ws.row_dimensions.items() if d.height},
            "widths": {k: d.width for k, d in ws.column_dimensions.items()},
            "panes": (ws.freeze_panes, ws.auto_filter.ref, ws.print_title_rows),
            "conditional": [
                (str(k.sqref), [r.formula for r in v]) for k, v in ws.conditional_formatting._cf_rules.items()
            ],
            "cells": {
                c.coordinate: (c.value, values[c.coordinate].value, _style(c))
                for row in ws.iter_rows()
                for c in row
                if c.value is not None or c.has_style
            },
        }
    return seen


def chart_parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist() if name.startswith("xl/charts/")}


def test_streamed_book_writes_the_same_cells_as_the_book_built_in_memory(
    deployment: api.Deployment, tmp_path: Path
):
    seed_quarter(deployment)
    summary = summary_for(deployment, "2025-Q1", now=NOW)
    streamed, in_memory = tmp_path / "streamed.xlsx", tmp_path / "in-memory.xlsx"
    streamed.write_bytes(render_summary(summary))
    in_memory.write_bytes(render_summary(summary, streamed=False))

    with zipfile.ZipFile(streamed) as z:  # really streamed: inline strings, no shared string table
        assert "xl/sharedStrings.xml" not in z.namelist()
    book = read_back(streamed)
    assert book == read_back(in_memory)
    # the charts carry the same cached data although the streamed book keeps no cells to read
    assert chart_parts(streamed) == chart_parts(in_memory)
    assert len(chart_parts(streamed)) >= 2

    # and what the comparison covers is there: two-row headings merged, totals with their
    # cached values, the unit rows
    detail = book["Chi tiết"]
    assert {"A6:A7", "B6:B7", "C6:C7", "D6:D7"} <= set(detail["merged"])
    assert detail["cells"]["A6"][0] == "STT" and detail["cells"]["A7"][0] is None
    totals = [
        (formula, value)
        for formula, value, _ in detail["cells"].values()
        if isinstance(formula, str) and formula.startswith("=") and "+" in formula
    ]
    assert [value for _, value in totals] == [
        summary.totals[f.code] for f in summary.form.quantitative_fields
    ]
    codes = {value for value, _, _ in detail["cells"].values()}
    assert {r.unit.code for r in summary.rows} <= codes
