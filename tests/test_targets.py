"""Targets judged at the level the form sets, with coverage and the estimates caveat next to the
verdict, and months counted from what the figure can hold."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import docx
import openpyxl
import pytest
from conftest import FORM, config_text
from helpers import TZ, Seeder, at, figures

from baocao import api
from baocao.consolidate import consolidate

REGISTRY = """code,name,parent,kind,email,valid_from,valid_to,successor
TINH,Tỉnh thử,,province,tinh@example.vn,2020-01-01,,
SO_A,Sở A,TINH,department,soa@example.vn,2020-01-01,,
A_1,Phòng A1,SO_A,unit,a1@example.vn,2020-01-01,,
A_2,Phòng A2,SO_A,unit,a2@example.vn,2020-01-01,,
A_3,Phòng A3,SO_A,unit,a3@example.vn,2020-01-01,,
SO_B,Sở B,TINH,department,sob@example.vn,2020-01-01,,
B_1,Phòng B1,SO_B,unit,b1@example.vn,2020-01-01,,
"""
PORTAL = {"A_1": 5, "A_2": 4, "B_1": 13}  # tin, bài on the portal; A_3 sends nothing
NOW = datetime(2025, 3, 20, 9, 0, tzinfo=TZ)


def deployment(folder: Path, level: str = "department", estimates: bool | None = None) -> api.Deployment:
    """The CCHC form with its portal target at ``level``; Q1 figures with or without estimates."""
    form = folder / "form.toml"
    text = FORM.read_text(encoding="utf-8")
    form.write_text(
        re.sub(r'^level = "department"$', f'level = "{level}"', text, flags=re.M), encoding="utf-8"
    )
    registry = folder / "don-vi.csv"
    registry.write_text(REGISTRY, encoding="utf-8")
    config = config_text(form=form, registry=registry)
    if estimates is not None:
        config = config.replace(
            'due_before = "10/03"', f'due_before = "10/03"\nestimates = {str(estimates).lower()}', 1
        )
    (folder / "config.toml").write_text(config, encoding="utf-8")
    dep = api.load_deployment(folder / "config.toml")
    s = Seeder(dep)
    for i, (unit, portal) in enumerate(PORTAL.items()):
        s.accept(unit, "2025-Q1", at(2025, 3, 5), figures(dep, i, tin_bai_cong_ttdt=portal))
    return dep


def verdicts(result) -> dict[str, dict]:
    return {t["scope"]: t for t in result.to_dict()["targets"]}


def test_department_target_on_the_departments_total(tmp_path: Path):
    dep = deployment(tmp_path)
    result = consolidate(dep, "2025-Q1", docx=True, now=NOW)
    found = verdicts(result)
    assert set(found) == {"SO_A", "SO_B"}  # no verdict on a phòng
    a = found["SO_A"]
    assert (a["level"], a["value"], a["required"], a["met"]) == ("department", 5 + 4, 4 * 3, False)
    assert (a["reported"], a["expected"], a["includes_estimates"]) == (2, 3, True)
    assert found["SO_B"]["met"] is True and found["SO_B"]["value"] == 13
    # first sheet: verdict with its coverage and the estimates caveat beside it
    rows = list(openpyxl.load_workbook(result.xlsx, data_only=True)["Tổng hợp"].iter_rows(values_only=True))
    line = next(r for r in rows if r[1] == "Sở A" and r[2])
    assert line[2:6] == (
        "≥ 12 tin, bài",
        9,
        "Chưa đạt",
        "2/3 đơn vị đã báo cáo; gồm số ước thực hiện đến 31/03/2025",
    )
    assert any(r[0] and "tính trên tổng của sở" in str(r[0]) for r in rows)
    text = "\n".join(p.text for p in docx.Document(str(result.docx)).paragraphs)
    assert (
        "- Sở A: 9 tin, bài, chưa đạt (2/3 đơn vị đã báo cáo; gồm số ước thực hiện đến 31/03/2025)." in text
    )


def test_province_target_on_the_province_total(tmp_path: Path):
    dep = deployment(tmp_path, level="province")
    found = verdicts(consolidate(dep, "2025-Q1", now=NOW))
    assert list(found) == ["TINH"]
    assert found["TINH"]["value"] == sum(PORTAL.values()) and found["TINH"]["met"] is True
    assert (found["TINH"]["reported"], found["TINH"]["expected"]) == (3, 4)


def test_unit_target_on_each_report(tmp_path: Path):
    dep = deployment(tmp_path, level="unit")
    found = verdicts(consolidate(dep, "2025-Q1", now=NOW))
    assert {u: v["met"] for u, v in found.items()} == {"A_1": False, "A_2": False, "A_3": None, "B_1": True}


@pytest.mark.parametrize(("estimates", "months"), [(True, 3), (False, 2)])
def test_months_counted_from_what_the_figure_holds(tmp_path: Path, estimates: bool, months: int):
    """Due before 10/03: with estimates the figure stands for three months; as actual figures to
    the report's date it holds January and February only, so the target is 2 × 4."""
    dep = deployment(tmp_path, estimates=estimates)
    found = verdicts(consolidate(dep, "2025-Q1", now=NOW))
    a = found["SO_A"]
    assert (a["months"], a["required"], a["includes_estimates"]) == (months, 4 * months, estimates)
    assert a["met"] is (4 * months <= 9)
