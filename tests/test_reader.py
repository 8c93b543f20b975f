"""Reading field values from real workbooks: by defined name, by layout, across formats, in batches.

Workbooks are written here with xlsxwriter (or openpyxl where a formula must have no cached
value); LibreOffice round trips are committed fixtures (see fixtures/reader/README.md).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from helpers import rewrite_entry

from baocao.a1 import cell_name, parse_cell, sheet_ref
from baocao.errors import WorkbookError
from baocao.judge.reader import ReadLimits, read_workbook, read_workbooks
from baocao.model import CellRef, RawWorkbook

FIXTURES = Path(__file__).parent / "fixtures" / "reader"
LAYOUT = {
    "ma_don_vi": CellRef("BaoCao", "D6"),
    "ten_don_vi": CellRef("BaoCao", "D7"),
    "phien_ban_mau": CellRef("BaoCao", "D9"),
    "nguoi_lap": CellRef("BaoCao", "D10"),
    "ngay_lap": CellRef("BaoCao", "D11"),
    "tin_bai_cong_ttdt": CellRef("BaoCao", "D14"),
    "lop_tap_huan": CellRef("BaoCao", "D15"),
    "luot_tap_huan": CellRef("BaoCao", "D16"),
    "ket_qua_noi_bat": CellRef("BaoCao", "D20"),
}
LAYOUTS = {"2024.1": {code: CellRef("BaoCao", "B2") for code in LAYOUT}, "2025.1": LAYOUT}
VALUES: dict[str, object] = {
    "ma_don_vi": "DT_TG",
    "ten_don_vi": "Sở Dân tộc và Tôn giáo",
    "phien_ban_mau": "2025.1",
    "nguoi_lap": "Nguyễn Thị Hoà",
    "ngay_lap": dt.date(2025, 3, 5),
    "tin_bai_cong_ttdt": 12,
    "lop_tap_huan": 2,
    "luot_tap_huan": ("=D15*40", 80),  # a formula with its cached result
    "ket_qua_noi_bat": "Tổ chức 2 lớp tập huấn về dịch vụ công trực tuyến",
}
META = {"form_id": "cchc-tuyen-truyen", "form_version": "2025.1", "unit": "DT_TG", "period": "2025-Q1"}


def make_workbook(
    path: Path,
    values: dict[str, object] = VALUES,
    *,
    names: bool = True,
    meta: dict[str, str] | None = META,
    shift_rows: int = 0,
    sheet: str = "BaoCao",
    far_cell: str = "",
) -> Path:
    """A template-like xlsx: fields at LAYOUT (moved down ``shift_rows``), names, a _meta sheet."""
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet(sheet)
    date_format = wb.add_format({"num_format": "dd/mm/yyyy"})
    if shift_rows:  # decoys where the layout says, overwritten below where fields moved to
        for ref in LAYOUT.values():
            ws.write(ref.cell, "ô cũ, không được đọc")
    for code, ref in LAYOUT.items():
        row, col = parse_cell(ref.cell)
        value = values.get(code)
        row += shift_rows
        if isinstance(value, tuple):
            ws.write_formula(row, col, value[0], None, value[1])
        elif isinstance(value, dt.date):
            ws.write_datetime(row, col, value, date_format)
        elif value is not None:
            ws.write(row, col, value)
        if names:
            wb.define_name(code, sheet_ref(sheet, cell_name(row, col)))
    if far_cell:
        ws.write(far_cell, 1)
    if meta is not None:
        hidden = wb.add_worksheet("_meta")
        for row, (key, value) in enumerate(meta.items()):
            hidden.write_string(row, 0, key)
            hidden.write_string(row, 1, value)
        hidden.very_hidden()
    wb.close()
    return path


def values_of(raw: RawWorkbook) -> dict[str, object]:
    return {code: cell.value for code, cell in raw.cells.items()}


EXPECTED = {**VALUES, "luot_tap_huan": 80}


def test_values_are_read_by_defined_name(tmp_path):
    raw = read_workbook(make_workbook(tmp_path / "bc.xlsx"), LAYOUTS)
    assert values_of(raw) == EXPECTED
    assert type(raw.cells["tin_bai_cong_ttdt"].value) is int
    assert raw.used_defined_names and raw.format == "xlsx" and raw.form_version == "2025.1"
    assert raw.meta == META
    assert raw.cells["luot_tap_huan"].formula_without_value is False
    assert (raw.cells["ngay_lap"].sheet, raw.cells["ngay_lap"].cell) == ("BaoCao", "D11")


def test_layout_is_the_fallback_when_names_are_absent(tmp_path):
    raw = read_workbook(make_workbook(tmp_path / "bc.xlsx", names=False), LAYOUTS)
    assert values_of(raw) == EXPECTED
    assert raw.used_defined_names is False


def test_names_are_followed_when_a_unit_inserts_rows(tmp_path):
    raw = read_workbook(make_workbook(tmp_path / "bc.xlsx", shift_rows=3), LAYOUTS)
    assert values_of(raw) == EXPECTED
    assert raw.cells["tin_bai_cong_ttdt"].cell == "D17"
    assert raw.used_defined_names


def test_quoted_sheet_name_in_defined_names(tmp_path):
    path = make_workbook(tmp_path / "bc.xlsx", sheet="Báo cáo 2025")
    raw = read_workbook(path, LAYOUTS)
    assert values_of(raw) == EXPECTED
    assert raw.cells["nguoi_lap"].sheet == "Báo cáo 2025"


def test_text_is_nfc_and_stripped_numbers_and_dates_keep_their_type(tmp_path):
    values = {
        **VALUES,
        "nguoi_lap": unicodedata.normalize("NFD", "  Nguyễn Thị Hoà \n"),
        "ten_don_vi": "   ",
        "tin_bai_cong_ttdt": 3.0,
        "lop_tap_huan": 2.5,
        "ngay_lap": dt.datetime(2025, 3, 5, 14, 30),
    }
    raw = read_workbook(make_workbook(tmp_path / "bc.xlsx", values), LAYOUTS)
    got = values_of(raw)
    assert got["nguoi_lap"] == "Nguyễn Thị Hoà" and unicodedata.is_normalized("NFC", got["nguoi_lap"])
    assert got["ten_don_vi"] is None
    assert got["tin_bai_cong_ttdt"] == 3 and type(got["tin_bai_cong_ttdt"]) is int
    assert got["lop_tap_huan"] == 2.5
    assert got["ngay_lap"] == dt.datetime(2025, 3, 5, 14, 30)
    assert raw.cells["ma_don_vi"].value == "DT_TG"


def test_formula_without_cached_value_written_by_hand(tmp_path):
    path = make_workbook(tmp_path / "bc.xlsx")
    # xlsxwriter saved <f>D15*40</f><v>80</v>; a file never recalculated has no <v>.
    rewrite_entry(path, "xl/worksheets/sheet1.xml", lambda xml: xml.replace(b"<v>80</v>", b""))
    cell = read_workbook(path, LAYOUTS).cells["luot_tap_huan"]
    assert (cell.value, cell.formula_without_value) == (None, True)


def test_formula_without_cached_value_written_by_openpyxl(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "BaoCao"
    ws["D15"], ws["D16"], ws["D14"] = 2, "=D15*40", "=1+1"
    wb.save(tmp_path / "op.xlsx")
    raw = read_workbook(tmp_path / "op.xlsx", LAYOUTS)
    assert raw.cells["luot_tap_huan"].formula_without_value is True
    assert raw.cells["luot_tap_huan"].value is None
    assert raw.cells["lop_tap_huan"].value == 2 and not raw.cells["lop_tap_huan"].formula_without_value
    assert raw.cells["nguoi_lap"].formula_without_value is False  # simply empty
    assert raw.used_defined_names is False and raw.meta == {}


@pytest.mark.parametrize(
    ("meta", "phien_ban_mau", "expected"),
    [
        ({"form_version": "2024.1"}, "2025.1", "2024.1"),  # _meta wins
        (None, "2024.1", "2024.1"),  # no _meta: the defined name phien_ban_mau
        (None, "1999.9", "2025.1"),  # unknown version: the last layout
        ({"form_version": "1999.9"}, "2024.1", "2025.1"),
    ],
)
def test_form_version_choice(tmp_path, meta, phien_ban_mau, expected):
    path = make_workbook(tmp_path / "bc.xlsx", {**VALUES, "phien_ban_mau": phien_ban_mau}, meta=meta)
    raw = read_workbook(path, LAYOUTS, version_field="phien_ban_mau")  # the form's version role
    assert raw.form_version == expected
    assert raw.meta == (meta or {})


def test_extension_is_matched_case_insensitively_and_xlsm_is_read(tmp_path):
    raw = read_workbook(make_workbook(tmp_path / "BAO CAO.XLSX"), LAYOUTS)
    assert values_of(raw) == EXPECTED
    raw = read_workbook(make_workbook(tmp_path / "co macro.xlsm"), LAYOUTS)
    assert (raw.format, values_of(raw)) == ("xlsm", EXPECTED)


def test_ods_formula_without_saved_value(tmp_path):
    path = tmp_path / "lo.ods"
    path.write_bytes((FIXTURES / "saved_by_libreoffice.ods").read_bytes())
    saved = b'office:value-type="float" office:value="80" calcext:value-type="float"><text:p>80</text:p>'
    rewrite_entry(path, "content.xml", lambda xml: xml.replace(saved, b">", 1))
    raw = read_workbook(path, LAYOUTS)
    assert (raw.cells["luot_tap_huan"].value, raw.cells["luot_tap_huan"].formula_without_value) == (
        None,
        True,
    )
    assert raw.cells["lop_tap_huan"].value == 2


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("saved_by_libreoffice.xlsx", "xlsx"),
        ("saved_by_libreoffice.xls", "xls"),
        ("saved_by_libreoffice.ods", "ods"),
        ("source_xlsxwriter.xlsx", "xlsx"),
    ],
)
def test_libreoffice_round_trips_keep_names_values_and_meta(name, fmt):
    raw = read_workbook(FIXTURES / name, LAYOUTS)
    assert raw.format == fmt
    assert raw.used_defined_names, "defined names must survive the round trip"
    assert values_of(raw) == EXPECTED
    assert raw.meta["form_version"] == "2025.1" and raw.meta["signature"] == "3f2a9c"
    assert not any(cell.formula_without_value for cell in raw.cells.values())


# ------------------------------------------------------------------------------ batches


def test_batch_of_nothing_and_a_single_worker(tmp_path):
    assert list(read_workbooks([], LAYOUTS, workers=2)) == []
    paths = [make_workbook(tmp_path / f"bc{i}.xlsx") for i in range(3)]
    results = dict(read_workbooks(paths, LAYOUTS, workers=1, meta_sheet="_meta"))
    assert set(results) == set(paths)
    assert all(values_of(raw) == EXPECTED for raw in results.values())


def test_batch_survives_a_reader_that_aborts(tmp_path):
    """With the dimension check off, calamine densifies A1..XFD1048576 (17 G cells) and aborts."""
    good = [make_workbook(tmp_path / f"good{i}.xlsx") for i in range(3)]
    far = make_workbook(tmp_path / "far.xlsx", far_cell="XFD1048576")
    limits = ReadLimits(max_rows=10**8, max_cols=10**8, max_cells=10**18, timeout_seconds=30)
    results = dict(read_workbooks([good[0], far, *good[1:]], LAYOUTS, workers=2, limits=limits))
    assert set(results) == {*good, far}
    assert all(values_of(results[path]) == EXPECTED for path in good)
    outcome = results[far]
    if isinstance(outcome, WorkbookError):  # calamine 0.9.1 aborts: one failed file, not the batch
        assert "Không đọc được tệp 'far.xlsx': chương trình đọc bị dừng bất thường" in str(outcome)
    else:
        assert values_of(outcome) == EXPECTED


def slow_workbook(path: Path, rows: int = 60_000) -> Path:
    """A legal but large sheet (600 000 cells) that takes far longer than a tiny timeout."""
    make_workbook(path, names=False)
    row = b"".join(b'<c r="%c{r}"><v>%d</v></c>' % (65 + c, c) for c in range(10)).decode()
    cells = "".join(f'<row r="{r}">{row.format(r=r)}</row>' for r in range(1, rows + 1)).encode()
    xml = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    xml += cells + b"</sheetData></worksheet>"
    return rewrite_entry(path, "xl/worksheets/sheet1.xml", lambda _: xml)


def test_batch_stops_a_file_that_runs_past_the_timeout(tmp_path):
    good = [make_workbook(tmp_path / f"good{i}.xlsx") for i in range(4)]
    slow = slow_workbook(tmp_path / "slow.xlsx")
    limits = ReadLimits(timeout_seconds=0.25)
    results = dict(read_workbooks([slow, *good], LAYOUTS, workers=2, limits=limits))
    assert set(results) == {slow, *good}
    assert all(values_of(results[path]) == EXPECTED for path in good)
    assert "Không đọc được tệp 'slow.xlsx': chương trình đọc bị dừng bất thường (quá 0.25 giây)" in str(
        results[slow]
    )
