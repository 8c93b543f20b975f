"""Hostile and broken files are refused before any reader library sees them, each with its message.

Every file here is real bytes on disk: built by ``reading.HOSTILE`` or in the test (zip bombs,
entity bombs, absurd sheet areas) or committed (an encrypted workbook, see fixtures/reader/README.md).
"""

from __future__ import annotations

import random
import shutil
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from helpers import rewrite_entry
from reading import EXPECTED, FIXTURES, HOSTILE, LAYOUTS, PASSWORD, make_workbook, values_of, zip_bomb

from baocao.errors import WorkbookError
from baocao.judge.package import inspect_package
from baocao.judge.reader import ReadLimits, read_workbook
from baocao.judge.workers import read_workbooks
from baocao.model import RawWorkbook


@pytest.mark.parametrize(("make", "message"), HOSTILE, ids=[make.__name__ for make, _ in HOSTILE])
def test_hostile_file_is_refused_with_its_message(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(WorkbookError) as caught:
        read_workbook(path, LAYOUTS)
    assert str(caught.value).startswith(f"Tệp '{path.name}' ")
    assert message in str(caught.value)
    assert "root:" not in str(caught.value)  # nothing of /etc/passwd ever leaks into a message


def test_hostile_files_in_a_batch_do_not_stop_good_files(tmp_path):
    good = [make_workbook(tmp_path / f"good{i}.xlsx") for i in range(2)]
    hostile = {make(tmp_path): message for make, message in HOSTILE}
    results = dict(read_workbooks([good[0], *hostile, good[1]], LAYOUTS, workers=2))
    assert set(results) == {*good, *hostile}
    for path in good:
        assert isinstance(results[path], RawWorkbook) and values_of(results[path]) == EXPECTED
    for path, message in hostile.items():
        assert isinstance(results[path], WorkbookError) and message in str(results[path]), path.name


def test_zip_bomb_is_refused_without_expanding_it(tmp_path):
    path = zip_bomb(tmp_path, megabytes=128)
    tracemalloc.start()
    try:
        with pytest.raises(WorkbookError, match="tỉ lệ nén bất thường"):
            inspect_package(path, ReadLimits())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"peak {peak} bytes: the entry was expanded"


def test_total_unpacked_size_counts_real_bytes(tmp_path):
    path = make_workbook(tmp_path / "padded.xlsx")
    with zipfile.ZipFile(path, "a", zipfile.ZIP_STORED) as zf:
        zf.writestr("xl/media/photo.jpg", random.Random(1).randbytes(3 << 20))
    with pytest.raises(WorkbookError, match="có kích thước giải nén quá lớn"):
        read_workbook(path, LAYOUTS, limits=ReadLimits(max_unpacked_bytes=2 << 20))
    assert values_of(read_workbook(path, LAYOUTS)) == EXPECTED


def _declare_size(path: Path, entry: str, size: int) -> None:
    """Overwrite the uncompressed size of ``entry`` in its local header and directory record."""
    data = bytearray(path.read_bytes())
    name = entry.encode()
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = data.find(signature)
        while start != -1:
            if data[start + name_at : start + name_at + len(name)] == name:
                struct.pack_into("<I", data, start + size_at, size)
            start = data.find(signature, start + 4)
    path.write_bytes(bytes(data))


def test_declared_sizes_that_lie_are_caught(tmp_path):
    path = make_workbook(tmp_path / "lying.xlsx")
    _declare_size(path, "xl/worksheets/sheet1.xml", 10)
    with pytest.raises(WorkbookError, match="bị hỏng hoặc không đầy đủ"):
        read_workbook(path, LAYOUTS)


def test_lying_size_does_not_hide_a_bomb(tmp_path):
    path = zip_bomb(tmp_path, megabytes=16)
    _declare_size(path, "xl/media/image1.png", 100)
    with pytest.raises(WorkbookError, match="tỉ lệ nén bất thường"):
        read_workbook(path, LAYOUTS)


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (ReadLimits(max_file_bytes=1000), "quá lớn ("),
        (ReadLimits(max_entries=5), "có quá nhiều thành phần bên trong"),
        (ReadLimits(max_rows=15), "với vùng dữ liệu quá lớn (tới ô D20)"),
        (ReadLimits(max_cols=3), "với vùng dữ liệu quá lớn (tới ô D20)"),
        (ReadLimits(max_cells=10), "với vùng dữ liệu quá lớn"),
    ],
)
def test_each_limit_is_enforced(tmp_path, limits, message):
    with pytest.raises(WorkbookError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_workbook(make_workbook(tmp_path / "bc.xlsx"), LAYOUTS, limits=limits)


def test_unsupported_extension(tmp_path):
    path = make_workbook(tmp_path / "bc.txt")
    with pytest.raises(WorkbookError, match=r"chỉ nhận tệp \.xlsx, \.xlsm, \.xls, \.ods"):
        read_workbook(path, LAYOUTS)


@pytest.mark.parametrize(
    ("ext", "kind"), [(".xlsb", "Excel nhị phân (.xlsb)"), (".csv", "văn bản CSV (.csv)")]
)
def test_spreadsheet_formats_the_reader_does_not_take_say_how_to_save(tmp_path, ext, kind):
    path = make_workbook(tmp_path / f"bc{ext}")
    with pytest.raises(WorkbookError) as caught:
        read_workbook(path, LAYOUTS)
    assert str(caught.value) == (
        f"Tệp 'bc{ext}' là bảng tính dạng {kind}, chương trình không đọc dạng này; hãy mở tệp, chọn"
        " Lưu thành (Save As) dạng Sổ làm việc Excel (.xlsx) rồi gửi lại"
    )


def test_xls_area_is_measured_per_sheet(tmp_path):
    path = Path(shutil.copy(FIXTURES / "saved_by_libreoffice.xls", tmp_path / "lo.xls"))
    with pytest.raises(WorkbookError, match="có trang tính 'BaoCao' với vùng dữ liệu quá lớn"):
        read_workbook(path, LAYOUTS, limits=ReadLimits(max_rows=15))


def test_xls_with_filepass_record_is_a_password_file(tmp_path):
    """LibreOffice's .xls with the record after BOF retyped as FILEPASS (0x002F), same length."""
    data = bytearray((FIXTURES / "saved_by_libreoffice.xls").read_bytes())
    bof = data.find(b"\x09\x08\x10\x00\x00\x06\x05\x00")
    data[bof + 20 : bof + 22] = b"\x2f\x00"
    (tmp_path / "filepass.xls").write_bytes(bytes(data))
    with pytest.raises(WorkbookError, match=PASSWORD):
        read_workbook(tmp_path / "filepass.xls", LAYOUTS)


def test_ods_filled_cell_repeated_a_million_times_is_refused(tmp_path):
    """Empty rows repeated 1 048 576 times are normal in ODS; a repeated *value* is a bomb."""
    path = Path(shutil.copy(FIXTURES / "saved_by_libreoffice.ods", tmp_path / "repeat.ods"))
    bomb = (
        b'<table:table-row table:number-rows-repeated="1000000"><table:table-cell office:value-type="float"'
        b' office:value="1" table:number-columns-repeated="1000"/></table:table-row></table:table>'
    )
    rewrite_entry(path, "content.xml", lambda xml: xml.replace(b"</table:table>", bomb, 1))
    with pytest.raises(WorkbookError, match="có trang tính 'BaoCao' với vùng dữ liệu quá lớn"):
        read_workbook(path, LAYOUTS)


def sparse_sheets_ods(path: Path, sheets: int = 12, rows: int = 2000, cols: int = 2000) -> Path:
    """An .ods of ``sheets`` sheets, each with one value at A1 and one ``rows`` x ``cols`` away."""
    tables = "".join(
        f'<table:table table:name="T{i}"><table:table-row><table:table-cell office:value-type="float"'
        f' office:value="1"/></table:table-row><table:table-row table:number-rows-repeated="{rows - 1}">'
        f'<table:table-cell/></table:table-row><table:table-row><table:table-cell table:number-columns-repeated="'
        f'{cols - 1}"/><table:table-cell office:value-type="float" office:value="2"/></table:table-row></table:table>'
        for i in range(sheets)
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content'
        ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" office:version="1.3">'
        f"<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        zf.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return path


def test_sheets_that_add_up_past_the_limit_are_refused(tmp_path):
    """868 bytes: each of 12 sheets passes alone (4 M cells), but calamine builds every sheet of
    an .ods when it opens it, and reading this one peaked at 1.6 GB."""
    path = sparse_sheets_ods(tmp_path / "thua.ods")
    assert path.stat().st_size < 2000
    with pytest.raises(WorkbookError) as caught:
        inspect_package(path, ReadLimits())
    assert str(caught.value) == (
        "Tệp 'thua.ods' có 12 trang tính với tổng vùng dữ liệu quá lớn (48.024.000 ô, tối đa 5.000.000);"
        " hãy xoá các trang và ô thừa rồi gửi lại"
    )
    assert inspect_package(sparse_sheets_ods(tmp_path / "mot.ods", sheets=1), ReadLimits()).format == "ods"


def test_an_encrypted_ods_is_a_password_file(tmp_path):
    """LibreOffice encrypts the content and says so in the manifest; whole-package encryption
    (LibreOffice 7.5 and later) leaves one ``encrypted-package`` entry."""
    path = Path(shutil.copy(FIXTURES / "saved_by_libreoffice.ods", tmp_path / "mk.ods"))
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("encrypted-package", b"\x00" * 64)
    with pytest.raises(WorkbookError, match=PASSWORD):
        inspect_package(path, ReadLimits())
