"""Workbooks the reader tests share: one template-like report and a catalogue of hostile files.

``make_workbook`` writes a real xlsx (xlsxwriter) with the fields at ``LAYOUT``, defined names
and a very hidden ``_meta`` sheet; ``EXPECTED`` is what reading it must give. ``HOSTILE`` pairs
each broken or hostile file builder with the message its refusal must contain. Kept here, not
in a test module, so test modules never import one another.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import zipfile
from pathlib import Path

import xlsxwriter
from helpers import rewrite_entry

from baocao.a1 import cell_name, parse_cell, sheet_ref
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


# ------------------------------------------------------------------------------ hostile files

CORRUPT = "bị hỏng hoặc không đầy đủ (không mở được dạng nén ZIP)"
PASSWORD = "được đặt mật khẩu; hãy gỡ mật khẩu rồi gửi lại"
DTD = "chứa khai báo XML bị cấm"
LAUGHS = (  # the classic billion laughs: &lol9; would expand to 10**9 "lol"s
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol0 "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, 10))
    + b"]>\n"
)
XXE = b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'


def truncated(tmp: Path) -> Path:
    data = make_workbook(tmp / "truncated.xlsx").read_bytes()
    (tmp / "truncated.xlsx").write_bytes(data[: len(data) // 2])
    return tmp / "truncated.xlsx"


def random_bytes(tmp: Path) -> Path:
    (tmp / "random.xlsx").write_bytes(random.Random(7).randbytes(5000))
    return tmp / "random.xlsx"


def pdf_named_xls(tmp: Path) -> Path:
    (tmp / "pdf.xls").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
    return tmp / "pdf.xls"


def html_named_xls(tmp: Path) -> Path:
    """What many web systems export as 'Excel': an HTML table with an .xls name."""
    (tmp / "html.xls").write_text("<html><table><tr><td>Mã đơn vị</td></tr></table></html>", "utf-8")
    return tmp / "html.xls"


def encrypted(tmp: Path) -> Path:
    return Path(shutil.copy(FIXTURES / "password_matkhau.xlsx", tmp / "encrypted.xlsx"))


def zip_bomb(tmp: Path, megabytes: int = 64) -> Path:
    """A real workbook plus 64 MiB of zeros that deflate to about 64 KiB, written in chunks."""
    path = make_workbook(tmp / "bomb.xlsx")
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf, zf.open("xl/media/image1.png", "w") as fp:
        zeros = bytes(1 << 20)
        for _ in range(megabytes):
            fp.write(zeros)
    return path


def _inject_dtd(prolog: bytes, reference: bytes):
    def change(xml: bytes) -> bytes:
        body = xml.split(b"?>", 1)[1]
        return prolog + body.replace(b">DT_TG<", b">" + reference + b"<", 1).replace(
            b"<definedNames>", b'<definedNames><definedName name="bomb">' + reference + b"</definedName>", 1
        )

    return change


def billion_laughs(tmp: Path) -> Path:
    path = make_workbook(tmp / "laughs.xlsx")
    return rewrite_entry(path, "xl/workbook.xml", _inject_dtd(LAUGHS, b"&lol9;"))


def external_entity(tmp: Path) -> Path:
    path = make_workbook(tmp / "xxe.xlsx")
    return rewrite_entry(path, "xl/workbook.xml", _inject_dtd(XXE, b"&xxe;"))


def absurd_area(tmp: Path) -> Path:
    return make_workbook(tmp / "far.xlsx", far_cell="XFD1048576")


def word_document(tmp: Path) -> Path:
    with zipfile.ZipFile(tmp / "word.xlsx", "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    return tmp / "word.xlsx"


HOSTILE = [
    (truncated, CORRUPT),
    (random_bytes, "không phải bảng tính Excel dù có đuôi .xlsx"),
    (pdf_named_xls, "không phải bảng tính Excel dù có đuôi .xls"),
    (html_named_xls, "không phải bảng tính Excel dù có đuôi .xls"),
    (encrypted, PASSWORD),
    (zip_bomb, "có tỉ lệ nén bất thường ở 'xl/media/image1.png'"),
    (billion_laughs, DTD),
    (external_entity, DTD),
    (absurd_area, "có trang tính 'BaoCao' với vùng dữ liệu quá lớn (tới ô XFD1048576)"),
    (word_document, "không phải bảng tính Excel dù có đuôi .xlsx"),
]
