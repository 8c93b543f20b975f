"""The reader made for the template agrees with the checked reader, value for value.

``judge.template_reader`` reads a template of a known form version from the parts that hold its
fields; ``judge.reader.read_workbook`` (the checked reader: package check, then calamine) reads
anything. Every file here is read by both: wherever the template reader answers, its answer
must equal the checked reader's (same values, cells, names, meta, version, sheets, hence the
same verdict); where it does not answer, collect uses the checked reader. The files are the
real-world corpus, the reader and LibreOffice fixtures, the hostile files, and templates of
the demo form filled by openpyxl, xlsxwriter and LibreOffice, with the values that are hard to
read right (entities, spaces, line breaks, dates, formulas, rich text, inline strings).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from helpers import BEFORE_DEADLINE, hostile_files, make_submission, rewrite_entry
from reading import FIXTURES, HOSTILE, LAYOUTS, VALUES, make_workbook

from baocao.errors import WorkbookError
from baocao.judge.reader import ReadLimits, read_workbook
from baocao.judge.template_reader import number_format_kind, read_template
from baocao.judge.validate import validate
from baocao.judging import judging_context
from baocao.model import RawWorkbook

HERE = Path(__file__).parent
CORPUS = HERE / "fixtures" / "corpus"
LIBREOFFICE = HERE / "fixtures" / "libreoffice"


def both(path: Path, layouts, **kw) -> tuple[RawWorkbook | None, RawWorkbook | WorkbookError]:
    fast = read_template(path.read_bytes(), path.name, layouts, **kw)
    try:
        checked: RawWorkbook | WorkbookError = read_workbook(path, layouts, **kw)
    except WorkbookError as exc:
        checked = exc
    if fast is not None:
        assert checked == fast, path.name
    return fast, checked


def test_every_corpus_and_fixture_file_reads_the_same_or_goes_to_the_checked_reader():
    files = [*CORPUS.iterdir(), *FIXTURES.iterdir(), *LIBREOFFICE.iterdir()]
    answered = []
    for path in sorted(p for p in files if p.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods", ".xlsb")):
        fast, _ = both(path, LAYOUTS)
        if fast is not None:
            answered.append(path.name)
    # the template-like reader fixtures, as written by xlsxwriter and after a LibreOffice round trip
    assert {"source_xlsxwriter.xlsx", "saved_by_libreoffice.xlsx"} <= set(answered)


def test_hostile_files_never_get_an_answer_the_checked_reader_would_not_give(tmp_path):
    for make, _ in HOSTILE:
        both(make(tmp_path), LAYOUTS)
    good = make_workbook(tmp_path / "good.xlsx")
    for path in hostile_files(good, tmp_path / "more").values():
        fast, checked = both(path, LAYOUTS)
        assert fast is None and isinstance(checked, WorkbookError), path.name


def test_a_sheet_past_the_limits_goes_to_the_checked_reader_which_refuses_it(tmp_path):
    path = make_workbook(tmp_path / "far.xlsx", far_cell="XFD1048576")
    fast, checked = both(path, LAYOUTS)
    assert fast is None and "vùng dữ liệu quá lớn" in str(checked)
    path = make_workbook(tmp_path / "rows.xlsx")
    fast, checked = both(path, LAYOUTS, limits=ReadLimits(max_rows=15))
    assert fast is None and isinstance(checked, WorkbookError)


TRICKY = {
    "nguoi_lap": '  Lê Thị "Ánh" & <Bình>  ',
    "so_ke_hoach": "12/KH-DV\r\ndòng hai",
    "ket_qua_noi_bat": "Tab\there, nbsp\u00a0, zero\u200bwidth, 'quotes'",
    "ton_tai_han_che": "=SUM(1,2)",
    "dien_thoai": "0912 345 678",
    "tin_bai_cong_ttdt": 12.5,
    "tthc_niem_yet": -3,
    "van_ban_cap_nhat": 10**15,
    "ngay_lap": date(2025, 3, 5),
    "ngay_ke_hoach": "05/01/2025",
    "co_ke_hoach": True,
}


@pytest.mark.parametrize("values", [{}, TRICKY], ids=["valid", "tricky"])
def test_templates_of_the_form_filled_by_openpyxl_are_read_here_and_judged_the_same(
    deployment, tmp_path, values
):
    path = make_submission(deployment, "DT_TG", "2025-Q1", tmp_path / "a.xlsx", **values)
    layouts = deployment.catalog.layouts()
    fast, checked = both(path, layouts)
    assert fast is not None and isinstance(checked, RawWorkbook)
    today = BEFORE_DEADLINE.date()
    verdicts = [validate(raw, judging_context(deployment, raw, today, None)) for raw in (fast, checked)]
    assert verdicts[0] == verdicts[1]


def test_the_form_template_itself_and_its_libreoffice_round_trip(deployment, tmp_path):
    layouts = deployment.catalog.layouts()
    for path in (
        LIBREOFFICE / "template_DT_TG_2025-Q1.xlsx",
        LIBREOFFICE / "DT_TG_2025-Q1_saved_by_libreoffice.xlsx",
    ):
        fast, _ = both(path, layouts)
        assert fast is not None, path.name


def test_strings_with_runs_entities_or_escapes(tmp_path):
    """Rich text with a phonetic run and entities are read here; calamine's ``_x00HH_`` escapes
    are left to the checked reader."""
    path = make_workbook(tmp_path / "base.xlsx")
    fast, _ = both(path, LAYOUTS)
    assert fast is not None
    changes = {
        "rich": (
            b"<si><t>Nguy\xe1\xbb\x85n Th\xe1\xbb\x8b Ho\xc3\xa0</t></si>",
            b'<si><r><t xml:space="preserve">Nguy\xe1\xbb\x85n </t></r><r><rPr><b/></rPr><t> V\xc4\x83n </t></r><rPh sb="0" eb="1"><t>x</t></rPh></si>',
        ),
        "escape": (
            b"<si><t>Nguy\xe1\xbb\x85n Th\xe1\xbb\x8b Ho\xc3\xa0</t></si>",
            b"<si><t>Nguy\xe1\xbb\x85n_x0009_Th\xe1\xbb\x8b</t></si>",
        ),
        "entity": (
            b"<si><t>Nguy\xe1\xbb\x85n Th\xe1\xbb\x8b Ho\xc3\xa0</t></si>",
            b"<si><t>A &amp; B &#x1EA0; &lt;c&gt; &#13;</t></si>",
        ),
    }
    for name, (old, new) in changes.items():
        copy = Path(shutil.copy(path, tmp_path / f"{name}.xlsx"))
        rewrite_entry(copy, "xl/sharedStrings.xml", lambda xml, old=old, new=new: xml.replace(old, new))
        fast, checked = both(copy, LAYOUTS)
        assert (fast is None) == (name == "escape"), name
        assert isinstance(checked, RawWorkbook) and checked.cells["nguoi_lap"].value != VALUES["nguoi_lap"]


@pytest.mark.parametrize(
    ("code", "kind"),
    [  # calamine's own cases (formats.rs, test_is_date_format), in the order it lists them
        ("DD/MM/YY", "date"),
        ("H:MM:SS;@", "date"),
        ("#,##0\\ [$\\u20bd-46D]", "other"),
        ('m"M"d"D";@', "date"),
        ("[h]:mm:ss", "duration"),
        ('"Y: "0.00"m";"Y: "-0.00"m";"Y: <num>m";@', "other"),
        ("#,##0\\ [$''u20bd-46D]", "other"),
        ('"$"#,##0_);[Red]("$"#,##0)', "other"),
        ('[$-404]e"\\xfc"m"\\xfc"d"\\xfc"', "date"),
        ("0_ ;[Red]\\-0\\ ", "other"),
        ("\\Y000000", "other"),
        ('#,##0.0####" YMD"', "other"),
        ("[h]", "duration"),
        ("[ss]", "duration"),
        ("[s].000", "duration"),
        ("[m]", "duration"),
        ("[mm]", "duration"),
        ("[Blue]\\+[h]:mm;[Red]\\-[h]:mm;[Green][h]:mm", "duration"),
        ("[>=100][Magenta][s].00", "duration"),
        ("[h]:mm;[=0]\\-", "duration"),
        ("[>=100][Magenta].00", "other"),
        ("[>=100][Magenta]General", "other"),
        ("ha/p\\\\m", "date"),
        ('#,##0.00\\ _M"H"_);[Red]#,##0.00\\ _M"S"_)', "other"),
        ("dd/mm/yyyy", "date"),
        ("@", "other"),
        ("#,##0", "other"),
    ],
)
def test_number_formats_are_told_apart_as_calamine_does(code, kind):
    assert number_format_kind(code) == kind
