"""Test helpers: fill real templates through their defined names, as any tool could."""

from __future__ import annotations

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


def strict_headers(raw: bytes) -> list[tuple[str, str]]:
    """Every header of a message's raw bytes as a strict RFC 2047 decoder reads it.

    Checks on the way what every client needs: 7-bit ASCII, CRLF line ends, lines of at most
    76 characters for headers baocao folds itself (998 for any), folds only before whitespace.
    Decoding is ``email.header.decode_header`` (whitespace between adjacent encoded words is
    dropped, as RFC 2047 says and Thunderbird and Outlook do), not Python's lenient parser.
    """
    import email.header
    import re

    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(b < 128 for b in head), "headers must be 7-bit ASCII"
    text = head.decode("ascii")
    assert "\n" not in text.replace("\r\n", ""), "bare LF in the header block"
    lines = text.split("\r\n")
    assert all(len(line) <= 998 for line in lines)
    headers: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())  # unfolding: the CRLF goes
        else:
            name, _, value = line.partition(":")
            headers.append((name, value.strip()))
    ours = {"From", "To", "Cc", "Reply-To", "Subject"}
    for name, _ in headers:
        if name in ours:
            block = re.search(rf"(?m)^{name}:.*(?:\r\n[ \t].*)*", text)
            assert block is not None
            assert all(len(line) <= 76 for line in block.group(0).split("\r\n")), name
    return [
        (name, str(email.header.make_header(email.header.decode_header(value)))) for name, value in headers
    ]
