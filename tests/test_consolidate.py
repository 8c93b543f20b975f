"""Consolidation: the summary workbook, CSV and roll-up, checked by reading them back.

The ledger is filled through its real API with values chosen here; expected totals, subtotals
and completeness are computed in the test from those values, never from baocao's own sums.
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pandas as pd
import pytest
from conftest import write_config
from helpers import fill_workbook

from baocao import api
from baocao.consolidate import consolidate
from baocao.model import FileRecord, Issue, Severity
from baocao.report.summary import holder_now
from baocao.store.ledger import Ledger

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2025, 3, 20, 9, 0, tzinfo=TZ)
INJECTION = '=HYPERLINK("http://evil.example","bấm vào đây")'


def at(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=TZ)


def figures(dep: api.Deployment, seed: int, **overrides) -> dict[str, object]:
    """Distinct, valid values for every field (as the ledger stores them: dates as ISO text)."""
    values: dict[str, object] = {
        f.code: (seed * 7 + i * 3) % 40 + 1 for i, f in enumerate(dep.form.quantitative_fields)
    }
    values.update(
        nguoi_lap="Nguyễn Văn An",
        dien_thoai="0912345678",
        email="an@donvi.example",
        ngay_lap="2025-03-05",
        co_ke_hoach="Có",
        so_ke_hoach="12/KH-SNV",
        ngay_ke_hoach="2025-01-15",
        ket_qua_noi_bat=f"Kết quả nổi bật số {seed}: đăng tin đều đặn trên trang thông tin điện tử.",
        ton_tai_han_che="Không",
        nguyen_nhan="",
        mo_hinh_sang_kien="",
        de_xuat_kien_nghi=f"Đề xuất số {seed}: tăng kinh phí tuyên truyền.",
    )
    values.update(overrides)
    return values


class Seeder:
    """Writes files and outcomes into a real ledger as collect would."""

    def __init__(self, dep: api.Deployment):
        self.dep = dep
        self.n = 0

    def file(self, unit: str, period: str, received: datetime, status: str, values=None, issues=()) -> None:
        self.n += 1
        with Ledger(self.dep.settings.path("ledger")) as ledger:
            fid = ledger.add_file(
                FileRecord(
                    sha256=f"{self.n:064d}",
                    original_name=f"{unit}_{period}_{self.n}.xlsx",
                    inbox_path=f"inbox/{unit}_{self.n}.xlsx",
                    archive_path=f"archive/{self.n}.xlsx",
                    size=1000,
                    received_at=received,
                )
            )
            ledger.record_outcome(
                fid,
                status=status,
                unit=unit,
                period=period,
                form_version="2025.1",
                values=values,
                issues=list(issues),
                processed_at=received,
            )

    def accept(self, unit: str, period: str, received: datetime, values: dict, warnings=()) -> None:
        self.file(unit, period, received, "accepted", values, warnings)

    def reject(self, unit: str, period: str, received: datetime) -> None:
        error = Issue(Severity.ERROR, "required", "Người lập biểu: chưa nhập", "nguoi_lap", "BaoCao", "D12")
        self.file(unit, period, received, "rejected", None, [error])


BELOW = Issue(
    Severity.WARNING, "below_target", "có 8 tin, bài, dưới chỉ tiêu 12", "tin_bai_cong_ttdt", "BaoCao", "D20"
)


def seed(dep: api.Deployment) -> dict[str, dict]:
    """2025-Q1 with every kind of outcome, plus earlier periods for the comparison.

    Returns the values in force per unit for 2025-Q1 (the test's truth).
    """
    s = Seeder(dep)
    final = {
        "NV_VP": figures(dep, 1, tin_bai_cong_ttdt=15),
        "NV_CCHC": figures(dep, 3, tin_bai_cong_ttdt=30),
        "NV_TCBC": figures(dep, 4, tin_bai_cong_ttdt=8),
        "DT_VP": figures(
            dep,
            5,
            ket_qua_noi_bat=INJECTION,
            ton_tai_han_che="+SUM(A1:A9)",
            nguyen_nhan="-1",
            mo_hinh_sang_kien="@cmd",
        ),
        "DT_CSDT": figures(dep, 6, tin_bai_cong_ttdt=12),
        "DT_TG": figures(dep, 7),
    }
    s.accept("NV_VP", "2025-Q1", at(2025, 3, 3), final["NV_VP"])
    s.accept("NV_CCHC", "2025-Q1", at(2025, 3, 4), figures(dep, 2))  # superseded by the correction
    s.accept("NV_CCHC", "2025-Q1", at(2025, 3, 15), final["NV_CCHC"])
    s.accept("NV_TCBC", "2025-Q1", at(2025, 3, 12), final["NV_TCBC"], [BELOW])  # 3 days late
    s.reject("NV_LDVL", "2025-Q1", at(2025, 3, 8))  # rejected, never corrected
    s.accept("DT_VP", "2025-Q1", at(2025, 3, 9, 23), final["DT_VP"])  # last on-time hour
    s.reject("DT_CSDT", "2025-Q1", at(2025, 3, 5))
    s.accept("DT_CSDT", "2025-Q1", at(2025, 3, 11), final["DT_CSDT"])  # corrected, 2 days late
    s.accept("DT_TG", "2025-Q1", at(2025, 3, 1), final["DT_TG"])
    s.accept("SNV", "2025-Q1", at(2025, 3, 9), figures(dep, 99))  # a department's roll-up: not counted
    # TTDVVL and DT_TTRA send nothing.
    # 2024-Y (the previous period) under the 2024 structure, and 2024-Q1 (same period last year).
    s.accept("LD_VP", "2024-Y", at(2024, 12, 1), figures(dep, 10))
    s.accept("LD_BTXH", "2024-Y", at(2024, 12, 2), figures(dep, 11))
    s.accept("NV_VP", "2024-Y", at(2024, 12, 3), figures(dep, 12))
    s.accept("LD_CDN", "2024-Q1", at(2024, 3, 1), figures(dep, 13))
    return final


@pytest.fixture
def seeded(deployment: api.Deployment) -> tuple[api.Deployment, dict[str, dict]]:
    return deployment, seed(deployment)


def codes(dep):
    return [f.code for f in dep.form.quantitative_fields]


def total(dep, rows):
    return {c: sum(r[c] for r in rows) for c in codes(dep)}


def detail_rows(path: Path) -> dict[str, list]:
    """Rows of 'Chi tiết' read with openpyxl (cached values) keyed by unit code or row label."""
    book = openpyxl.load_workbook(path, data_only=True)
    out = {}
    for row in book["Chi tiết"].iter_rows(min_row=7, values_only=True):
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
    assert rows["Cộng: Sở Nội vụ"][first : first + 16] == list(total(dep, snv).values())
    assert rows["Cộng: Sở Dân tộc và Tôn giáo"][first : first + 16] == list(total(dep, sdttg).values())
    grand = next(v for k, v in rows.items() if k.startswith("TỔNG CỘNG"))
    assert grand[first : first + 16] == list(expected_total.values())
    assert rows["NV_TCBC"][first + 16] == "Không đạt" and rows["DT_CSDT"][first + 16] == "Đạt"
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
    # Tổng hợp: totals (formulas into Chi tiết with cached values), completeness, target share
    overview = frame["Tổng hợp"]
    cells = {str(r[1]): r for r in overview.itertuples(index=False) if pd.notna(r[1])}
    label = dep.form.field("luot_du_thi").label
    assert int(cells[label][3]) == expected_total["luot_du_thi"]
    assert int(cells["Số đơn vị phải báo cáo"][2]) == 9
    assert int(cells["– trong đó chậm hạn"][2]) == 2
    assert int(cells["Chưa báo cáo"][2]) == 2
    share = next(r for k, r in cells.items() if k.startswith("Số đơn vị đạt chỉ tiêu"))
    met = sum(1 for v in snv + sdttg if v["tin_bai_cong_ttdt"] >= 4 * 3)
    assert share[2] == f"{met}/6"
    assert set(frame) >= {"Tổng hợp", "Chi tiết", "Tình hình nộp", "Đánh giá", "Cảnh báo", "So sánh"}
    assert next(iter(frame)) == "Tổng hợp"
    # status sheet: rejection reason; warnings sheet: unit and field
    status = {r[1]: r for r in frame["Tình hình nộp"].itertuples(index=False)}
    assert "Người lập biểu" in status["NV_LDVL"][8] and status["NV_TCBC"][6] == 3
    warnings = frame["Cảnh báo"]
    assert ((warnings[1] == "NV_TCBC") & (warnings[4] == "tin_bai_cong_ttdt")).any()


def test_comparison_follows_successors(seeded):
    dep, _ = seeded
    result = consolidate(dep, "2025-Q1", unit="SNV", now=NOW)
    assert result.xlsx.name == "tong-hop_2025-Q1_SNV.xlsx"
    assert result.counts["expected"] == 5  # NV_VP, NV_CCHC, NV_TCBC, NV_LDVL, TTDVVL
    frame = pd.read_excel(result.xlsx, sheet_name="So sánh", header=None, engine="calamine")
    rows = {str(r[1]): r for r in frame.itertuples(index=False)}
    label = dep.form.field("tthc_niem_yet").label
    previous = sum(figures(dep, s)["tthc_niem_yet"] for s in (10, 11, 12))  # LD_VP, LD_BTXH, NV_VP
    last_year = figures(dep, 13)["tthc_niem_yet"]  # LD_CDN: closed, its department went to SNV
    assert int(rows[label][4]) == previous
    assert int(rows[label][7]) == last_year
    # SDTTG did not exist before 2025 and nothing maps to it
    other = consolidate(dep, "2025-Q1", unit="SDTTG", now=NOW)
    frame = pd.read_excel(other.xlsx, sheet_name="So sánh", header=None, engine="calamine")
    assert (frame[4] == "—").sum() == 16
    reg = dep.registry
    assert holder_now(reg, "LD_KHTC", date(2024, 12, 9), date(2025, 3, 9)) == "NV_VP"
    assert holder_now(reg, "LD_BTXH", date(2024, 12, 9), date(2025, 3, 9)) == "SNV"


def test_2024_period_uses_2024_structure(seeded):
    dep, _ = seeded
    result = consolidate(dep, "2024-Q1", now=NOW)
    rows = detail_rows(result.xlsx)
    assert "Cộng: Sở Lao động – Thương binh và Xã hội" in rows
    assert "LD_CDN" in rows and "TTDVVL" in rows
    assert not any(k.startswith("DT_") for k in rows) and "NV_LDVL" not in rows
    assert rows["LD_CDN"][3] == "Đúng hạn"
    later = detail_rows(consolidate(dep, "2025-Q1", now=NOW).xlsx)
    assert "Cộng: Sở Dân tộc và Tôn giáo" in later and "LD_CDN" not in later


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
    assert rows[0] == ["unit_code", "unit_name", "parent_code", "status", *codes(dep)]
    by_unit = {r[0]: r for r in rows[1:]}
    assert len(by_unit) == 9
    assert by_unit["TTDVVL"][2:] == ["SNV", "missing"] + [""] * 16
    assert by_unit["NV_LDVL"][3] == "rejected" and by_unit["NV_TCBC"][3] == "late"
    assert by_unit["DT_TG"][4:] == [str(final["DT_TG"][c]) for c in codes(dep)]


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
    with Ledger(upper.settings.path("ledger")) as ledger:
        current = ledger.current_submissions("2025-Q1")
        files = ledger.files("2025-Q1")
    assert [f.status for f in files] == ["accepted"], [i.message for f in files for i in f.issues]
    sdttg = total(dep, [final[u] for u in ("DT_VP", "DT_CSDT", "DT_TG")])
    assert {c: current["SDTTG"].values[c] for c in codes(dep)} == sdttg
