"""Validation rules, each with a passing and a failing case, on real filled templates.

The workbook is made by the template code, filled through its defined names, read back by the
reader (in-process) and judged by the pure ``validate``; messages are asserted word for word
where a unit clerk reads them.
"""

from __future__ import annotations

import unicodedata
from datetime import date

import openpyxl
import pytest
from conftest import write_config
from helpers import make_submission, valid_values

from baocao import api
from baocao.judge.convert import to_integer, to_phone
from baocao.judge.reader import read_workbook
from baocao.judge.validate import Context, validate
from baocao.model import Severity

TODAY = date(2025, 3, 8)


def judge(dep, tmp_path, unit="DT_TG", period="2025-Q1", history=None, today=TODAY, **overrides):
    path = make_submission(dep, unit, period, tmp_path / "in.xlsx", **overrides)
    raw = read_workbook(path, dep.catalog.layouts())
    ctx = Context(dep.catalog, dep.registry, dep.settings.period_kinds, today, history or {}, dep.signing_key)
    return validate(raw, ctx)


def test_a_complete_report_is_accepted_without_issues(deployment, tmp_path):
    outcome = judge(deployment, tmp_path)
    assert outcome.accepted and outcome.issues == []
    assert (outcome.unit, outcome.period, outcome.form_version) == ("DT_TG", "2025-Q1", "2025.1")
    sent = valid_values(deployment.form, deployment.period("2025-Q1"))
    assert {code: outcome.values[code] for code in sent} == sent  # every input, read back as typed


def test_all_zeros_is_a_valid_report_of_no_activity(deployment, tmp_path):
    zeros = {f.code: 0 for f in deployment.form.quantitative_fields}
    outcome = judge(deployment, tmp_path, **zeros)
    assert outcome.accepted
    assert all(outcome.values[code] == 0 for code in zeros)
    # the portal target is the department's (its website), judged on the department's total:
    # a phòng with no item of its own is not warned
    assert outcome.warnings == []


ERRORS = [
    # (overrides, field, cell, exact message)
    (
        {"luot_tap_huan": 35, "lop_tap_huan": 0},
        "luot_tap_huan",
        "D27",
        "Ô D27 (Số lượt người tham gia tập huấn, bồi dưỡng): có 35 lượt người nhưng số lớp tập huấn là 0",
    ),
    (
        {"luot_hoi_nghi": 10, "hoi_nghi_long_ghep": 0},
        "luot_hoi_nghi",
        "D29",
        "Ô D29 (Số lượt người tham dự các hội nghị đó): có 10 lượt người nhưng số hội nghị là 0",
    ),
    (
        {"luot_du_thi": 5, "cuoc_thi": 0},
        "luot_du_thi",
        "D39",
        "Ô D39 (Số lượt người dự thi): có 5 lượt người dự thi nhưng số cuộc thi là 0",
    ),
    (
        {"tthc_niem_yet": None},
        "tthc_niem_yet",
        "D23",
        "Ô D23 (Số thủ tục hành chính được công khai, niêm yết (tại trụ sở và trên Cổng/Trang TTĐT)): chưa nhập (ghi 0 nếu không có)",
    ),
    (
        {"tin_mang_xa_hoi": "5 tin"},
        "tin_mang_xa_hoi",
        "D32",
        "Ô D32 (Số tin, bài tuyên truyền CCHC trên mạng xã hội (Zalo, Facebook…)): '5 tin' không phải số; chỉ nhập chữ số, ví dụ 5 (không ghi \"5 tin\")",
    ),
    ({"pano_khau_hieu": "năm"}, "pano_khau_hieu", "D35", None),
    (
        {"luot_huong_dan_dvc": "1.234"},
        "luot_huong_dan_dvc",
        "D40",
        "Ô D40 (Số lượt tổ chức, cá nhân được hướng dẫn sử dụng dịch vụ công trực tuyến): '1.234' có dấu phân cách; hãy nhập số không có dấu chấm hay phẩy, ví dụ 1234",
    ),
    ({"tai_lieu_phat_hanh": "1,234"}, "tai_lieu_phat_hanh", "D36", None),
    (
        {"cuoc_kiem_tra": -1},
        "cuoc_kiem_tra",
        "D42",
        "Ô D42 (Số cuộc kiểm tra, đôn đốc việc giải quyết TTHC, thực hiện CCHC): -1 nhỏ hơn 0; cần số nguyên không âm",
    ),
    ({"van_ban_cap_nhat": 2.5}, "van_ban_cap_nhat", "D24", None),
    ({"nguoi_lap": None}, "nguoi_lap", "D13", "Ô D13 (Người lập biểu): chưa nhập"),
    ({"dien_thoai": "09123"}, "dien_thoai", "D14", None),
    (
        {"email": "an.nv@"},
        "email",
        "D15",
        "Ô D15 (Thư điện tử): 'an.nv@' không phải địa chỉ thư điện tử hợp lệ: thiếu phần trước hoặc sau dấu @",
    ),
    (
        {"ngay_lap": date(2025, 3, 20)},
        "ngay_lap",
        "D16",
        "Ô D16 (Ngày lập báo cáo): ngày 20/03/2025 muộn hơn 08/03/2025 (hôm nay)",
    ),
    (
        {"ngay_lap": date(2024, 12, 31)},
        "ngay_lap",
        "D16",
        "Ô D16 (Ngày lập báo cáo): ngày 31/12/2024 sớm hơn 01/01/2025",
    ),
    ({"ngay_lap": "32/01/2025"}, "ngay_lap", "D16", None),
    (
        {"co_ke_hoach": "Chưa"},
        "co_ke_hoach",
        "D17",
        "Ô D17 (Đơn vị đã ban hành kế hoạch tuyên truyền CCHC năm): 'Chưa' không có trong danh sách; chọn một trong: Có, Không",
    ),
    (
        {"so_ke_hoach": None},
        "so_ke_hoach",
        "D18",
        'Ô D18 (Số, ký hiệu kế hoạch): đơn vị đã chọn "Có" ban hành kế hoạch nên phải ghi số, ký hiệu kế hoạch',
    ),
    ({"ngay_ke_hoach": None}, "ngay_ke_hoach", "D19", None),
    (
        {"ngay_ke_hoach": date(2023, 12, 1)},
        "ngay_ke_hoach",
        "D19",
        "Ô D19 (Ngày ban hành kế hoạch): ngày 01/12/2023 sớm hơn 01/01/2024",
    ),
    (
        {"ket_qua_noi_bat": "Tốt"},
        "ket_qua_noi_bat",
        "D44",
        "Ô D44 (Kết quả nổi bật): quá ngắn (3 ký tự); cần ít nhất 20 ký tự",
    ),
    ({"ton_tai_han_che": None}, "ton_tai_han_che", "D45", "Ô D45 (Tồn tại, hạn chế): chưa nhập"),
    (
        {"ma_don_vi": "DT_VP"},
        "ma_don_vi",
        "D9",
        "Ô D9 (Mã đơn vị): mã đơn vị 'DT_VP' đã bị sửa; tệp này là biểu mẫu của đơn vị DT_TG",
    ),
    (
        {"ky_bao_cao": "2025-H1"},
        "ky_bao_cao",
        "D11",
        "Ô D11 (Kỳ báo cáo): kỳ '2025-H1' đã bị sửa; biểu mẫu này của kỳ 2025-Q1",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "field", "cell", "message"), ERRORS, ids=[e[1] + str(i) for i, e in enumerate(ERRORS)]
)
def test_each_error_rule_rejects_with_the_cell_and_message(
    deployment, tmp_path, overrides, field, cell, message
):
    outcome = judge(deployment, tmp_path, **overrides)
    assert not outcome.accepted
    errors = [i for i in outcome.errors if i.field == field]
    assert errors, outcome.issues
    assert (errors[0].sheet, errors[0].cell) == ("BaoCao", cell)
    assert errors[0].location == f"BaoCao!{cell}"
    if message:
        assert errors[0].message == message


@pytest.mark.parametrize(
    "overrides",
    [
        {"luot_tap_huan": 0, "lop_tap_huan": 0},
        {"co_ke_hoach": "Không", "so_ke_hoach": None, "ngay_ke_hoach": None},
        {"co_ke_hoach": "có"},  # a choice typed in lower case is the same choice
        {"tin_mang_xa_hoi": "12"},  # a number typed as text is a number
        {"dien_thoai": "+84912345678"},
        {"dien_thoai": "091 234 5678"},
        {"dien_thoai": 912345678},  # a General cell dropped the leading zero
        {"ngay_lap": "05/03/2025"},
        {"ton_tai_han_che": "Không"},
        {"ngay_ke_hoach": date(2024, 12, 20)},
    ],
)
def test_passing_cases_of_the_same_rules(deployment, tmp_path, overrides):
    outcome = judge(deployment, tmp_path, **overrides)
    assert outcome.accepted, outcome.errors


@pytest.fixture
def upper(tmp_path):
    """A deployment one level up: the departments report themselves (their roll-ups)."""
    folder = tmp_path / "upper"
    folder.mkdir()
    registry = folder / "don-vi.csv"
    registry.write_text(
        "code,name,parent,kind,email,valid_from,valid_to,successor\n"
        "LANGSON,Tỉnh Lạng Sơn,,province,cchc@snv.langson.example,2020-01-01,,\n"
        "SDTTG,Sở Dân tộc và Tôn giáo,LANGSON,department,vanphong@sdttg.langson.example,2025-03-01,,\n",
        encoding="utf-8",
    )
    return api.load_deployment(write_config(folder, registry=registry))


def test_warnings_accept_but_flag(deployment, tmp_path):
    outcome = judge(deployment, tmp_path, co_ke_hoach="Không", so_ke_hoach=None, ngay_ke_hoach=None)
    assert outcome.accepted
    messages = {i.code: i.message for i in outcome.warnings}
    assert "chưa ban hành kế hoạch" in messages["warn_if_equals"]


def test_a_department_target_is_judged_on_the_departments_report_not_a_phong(deployment, upper, tmp_path):
    assert judge(deployment, tmp_path, tin_bai_cong_ttdt=11).warnings == []  # a phòng: not its target
    outcome = judge(upper, tmp_path, unit="SDTTG", tin_bai_cong_ttdt=11)
    assert outcome.accepted
    assert [i.message for i in outcome.warnings] == [
        "Ô D22 (Số tin, bài về CCHC đăng trên Cổng/Trang thông tin điện tử của đơn vị): "
        "có 11 tin, bài, dưới chỉ tiêu 12 (4 tin, bài mỗi tháng × 3 tháng)"
    ]
    assert judge(upper, tmp_path, unit="SDTTG", tin_bai_cong_ttdt=12).warnings == []


def test_target_follows_the_months_the_period_covers(upper, tmp_path):
    outcome = judge(
        upper, tmp_path, unit="SDTTG", period="2025-H1", today=date(2025, 6, 8), tin_bai_cong_ttdt=20
    )
    assert "dưới chỉ tiêu 24" in outcome.warnings[0].message


def test_outlier_against_the_units_own_history(deployment, tmp_path):
    history = {
        "2024-Q1": {"tin_mang_xa_hoi": 10},
        "2024-Q3": {"tin_mang_xa_hoi": 12},
        "2024-H1": {"tin_mang_xa_hoi": 22},
    }
    outcome = judge(deployment, tmp_path, history=history, tin_mang_xa_hoi=250)
    flagged = [i for i in outcome.warnings if i.code == "outlier"]
    assert [i.field for i in flagged] == ["tin_mang_xa_hoi"] and flagged[0].cell == "D32"
    assert "cao gấp hơn 5 lần" in flagged[0].message
    assert not [
        i
        for i in judge(deployment, tmp_path, history=history, tin_mang_xa_hoi=40).warnings
        if i.code == "outlier"
    ]
    assert not [
        i
        for i in judge(deployment, tmp_path, history={}, tin_mang_xa_hoi=250).warnings
        if i.code == "outlier"
    ]


def test_cumulative_period_below_a_period_it_contains(deployment, tmp_path):
    history = {"2025-Q1": {"tthc_niem_yet": 40}}
    outcome = judge(
        deployment, tmp_path, period="2025-H1", today=date(2025, 6, 8), history=history, tthc_niem_yet=30
    )
    flagged = [i for i in outcome.warnings if i.code == "cumulative_not_below"]
    assert flagged[0].message.endswith("số lũy kế 30 thấp hơn số đã báo cáo trong Quý I năm 2025 (40)")


def test_unit_not_reporting_in_the_period(deployment, tmp_path):
    # LD_CDN closed in January 2025: its 2024 template sent for 2025 is refused by the registry
    outcome = judge(deployment, tmp_path, unit="LD_CDN", period="2024-Q3", today=date(2024, 9, 5))
    assert outcome.accepted
    path = make_submission(deployment, "DT_TG", "2025-Q1", tmp_path / "x.xlsx")
    raw = read_workbook(path, deployment.catalog.layouts())
    raw.cells["ma_don_vi"] = type(raw.cells["ma_don_vi"])("LD_CDN", "BaoCao", "D9")
    raw.meta.clear()
    ctx = Context(
        deployment.catalog,
        deployment.registry,
        deployment.settings.period_kinds,
        TODAY,
        key=deployment.signing_key,
    )
    errors = validate(raw, ctx).errors
    assert [e.message for e in errors if e.code == "unknown_unit"] == [
        "Mã đơn vị 'LD_CDN' không có trong danh mục đơn vị trong kỳ 2025-Q1"
    ]


def test_unknown_form_version_is_refused(deployment, tmp_path):
    path = make_submission(deployment, "DT_TG", "2025-Q1", tmp_path / "x.xlsx")
    raw = read_workbook(path, deployment.catalog.layouts())
    raw.form_version = "2019.1"
    ctx = Context(
        deployment.catalog,
        deployment.registry,
        deployment.settings.period_kinds,
        TODAY,
        key=deployment.signing_key,
    )
    outcome = validate(raw, ctx)
    assert [e.code for e in outcome.errors] == ["unknown_version"]
    assert "phiên bản '2019.1' không còn được dùng" in outcome.errors[0].message


def test_vietnamese_text_is_nfc_on_the_way_in(deployment, tmp_path):
    nfd = unicodedata.normalize("NFD", "Nguyễn Thị Hương")
    outcome = judge(deployment, tmp_path, nguoi_lap=nfd)
    assert outcome.values["nguoi_lap"] == unicodedata.normalize("NFC", nfd) != nfd


def test_errors_come_before_warnings(deployment, tmp_path):
    outcome = judge(deployment, tmp_path, co_ke_hoach="Không", nguoi_lap=None)
    assert outcome.warnings and outcome.errors
    severities = [i.severity for i in outcome.issues]
    assert severities == sorted(severities, key=lambda s: s != Severity.ERROR)


@pytest.mark.parametrize(("raw", "value"), [(12, 12), (12.0, 12), ("12", 12), (" 7 ", 7)])
def test_integer_conversion(raw, value):
    assert to_integer(raw) == (value, None)


def test_phone_conversion():
    assert to_phone("0912.345.678") == ("0912345678", None)
    assert to_phone("12345")[1] is not None


def test_a_formula_without_a_saved_result_is_an_issue_not_a_zero(deployment, tmp_path):
    # openpyxl writes formulas without cached values, as a script-made file would arrive
    outcome = judge(deployment, tmp_path, tin_bai_cong_ttdt="=SUM(1,2)")
    [issue] = [i for i in outcome.errors if i.field == "tin_bai_cong_ttdt"]
    assert issue.code == "formula_without_value" and issue.cell == "D22"
    assert "công thức chưa được tính" in issue.message


def edited(dep, tmp_path, change, **overrides):
    """A real filled template changed with openpyxl (``change(book)``), read and judged."""
    path = make_submission(dep, "DT_TG", "2025-Q1", tmp_path / "in.xlsx", **overrides)
    book = openpyxl.load_workbook(path)
    change(book)
    book.save(path)
    raw = read_workbook(path, dep.catalog.layouts())
    return validate(
        raw, Context(dep.catalog, dep.registry, dep.settings.period_kinds, TODAY, key=dep.signing_key)
    )


def drop_meta(*keys):
    def change(book):
        for row in book["_meta"].iter_rows():
            if row[0].value in keys:
                row[0].value = row[1].value = None

    return change


def test_a_period_that_is_not_year_kind(deployment, tmp_path):
    outcome = edited(deployment, tmp_path, drop_meta("period", "signature"), ky_bao_cao="Quý 1 năm 2025")
    assert [(i.code, i.field, i.message) for i in outcome.errors] == [
        ("bad_period", "ky_bao_cao", "Kỳ báo cáo 'QUÝ 1 NĂM 2025' không đúng dạng NĂM-KỲ, ví dụ 2025-Q1")
    ]
    assert outcome.period is None and outcome.unit == "DT_TG"


def test_a_period_code_of_5000_characters_is_quoted_short(deployment, tmp_path):
    outcome = edited(deployment, tmp_path, drop_meta("period", "signature"), ky_bao_cao="2025-" + "Q" * 5000)
    [issue] = [i for i in outcome.errors if i.code == "bad_period"]
    assert issue.message.startswith("Kỳ báo cáo '2025-QQQ") and "…'" in issue.message
    assert len(issue.message) < 150


def test_no_unit_code_anywhere(deployment, tmp_path):
    outcome = edited(deployment, tmp_path, drop_meta("unit", "signature"), ma_don_vi=None)
    assert [(i.code, i.message) for i in outcome.errors] == [
        ("no_unit", "Không xác định được đơn vị: ô mã đơn vị bị trống")
    ]
    assert outcome.unit is None and outcome.period == "2025-Q1"


def test_a_workbook_that_is_not_a_template_gets_one_message(deployment, tmp_path):
    path = tmp_path / "bang-luong.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "Sheet1"
    book.active.append(["Họ tên", "Lương"])
    book.active.append(["Nguyễn Văn An", 7_500_000])
    book.save(path)
    raw = read_workbook(path, deployment.catalog.layouts())
    outcome = validate(
        raw, Context(deployment.catalog, deployment.registry, deployment.settings.period_kinds, TODAY)
    )
    assert [(i.code, i.message) for i in outcome.issues] == [
        (
            "not_a_template",
            'Tệp này không phải biểu mẫu báo cáo "BÁO CÁO KẾT QUẢ CÔNG TÁC THÔNG TIN, TUYÊN TRUYỀN CẢI CÁCH HÀNH'
            ' CHÍNH": không có thông tin của biểu mẫu và không ô nào của biểu mẫu có số liệu; hãy dùng biểu mẫu'
            " gửi kèm thư nhắc",
        )
    ]
    assert (outcome.unit, outcome.period) == (None, None)


def test_a_template_of_another_form_gets_one_message(deployment, tmp_path):
    def other_form(book):
        for row in book["_meta"].iter_rows():
            if row[0].value == "form_id":
                row[1].value = "thong-ke-dan-so"

    outcome = edited(deployment, tmp_path, other_form)
    assert [(i.code, i.message) for i in outcome.issues] == [
        (
            "other_form",
            "Tệp này là biểu mẫu 'thong-ke-dan-so', không phải biểu mẫu báo cáo \"BÁO CÁO KẾT QUẢ CÔNG TÁC THÔNG"
            ' TIN, TUYÊN TRUYỀN CẢI CÁCH HÀNH CHÍNH"; hãy dùng biểu mẫu gửi kèm thư nhắc',
        )
    ]


def test_a_deleted_data_sheet_is_one_message_not_one_per_field(deployment, tmp_path):
    def delete_sheet(book):
        del book["BaoCao"]
        for name in book.defined_names.values():  # what Excel leaves of names on a deleted sheet
            name.attr_text = name.attr_text.replace("BaoCao!", "#REF!")

    outcome = edited(deployment, tmp_path, delete_sheet)
    assert [(i.code, i.message) for i in outcome.issues] == [
        (
            "missing_sheet",
            "Tệp không có trang tính 'BaoCao', nơi nhập số liệu của biểu mẫu (trang đã bị xoá hoặc đổi tên);"
            " hãy dùng biểu mẫu gửi kèm thư nhắc, không xoá hay đổi tên trang này",
        )
    ]
    assert (outcome.unit, outcome.period) == ("DT_TG", "2025-Q1")  # from the template's hidden sheet


def test_a_renamed_data_sheet_is_followed_by_its_names(deployment, tmp_path):
    def rename(book):
        book["BaoCao"].title = "Bao cao quy 1"
        for name in book.defined_names.values():
            name.attr_text = name.attr_text.replace("BaoCao!", "'Bao cao quy 1'!")

    outcome = edited(deployment, tmp_path, rename)
    assert outcome.accepted and outcome.issues == []
