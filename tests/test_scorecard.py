"""The year's scorecard: one status per unit and period against the deadline of the unit's level,
an on-time rate, a score by the documented rule, a rank; the same unit order as status and summary.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from conftest import config_text
from helpers import TZ, Seeder, at, figures

from baocao import api
from baocao.consolidate import summary_for

REGISTRY = """code,name,parent,kind,email,valid_from,valid_to,successor
TINH,Tỉnh thử,,province,tinh@example.vn,2020-01-01,,
SO_A,Sở A,TINH,department,soa@example.vn,2020-01-01,,
A_1,Phòng A1,SO_A,unit,a1@example.vn,2020-01-01,,
A_2,Phòng A2 (giải thể 30/6),SO_A,unit,a2@example.vn,2020-01-01,2025-06-30,A_1
C_1,Ban C1 trực thuộc tỉnh,TINH,unit,c1@example.vn,2020-01-01,,
A_3,Phòng A3,SO_A,unit,a3@example.vn,2020-01-01,,
SO_B,Sở B,TINH,department,sob@example.vn,2020-01-01,,
B_1,Phòng B1,SO_B,unit,b1@example.vn,2020-01-01,,
"""


def deployment_in(folder: Path) -> api.Deployment:
    """Q1: units report to their department before 05/03 and to the province before 10/03."""
    registry = folder / "don-vi.csv"
    registry.write_text(REGISTRY, encoding="utf-8")
    text = config_text(registry=registry).replace(
        'due_before = "10/03"', 'due_before = { department = "05/03", province = "10/03" }', 1
    )
    (folder / "config.toml").write_text(text, encoding="utf-8")
    return api.load_deployment(folder / "config.toml")


@pytest.fixture
def dep(tmp_path: Path) -> api.Deployment:
    deployment = deployment_in(tmp_path)
    s = Seeder(deployment)
    s.accept("A_1", "2025-Q1", at(2025, 3, 2), figures(deployment, 1))
    s.accept("A_2", "2025-Q1", at(2025, 3, 7), figures(deployment, 2))  # 3 days after 04/03
    s.accept("A_3", "2025-Q1", at(2025, 3, 1), figures(deployment, 3))
    s.accept("C_1", "2025-Q1", at(2025, 3, 9), figures(deployment, 4))  # on time: the province's deadline
    # B_1 sends nothing for Q1
    s.accept("A_1", "2025-H1", at(2025, 6, 1), figures(deployment, 5))
    s.reject("A_2", "2025-H1", at(2025, 6, 2))  # rejected, never corrected
    s.accept("A_3", "2025-H1", at(2025, 6, 10), figures(deployment, 6))  # 1 day late
    s.accept("B_1", "2025-H1", at(2025, 6, 3), figures(deployment, 7))
    s.accept("C_1", "2025-H1", at(2025, 6, 4), figures(deployment, 8))
    return deployment


def test_due_follows_the_deadline_of_the_units_level(tmp_path: Path):
    """On 06/03 the department's deadline (04/03) has passed, the province's (09/03) has not."""
    dep = deployment_in(tmp_path)
    Seeder(dep).accept("A_1", "2025-Q1", at(2025, 3, 2), figures(dep, 1))
    result = api.scorecard(dep, 2025, now=datetime(2025, 3, 6, 9, 0, tzinfo=TZ))
    q1 = {r.code: r.cells["2025-Q1"].label for r in result.rows}
    assert q1 == {
        "A_1": "Đúng hạn",
        "A_2": "Chưa nộp",
        "A_3": "Chưa nộp",
        "B_1": "Chưa nộp",
        "C_1": "Chưa đến hạn",
    }


def test_rate_score_rank_and_order(dep):
    result = api.scorecard(dep, 2025, now=datetime(2025, 8, 15, 9, 0, tzinfo=TZ))
    assert result.path == dep.settings.path("output") / "cham-diem_2025.xlsx"
    grid = {r.code: [c.label for c in r.cells.values()] for r in result.rows}
    assert grid == {
        "A_1": ["Đúng hạn", "Đúng hạn", "Chưa đến hạn", "Chưa đến hạn"],
        "A_2": ["Chậm 3 ngày", "Bị trả lại", "—", "—"],
        "A_3": ["Đúng hạn", "Chậm 1 ngày", "Chưa đến hạn", "Chưa đến hạn"],
        "B_1": ["Chưa nộp", "Đúng hạn", "Chưa đến hạn", "Chưa đến hạn"],
        "C_1": ["Đúng hạn", "Đúng hạn", "Chưa đến hạn", "Chưa đến hạn"],
    }
    # the rule: on time 100, late 100 − 10 × days (≥ 50), rejected or missing 0; mean of due periods
    expected = {
        "A_1": (1.0, 100.0, 1),
        "C_1": (1.0, 100.0, 1),
        "A_3": (0.5, (100 + 90) / 2, 3),
        "B_1": (0.5, (0 + 100) / 2, 4),
        "A_2": (0.0, (70 + 0) / 2, 5),
    }
    assert {r.code: (r.on_time_rate, r.score, r.rank) for r in result.rows} == expected
    # the order of status and of the summary: departments in registry order, C_1 (no department) last
    order = [r.code for r in result.rows]
    assert order == ["A_1", "A_2", "A_3", "B_1", "C_1"]
    assert [st.unit.code for st in api.status(dep, "2025-Q1")] == order
    summary = summary_for(dep, "2025-Q1", now=datetime(2025, 8, 15, tzinfo=TZ))
    assert [r.unit.code for r in summary.rows] == order
    # departments: each period counted where the unit belonged then
    assert result.departments["SO_A"]["counts"] == {
        "on_time": 3,
        "late": 2,
        "rejected": 1,
        "missing": 0,
        "not_due": 4,
    }
    assert result.departments["SO_A"]["on_time_rate"] == 3 / 6
    data = json.loads(json.dumps(result.to_dict()))
    assert data["units"][0]["rank"] == 1 and data["units"][0]["score"] == 100.0
    assert "100 − 10 × số ngày chậm" in data["rule"]


def test_scorecard_workbook_reads_back(dep):
    result = api.scorecard(dep, 2025, now=datetime(2025, 8, 15, 9, 0, tzinfo=TZ))
    book = openpyxl.load_workbook(result.path)
    sheet = book["Chấm điểm"]
    rows = {r[1]: r for r in sheet.iter_rows(min_row=7, values_only=True) if r[1]}
    heads = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "STT")
    col = {h: i for i, h in enumerate(heads)}
    assert rows["A_2"][col["Quý I năm 2025"]] == "Chậm 3 ngày"
    assert rows["A_3"][col["Điểm"]] == 95 and rows["A_3"][col["Xếp hạng"]] == 3
    assert rows["B_1"][col["Tỷ lệ đúng hạn"]] == 0.5
    assert "100 − 10 × số ngày chậm" in sheet["A4"].value
    for ws in (sheet, book["Theo sở"]):
        assert ws["A2"].value.startswith(("THEO DÕI, CHẤM ĐIỂM", "TỔNG HỢP VIỆC GỬI BÁO CÁO THEO SỞ"))
        assert ws.page_setup.orientation == "landscape" and ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.page_setup.fitToHeight == 0  # one page wide, as many pages down as needed
        assert ws.print_title_rows == "$6:$6"
    by_dept = {r[1]: r for r in book["Theo sở"].iter_rows(min_row=7, values_only=True) if r[1]}
    assert by_dept["Sở A"][-1] == 0.5


def test_the_command_line_shows_rate_score_and_rank(dep, tmp_path: Path):
    """``baocao scorecard`` prints what the scorecard promises, not only the statuses."""
    import io

    from baocao.cli import main

    out = io.StringIO()
    config = tmp_path / "config.toml"  # deployment_in wrote it
    argv = ["--config", str(config), "scorecard", "--year", "2025", "--now", "2025-08-15T09:00"]
    assert main(argv, out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split()[-5:] == ["lệ", "đúng", "hạn", "điểm", "hạng"]
    cells = [re.split(r"\s{2,}", line.strip()) for line in lines[2:7]]  # columns: 2+ spaces apart
    rows = {c[0]: c[-3:] for c in cells}
    # the figures of test_rate_score_rank_and_order, as printed
    assert rows == {
        "A_1": ["100 %", "100", "1"],
        "A_2": ["0 %", "35", "5"],
        "A_3": ["50 %", "95", "3"],
        "B_1": ["50 %", "50", "4"],
        "C_1": ["100 %", "100", "1"],
    }
    assert "100 − 10 × số ngày chậm" in out.getvalue()
