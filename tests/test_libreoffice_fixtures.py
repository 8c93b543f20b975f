"""Templates that real LibreOffice opened, filled and saved keep the defined names and typed values."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import openpyxl
import xlrd

HERE = Path(__file__).parent / "fixtures" / "libreoffice"
TYPED = json.loads((HERE / "dt_tg_2025q1.json").read_text(encoding="utf-8"))


def test_xlsx_saved_by_libreoffice_keeps_names_and_values(deployment):
    book = openpyxl.load_workbook(HERE / "DT_TG_2025-Q1_saved_by_libreoffice.xlsx")
    for f in deployment.form.fields:
        ((_sheet, ref),) = book.defined_names[f.code].destinations
        assert ref.replace("$", "") == deployment.form.layout[f.code].cell
    value = {
        code: book[s][r.replace("$", "")].value
        for code in TYPED
        for s, r in book.defined_names[code].destinations
    }
    assert value["tin_bai_cong_ttdt"] == 14 and value["luot_tap_huan"] == 45
    assert value["dien_thoai"] == "0912345678"
    assert value["ngay_lap"] == datetime(2025, 3, 5)
    assert value["ket_qua_noi_bat"] == TYPED["ket_qua_noi_bat"]
    assert value["de_xuat_kien_nghi"].startswith("=Đề nghị")  # typed text, not a formula


def test_xls_saved_by_libreoffice_keeps_names(deployment):
    book = xlrd.open_workbook(HERE / "DT_TG_2025-Q1_saved_by_libreoffice.xls")
    assert {f.code for f in deployment.form.fields} <= set(book.name_map)
    name = book.name_map["tin_bai_cong_ttdt"][0]
    sheet, rlo, _, clo, _ = name.area2d()
    assert sheet.cell_value(rlo, clo) == 14
    assert (
        date(2025, 1, 1)
        < xlrd.xldate_as_datetime(
            book.sheet_by_name("BaoCao").cell_value(*_rc(book, "ngay_lap")), book.datemode
        ).date()
    )


def _rc(book, code):
    _, rlo, _, clo, _ = book.name_map[code][0].area2d()
    return rlo, clo


def test_files_saved_by_libreoffice_still_prove_whose_template_they_are(deployment):
    """LibreOffice keeps the hidden ``_meta`` sheet (merely hidden in .xls/.ods): the keyed
    signature still verifies, and the same files fail with another deployment's key."""
    from dataclasses import replace

    from baocao.judge.reader import read_workbook
    from baocao.judge.validate import Context, validate
    from baocao.spec.identity import Proof, SigningKey

    today = date(2025, 3, 8)
    ctx = Context(deployment.catalog, deployment.registry, deployment.settings.period_kinds, today)
    for suffix in ("xlsx", "xls", "ods"):
        raw = read_workbook(
            HERE / f"DT_TG_2025-Q1_saved_by_libreoffice.{suffix}", deployment.catalog.layouts()
        )
        outcome = validate(raw, replace(ctx, key=deployment.signing_key))
        assert (outcome.proof, outcome.verdict, outcome.unit) == (Proof.VERIFIED, "accepted", "DT_TG"), suffix
        foreign = validate(raw, replace(ctx, key=SigningKey(b"khoa-cua-noi-khac-0123456789", "test")))
        assert (foreign.proof, foreign.verdict) == (Proof.OTHER_KEY, "held"), suffix
