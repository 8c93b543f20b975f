"""The shortcuts that make the readers cheap per file keep their answers exact.

``judge.template_reader`` keeps what it found of a part (plain XML, area within limits, cells)
with the part's bytes, finds ``<!`` and ``<?`` by their rare byte first, and ``judge.reader``
shares one ``RawCell`` among files that hold the same value in the same cell. Each test reads
real files written by xlsxwriter (``reading.make_workbook``), with both readers where the
answer must be the checked reader's.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, date
from pathlib import Path

import pytest
from helpers import rewrite_entry
from reading import LAYOUTS, VALUES, make_workbook

from baocao.errors import WorkbookError
from baocao.judge.reader import ReadLimits, read_workbook
from baocao.judge.template_reader import read_template
from baocao.judge.validate import check_field
from baocao.model import RawCell
from baocao.spec.form import Field

SHEET = "xl/worksheets/sheet1.xml"


def read_fast(path: Path, **kw):
    return read_template(path.read_bytes(), path.name, LAYOUTS, **kw)


def test_equal_values_of_other_types_are_not_shared_between_files(tmp_path):
    """1 and True are equal (and hash alike): a file holding True after one holding 1 in the
    same cell still reads a bool, as the checked reader gives it."""
    for name, value in (("one.xlsx", 1), ("true.xlsx", True), ("float.xlsx", 1.5), ("again.xlsx", 1)):
        path = make_workbook(tmp_path / name, {**VALUES, "tin_bai_cong_ttdt": value})
        fast = read_fast(path)
        checked = read_workbook(path, LAYOUTS)
        assert fast is not None
        for raw in (fast, checked):
            cell = raw.cells["tin_bai_cong_ttdt"]
            assert cell.value == value and type(cell.value) is type(value), (name, raw.format)


def test_a_sheet_within_the_default_limits_is_checked_again_under_smaller_ones(tmp_path):
    path = make_workbook(tmp_path / "rows.xlsx")
    assert read_fast(path) is not None  # its sheet is now known to be within the default limits
    assert read_fast(path, limits=ReadLimits(max_rows=15)) is None
    with pytest.raises(WorkbookError):
        read_workbook(path, LAYOUTS, limits=ReadLimits(max_rows=15))
    assert read_fast(path) is not None


@pytest.mark.parametrize(
    "change",
    [
        # a processing instruction after the declaration, with no other "?" and after many
        lambda xml: xml.replace(b"<sheetData>", b"<?pi x?><sheetData>"),
        lambda xml: xml.replace(b"<sheetData>", b"<?pi " + b"? " * 20 + b"?><sheetData>"),
        # a comment, in a part where "!" also stands in text
        lambda xml: xml.replace(b"<sheetData>", b"<!-- ! --><sheetData>"),
    ],
    ids=["instruction", "instruction-after-many-question-marks", "comment"],
)
def test_instructions_and_comments_still_send_a_sheet_to_the_checked_reader(tmp_path, change):
    good = make_workbook(tmp_path / "good.xlsx")
    assert read_fast(good) is not None
    path = Path(shutil.copy(good, tmp_path / "changed.xlsx"))
    rewrite_entry(path, SHEET, change)
    assert read_fast(path) is None


def test_an_exclamation_mark_alone_does_not_decline_a_sheet(tmp_path):
    path = make_workbook(
        tmp_path / "bang.xlsx", {**VALUES, "nguoi_lap": "Chú ý! <!-- không phải chú thích -->"}
    )
    fast = read_fast(path)
    assert fast is not None and fast == read_workbook(path, LAYOUTS)


@pytest.mark.parametrize(
    ("value", "blank"),
    [(0, False), (False, False), (0.0, False), ("  ", True), ("\u200b", True), ("x", False)],
)
def test_numbers_and_booleans_are_never_blank_text_is_cleaned_first(value, blank):
    f = Field("so", "Số", "integer", "I", required=True)
    _, problems = check_field(f, RawCell(value, "BaoCao", "D5"), None, date(2025, 4, 1))
    assert [p.code for p in problems if p.code == "required"] == (["required"] if blank else [])


def test_a_layout_changed_in_place_is_read_as_it_now_is(tmp_path):
    """Where each field is read is worked out once per (names, layout); a layout changed in
    place between two files is not read by the old plan."""
    path = make_workbook(tmp_path / "plain.xlsx", names=False)
    layouts = {version: dict(layout) for version, layout in LAYOUTS.items()}
    before = read_template(path.read_bytes(), path.name, layouts)
    assert before is not None and before.cells["nguoi_lap"].value == VALUES["nguoi_lap"]
    layouts["2025.1"]["nguoi_lap"] = layouts["2025.1"]["ten_don_vi"]
    after = read_template(path.read_bytes(), path.name, layouts)
    assert after is not None and after.cells["nguoi_lap"].value == VALUES["ten_don_vi"]
    assert after == read_workbook(path, layouts)


@pytest.mark.parametrize(
    ("far_cell", "limits", "answered"),
    [
        ("Z9999", ReadLimits(), True),  # the corner of the box one search clears
        ("Z9999", ReadLimits(max_rows=9998), False),  # inside the box, the box past these limits
        ("Z9999", ReadLimits(max_cells=200_000), False),  # 10,000 x 26 cells past these
        ("AA1", ReadLimits(), True),  # outside the box: measured cell by cell, within limits
        ("A10000", ReadLimits(), True),
        ("AA1", ReadLimits(max_cols=26), False),
        ("A10000", ReadLimits(max_rows=9999), False),
    ],
)
def test_the_area_of_a_sheet_is_judged_the_same_inside_and_outside_the_usual_box(
    tmp_path, far_cell, limits, answered
):
    """Sheets whose cells all lie in A1:Z9999 are cleared by one search when any such area is
    within the limits; anything else, or tighter limits, is measured cell by cell."""
    path = make_workbook(tmp_path / f"{far_cell}.xlsx", far_cell=far_cell)
    fast = read_fast(path, limits=limits)
    try:
        checked: object = read_workbook(path, LAYOUTS, limits=limits)
    except WorkbookError as exc:
        checked = exc
    assert (fast is not None) == answered
    assert fast == checked if answered else isinstance(checked, WorkbookError)


@pytest.mark.parametrize(
    "cell",
    [b"<c>", b'<c\nr="A1">', b'<c  r="A1">', b'<c r="a1">', b'<c s="0" r="A1">', b'<c r="A1 ">'],
)
def test_a_cell_not_addressed_first_sends_the_sheet_to_the_checked_reader(tmp_path, cell):
    """The template reader finds cells by an address written first; a cell written otherwise
    (calamine may count its position) is read by the checked reader."""
    good = make_workbook(tmp_path / "good.xlsx")
    assert read_fast(good) is not None
    path = Path(shutil.copy(good, tmp_path / "changed.xlsx"))
    row = b'<row r="1000">' + cell + b"<v>1</v></c></row></sheetData>"
    rewrite_entry(path, SHEET, lambda xml: xml.replace(b"</sheetData>", row, 1))
    assert read_fast(path) is None


def test_a_workbook_sent_between_processes_arrives_the_same_value_for_value(tmp_path):
    """``RawWorkbook`` pickles its cells as rows and shares equal cells on arrival: each value
    keeps its type (1, True, 1.0; a date and a datetime; time zones), its cell and its flag."""
    import pickle
    from datetime import datetime, timedelta, timezone

    from baocao.model import RawWorkbook

    fast = read_fast(make_workbook(tmp_path / "a.xlsx"))
    assert fast is not None
    values = [1, True, 1.0, 0, False, None, "1", date(2025, 3, 5), datetime(2025, 3, 5)]
    values += [
        datetime(2025, 3, 5, 7, tzinfo=UTC),
        datetime(2025, 3, 5, 14, tzinfo=timezone(timedelta(hours=7))),
    ]
    for order in (values, values[::-1]):  # whichever arrives first is not handed to the other
        for value in order:
            sent = RawWorkbook(
                "xlsx",
                {"so": RawCell(value, "BaoCao", "D5"), "f": RawCell(None, "BaoCao", "D6", True)},
                {"unit": "DV1"},
                False,
                "2025.1",
                ("BaoCao", "_meta"),
            )
            got = pickle.loads(pickle.dumps(sent))
            assert got == sent and type(got.cells["so"].value) is type(value), value
            assert got.cells["so"].value.tzinfo == value.tzinfo if isinstance(value, datetime) else True
            assert got.cells["f"].formula_without_value and not got.used_defined_names
    again = pickle.loads(pickle.dumps(fast))
    assert again == fast and list(again.cells) == list(fast.cells)
    # what the rows carry of a cell: a field added to RawCell must be added to them too
    assert [f.name for f in dataclasses.fields(RawCell)] == [
        "value",
        "sheet",
        "cell",
        "formula_without_value",
    ]
