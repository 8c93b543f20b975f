"""Reading field values from real workbooks: by defined name, by layout, across formats, in batches.

Workbooks are written with xlsxwriter (``reading.make_workbook``; openpyxl where a formula must
have no cached value); LibreOffice round trips are committed fixtures (see fixtures/reader/README.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import subprocess
import sys
import tracemalloc
import unicodedata
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from helpers import rewrite_entry, to_strict
from reading import EXPECTED, FIXTURES, LAYOUTS, META, VALUES, make_workbook, values_of

from baocao.errors import WorkbookError
from baocao.judge.reader import ReadLimits, read_workbook
from baocao.judge.workers import read_workbooks
from baocao.model import CellRef


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


FAR = "XFD1048576"
NO_LIMITS = ReadLimits(
    max_rows=10**8, max_cols=10**8, max_cells=10**18, max_total_cells=10**18, timeout_seconds=60
)


def test_calamine_really_aborts_the_process_on_a_far_cell(tmp_path):
    """The premise of the next test, checked: without the package check, calamine densifies
    A1..XFD1048576 (17 G cells, a 550 GB allocation) and the process dies (SIGABRT), no
    Python exception."""
    far = make_workbook(tmp_path / "far.xlsx", far_cell=FAR)
    code = (
        "import sys; from baocao.judge.reader import read_workbook, ReadLimits; from baocao.model import CellRef;"
        f" read_workbook(sys.argv[1], {{'v': {{'a': CellRef('BaoCao', 'D6')}}}}, limits={NO_LIMITS!r})"
    )
    env = {**os.environ, "RUST_BACKTRACE": "0"}
    done = subprocess.run([sys.executable, "-c", code, str(far)], capture_output=True, env=env, timeout=120)
    assert done.returncode not in (0, 1), done.stderr  # killed by the abort, not an exception
    assert b"memory allocation of" in done.stderr


def test_batch_survives_a_reader_that_aborts(tmp_path, caplog, capfd):
    """The worker reading the far-cell file dies; that file is reported, the others are read,
    and what the dying reader printed goes to the log, not to the console."""
    good = [make_workbook(tmp_path / f"good{i}.xlsx") for i in range(3)]
    far = make_workbook(tmp_path / "far.xlsx", far_cell=FAR)
    with caplog.at_level(logging.WARNING, logger="baocao"):
        results = dict(read_workbooks([good[0], far, *good[1:]], LAYOUTS, workers=2, limits=NO_LIMITS))
    assert set(results) == {*good, far}
    assert all(values_of(results[path]) == EXPECTED for path in good)
    assert str(results[far]) == (
        "Không đọc được tệp 'far.xlsx': chương trình đọc bị dừng bất thường;"
        " hãy mở tệp bằng Excel, lưu lại rồi gửi lại"
    )
    assert "reader process died on far.xlsx" in caplog.text and "memory allocation of" in caplog.text
    assert "memory allocation" not in capfd.readouterr().err


BROKEN = {"2025.1": {"khong_ten": CellRef("BaoCao", "không phải ô")}}  # a bug: parse_cell raises


def test_a_reader_bug_says_it_was_logged_only_when_it_was(tmp_path, caplog, capfd, monkeypatch):
    path = make_workbook(tmp_path / "bc.xlsx")
    with caplog.at_level(logging.ERROR, logger="baocao"):
        [(_, logged)] = list(read_workbooks([path], BROKEN, workers=1))
    assert str(logged).startswith("Không đọc được tệp 'bc.xlsx': lỗi chương trình đọc (đã ghi nhật ký);")
    assert "ValueError: not a cell address" in caplog.text
    capfd.readouterr()
    baocao_logger = logging.getLogger("baocao")  # no handler anywhere on the way up: not set up
    monkeypatch.setattr(baocao_logger, "handlers", [])
    monkeypatch.setattr(baocao_logger, "propagate", False)
    [(_, silent)] = list(read_workbooks([path], BROKEN, workers=1))
    assert str(silent) == (
        "Không đọc được tệp 'bc.xlsx': lỗi chương trình đọc; hãy mở tệp bằng Excel, lưu lại (dạng .xlsx) rồi gửi lại"
    )
    assert "Traceback" not in capfd.readouterr().err


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


# ------------------------------------------------------------------------------ odd packages

CORPUS = Path(__file__).parent / "fixtures" / "corpus"


def repackage(path: Path, rename, change=lambda name, data: data) -> Path:
    """Rewrite every entry of a zip in place, renamed by ``rename`` and changed by ``change``."""
    with zipfile.ZipFile(path) as zf:
        entries = [(info.filename, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(rename(name), change(name, data))
    return path


def test_a_package_written_with_backslashes_and_another_case_is_read(tmp_path):
    """Entry names as some exporters write them: ``xl\\workbook.xml``, ``[content_types].xml``."""
    path = make_workbook(tmp_path / "bc.xlsx")
    repackage(path, lambda name: name.replace("/", "\\").replace("[Content_Types]", "[content_types]"))
    assert any("\\" in name for name in zipfile.ZipFile(path).namelist())
    raw = read_workbook(path, LAYOUTS)
    assert values_of(raw) == EXPECTED and raw.used_defined_names and raw.meta == META


def test_the_workbook_is_found_through_the_package_relationships(tmp_path):
    """A workbook part outside ``xl/``: ``_rels/.rels`` names it, as OPC says."""
    path = make_workbook(tmp_path / "bc.xlsx")
    moved = lambda name: name.replace("xl/", "bang-tinh/")  # noqa: E731
    repackage(
        path, moved, lambda name, data: data.replace(b"/xl/", b"/bang-tinh/").replace(b'"xl/', b'"bang-tinh/')
    )
    assert "bang-tinh/workbook.xml" in zipfile.ZipFile(path).namelist()
    raw = read_workbook(path, LAYOUTS)
    assert values_of(raw) == EXPECTED and raw.used_defined_names and raw.meta == META


def test_a_strict_ooxml_workbook_is_read_with_its_names(tmp_path):
    raw = read_workbook(to_strict(make_workbook(tmp_path / "bc.xlsx")), LAYOUTS)
    assert raw.format == "xlsx-strict" and raw.used_defined_names
    assert values_of(raw) == EXPECTED and raw.meta == META


def test_a_libreoffice_file_with_a_basic_macro_is_read_not_called_malicious():
    raw = read_workbook(CORPUS / "libreoffice_basic_macro.ods", LAYOUTS)
    assert raw.format == "ods" and raw.used_defined_names and values_of(raw) == EXPECTED


def test_a_dtd_outside_the_basic_folder_of_an_ods_is_still_refused(tmp_path):
    path = Path(shutil.copy(CORPUS / "libreoffice_basic_macro.ods", tmp_path / "lo.ods"))
    dtd = b'<!DOCTYPE office:document-content [<!ENTITY x "y">]>'
    rewrite_entry(path, "styles.xml", lambda xml: xml.replace(b"?>", b"?>" + dtd, 1))
    with pytest.raises(WorkbookError, match=r"chứa khai báo XML bị cấm \(DTD\) ở 'styles.xml'"):
        read_workbook(path, LAYOUTS)


def test_a_lone_far_cell_in_the_meta_sheet_builds_no_grid_from_a1(tmp_path):
    """A grid starts at the first used cell: the old reader padded ``_meta`` from A1, so one
    cell at ALL20000 became a Python grid of 20 million cells (160 MB and seconds)."""
    path = tmp_path / "bc.xlsx"
    make_workbook(path, meta=None)
    book = xlsxwriter.Workbook(tmp_path / "meta.xlsx")
    book.add_worksheet("_meta").write("ALL20000", "lạc")
    book.close()
    sheet = zipfile.ZipFile(tmp_path / "meta.xlsx").read("xl/worksheets/sheet1.xml")
    with zipfile.ZipFile(path) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    entries["xl/worksheets/sheet2.xml"] = sheet
    entries["xl/workbook.xml"] = entries["xl/workbook.xml"].replace(
        b"</sheets>", b'<sheet name="_meta" sheetId="2" r:id="rId99"/></sheets>'
    )
    entries["xl/_rels/workbook.xml.rels"] = entries["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        b'worksheet" Target="worksheets/sheet2.xml"/></Relationships>',
    )
    entries["[Content_Types].xml"] = entries["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/worksheets/sheet2.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.spreadsheetml.worksheet+xml"/></Types>',
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    tracemalloc.start()
    try:
        raw = read_workbook(path, LAYOUTS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert values_of(raw) == EXPECTED and raw.meta == {}
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MiB"
