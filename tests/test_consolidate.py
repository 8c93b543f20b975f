"""Consolidation: the summary workbook, CSV and roll-up, checked by reading them back.

The ledger is filled through its real API with values chosen here; expected totals, subtotals
and completeness are computed in the test from those values, never from baocao's own sums.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from conftest import write_config
from helpers import INJECTION, TZ, Seeder, at, codes, figures, fill_workbook, seed_quarter, total

from baocao import api
from baocao.consolidate import consolidate
from baocao.store import open_store

NOW = datetime(2025, 3, 20, 9, 0, tzinfo=TZ)


@pytest.fixture
def seeded(deployment: api.Deployment) -> tuple[api.Deployment, dict[str, dict]]:
    return deployment, seed_quarter(deployment)


def detail_rows(path: Path) -> dict[str, list]:
    """Rows of 'Chi tiết' read with openpyxl (cached values) keyed by unit code or row label."""
    book = openpyxl.load_workbook(path, data_only=True)
    out = {}
    for row in book["Chi tiết"].iter_rows(min_row=8, values_only=True):
        key = row[1] if row[1] else row[0]
        if isinstance(key, str):
            out[key] = list(row)
    return out


def test_province_summary_totals_status_and_formulas(seeded):
    dep, final = seeded
    result = consolidate(dep, "2025-Q1", now=NOW)
    assert result.xlsx == dep.settings.path("output") / "2025-Q1" / "tong-hop_2025-Q1_LANGSON.xlsx"
    assert result.messages == ()
    snv = [final[u] for u in ("NV_VP", "NV_CCHC", "NV_TCBC")]
    sdttg = [final[u] for u in ("DT_VP", "DT_CSDT", "DT_TG")]
    expected_total = total(dep, snv + sdttg)
    assert result.totals == expected_total
    # on time: NV_VP, NV_CCHC (first file on time, corrected later), DT_VP (last hour), DT_TG
    assert result.counts == {
        "on_time": 4,
        "late": 2,
        "rejected": 1,
        "missing": 2,
        "expected": 9,
        "reported": 6,
    }
    rows = detail_rows(result.xlsx)
    first = 4
    for unit, values in final.items():
        assert rows[unit][first : first + 16] == [values[c] for c in codes(dep)], unit
    for unit in ("NV_LDVL", "TTDVVL", "DT_TTRA"):
        assert rows[unit][first : first + 16] == [None] * 16
    assert rows["NV_LDVL"][3] == "Bị trả lại" and rows["TTDVVL"][3] == "Chưa nộp"
    assert rows["NV_TCBC"][3] == "Chậm 3 ngày" and rows["DT_CSDT"][3] == "Chậm 2 ngày"
    assert rows["NV_CCHC"][3] == "Đúng hạn" and rows["DT_VP"][3] == "Đúng hạn"
    assert "SNV" not in rows
    snv_row = rows["Cộng: Sở Nội vụ (3/5 đơn vị đã báo cáo)"]
    assert snv_row[first : first + 16] == list(total(dep, snv).values())
    sdttg_row = rows["Cộng: Sở Dân tộc và Tôn giáo (3/4 đơn vị đã báo cáo)"]
    assert sdttg_row[first : first + 16] == list(total(dep, sdttg).values())
    grand = rows["TỔNG CỘNG (6/9 đơn vị đã báo cáo)"]
    assert grand[first : first + 16] == list(expected_total.values())
    # the portal target is the department's: judged on its subtotal row, not on a phòng's row
    assert sum(v["tin_bai_cong_ttdt"] for v in snv) >= 12 and snv_row[first + 16] == "Đạt"
    assert rows["NV_TCBC"][first + 16] is None
    # live formulas behind the cached values
    sheet = openpyxl.load_workbook(result.xlsx)["Chi tiết"]
    formulas = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert sum(1 for f in formulas if f.startswith("=SUM(")) == 2 * 16
    # the same numbers through pandas + calamine
    frame = pd.read_excel(result.xlsx, sheet_name=None, header=None, engine="calamine")
    detail = frame["Chi tiết"]
    by_label = {str(r[1]) if pd.notna(r[1]) else str(r[0]): r for r in detail.itertuples(index=False)}
    assert [int(x) for x in by_label["NV_CCHC"][first : first + 16]] == [
        final["NV_CCHC"][c] for c in codes(dep)
    ]
    calamine_grand = next(v for k, v in by_label.items() if k.startswith("TỔNG CỘNG"))
    assert [int(x) for x in calamine_grand[first : first + 16]] == list(expected_total.values())
    assert list(frame)[:6] == ["Tổng hợp", "Chi tiết", "Tình hình nộp", "Đánh giá", "Cảnh báo", "So sánh"]
    # status sheet: deadline of the unit's level, days late or overdue, rejection reason
    status = {r[1]: r for r in frame["Tình hình nộp"].itertuples(index=False)}
    assert status["NV_TCBC"][5] == "09/03/2025" and status["NV_TCBC"][7] == 3
    assert "Người lập biểu" in status["NV_LDVL"][9] and status["NV_LDVL"][7] == 20 - 9
    warnings = frame["Cảnh báo"]
    assert (warnings[1] == "Phòng Tổ chức, biên chế và Tổ chức phi chính phủ").any()
    assert (warnings[2] == "1. " + dep.form.field("tin_bai_cong_ttdt").label).any()


def test_2024_period_uses_2024_structure(seeded):
    dep, _ = seeded
    result = consolidate(dep, "2024-Q1", now=NOW)
    rows = detail_rows(result.xlsx)
    assert "Cộng: Sở Lao động – Thương binh và Xã hội (1/10 đơn vị đã báo cáo)" in rows
    assert "LD_CDN" in rows and "TTDVVL" in rows
    assert not any(k.startswith("DT_") for k in rows) and "NV_LDVL" not in rows
    assert rows["LD_CDN"][3] == "Đúng hạn"
    later = detail_rows(consolidate(dep, "2025-Q1", now=NOW).xlsx)
    assert "Cộng: Sở Dân tộc và Tôn giáo (3/4 đơn vị đã báo cáo)" in later and "LD_CDN" not in later


def test_unit_text_is_written_as_text(seeded):
    dep, _ = seeded
    result = consolidate(dep, "2025-Q1", now=NOW)
    sheet = openpyxl.load_workbook(result.xlsx)["Đánh giá"]
    found = {}
    for row in sheet.iter_rows():
        for cell in row:
            if cell.value in (INJECTION, "+SUM(A1:A9)", "-1", "@cmd"):
                found[cell.value] = cell.data_type
    assert found == {INJECTION: "s", "+SUM(A1:A9)": "s", "-1": "s", "@cmd": "s"}


def test_csv_beside_workbook(seeded):
    dep, final = seeded
    result = consolidate(dep, "2025-Q1", now=NOW)
    raw = result.csv.read_bytes()
    assert result.csv == result.xlsx.with_suffix(".csv") and raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    fixed = ["period", "window_start", "window_end", "unit_code", "unit_name", "parent_code", "status"]
    assert rows[0] == [*fixed, "days_late", "days_overdue", *codes(dep)]
    by_unit = {r[3]: r for r in rows[1:]}
    assert len(by_unit) == 9
    assert by_unit["TTDVVL"][:3] == ["2025-Q1", "2025-01-01", "2025-03-31"]
    assert by_unit["TTDVVL"][5:] == ["SNV", "missing", "0", "11"] + [""] * 16
    assert by_unit["NV_LDVL"][6] == "rejected" and by_unit["NV_TCBC"][6:8] == ["late", "3"]
    assert by_unit["DT_TG"][9:] == [str(final["DT_TG"][c]) for c in codes(dep)]


def test_open_in_excel_writes_new_name(seeded):
    dep, _ = seeded
    first = consolidate(dep, "2025-Q1", now=NOW)
    before = first.xlsx.read_bytes()
    (first.xlsx.parent / f"~${first.xlsx.name}").write_bytes(b"owner")
    second = consolidate(dep, "2025-Q1", now=datetime(2025, 3, 21, tzinfo=TZ))
    assert second.xlsx.name == "tong-hop_2025-Q1_LANGSON_2.xlsx"
    assert first.xlsx.read_bytes() == before
    assert any("LANGSON_2.xlsx" in m for m in second.messages)
    assert not list(first.xlsx.parent.glob(".tmp-*"))
    openpyxl.load_workbook(second.xlsx)  # complete and readable


def test_rollup_is_the_departments_own_filled_template(seeded):
    dep, final = seeded
    result = consolidate(dep, "2025-Q1", unit="SDTTG", as_submission=True, phone="0205123456", now=NOW)
    assert result.rollup is not None and result.rollup.name.startswith("SDTTG_2025-Q1_")
    book = openpyxl.load_workbook(result.rollup)

    def value(code):
        ((sheet, ref),) = book.defined_names[code].destinations
        return book[sheet][ref.replace("$", "")].value

    assert value("ma_don_vi") == "SDTTG" and value("ky_bao_cao") == "2025-Q1"
    sdttg = total(dep, [final[u] for u in ("DT_VP", "DT_CSDT", "DT_TG")])
    assert {c: value(c) for c in codes(dep)} == sdttg
    # who prepared it is the department office's to fill, not another Sở's name
    assert value("nguoi_lap") is None and value("email") is None and value("dien_thoai") == "0205123456"
    assert value("co_ke_hoach") == "Có" and value("so_ke_hoach") == "12/KH-SNV"
    assert any("Người lập biểu, Thư điện tử" in m for m in result.messages)
    text = value("ket_qua_noi_bat")
    assert text.startswith("Văn phòng Sở Dân tộc và Tôn giáo: =HYPERLINK(")
    assert "Phòng Quản lý tôn giáo: Kết quả nổi bật số 7" in text
    assert value("ton_tai_han_che").startswith("Văn phòng Sở Dân tộc và Tôn giáo: +SUM")
    # the issuing body as on any template of a department under the province, not the registry row
    sheet = book[dep.form.sheet]
    assert sheet["A1"].value == "UBND TỈNH LẠNG SƠN" and sheet["A2"].value == "SỞ DÂN TỘC VÀ TÔN GIÁO"
    # the joined narrative fits its cell: about 44 characters a line at 16 points in column D
    ((_, ref),) = book.defined_names["ket_qua_noi_bat"].destinations
    row = int(ref.split("$")[-1])
    lines = sum(-(-len(part) // 44) for part in text.split("\n"))
    assert lines > 5 and sheet.row_dimensions[row].height >= 16 * lines
    with pytest.raises(Exception, match="--as-submission"):
        consolidate(dep, "2025-Q1", as_submission=True, now=NOW)


def test_rollup_is_collected_by_the_level_above(seeded, tmp_path: Path):
    """The department's roll-up goes through the real collect of a deployment one level up."""
    collect = pytest.importorskip("baocao.collect")
    dep, final = seeded
    result = consolidate(dep, "2025-Q1", unit="SDTTG", as_submission=True, phone="0205123456", now=NOW)
    upper_dir = tmp_path / "upper"
    upper_dir.mkdir()
    registry = upper_dir / "don-vi.csv"
    registry.write_text(
        "code,name,parent,kind,email,valid_from,valid_to,successor\n"
        "LANGSON,Tỉnh Lạng Sơn,,province,cchc@snv.langson.example,2020-01-01,,\n"
        "SDTTG,Sở Dân tộc và Tôn giáo,LANGSON,department,vanphong@sdttg.langson.example,2025-03-01,,\n",
        encoding="utf-8",
    )
    upper = api.load_deployment(write_config(upper_dir, registry=registry))
    inbox = upper.settings.path("inbox")
    inbox.mkdir(parents=True)
    # the department's office fills what the roll-up left blank, in its spreadsheet program
    fill_workbook(
        result.rollup,
        {"nguoi_lap": "Lý Thị Hoa", "email": "vanphong@sdttg.langson.example"},
        inbox / result.rollup.name,
    )
    for minute in (0, 1):
        collect.collect(upper, now=datetime(2025, 3, 20, 10, minute, tzinfo=TZ))
    with open_store(upper.settings) as ledger:
        current = ledger.current_submissions("2025-Q1")
        files = ledger.files("2025-Q1")
    assert [f.status for f in files] == ["accepted"], [i.message for f in files for i in f.issues]
    sdttg = total(dep, [final[u] for u in ("DT_VP", "DT_CSDT", "DT_TG")])
    assert {c: current["SDTTG"].values[c] for c in codes(dep)} == sdttg


def test_rollup_never_pairs_one_units_plan_number_with_anothers_date(deployment):
    """Two phòng cite different plans: the department's file must not state "plan 89/KH-DT
    issued 01/01/2024" (one phòng's number with the other's date, as most_common's tie-break
    did); the plan fields and a tied choice are left for the office, and the office is told."""
    s = Seeder(deployment)
    s.accept(
        "DT_VP",
        "2025-Q1",
        at(2025, 3, 3),
        figures(deployment, 1, so_ke_hoach="89/KH-DT", ngay_ke_hoach="2024-07-28"),
    )
    s.accept(
        "DT_TG",
        "2025-Q1",
        at(2025, 3, 4),
        figures(deployment, 2, so_ke_hoach="91/KH-DT", ngay_ke_hoach="2024-01-01", co_ke_hoach="Không"),
    )
    result = consolidate(deployment, "2025-Q1", unit="SDTTG", as_submission=True, now=NOW)
    book = openpyxl.load_workbook(result.rollup)

    def value(code):
        ((sheet, ref),) = book.defined_names[code].destinations
        return book[sheet][ref.replace("$", "")].value

    assert value("so_ke_hoach") is None and value("ngay_ke_hoach") is None
    assert value("co_ke_hoach") is None  # one "Có", one "Không": no most common answer
    [note] = [m for m in result.messages if "còn để trống" in m]
    for field in ("co_ke_hoach", "so_ke_hoach", "ngay_ke_hoach"):
        assert deployment.form.field(field).label in note
