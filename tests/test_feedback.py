"""Feedback workbooks: the XML patch (fast path) and the openpyxl fallback, on real files."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from conftest import write_config
from helpers import make_submission, to_strict
from openpyxl.comments import Comment

from baocao import api
from baocao.model import Issue, Severity
from baocao.spec.form import load_form
from baocao.store import open_store
from baocao.workbook import xlsxpatch
from baocao.workbook.feedback import (
    ACCEPTED_SHEET,
    ISSUES_SHEET,
    IssuesPage,
    fast_feedback,
    write_feedback,
)
from baocao.workbook.layout import item_numbers

LO_XLSX = Path(__file__).parent / "fixtures" / "libreoffice" / "DT_TG_2025-Q1_saved_by_libreoffice.xlsx"
TITLE = "Báo cáo tuyên truyền CCHC Quý I năm 2025 – Phòng Quản lý tôn giáo: BỊ TRẢ LẠI (2 lỗi)"
INTRO = (
    "Tệp “bad.xlsx” nhận lúc 09:00 ngày 08/03/2025 chưa được tiếp nhận: còn 2 lỗi.",
    "Sửa các ô đó ngay trong tệp này rồi lưu lại (dạng .xlsx); không cần xóa trang này.",
    "Gửi lại trước ngày 10/03/2025 vào: thư mục dùng chung. Bản gửi sau thay thế bản gửi trước.",
)
NUMBERS = item_numbers(load_form(Path(__file__).parents[1] / "forms" / "cchc-tuyen-truyen.toml"))
PAGE = IssuesPage(TITLE, False, INTRO, "BaoCao", NUMBERS)
ISSUES = [
    Issue(
        Severity.ERROR,
        "requires_positive",
        "Ô D27 (Số lượt người tham gia tập huấn, bồi dưỡng): có 35 lượt người nhưng số lớp tập huấn là 0",
        "luot_tap_huan",
        "BaoCao",
        "D27",
        also=("D26",),
    ),
    Issue(
        Severity.WARNING,
        "below_target",
        "Ô D22: 1 tin, bài, dưới chỉ tiêu 3",
        "tin_bai_cong_ttdt",
        "BaoCao",
        "D22",
    ),
    Issue(
        Severity.ERROR,
        "not_integer",
        '=HYPERLINK("http://x","bấm") & <b> nội dung "5 tin"',
        "x",
        "BaoCao",
        "D24",
    ),
    Issue(Severity.WARNING, "note", "Lưu ý chung cho cả tệp"),
]


@pytest.fixture
def submission(deployment, tmp_path) -> Path:
    return make_submission(
        deployment,
        "DT_TG",
        "2025-Q1",
        tmp_path / "bad.xlsx",
        luot_tap_huan=35,
        lop_tap_huan=0,
        tin_bai_cong_ttdt=1,
    )


def values(book: openpyxl.Workbook, sheet: str) -> dict[str, object]:
    return {c.coordinate: c.value for row in book[sheet].iter_rows() for c in row if c.value is not None}


def check_feedback(result: openpyxl.Workbook, source: openpyxl.Workbook) -> None:
    """What a unit must see in any feedback workbook made from ``source`` with ``ISSUES``."""
    assert result.sheetnames == [ISSUES_SHEET, *source.sheetnames]
    assert result.active.title == ISSUES_SHEET
    assert not any(ws.sheet_view.tabSelected for ws in result.worksheets[1:])
    sheet = result["BaoCao"]
    assert sheet["D27"].fill.fgColor.rgb == "FFFFC7CE" and sheet["D24"].fill.fgColor.rgb == "FFFFC7CE"
    assert sheet["D22"].fill.fgColor.rgb == "FFF4B084"
    assert sheet["D27"].comment.text == "LỖI: " + ISSUES[0].message
    assert sheet["D22"].comment.text == "LƯU Ý: " + ISSUES[1].message
    # a cross-field rule marks the other cell it compared too
    assert sheet["D26"].fill.fgColor.rgb == "FFFFC7CE"
    assert sheet["D26"].comment.text == "LỖI: " + ISSUES[0].message + " (xem ô D27)"
    # the rest of the cell's format is kept
    assert sheet["D27"].number_format == source["BaoCao"]["D27"].number_format
    assert sheet["D27"].border.left.style == source["BaoCao"]["D27"].border.left.style
    for name in source.sheetnames:
        assert values(result, name) == values(source, name)
    assert result.defined_names["luot_tap_huan"].attr_text == "BaoCao!$D$27"
    assert sheet.print_area == source["BaoCao"].print_area
    listed = result[ISSUES_SHEET]
    assert listed["A1"].value == TITLE and "A1:D1" in listed.merged_cells
    # what to do, by when and where, before the list
    assert [listed.cell(row=r, column=1).value for r in (2, 3, 4)] == list(INTRO)
    assert all(f"A{r}:D{r}" in listed.merged_cells for r in (2, 3, 4))
    assert [c.value for c in listed[6]] == ["STT", "Mức độ", "Ô", "Nội dung"]
    rows = [[c.value for c in row] for row in listed.iter_rows(min_row=7)]
    assert rows == [
        [
            1,
            "Lỗi",
            "D27 – mục II.5",
            "Số lượt người tham gia tập huấn, bồi dưỡng: có 35 lượt người nhưng số lớp tập huấn là 0",
        ],
        [2, "Lưu ý", "D22 – mục II.1", ISSUES[1].message],
        [3, "Lỗi", "D24", ISSUES[2].message],
        [4, "Lưu ý", None, ISSUES[3].message],
    ]
    # each place jumps to its cell
    assert listed["C7"].hyperlink.location == "'BaoCao'!D27"
    assert listed["C9"].hyperlink.location == "'BaoCao'!D24" and listed["C10"].hyperlink is None
    assert listed["D9"].data_type == "s"  # a message starting with "=" stays text
    assert listed.freeze_panes == "A7" and listed.page_setup.orientation == "landscape"
    assert listed.page_setup.fitToWidth == 1 and listed.sheet_properties.pageSetUpPr.fitToPage


def test_fast_path_marks_cells_and_lists_every_issue(submission, tmp_path):
    content = fast_feedback(submission.read_bytes(), ISSUES, PAGE)
    assert content is not None
    check_feedback(openpyxl.load_workbook(io.BytesIO(content)), openpyxl.load_workbook(submission))
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        assert zf.testzip() is None
        types = zf.read("[Content_Types].xml").decode()
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    assert 'Extension="vml"' in types and "comments+xml" in types
    assert sheet.index("<headerFooter") < sheet.index("<legacyDrawing") < sheet.index("</worksheet>")
    # write_feedback takes the same path and writes the file
    out = write_feedback(submission, None, ISSUES, tmp_path / "out" / "phan-hoi.xlsx", page=PAGE)
    assert out.read_bytes() == content


def test_libreoffice_saved_file_goes_through_the_fast_path():
    content = fast_feedback(LO_XLSX.read_bytes(), ISSUES, PAGE)
    assert content is not None
    check_feedback(openpyxl.load_workbook(io.BytesIO(content)), openpyxl.load_workbook(LO_XLSX))


def test_a_sheet_with_comments_falls_back_to_openpyxl(submission, tmp_path):
    book = openpyxl.load_workbook(submission)
    book["BaoCao"]["B9"].comment = Comment("Ghi chú của đơn vị", "Đơn vị")
    commented = tmp_path / "commented.xlsx"
    book.save(commented)
    marks = [xlsxpatch.Mark("BaoCao", "D27", "FFC7CE", "x")]
    sheet = xlsxpatch.IssuesSheet(ISSUES_SHEET, TITLE, ("a", "b", "c", "d"), (6, 10, 14, 90), [])
    with pytest.raises(xlsxpatch.Unpatchable, match="already has comments"):
        xlsxpatch.add_feedback(commented.read_bytes(), marks, sheet)
    assert fast_feedback(commented.read_bytes(), ISSUES, PAGE) is None
    out = write_feedback(commented, None, ISSUES, tmp_path / "phan-hoi.xlsx", page=PAGE)
    result = openpyxl.load_workbook(out)
    check_feedback(result, openpyxl.load_workbook(commented))
    assert result["BaoCao"]["B9"].comment.text == "Ghi chú của đơn vị"


def test_a_missing_cell_element_falls_back(submission):
    far = Issue(Severity.ERROR, "x", "ô không có trong tệp", "x", "BaoCao", "Z999")
    assert fast_feedback(submission.read_bytes(), [far], PAGE) is None


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_opens_the_patched_workbook(submission, tmp_path):
    patched = tmp_path / "in" / "phan-hoi.xlsx"
    patched.parent.mkdir()
    patched.write_bytes(fast_feedback(submission.read_bytes(), ISSUES, PAGE))
    subprocess.run(
        [
            "soffice",
            "-env:UserInstallation=file:///tmp/lo-profile-feedback",
            "--headless",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(tmp_path / "lo"),
            str(patched),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    saved = openpyxl.load_workbook(tmp_path / "lo" / "phan-hoi.xlsx")
    assert saved.sheetnames[0] == ISSUES_SHEET and saved.active.title == ISSUES_SHEET
    assert saved["BaoCao"]["D27"].fill.fgColor.rgb.endswith("FFC7CE")
    assert saved["BaoCao"]["D27"].comment.text.strip() == "LỖI: " + ISSUES[0].message
    assert saved[ISSUES_SHEET]["D9"].value == ISSUES[2].message
    assert saved[ISSUES_SHEET]["C7"].hyperlink.location == "'BaoCao'!D27"
    assert saved["BaoCao"]["D27"].value == 35


def test_collect_with_two_workers_patches_in_process_and_sends_fallbacks_to_the_pool(tmp_path):
    config = write_config(tmp_path)
    config.write_text(
        config.read_text(encoding="utf-8").replace("workers = 1", "workers = 2"), encoding="utf-8"
    )
    dep = api.load_deployment(config)
    box = dep.settings.path("inbox")
    make_submission(dep, "DT_TG", "2025-Q1", box / "nhanh.xlsx", luot_tap_huan=35, lop_tap_huan=0)
    commented = make_submission(
        dep, "NV_VP", "2025-Q1", tmp_path / "c.xlsx", luot_tap_huan=35, lop_tap_huan=0
    )
    book = openpyxl.load_workbook(commented)
    book["BaoCao"]["B9"].comment = Comment("Ghi chú của đơn vị", "Đơn vị")
    book.save(box / "co-ghi-chu.xlsx")  # a sheet with comments: openpyxl, in the pool
    make_submission(dep, "DT_VP", "2025-Q1", box / "tot.xlsx")
    report = api.collect(dep, now=datetime(2025, 3, 8, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")))
    results = {r.name: r for r in report.results}
    assert results["tot.xlsx"].status == "accepted" and results["tot.xlsx"].feedback is None
    with open_store(dep.settings) as ledger:
        recorded = {f.inbox_path: f.feedback_path for f in ledger.files()}
    for name in ("nhanh.xlsx", "co-ghi-chu.xlsx"):
        path = results[name].feedback
        assert results[name].status == "rejected" and path is not None and recorded[name] == str(path)
        result = openpyxl.load_workbook(path)
        assert result.active.title == ISSUES_SHEET
        assert result["BaoCao"]["D27"].fill.fgColor.rgb == "FFFFC7CE" and result["BaoCao"]["D27"].comment


def test_an_accepted_file_with_notes_gets_a_sheet_named_for_its_outcome(submission, tmp_path):
    notes = [ISSUES[1]]
    page = IssuesPage("… ĐÃ TIẾP NHẬN (có 1 lưu ý)", True, ("Đã được tiếp nhận.",), "BaoCao", NUMBERS)
    fast = openpyxl.load_workbook(io.BytesIO(fast_feedback(submission.read_bytes(), notes, page)))
    book = openpyxl.load_workbook(submission)
    book["BaoCao"]["B9"].comment = Comment("Ghi chú của đơn vị", "Đơn vị")  # the openpyxl path
    book.save(tmp_path / "c.xlsx")
    slow = openpyxl.load_workbook(
        write_feedback(tmp_path / "c.xlsx", None, notes, tmp_path / "f.xlsx", page=page)
    )
    for result in (fast, slow):
        assert result.sheetnames[0] == ACCEPTED_SHEET == "Kết quả kiểm tra"
        assert result[ACCEPTED_SHEET]["A2"].value == "Đã được tiếp nhận."
        assert result["BaoCao"]["D22"].fill.fgColor.rgb == "FFF4B084"


def test_a_file_sent_back_again_gets_a_fresh_issues_sheet(submission, tmp_path):
    first = write_feedback(submission, None, ISSUES, tmp_path / "a.xlsx", page=PAGE)
    again = write_feedback(first, None, ISSUES[:1], tmp_path / "b.xlsx", page=PAGE)
    book = openpyxl.load_workbook(again)
    assert book.sheetnames.count(ISSUES_SHEET) == 1 and book.sheetnames[0] == ISSUES_SHEET
    assert [c.value for c in book[ISSUES_SHEET]["C"][6:]] == ["D27 – mục II.5"]


def test_feedback_names_never_collide_and_a_rewrite_reuses_its_own_file(submission, tmp_path):
    out = tmp_path / "fb" / "DT_TG_2025-Q1_phan-hoi_20250308-0900.xlsx"
    first = write_feedback(submission, None, ISSUES, out, page=PAGE)
    assert first == out
    other = write_feedback(submission, None, ISSUES[:1], out, page=PAGE)  # same minute, other file
    assert other.name == "DT_TG_2025-Q1_phan-hoi_20250308-0900-2.xlsx"
    assert write_feedback(submission, None, ISSUES, out, page=PAGE) == first  # a rerun: same file
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([out.name, other.name])


def test_a_strict_ooxml_workbook_keeps_the_units_data_in_its_feedback(deployment, tmp_path):
    """Excel's "Strict Open XML" save: openpyxl loads no sheet of it, so re-saving it would hand
    the unit back an issues sheet alone; the feedback is a template holding the unit's values."""
    box = deployment.settings.path("inbox")
    typed = {"luot_tap_huan": 35, "lop_tap_huan": 0, "tin_bai_cong_ttdt": 7, "nguoi_lap": "Trần Thị Bình"}
    to_strict(make_submission(deployment, "DT_TG", "2025-Q1", box / "strict.xlsx", **typed))
    report = api.collect(deployment, now=datetime(2025, 3, 8, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")))
    [result] = report.results
    assert result.status == "rejected" and result.feedback is not None
    assert [i.code for i in result.issues if i.severity == "error"] == ["requires_positive"]
    book = openpyxl.load_workbook(result.feedback)
    assert book.sheetnames[0] == ISSUES_SHEET and "BaoCao" in book.sheetnames
    sheet = book["BaoCao"]
    for code, value in typed.items():
        [(_, ref)] = list(book.defined_names[code].destinations)
        assert sheet[ref.replace("$", "")].value == value, code
    assert sheet["D27"].fill.fgColor.rgb == "FFFFC7CE" and sheet["D27"].comment is not None
