"""Generated templates, opened with openpyxl: names, validation, protection, metadata."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from conftest import write_config

from baocao import api
from baocao.spec.identity import SigningKey
from baocao.workbook.template import META_SHEET


@pytest.fixture
def template(deployment) -> Path:
    return api.templates(deployment, "2025-Q1", unit="DT_TG")[0].path


def _cell(book, code):
    ((sheet, ref),) = book.defined_names[code].destinations
    return book[sheet][ref.replace("$", "")]


def _validation_of(sheet, coordinate):
    found = [dv for dv in sheet.data_validations.dataValidation if coordinate in dv.sqref]
    return found[0] if found else None


def test_every_field_code_is_a_defined_name_on_its_layout_cell(deployment, template):
    book = openpyxl.load_workbook(template)
    form = deployment.form
    for f in form.fields:
        cell = _cell(book, f.code)
        assert (cell.parent.title, cell.coordinate) == (form.layout[f.code].sheet, form.layout[f.code].cell)


def test_input_cells_are_unlocked_with_validation_matching_the_spec(deployment, template):
    book = openpyxl.load_workbook(template)
    sheet = book["BaoCao"]
    for f in deployment.form.fields:
        cell = _cell(book, f.code)
        if f.locked:
            assert cell.protection.locked, f.code
            continue
        assert not cell.protection.locked, f.code
        dv = _validation_of(sheet, cell.coordinate)
        if f.type == "integer":
            assert (dv.type, dv.operator, dv.formula1) == ("whole", "greaterThanOrEqual", "0"), f.code
        elif f.type == "choice":
            assert dv.type == "list" and dv.formula1 == '"Có,Không"'
        elif f.type == "date":
            assert dv.type == "date"
            assert cell.number_format == "dd/mm/yyyy"
        if dv is not None:
            assert dv.showInputMessage and dv.prompt, f.code
    assert _cell(book, "dien_thoai").number_format == "@"  # a leading zero survives typing


def test_header_is_prefilled_and_the_sheet_protected(template):
    book = openpyxl.load_workbook(template)
    assert _cell(book, "ma_don_vi").value == "DT_TG"
    assert _cell(book, "ten_don_vi").value == "Phòng Quản lý tôn giáo"
    assert _cell(book, "ky_bao_cao").value == "2025-Q1"
    assert _cell(book, "phien_ban_mau").value == "2025.1"
    sheet = book["BaoCao"]
    assert sheet.protection.sheet is True
    assert "Quý I năm 2025" in sheet["A5"].value
    assert sheet["A1"].value == "SỞ DÂN TỘC VÀ TÔN GIÁO"
    assert sheet.page_setup.paperSize == 9
    assert sheet["D13"].font.name == "Times New Roman"


def test_guide_sheet_gives_the_deadline_where_to_send_and_whom_to_call(template):
    book = openpyxl.load_workbook(template)
    text = "\n".join(str(c.value) for row in book["Hướng dẫn"].iter_rows() for c in row if c.value)
    assert "Hạn nộp: trước ngày 10/03/2025." in text  # the same words as the e-mails
    assert "Nơi nộp:" in text and "Cần hỗ trợ: Phòng Cải cách hành chính" in text


def test_guide_lists_fields_by_item_number_and_label_without_field_codes(deployment, template):
    rows = [[c.value for c in row] for row in openpyxl.load_workbook(template)["Hướng dẫn"].iter_rows()]
    listed = {r[0]: r[1] for r in rows if r[0] and str(r[0])[:1] in "IV" and "." in str(r[0])}
    assert listed["II.9"] == "Số tin, bài tuyên truyền CCHC trên mạng xã hội (Zalo, Facebook…) (*)"
    assert listed["I.3"] == "Người lập biểu (*)" and listed["III.5"] == "Đề xuất, kiến nghị"
    text = " ".join(str(v) for r in rows for v in r if v)
    assert not [f.code for f in deployment.form.fields if f.code in text]


def test_the_clerk_sees_the_period_name_not_its_code_and_the_reader_still_finds_both(template):
    book = openpyxl.load_workbook(template)
    period = _cell(book, "ky_bao_cao")
    assert period.value == "2025-Q1" and period.number_format == ';;;"Quý I năm 2025"'
    sheet = book["BaoCao"]
    for code in ("ma_don_vi", "phien_ban_mau"):  # kept for the reader, out of the clerk's way
        assert sheet.row_dimensions[_cell(book, code).row].hidden, code
    assert not sheet.row_dimensions[period.row].hidden
    assert "Mã đơn vị DT_TG – biểu mẫu 2025.1" in sheet.oddFooter.left.text
    assert sheet.freeze_panes == "A8"  # the column headings stay in view


def test_input_hints_have_short_whole_titles_and_narratives_get_room(deployment, template):
    book = openpyxl.load_workbook(template)
    sheet = book["BaoCao"]
    titles = {str(dv.sqref): dv.promptTitle for dv in sheet.data_validations.dataValidation if dv.promptTitle}
    assert titles and all(len(t) <= 32 and not t.endswith("…") for t in titles.values())
    assert titles[_cell(book, "tin_mang_xa_hoi").coordinate] == "Mục II.9: nhập số nguyên"
    for f in deployment.form.text_fields:
        assert sheet.row_dimensions[_cell(book, f.code).row].height >= 99, f.code


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_printed_template_shows_every_guide_line_whole_and_no_codes(deployment, template, tmp_path):
    """Printed through LibreOffice as a clerk would: the period's name, no codes, no cut text."""
    subprocess.run(
        [
            "soffice", f"-env:UserInstallation=file://{tmp_path}/lo", "--headless",
            "--convert-to", "pdf", "--outdir", str(tmp_path), str(template),
        ],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    text = subprocess.run(
        ["pdftotext", str(tmp_path / template.with_suffix(".pdf").name), "-"],
        check=True, capture_output=True, timeout=60,
    ).stdout.decode("utf-8")  # fmt: skip
    words = " ".join(text.split())
    assert "Quý I năm 2025" in words and "2025-Q1" not in words
    assert "Phiên bản biểu mẫu" not in words and "Mã đơn vị DT_TG – biểu mẫu 2025.1" in words
    guide = openpyxl.load_workbook(template)["Hướng dẫn"]
    for row in guide.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                assert " ".join(cell.value.split()) in words, cell.value  # wrapped, never cut


def test_year_template_says_remaining_months_are_estimates(deployment):
    path = api.templates(deployment, "2025-Y", unit="DT_TG")[0].path
    text = "\n".join(
        str(c.value) for row in openpyxl.load_workbook(path)["Hướng dẫn"].iter_rows() for c in row if c.value
    )
    assert "số liệu từ ngày lập báo cáo đến 31/12/2025 là số ước thực hiện" in text


def test_every_template_shows_its_data_window_and_whether_figures_are_estimates(template):
    sheet = openpyxl.load_workbook(template)["BaoCao"]
    heading = next(str(c.value) for row in sheet.iter_rows() for c in row if "Kỳ báo cáo" in str(c.value))
    # a Q1 report due before 10/3 cannot hold the whole of March as actual figures
    assert "số liệu từ 01/01/2025 đến 31/03/2025; sau ngày lập là số ước thực hiện" in heading


def test_hidden_metadata_identifies_the_template(template, deployment, signing_key):
    book = openpyxl.load_workbook(template)
    meta_sheet = book[META_SHEET]
    assert meta_sheet.sheet_state == "veryHidden"
    meta = {row[0].value: row[1].value for row in meta_sheet.iter_rows()}
    assert meta["unit"] == "DT_TG" and meta["period"] == "2025-Q1" and meta["form_version"] == "2025.1"
    # keyed: the signature is the deployment key's, and a different key gives a different one
    key = SigningKey(signing_key.encode(), "test")
    assert meta["signature"] == key.sign("cchc-tuyen-truyen", "2025.1", "DT_TG", "2025-Q1")
    assert meta["key_id"] == key.key_id == deployment.signing_key.key_id
    other = SigningKey(b"another-deployment-secret", "test")
    assert meta["signature"] != other.sign("cchc-tuyen-truyen", "2025.1", "DT_TG", "2025-Q1")


def test_regenerating_is_idempotent(deployment, template):
    before = template.read_bytes()
    again = api.templates(deployment, "2025-Q1", unit="DT_TG")[0]
    assert not again.written
    assert again.path.read_bytes() == before
    template.unlink()
    assert api.templates(deployment, "2025-Q1", unit="DT_TG")[0].path.read_bytes() == before


def test_one_template_per_reporting_unit_with_ascii_names(deployment):
    files = api.templates(deployment, "2024-Q3")
    assert len(files) == len(deployment.registry.reporting_units(deployment.period("2024-Q3")))
    for f in files:
        assert f.path.name.isascii() and " " not in f.path.name
        assert f.path.name.startswith(f.unit + "_2024-Q3_")
        assert f.path.parent.name == "2024-Q3"
    assert any(f.path.name == "LD_CDN_2024-Q3_truong-cao-dang-nghe-lang-son.xlsx" for f in files)


def test_the_engine_knows_nothing_of_the_cchc_form(tmp_path):
    config = write_config(tmp_path, form=Path(__file__).parent / "forms" / "mini.toml")
    dep = api.load_deployment(config)
    path = api.templates(dep, "2025-Q1", unit="NV_VP")[0].path
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[0] == "Mau01"
    assert _cell(book, "don_vi").value == "NV_VP"
    dv = _validation_of(book["Mau01"], _cell(book, "luot_doc").coordinate)
    assert (dv.type, dv.operator or "between", dv.formula2) == ("whole", "between", "100000")
    assert "ma_don_vi" not in book.defined_names


def test_unknown_unit_is_a_usage_error(deployment):
    from baocao.errors import UsageError

    with pytest.raises(UsageError, match="Đơn vị 'LD_CDN' không có trong danh mục cho kỳ 2025-Q3"):
        api.templates(deployment, "2025-Q3", unit="LD_CDN")
    assert date(2025, 1, 31) == deployment.registry.latest("LD_CDN").valid_to
