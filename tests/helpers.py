"""Test helpers: fill real templates through their defined names, as any tool could."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import openpyxl

from baocao import api


def valid_values(period_start: date, **overrides) -> dict[str, object]:
    """A complete, valid set of unit inputs for a period starting on ``period_start``."""
    values: dict[str, object] = {
        "nguoi_lap": "Nguyễn Văn An",
        "dien_thoai": "0912345678",
        "email": "an.nv@donvi.langson.example",
        "ngay_lap": period_start.replace(month=min(period_start.month + 2, 12), day=5),
        "co_ke_hoach": "Có",
        "so_ke_hoach": "12/KH-DV",
        "ngay_ke_hoach": date(period_start.year, 1, 15),
        "tin_bai_cong_ttdt": 15,
        "tthc_niem_yet": 30,
        "van_ban_cap_nhat": 4,
        "lop_tap_huan": 2,
        "luot_tap_huan": 80,
        "hoi_nghi_long_ghep": 1,
        "luot_hoi_nghi": 60,
        "cuoc_hop_long_ghep": 5,
        "tin_mang_xa_hoi": 12,
        "tin_cung_cap_bao_chi": 2,
        "pano_khau_hieu": 3,
        "tai_lieu_phat_hanh": 200,
        "cuoc_thi": 1,
        "luot_du_thi": 150,
        "luot_huong_dan_dvc": 90,
        "cuoc_kiem_tra": 1,
        "ket_qua_noi_bat": "Tuyên truyền đều đặn trên Trang thông tin điện tử và mạng xã hội.",
        "ton_tai_han_che": "Không",
        "nguyen_nhan": "",
        "mo_hinh_sang_kien": "",
        "de_xuat_kien_nghi": "",
    }
    values.update(overrides)
    return values


def fill_workbook(template: Path, values: dict[str, object], out: Path) -> Path:
    """Open ``template`` with openpyxl, write ``values`` into the cells named by field code, save ``out``."""
    book = openpyxl.load_workbook(template)
    for code, value in values.items():
        for sheet, ref in book.defined_names[code].destinations:
            book[sheet][ref.replace("$", "")].value = value
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return out


def make_submission(dep: api.Deployment, unit: str, period: str, out: Path, **overrides) -> Path:
    """A filled submission of ``unit`` for ``period`` made from its real generated template."""
    p = dep.period(period)
    template = api.templates(dep, period, unit=unit)[0].path
    return fill_workbook(template, valid_values(p.start, **overrides), out)


def rewrite_entry(path: Path, name: str, change: Callable[[bytes], bytes]) -> Path:
    """Rewrite one zip entry of ``path`` in place: for XML written by hand inside a real package
    (what Excel writes but openpyxl and xlsxwriter refuse to: control characters, NaN…)."""
    with zipfile.ZipFile(path) as zf:
        entries = [(info.filename, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for filename, data in entries:
            zf.writestr(filename, change(data) if filename == name else data)
    return path


STRICT_NAMESPACES = (  # ISO 29500 Transitional -> Strict, as Excel's "Strict Open XML" writes them
    (
        b"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        b"http://purl.oclc.org/ooxml/spreadsheetml/main",
    ),
    (
        b"http://schemas.openxmlformats.org/officeDocument/2006/relationships",
        b"http://purl.oclc.org/ooxml/officeDocument/relationships",
    ),
    (b"http://schemas.openxmlformats.org/drawingml/2006/main", b"http://purl.oclc.org/ooxml/drawingml/main"),
)


def to_strict(path: Path) -> Path:
    """Rewrite an .xlsx in place as ISO 29500 Strict: the same parts in the Strict namespaces
    (relationship types included), the workbook marked ``conformance="strict"``."""
    with zipfile.ZipFile(path) as zf:
        entries = [(info.filename, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for filename, data in entries:
            if filename.endswith((".xml", ".rels")) and filename != "[Content_Types].xml":
                for transitional, strict in STRICT_NAMESPACES:
                    data = data.replace(transitional, strict)
            if filename == "xl/workbook.xml":
                data = data.replace(b"<workbook ", b'<workbook conformance="strict" ', 1)
            zf.writestr(filename, data)
    return path
