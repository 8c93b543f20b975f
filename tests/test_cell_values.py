"""Every value a cell can hold is at worst a cell issue: never an exception, never a wall of text.

Real templates are filled through their names (openpyxl), then the values openpyxl refuses to
write (control characters, NaN, infinities, text past Excel's 32,767 characters) are put into
the sheet's XML by hand, as other programs write them. Each file is read by the real reader,
judged by the real validator, and the worst of them goes through collect, consolidate and the
Word draft.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import pytest
from helpers import make_submission, rewrite_entry

from baocao import api
from baocao.judge.convert import to_integer, to_phone
from baocao.judge.reader import read_workbook
from baocao.judge.validate import Context, validate
from baocao.judge.values import clean

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
TODAY = datetime(2025, 3, 8, 9, 0, tzinfo=TZ)
SHEET = "xl/worksheets/sheet1.xml"  # BaoCao: openpyxl writes its text inline, in this part


def submission(dep, path: Path, overrides: dict, raw_xml: dict[str, bytes]) -> Path:
    """A filled template whose placeholders (numbers or text) are replaced in the sheet XML."""
    make_submission(dep, "DT_TG", "2025-Q1", path, **overrides)

    def change(xml: bytes) -> bytes:
        for placeholder, replacement in raw_xml.items():
            assert placeholder.encode() in xml, placeholder
            xml = xml.replace(placeholder.encode(), replacement)
        return xml

    return rewrite_entry(path, SHEET, change)


def judge(dep, path: Path):
    ctx = Context(dep.catalog, dep.registry, dep.settings.period_kinds, TODAY.date(), {})
    return validate(read_workbook(path, dep.catalog.layouts()), ctx)


def messages(outcome, field: str) -> list[str]:
    return [i.message for i in outcome.issues if i.field == field]


# (case id, field, value written through openpyxl, raw XML replacing it, expected message part)
CASES = [
    ("digits_5000", "tin_bai_cong_ttdt", "9" * 5000, {}, "số quá lớn (quá 15 chữ số)"),
    ("float_1e308", "tai_lieu_phat_hanh", 1e308, {}, "số quá lớn (quá 15 chữ số)"),
    ("digits_16", "luot_huong_dan_dvc", "1234567890123456", {}, "số quá lớn (quá 15 chữ số)"),
    ("nan", "luot_du_thi", 4242, {"<v>4242</v>": b"<v>NaN</v>"}, "giá trị số không hợp lệ (NaN"),
    ("inf_phone", "dien_thoai", 5151, {"<v>5151</v>": b"<v>inf</v>"}, "giá trị số không hợp lệ (NaN"),
    ("minus_inf", "cuoc_thi", 6161, {"<v>6161</v>": b"<v>-inf</v>"}, "giá trị số không hợp lệ (NaN"),
    (
        "over_long_text",
        "ton_tai_han_che",
        "@@DAI@@",
        {"@@DAI@@": "Dài quá. ".encode() * 4500},
        "nội dung quá dài (40.499 ký tự; một ô chỉ chứa tối đa 32.767 ký tự)",
    ),
    ("long_text_in_a_number", "cuoc_kiem_tra", "mười " * 2000, {}, "' không phải số; chỉ nhập chữ số"),
]


@pytest.mark.parametrize(
    ("field", "value", "raw_xml", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_hostile_value_is_one_short_cell_issue(deployment, tmp_path, field, value, raw_xml, expected):
    path = submission(deployment, tmp_path / "in.xlsx", {field: value}, raw_xml)
    outcome = judge(deployment, path)
    found = messages(outcome, field)
    assert len(found) == 1 and expected in found[0], found
    assert len(found[0]) < 250  # what a clerk reads: the cell and a sentence, not the cell's content
    assert outcome.values[field] is None and not outcome.accepted
    assert [i.field for i in outcome.errors] == [field]  # the rest of the file is judged as usual


PASTED = "Kết quả\u200b nổi\xa0bật:\r\nđã tổ chức\u00ad 2 lớp\x0c tập huấn\ufeff"
CLEAN = "Kết quả nổi bật:\nđã tổ chức 2 lớp tập huấn"


def test_invisible_and_control_characters_are_removed_from_text(deployment, tmp_path):
    """Characters pasted from a PDF and Excel's _xHHHH_ escapes of control characters."""
    raw_xml = {"@@KQ@@": "Tổ chức_x0001_ 2 lớp _x000B_tập huấn cho cán bộ_x001F_".encode()}
    overrides = {"ket_qua_noi_bat": "@@KQ@@", "nguoi_lap": "Nguyễn\u200b Văn\xa0An\u00ad"}
    path = submission(deployment, tmp_path / "in.xlsx", overrides, raw_xml)
    outcome = judge(deployment, path)
    assert outcome.accepted, outcome.issues
    assert outcome.values["ket_qua_noi_bat"] == "Tổ chức 2 lớp tập huấn cho cán bộ"
    assert outcome.values["nguoi_lap"] == "Nguyễn Văn An"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (PASTED, CLEAN),
        ("  \u200b\xa0 ", None),
        ("a\u2028b\u2029c", "a\nb\nc"),
        (2.0, 2),
        (float("nan"), "nan"),
    ],
)
def test_clean(raw, expected):
    value = clean(raw)
    assert (str(value) if isinstance(value, float) else value) == expected


def test_converters_never_raise_on_extreme_values():
    for value in (float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 10**400, "9" * 5000, "\x00" * 10):
        assert to_integer(value)[0] is None
        assert to_phone(value)[0] is None


def test_hostile_values_go_through_collect_consolidate_and_the_word_draft(deployment):
    """A batch with control characters in an accepted narrative answer and a rejected file full
    of extreme values: collect judges both, consolidate writes the workbook and the Word draft."""
    inbox = deployment.settings.path("inbox")
    make_submission(deployment, "DT_TG", "2025-Q1", inbox / "dt_tg.xlsx", ket_qua_noi_bat="@@KQ@@")
    rewrite_entry(
        inbox / "dt_tg.xlsx",
        SHEET,
        lambda xml: xml.replace(b"@@KQ@@", "Tổ chức_x0001_ 2 lớp tập huấn_x000B_ cho cán bộ".encode()),
    )
    extreme = {"tin_bai_cong_ttdt": "9" * 5000, "tai_lieu_phat_hanh": 1e308, "luot_du_thi": 4242}
    make_submission(deployment, "NV_VP", "2025-Q1", inbox / "xd.xlsx", **extreme)
    rewrite_entry(inbox / "xd.xlsx", SHEET, lambda xml: xml.replace(b"<v>4242</v>", b"<v>NaN</v>"))
    report = api.collect(deployment, now=TODAY)
    status = {r.name: r.status for r in report.results}
    assert status == {"dt_tg.xlsx": "accepted", "xd.xlsx": "rejected"}
    rejected = next(r for r in report.results if r.name == "xd.xlsx")
    assert max(len(i.message) for i in rejected.issues) < 250
    result = api.consolidate(deployment, "2025-Q1", docx=True, now=TODAY)
    text = "\n".join(p.text for p in docx.Document(str(result.docx)).paragraphs)
    assert "Tổ chức 2 lớp tập huấn cho cán bộ" in text
