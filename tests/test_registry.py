"""The unit registry follows the restructuring between the 2024 and 2025 plans."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import date

import pytest
import xlsxwriter
from conftest import REGISTRY

from baocao.errors import ConfigError
from baocao.spec.registry import load_registry


def codes(units):
    return {u.code for u in units}


def test_2024_and_2025_structures_differ(deployment):
    reg = deployment.registry
    q3_2024 = reg.reporting_units(deployment.period("2024-Q3"))
    q3_2025 = reg.reporting_units(deployment.period("2025-Q3"))
    assert "LD_CDN" in codes(q3_2024) and "LD_CDN" not in codes(q3_2025)
    assert "DT_TG" in codes(q3_2025) and "DT_TG" not in codes(q3_2024)
    assert codes(reg.active_units(deployment.period("2024-Q3"))) >= {"SLDTBXH", "LANGSON", "SNV"}
    assert "SDTTG" not in codes(reg.active_units(deployment.period("2024-Q3")))
    assert 15 <= len(codes(reg.units)) <= 25


def test_a_unit_moves_to_another_parent_and_keeps_its_code(deployment):
    reg = deployment.registry
    assert reg.get("TTDVVL", date(2024, 9, 9)).parent == "SLDTBXH"
    assert reg.get("TTDVVL", date(2025, 9, 9)).parent == "SNV"
    assert reg.group_of("TTDVVL", date(2024, 9, 9)).code == "SLDTBXH"
    assert reg.group_of("TTDVVL", date(2025, 9, 9)).code == "SNV"


def test_department_subtree_and_successors(deployment):
    reg = deployment.registry
    p = deployment.period("2024-Q3")
    assert codes(reg.reporting_units(p, under="SLDTBXH")) == {
        "LD_VP",
        "LD_KHTC",
        "LD_LDVL",
        "LD_NCC",
        "LD_BTXH",
        "LD_TTRA",
        "TTDVVL",
        "LD_TTBTXH",
        "LD_CSCN",
        "LD_CDN",
    }
    assert reg.successors("LD_LDVL") == ["LD_LDVL", "NV_LDVL"]
    assert reg.successors("NV_VP") == ["NV_VP"]


def test_names_keep_their_diacritics_and_codes_are_ascii():
    reg = load_registry(REGISTRY)
    assert any(u.name == "Trường Cao đẳng nghề Lạng Sơn" for u in reg.units)
    assert all(u.code.isascii() for u in reg.units)


def test_xlsx_registry_with_ddmmyyyy_dates(tmp_path):
    path = tmp_path / "don-vi.xlsx"
    book = xlsxwriter.Workbook(path)
    ws = book.add_worksheet()
    rows = [
        ["code", "name", "parent", "kind", "email", "valid_from", "valid_to"],
        ["TINH", "Tỉnh", "", "province", "", "", ""],
        ["A", "Phòng A", "TINH", "unit", "a@x.example", "01/01/2024", "31/12/2024"],
    ]
    for r, row in enumerate(rows):
        ws.write_row(r, 0, row)
    book.close()
    reg = load_registry(path)
    assert reg.get("A", date(2024, 6, 1)).name == "Phòng A"
    assert reg.get("A", date(2025, 6, 1)) is None


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("X,Đơn vị X,KHONG_CO,unit,,,,", "có đơn vị cấp trên KHONG_CO không có trong danh mục"),
        ("x thường,Đơn vị,,unit,,,,", "mã đơn vị 'x thường' không hợp lệ"),
        ("X,Đơn vị X,,school,,,,", "loại 'school' của X không hợp lệ"),
        ("X,Đơn vị X,,unit,,2024-13-01,,", "dòng 2: ngày '2024-13-01' không hợp lệ"),
        (
            "X,A,,unit,,2024-01-01,,\nX,B,,unit,,2024-06-01,,",
            "đơn vị X có hai dòng với thời gian hiệu lực chồng nhau",
        ),
    ],
)
def test_bad_registry_rows(tmp_path, rows, message):
    """What places a unit (code, kind, parent, dates) is refused with the line to mend: a wrong
    structure would make the summaries say who is missing wrongly."""
    path = tmp_path / "don-vi.csv"
    path.write_text(
        "code,name,parent,kind,email,valid_from,valid_to,successor\n" + rows + "\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_registry(path)
    assert message in str(info.value)


def to_cp1258(text: str) -> bytes:
    """What Excel's "CSV" writes on Vietnamese Windows: cp1258, where a toned letter is a letter
    cp1258 has (a, â, ô, ơ…) followed by a combining tone mark."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = unicodedata.normalize("NFD", ch)
        for i, mark in enumerate(marks):  # compose the base with one mark, keep the other combining
            try:
                head = unicodedata.normalize("NFC", base + mark).encode("cp1258")
                out += head + "".join(marks[:i] + marks[i + 1 :]).encode("cp1258")
                break
            except UnicodeEncodeError:
                continue
        else:
            out += (base + "".join(marks)).encode("cp1258")
    return bytes(out)


def excel_csv(text: str, delimiter: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue() + (delimiter * 7 + "\r\n") * 3  # rows that once held something


SAVED_BY_EXCEL = {
    "csv_utf8": lambda text: excel_csv(text.replace("code,name", " Code ,NAME", 1), ",").encode("utf-8-sig"),
    "csv_vietnamese_windows": lambda text: to_cp1258(excel_csv(text, ";")),
    "unicode_text": lambda text: excel_csv(text, "\t").encode("utf-16"),
}


@pytest.mark.parametrize("save", SAVED_BY_EXCEL.values(), ids=SAVED_BY_EXCEL.keys())
def test_every_text_form_excel_saves_reads_the_same(tmp_path, save):
    path = tmp_path / "don-vi.csv"
    path.write_bytes(save(REGISTRY.read_text(encoding="utf-8")))
    assert load_registry(path).units == load_registry(REGISTRY).units


def test_a_row_with_more_cells_than_the_header(tmp_path):
    path = tmp_path / "don-vi.csv"
    path.write_text(
        "code,name,parent,kind\nTINH,Tỉnh,,province\nA,Phòng Tổ chức, biên chế,TINH,unit\n", "utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_registry(path)
    assert str(info.value) == (
        "don-vi.csv dòng 3: có nhiều ô hơn dòng tiêu đề (4 cột); tên có dấu phẩy hoặc chấm phẩy phải nằm"
        " trong dấu nháy kép (Excel tự làm việc này khi lưu)"
    )


def test_a_damaged_xlsx_registry(tmp_path):
    path = tmp_path / "don-vi.xlsx"
    path.write_bytes(b"PK\x03\x04" + bytes(200))
    with pytest.raises(ConfigError, match=r"don-vi\.xlsx: không mở được tệp Excel"):
        load_registry(path)


HEADER = "code,name,parent,kind,email,valid_from,valid_to,successor\nTINH,Tỉnh,,province,,,,\n"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            "A,Sở A,B,department,,,,\nB,Phòng B,A,unit,,,,",
            "don-vi.csv: cấp trên của các đơn vị tạo thành vòng lặp A → B → A; mỗi đơn vị phải có một chuỗi"
            " cấp trên dẫn tới đơn vị cấp tỉnh, hãy sửa cột parent",
        ),
        ("A,Sở A,A,department,,,,", "vòng lặp A → A;"),
        (  # a restructuring that makes two units each other's parent from 2025
            "A,Sở A,TINH,department,,,2024-12-31,\nA,Sở A,B,department,,2025-01-01,,\nB,Phòng B,A,unit,,,,",
            "vòng lặp A → B → A (từ ngày 01/01/2025)",
        ),
        (
            "A,Sở A,TINH,department,,,,B\nB,Sở B,TINH,department,,,,A",
            "don-vi.csv: đơn vị kế thừa tạo thành vòng lặp A → B → A; một đơn vị không thể kế thừa đơn vị đã"
            " kế thừa nó, hãy sửa cột successor",
        ),
    ],
)
def test_loops_in_the_registry_are_refused(tmp_path, rows, message):
    path = tmp_path / "don-vi.csv"
    path.write_text(HEADER + rows + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_registry(path)
    assert message in str(info.value)


def test_every_date_form_reads_the_same_day(tmp_path):
    """The fast ISO path and strptime agree: zero-padded ISO, unpadded ISO and dd/mm/yyyy give
    the same day; an impossible ISO day is refused by name like any bad date."""
    path = tmp_path / "don-vi.csv"
    rows = "A,Sở A,TINH,department,,2025-01-05,,\nB,Sở B,TINH,department,,2025-1-5,,\nC,Sở C,TINH,department,,05/01/2025,,"
    path.write_text(HEADER + rows + "\n", encoding="utf-8")
    registry = load_registry(path)
    found = {code: registry.get(code, date(2025, 6, 1)) for code in "ABC"}
    assert {code: unit.valid_from for code, unit in found.items() if unit} == dict.fromkeys(
        "ABC", date(2025, 1, 5)
    )
    path.write_text(HEADER + "A,Sở A,TINH,department,,2025-02-30,,\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"ngày '2025-02-30' không hợp lệ"):
        load_registry(path)


def test_a_mistyped_address_keeps_the_unit_without_one_and_says_which_line(tmp_path):
    path = tmp_path / "don-vi.csv"
    path.write_text(
        "code,name,parent,kind,email,valid_from,valid_to,successor\n"
        "T,Tỉnh,,province,t@x.example,,,\n"
        "X,Đơn vị X,T,unit,khong-phai-thu,,,\n"
        "Y,Đơn vị Y,T,unit,y@x.example,,,\n",
        encoding="utf-8",
    )
    reg = load_registry(path)
    assert [(u.code, u.email) for u in reg.units] == [("T", "t@x.example"), ("X", ""), ("Y", "y@x.example")]
    assert list(reg.bad_addresses) == ["X"]
    assert "don-vi.csv dòng 3: thư điện tử 'khong-phai-thu' của X không hợp lệ" in reg.bad_addresses["X"]
