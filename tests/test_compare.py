"""Like-for-like comparisons: only units present in both periods (through registry successors),
with the units on each side named, the coverage next to the figure, and a plain sentence when
nothing is comparable. Expected figures are the test's own sums of the values it seeded.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import docx
import openpyxl
import pytest
from conftest import write_config
from helpers import TZ, Seeder, at, codes, figures, seed_quarter, total

from baocao import api
from baocao.consolidate import consolidate
from baocao.report.compare import compare, holder_now

REGISTRY = """code,name,parent,kind,email,valid_from,valid_to,successor
TINH,Tỉnh thử,,province,tinh@example.vn,2020-01-01,,
SO_A,Sở A,TINH,department,soa@example.vn,2020-01-01,,
A_1,Phòng A1,SO_A,unit,a1@example.vn,2020-01-01,,
A_2,Phòng A2 (sáp nhập vào A1),SO_A,unit,a2@example.vn,2020-01-01,2024-12-31,A_1
A_3,Phòng A3 (thành lập 2025),SO_A,unit,a3@example.vn,2025-01-01,,
A_4,Phòng A4 (giải thể),SO_A,unit,a4@example.vn,2020-01-01,2024-12-31,
SO_B,Sở B,TINH,department,sob@example.vn,2020-01-01,,
B_1,Phòng B1,SO_B,unit,b1@example.vn,2020-01-01,,
B_2,Phòng B2,SO_B,unit,b2@example.vn,2020-01-01,,
B_3,Phòng B3,SO_B,unit,b3@example.vn,2020-01-01,,
"""
NOW = datetime(2025, 3, 20, 9, 0, tzinfo=TZ)


def _seeded(tmp_path: Path, reporting_now: tuple[str, ...]) -> tuple[api.Deployment, dict, dict]:
    registry = tmp_path / "don-vi.csv"
    registry.write_text(REGISTRY, encoding="utf-8")
    deployment = api.load_deployment(write_config(tmp_path, registry=registry))
    s = Seeder(deployment)
    then = {u: figures(deployment, 10 + i) for i, u in enumerate(("A_1", "A_2", "A_4", "B_1", "B_3"))}
    now = {u: figures(deployment, 20 + i) for i, u in enumerate(reporting_now)}
    for unit, values in then.items():
        s.accept(unit, "2024-Q1", at(2024, 3, 5), values)
    for unit, values in now.items():
        s.accept(unit, "2025-Q1", at(2025, 3, 5), values)
    return deployment, then, now


@pytest.fixture
def dep(tmp_path: Path) -> tuple[api.Deployment, dict, dict]:
    return _seeded(tmp_path, ("A_1", "A_3", "B_2", "B_3"))


def test_year_on_year_compares_the_same_units(dep):
    deployment, then, now = dep
    result = consolidate(deployment, "2025-Q1", docx=True, now=NOW)
    data = result.to_dict()
    comp = next(c for c in data["comparisons"] if c["kind"] == "last_year")
    # A_1 now stands for A_1 and A_2 (merged), both reported then; B_3 is B_3. A_3 is new, B_2
    # sent nothing last year; A_4 closed without a successor, B_1 sent nothing this year.
    assert comp["comparable"] and comp["units_now"] == ["A_1", "B_3"]
    assert comp["units_then"] == ["A_1", "A_2", "B_3"]
    assert comp["left_out_now"] == ["A_3", "B_2"] and comp["left_out_then"] == ["A_4", "B_1"]
    same_now = total(deployment, [now["A_1"], now["B_3"]])
    same_then = total(deployment, [then["A_1"], then["A_2"], then["B_3"]])
    for code in codes(deployment):
        assert comp["fields"][code]["now"] == same_now[code]
        assert comp["fields"][code]["then"] == same_then[code]
        assert comp["fields"][code]["ratio"] == pytest.approx(same_now[code] / same_then[code] - 1)
    # the full total of this period still counts every unit that reported
    assert data["totals"] == total(deployment, list(now.values()))
    previous = next(c for c in data["comparisons"] if c["kind"] == "previous")
    assert not previous["comparable"] and "12 tháng" in previous["reason"]

    # first sheet: the change sits next to the total with the units it covers in its heading
    sheet = openpyxl.load_workbook(result.xlsx, data_only=True)["Tổng hợp"]
    rows = [r for r in sheet.iter_rows(values_only=True)]
    head = next(r for r in rows if r[1] == "Chỉ tiêu")
    assert head[4] == "So với cùng kỳ năm trước (cùng 2 đơn vị)"
    label = deployment.form.field("tthc_niem_yet").label
    line = next(r for r in rows if r[1] == label)
    code = "tthc_niem_yet"
    assert line[3] == data["totals"][code]
    assert line[4] == pytest.approx(same_now[code] / same_then[code] - 1)
    assert (line[5], line[6]) == (same_now[code], same_then[code])
    assert any(r[0] and "chỉ tính 2 đơn vị có số liệu ở cả hai kỳ" in str(r[0]) for r in rows)

    # the Word draft: the full total, then the change of the 2 comparable units with their own
    # figures (4 units reported: a rate next to the full total would read as its change)
    text = "\n".join(p.text for p in docx.Document(str(result.docx)).paragraphs)
    ratio = same_now[code] / same_then[code] - 1
    trend = "tăng" if ratio > 0 else "giảm"
    percent = f"{abs(ratio) * 100:.1f}".replace(".", ",")
    measure = deployment.form.field(code).measure
    expected = (
        f"- {label}: {data['totals'][code]} {measure}; tính riêng 2 đơn vị có số liệu ở cả hai kỳ là "
        f"{same_now[code]} {measure}, {trend} {percent} % so với cùng kỳ năm trước "
        f"({same_then[code]} {measure}; cùng 2 đơn vị)."
    )
    assert expected in text


def test_when_every_unit_is_comparable_the_change_follows_the_total(tmp_path):
    """Only A_1 and B_3 report now, both comparable: "…: N, tăng/giảm x,y % … (cùng 2 đơn vị)"."""
    deployment, then, now = _seeded(tmp_path, ("A_1", "B_3"))
    result = consolidate(deployment, "2025-Q1", docx=True, now=NOW)
    code = "tthc_niem_yet"
    same_then = total(deployment, [then["A_1"], then["A_2"], then["B_3"]])
    same_now = total(deployment, list(now.values()))
    ratio = same_now[code] / same_then[code] - 1
    trend = "tăng" if ratio > 0 else "giảm"
    percent = f"{abs(ratio) * 100:.1f}".replace(".", ",")
    field = deployment.form.field(code)
    text = "\n".join(p.text for p in docx.Document(str(result.docx)).paragraphs)
    expected = (
        f"- {field.label}: {same_now[code]} {field.measure}, {trend} {percent} % so với cùng kỳ năm trước "
        "(cùng 2 đơn vị)."
    )
    assert expected in text


def test_department_level_comparison(dep):
    deployment, then, _now = dep
    data = consolidate(deployment, "2025-Q1", unit="SO_A", now=NOW).to_dict()
    comp = next(c for c in data["comparisons"] if c["kind"] == "last_year")
    assert comp["units_now"] == ["A_1"] and comp["units_then"] == ["A_1", "A_2"]
    assert comp["left_out_now"] == ["A_3"] and comp["left_out_then"] == ["A_4"]
    assert comp["fields"]["lop_tap_huan"]["then"] == then["A_1"]["lop_tap_huan"] + then["A_2"]["lop_tap_huan"]


def test_a_merged_unit_is_compared_only_with_all_it_replaced(dep):
    """If one of the units merged into A_1 had not reported then, A_1 is left out entirely."""
    deployment, then, now = dep
    period, other = deployment.period("2025-Q1"), deployment.period("2024-Q1")
    registry = deployment.registry
    level = registry.root(registry.reference_day(period))
    units = registry.reporting_units(period)
    partial = {u: v for u, v in then.items() if u != "A_2"}
    comp = compare(
        "last_year",
        registry=registry,
        period=period,
        other=other,
        level=level,
        units=units,
        now_values=now,
        then_values=partial,
        codes=codes(deployment),
    )
    assert comp.units_now == ("B_3",) and comp.units_then == ("B_3",)
    assert "A_1" in comp.left_out_now and "A_1" in comp.left_out_then
    assert comp.coverage == "cùng 1 đơn vị"


def test_nothing_comparable_is_said_plainly(deployment):
    """The demo's situation: last year only a closed unit of a department that no longer exists."""
    seed_quarter(deployment)
    result = consolidate(deployment, "2025-Q1", docx=True, now=NOW)
    comps = {c["kind"]: c for c in result.to_dict()["comparisons"]}
    assert not comps["last_year"]["comparable"] and comps["last_year"]["units_now"] == []
    assert comps["last_year"]["left_out_then"] == ["LD_CDN"]
    reason = comps["last_year"]["reason"]
    assert reason.startswith("Không so sánh được với cùng kỳ năm trước (Quý I năm 2024)")
    book = openpyxl.load_workbook(result.xlsx, data_only=True)
    for name in ("Tổng hợp", "So sánh"):
        cells = [c for row in book[name].iter_rows(values_only=True) for c in row if c is not None]
        assert reason in cells and "—" not in cells, name
    text = "\n".join(p.text for p in docx.Document(str(result.docx)).paragraphs)
    assert reason in text and "so với cùng kỳ năm trước (cùng" not in text
    # successors: a merged office goes to its successor, a closed one to its department's
    reg = deployment.registry
    assert holder_now(reg, "LD_KHTC", at(2024, 12, 9).date(), at(2025, 3, 9).date()) == "NV_VP"
    assert holder_now(reg, "LD_BTXH", at(2024, 12, 9).date(), at(2025, 3, 9).date()) == "SNV"
