"""``consolidate`` writes from a summary that keeps little per unit (issue 13: 10,000 units within
1.5x the memory of 1,000): the narratives are read again from the ledger as the sheet that shows
them is written, each unit's figures are a compact mapping, and the sheets forget each row once
it is written. What it writes must be exactly what the summary that holds everything renders:
on a province of a few hundred units with every kind of outcome, every sheet part of the
workbook, the CSV and the Word draft are compared byte for byte, and the workbook cell by cell
with the same book built in memory."""

from __future__ import annotations

import io
import json
import random
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from conftest import write_config
from helpers import INJECTION, TZ, Seeder, at, figures
from test_summary_stream import chart_parts, read_back

from baocao import api
from baocao.consolidate import consolidate, summary_for
from baocao.model import Issue, Severity
from baocao.report.docx import render_docx
from baocao.report.plain import render_csv, summary_data
from baocao.report.style import StreamedSheet
from baocao.report.xlsx import render_summary
from baocao.store import open_store

NOW = datetime(2025, 3, 20, 9, 0, tzinfo=TZ)  # after the deadlines: days overdue shown
DEPARTMENTS, PER_DEPARTMENT = 6, 50


def _registry(path: Path) -> Path:
    lines = [
        "code,name,parent,kind,email,valid_from,valid_to,successor",
        "LANGSON,Tỉnh Lạng Sơn (Sở Nội vụ tổng hợp),,province,cchc@snv.langson.example,2020-01-01,,",
    ]
    for d in range(DEPARTMENTS):
        lines.append(f"SO{d},Sở số {d + 1},LANGSON,department,so{d}@langson.example,2020-01-01,,")
        for i in range(PER_DEPARTMENT):
            n = d * PER_DEPARTMENT + i
            name = f"Ủy ban nhân dân xã số {n + 1}" if n % 3 else f"Trường Trung học cơ sở số {n + 1}"
            lines.append(f"DV{n:04d},{name},SO{d},unit,dv{n}@langson.example,2020-01-01,,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def province(tmp_path: Path) -> api.Deployment:
    """300 units: on time, late, corrected, rejected, missing; warnings, an unusable figure, a
    formula-like narrative; earlier periods for both comparisons. Seeded through the ledger's API."""
    dep = api.load_deployment(write_config(tmp_path, registry=_registry(tmp_path / "don-vi.csv")))
    rng = random.Random(13)
    warning = Issue(Severity.WARNING, "below_target", "có 3 tin, bài, dưới chỉ tiêu 12", "tin_bai_cong_ttdt")
    error = Issue(Severity.ERROR, "required", "Người lập biểu: chưa nhập", "nguoi_lap", "BaoCao", "D12")
    with open_store(dep.settings) as ledger, ledger.transaction():
        seeder = Seeder(dep, ledger)

        def send(unit: str, period: str, when: datetime, values=None, issues=()) -> None:
            seeder.file(unit, period, when, "accepted" if values is not None else "rejected", values, issues)

        for n in range(DEPARTMENTS * PER_DEPARTMENT):
            unit, fate = f"DV{n:04d}", rng.random()
            values = figures(dep, n)
            if n % 17 == 0:
                values["tin_bai_cong_ttdt"] = "ba tin"  # unusable: left out of the totals, listed
            if n % 23 == 0:
                values["ket_qua_noi_bat"] = INJECTION
            if fate < 0.1:
                continue  # missing
            if fate < 0.18:
                send(unit, "2025-Q1", at(2025, 3, 5), issues=[error])  # rejected, never corrected
            elif fate < 0.3:
                send(unit, "2025-Q1", at(2025, 3, 12), values, [warning])  # late, with a warning
            elif fate < 0.4:
                send(unit, "2025-Q1", at(2025, 3, 2), figures(dep, n + 1000))
                send(unit, "2025-Q1", at(2025, 3, 15), values)  # corrected: these values count
            else:
                send(unit, "2025-Q1", at(2025, 3, rng.randint(1, 9)), values)
            if n % 4:
                send(unit, "2024-Y", at(2024, 12, 10), figures(dep, n + 2000))
            if n % 5:
                send(unit, "2024-Q1", at(2024, 3, 8), figures(dep, n + 3000))
    return dep


def _parts(content: bytes) -> dict[str, bytes]:
    """Every part of a package but its creation time."""
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return {name: z.read(name) for name in z.namelist() if name != "docProps/core.xml"}


def test_consolidate_writes_what_the_summary_holding_everything_renders(
    province: api.Deployment, tmp_path: Path
):
    result = consolidate(province, "2025-Q1", docx=True, now=NOW)
    full = summary_for(province, "2025-Q1", now=NOW)  # every row holds its narratives
    assert result.counts == full.counts and result.counts["expected"] == 300
    assert result.counts["rejected"] > 0 and result.counts["missing"] > 0 and result.counts["late"] > 0
    assert full.problems and full.warnings
    last_year = full.comparison("last_year")  # 2024-Q1 (2024-Y, a year, is not compared with a quarter)
    assert last_year is not None and last_year.comparable and len(last_year.units_now) > 100

    # what consolidate kept: no narratives, and none read again once its ledger is closed
    assert result.summary is not None
    assert all(r.texts is None for r in result.summary.rows if r.reported)
    with pytest.raises(ValueError, match="không giữ nội dung đánh giá"):
        next(result.summary.texts_by_row())
    assert json.loads(json.dumps(result.to_dict()))["units"] == summary_data(full)["units"]

    # the files: byte for byte what the full summary renders
    written = result.xlsx.read_bytes()
    assert _parts(written) == _parts(render_summary(full))
    assert result.csv.read_bytes() == render_csv(full)
    assert result.docx is not None
    assert _parts(result.docx.read_bytes()) == _parts(render_docx(full, province.settings))

    # and cell by cell what the book built in memory holds (nothing forgotten while streaming)
    in_memory = tmp_path / "in-memory.xlsx"
    in_memory.write_bytes(render_summary(full, streamed=False))
    assert read_back(result.xlsx) == read_back(in_memory)
    assert chart_parts(result.xlsx) == chart_parts(in_memory)

    # the narratives are there, on the rows of their units
    sheet = openpyxl.load_workbook(result.xlsx)["Đánh giá"]
    said = {row[1]: row[2] for row in sheet.iter_rows(values_only=True) if row[2]}
    reported = [r for r in full.rows if r.reported]
    for row in reported:
        assert row.texts is not None and said[row.unit.name] == row.texts["ket_qua_noi_bat"]
    assert sum(1 for r in reported if said[r.unit.name] == INJECTION) > 0


def test_a_streamed_sheet_forgets_written_rows_and_keeps_them_in_the_file(tmp_path: Path):
    """The mechanism behind the summary's sheets: heights and merges of written rows are
    dropped from memory, and still all in the saved file."""
    path = tmp_path / "rows.xlsx"
    book = xlsxwriter.Workbook(path, {"constant_memory": True})
    ws = book.add_worksheet("Chi tiết", worksheet_class=StreamedSheet)
    for row in range(200):
        ws.write_number(row, 0, row)
        ws.merge_range(row, 1, row, 3, f"dòng {row}")
        ws.set_row(row, 18 + 1.5 * (row % 7))  # whole pixels
        assert len(ws.row_info) <= 2 and len(ws.row_sizes) <= 2 and len(ws.merged_cells) <= 6
    with pytest.raises(TypeError):
        ws.insert_chart(0, 5, book.add_chart({"type": "pie"}))
    book.close()

    sheet = openpyxl.load_workbook(path)["Chi tiết"]
    assert len(sheet.merged_cells.ranges) == 200
    assert {r: sheet.row_dimensions[r + 1].height for r in range(200)} == {
        r: 18 + 1.5 * (r % 7) for r in range(200)
    }
    assert [sheet.cell(r + 1, 2).value for r in (0, 199)] == ["dòng 0", "dòng 199"]
