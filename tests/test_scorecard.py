"""The year's scorecard: every unit reporting in any period, one status per period."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import openpyxl
from conftest import write_config
from test_consolidate import TZ, Seeder, at, figures

from baocao import api
from baocao.report.scorecard import scorecard

REGISTRY = """code,name,parent,kind,email,valid_from,valid_to,successor
TINH,Tỉnh thử,,province,tinh@example.vn,2020-01-01,,
SO_A,Sở A,TINH,department,soa@example.vn,2020-01-01,,
A_1,Phòng A1,SO_A,unit,a1@example.vn,2020-01-01,,
A_2,Phòng A2 (giải thể 30/6),SO_A,unit,a2@example.vn,2020-01-01,2025-06-30,A_1
A_3,Phòng A3 (thành lập 1/7),SO_A,unit,a3@example.vn,2025-07-01,,
SO_B,Sở B,TINH,department,sob@example.vn,2020-01-01,,
B_1,Phòng B1,SO_B,unit,b1@example.vn,2020-01-01,,
"""


def test_scorecard_statuses_counts_and_json(tmp_path: Path):
    registry = tmp_path / "don-vi.csv"
    registry.write_text(REGISTRY, encoding="utf-8")
    dep = api.load_deployment(write_config(tmp_path, registry=registry))
    s = Seeder(dep)
    s.accept("A_1", "2025-Q1", at(2025, 3, 2), figures(dep, 1))
    s.accept("A_2", "2025-Q1", at(2025, 3, 14), figures(dep, 2))  # 5 days late
    s.reject("B_1", "2025-Q1", at(2025, 3, 5))  # never corrected
    s.accept("A_1", "2025-H1", at(2025, 6, 1), figures(dep, 3))
    s.reject("A_2", "2025-H1", at(2025, 6, 2))  # rejected, but H1 is past due: stays rejected
    # B_1 sends nothing for H1 (missing); A_3 appears from Q3
    s.accept("A_3", "2025-Q3", at(2025, 8, 1), figures(dep, 4))  # on time before the deadline
    now = datetime(2025, 8, 15, 9, 0, tzinfo=TZ)  # Q3 and Y not yet due
    result = scorecard(dep, 2025, now=now)
    assert result.path == dep.settings.path("output") / "cham-diem_2025.xlsx"
    grid = {r.code: {p: c.label for p, c in r.cells.items()} for r in result.rows}
    assert grid == {
        "A_1": {
            "2025-Q1": "Đúng hạn",
            "2025-H1": "Đúng hạn",
            "2025-Q3": "Chưa đến hạn",
            "2025-Y": "Chưa đến hạn",
        },
        "A_2": {"2025-Q1": "Chậm 5 ngày", "2025-H1": "Bị trả lại", "2025-Q3": "—", "2025-Y": "—"},
        "A_3": {"2025-Q1": "—", "2025-H1": "—", "2025-Q3": "Đúng hạn", "2025-Y": "Chưa đến hạn"},
        "B_1": {
            "2025-Q1": "Bị trả lại",
            "2025-H1": "Chưa nộp",
            "2025-Q3": "Chưa đến hạn",
            "2025-Y": "Chưa đến hạn",
        },
    }
    counts = {r.code: r.counts() for r in result.rows}
    assert counts["A_2"] == {"on_time": 0, "late": 1, "rejected": 1, "missing": 0, "not_due": 0}
    assert result.departments["SO_A"]["counts"] == {
        "on_time": 3,
        "late": 1,
        "rejected": 1,
        "missing": 0,
        "not_due": 3,
    }
    assert result.departments["SO_B"]["counts"]["missing"] == 1
    data = json.loads(json.dumps(result.to_dict()))
    assert data["units"][0]["periods"]["2025-Q1"]["status"] == "on_time"
    sheet = openpyxl.load_workbook(result.path)["Chấm điểm"]
    rows = {r[1]: r for r in sheet.iter_rows(min_row=6, values_only=True)}
    assert rows["A_2"][4:8] == ("Chậm 5 ngày", "Bị trả lại", "—", "—")
    assert rows["B_1"][8:13] == (0, 0, 1, 1, 2)
