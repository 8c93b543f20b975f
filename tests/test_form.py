"""The form spec: the CCHC form is complete, and bad specs are refused with a precise message."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from conftest import FORM

from baocao.errors import FormSpecError
from baocao.spec.form import load_catalog, load_form, parse_form

HERE = Path(__file__).parent

# The field codes of FORM.md: part of the product's interface, so they are listed here by hand.
FORM_MD_CODES = [
    "ma_don_vi",
    "ten_don_vi",
    "ky_bao_cao",
    "phien_ban_mau",
    "nguoi_lap",
    "dien_thoai",
    "email",
    "ngay_lap",
    "co_ke_hoach",
    "so_ke_hoach",
    "ngay_ke_hoach",
    "tin_bai_cong_ttdt",
    "tthc_niem_yet",
    "van_ban_cap_nhat",
    "lop_tap_huan",
    "luot_tap_huan",
    "hoi_nghi_long_ghep",
    "luot_hoi_nghi",
    "cuoc_hop_long_ghep",
    "tin_mang_xa_hoi",
    "tin_cung_cap_bao_chi",
    "pano_khau_hieu",
    "tai_lieu_phat_hanh",
    "cuoc_thi",
    "luot_du_thi",
    "luot_huong_dan_dvc",
    "cuoc_kiem_tra",
    "ket_qua_noi_bat",
    "ton_tai_han_che",
    "nguyen_nhan",
    "mo_hinh_sang_kien",
    "de_xuat_kien_nghi",
]


def test_cchc_form_declares_every_field_of_form_md():
    form = load_form(FORM)
    assert list(form.codes) == FORM_MD_CODES
    assert len(form.quantitative_fields) == 16
    assert all(f.required and f.min == 0 for f in form.quantitative_fields)
    assert form.field("co_ke_hoach").choices == ("Có", "Không")
    assert form.field("ket_qua_noi_bat").min_length == 20
    assert not form.field("nguyen_nhan").required
    assert {f.code for f in form.fields if f.locked} == {
        "ma_don_vi",
        "ten_don_vi",
        "ky_bao_cao",
        "phien_ban_mau",
    }


def test_cchc_rules_are_declared_as_data():
    form = load_form(FORM)
    kinds = [r.kind for r in form.rules]
    assert kinds.count("requires_positive") == 3
    pairs = {(r.params["field"], r.params["other"]) for r in form.rules if r.kind == "requires_positive"}
    assert pairs == {
        ("luot_tap_huan", "lop_tap_huan"),
        ("luot_hoi_nghi", "hoi_nghi_long_ghep"),
        ("luot_du_thi", "cuoc_thi"),
    }
    target = next(r for r in form.rules if r.kind == "min_per_month")
    assert (target.params["field"], target.params["per_month"], target.severity) == (
        "tin_bai_cong_ttdt",
        4,
        "warning",
    )
    outlier = next(r for r in form.rules if r.kind == "outlier")
    assert len(outlier.fields) == 16


def test_layout_gives_each_field_its_own_cell_in_one_column():
    form = load_form(FORM)
    cells = [ref.cell for ref in form.layout.values()]
    assert len(set(cells)) == len(cells) == len(form.fields)
    assert all(c.startswith("D") for c in cells)
    assert {ref.sheet for ref in form.layout.values()} == {"BaoCao"}


def test_catalog_finds_the_current_version():
    catalog = load_catalog(FORM)
    assert catalog.current.version == "2025.1"
    assert list(catalog.layouts())[-1] == "2025.1"


def test_second_small_form_loads():
    form = load_form(HERE / "forms" / "mini.toml")
    assert form.sheet == "Mau01"
    assert [f.code for f in form.quantitative_fields] == ["luot_doc", "sach_moi"]
    assert form.field("luot_doc").max == 100000


def _spec(**change) -> dict:
    data = tomllib.loads((HERE / "forms" / "mini.toml").read_text(encoding="utf-8"))
    for key, value in change.items():
        section, index, field_key = key.split("__")
        data["sections"][int(section)]["fields"][int(index)][field_key] = value
    return data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["sections"][1]["fields"].append({"code": "luot_doc", "label": "X"}),
            "trường 'luot_doc': mã trường bị trùng",
        ),
        (
            lambda d: d["sections"][1]["fields"][0].update(type="decimal"),
            "trường 'luot_doc': kiểu 'decimal' không được hỗ trợ",
        ),
        (
            lambda d: d["rules"][0].update(other="khong_co"),
            "quy tắc thứ 1: trường 'khong_co' không có trong biểu mẫu",
        ),
        (
            lambda d: d["sections"][0]["fields"][3].pop("choices"),
            "trường 'mo_cua': trường lựa chọn phải có danh sách choices",
        ),
        (
            lambda d: d["sections"][0]["fields"][3].update(colour="red"),
            "trường 'mo_cua': khóa không được hỗ trợ: colour",
        ),
        (lambda d: d["sections"][1]["fields"][0].update(code="ab12"), "mã không hợp lệ"),
        (
            lambda d: d["sections"][0]["fields"][0].update(prefill="unit.email"),
            "prefill 'unit.email' không hợp lệ",
        ),
        (lambda d: d["rules"][0].update(kind="eval"), "quy tắc thứ 1: loại 'eval' không được hỗ trợ"),
        (
            lambda d: d["rules"][0].update(expression="luot_doc > 0"),
            "khóa 'expression' không dùng cho loại requires_positive",
        ),
        (
            lambda d: d["rules"].append({"kind": "min_per_month", "field": "mo_cua", "per_month": 4}),
            "trường 'mo_cua' không phải chỉ tiêu số",
        ),
        (lambda d: d["sections"][1]["fields"][0].update(min=10, max=5), "max nhỏ hơn min"),
        (lambda d: d["sections"][0]["fields"][3].update(role="boss"), "role 'boss' không hợp lệ"),
        (
            lambda d: d["sections"][0]["fields"][3].update(role="unit"),
            "role 'unit' chỉ dành cho trường điền sẵn",
        ),
        (
            lambda d: d["sections"][0]["fields"][0].update(role="period"),
            "trường điền sẵn unit.code có role 'unit'",
        ),
        (
            lambda d: d["sections"][0]["fields"][3].update(role="contact_email"),
            "role 'contact_email' cần kiểu email",
        ),
        (lambda d: d["sections"][0]["fields"][3].update(rollup="sum"), "rollup sum chỉ dùng cho chỉ tiêu số"),
        (
            lambda d: d["sections"][1]["fields"][0].update(rollup="blank"),
            "rollup sum chỉ dùng cho chỉ tiêu số",
        ),
        (lambda d: d["sections"][0]["fields"][3].update(rollup="average"), "rollup 'average' không hợp lệ"),
        (
            lambda d: d["rules"].append(
                {"kind": "min_per_month", "field": "luot_doc", "per_month": 4, "level": "ward"}
            ),
            "level phải là một trong unit, department, province",
        ),
        (lambda d: d["form"].pop("version"), "[form] version: thiếu hoặc rỗng"),
    ],
)
def test_bad_specs_are_refused_with_the_field_and_the_problem(mutate, message):
    data = _spec()
    mutate(data)
    with pytest.raises(FormSpecError) as info:
        parse_form(data)
    assert message in str(info.value)


def test_load_form_names_the_file_in_the_message(tmp_path):
    bad = tmp_path / "hong.toml"
    bad.write_text('[form]\nid = "x"\nversion = "1"\ntitle = "T"\n', encoding="utf-8")
    with pytest.raises(FormSpecError, match=r"hong\.toml: Biểu mẫu: sections: biểu mẫu không có mục nào"):
        load_form(bad)
    bad.write_text("[form\n", encoding="utf-8")
    with pytest.raises(FormSpecError, match="sai cú pháp TOML"):
        load_form(bad)


def test_roles_rollups_and_target_levels_are_read_from_the_spec():
    """The engine finds "the unit code", "the contact address"… through roles, never by field code."""
    cchc = load_form(FORM)
    roles = {
        name: cchc.role(name).code for name in ("unit", "period", "version", "contact_email", "preparer")
    }
    assert roles == {
        "unit": "ma_don_vi",
        "period": "ky_bao_cao",
        "version": "phien_ban_mau",
        "contact_email": "email",
        "preparer": "nguoi_lap",
    }
    assert {f.rollup for f in cchc.quantitative_fields} == {"sum"}
    assert {f.rollup for f in cchc.text_fields} == {"join"}
    assert cchc.field("nguoi_lap").rollup == "blank" and cchc.field("so_ke_hoach").rollup == "all_equal"
    assert [(r.params["field"], r.level) for r in cchc.targets] == [("tin_bai_cong_ttdt", "department")]
    mini = parse_form(_spec())
    assert mini.role("unit").code == "don_vi" and mini.role("contact_email") is None
    with pytest.raises(KeyError):
        mini.role("boss")
