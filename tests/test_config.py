"""config.toml: a good one loads with resolved paths; each bad one gives one line naming the key."""

from __future__ import annotations

import dataclasses
import io
import re
import unicodedata
from datetime import time

import pytest
from conftest import REPO, config_text

from baocao.cli import main
from baocao.errors import ConfigError
from baocao.spec.config import load_config


def test_demo_config_loads_with_paths_relative_to_its_folder():
    settings = load_config(REPO / "config.toml")
    assert settings.paths["inbox"] == (REPO / "workbooks" / "inbox").resolve()
    assert settings.paths["ledger"].name == "ledger.sqlite"
    assert settings.timezone.key == "Asia/Ho_Chi_Minh"
    assert set(settings.period_kinds) == {"Q1", "H1", "Q3", "Y"}
    assert settings.period_kinds["H1"].months == (1, 2, 3, 4, 5, 6)
    assert (settings.period_kinds["Y"].due_day, settings.period_kinds["Y"].due_month) == (10, 12)
    assert settings.mail.reminder_days == (7, 3, 1)
    assert settings.mail.summary_time == time(8, 0)


def test_defaults_fill_what_a_minimal_config_leaves_out(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(config_text(), encoding="utf-8")
    settings = load_config(path)
    assert settings.paths["archive"] == tmp_path / "workbooks" / "archive"
    assert settings.mail.backend == "outbox"
    assert settings.inclusive_deadline is False


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "[mail]\nport = 99999",
            "khóa 'mail.port': giá trị 99999 không hợp lệ; cần số nguyên từ 1 đến 65535",
        ),
        ('[mail]\nbackend = "gmail"', "khóa 'mail.backend'"),
        ("[mail]\nreminder_day = [7]", "khóa 'mail.reminder_day': khóa không được hỗ trợ"),
        ('[mail]\npassword = "123"', "khóa 'mail.password': không ghi mật khẩu trong tệp cấu hình"),
        ('[mail]\ncoordinators = ["khong-phai-thu"]', "khóa 'mail.coordinators[0]'"),
        ('[mail]\nsummary_time = "25:00"', "khóa 'mail.summary_time'"),
        ("[schedule]\ninterval_minutes = 0", "khóa 'schedule.interval_minutes'"),
        ("[colect]\nworkers = 2", "khóa 'colect': khóa không được hỗ trợ"),
        ('[mail]\ntimeout_seconds = "5"', "khóa 'mail.timeout_seconds'"),
        (
            '[intake.imap]\nhost = "mail.example.vn"\nuser = "cchc"\npassword = "123"',
            "khóa 'intake.imap.password': không ghi mật khẩu trong tệp cấu hình; cần biến môi trường"
            " BAOCAO_IMAP_PASSWORD",
        ),
        (
            '[intake.imap]\nhost = "mail.example.vn"\nuser = "cchc"\nsecurty = "ssl"',
            "khóa 'intake.imap.securty': khóa không được hỗ trợ",
        ),
        (
            '[intake.imap]\nhost = "mail.example.vn"\nuser = "cchc"\nsecurity = "tls"',
            "khóa 'intake.imap.security'",
        ),
        ('[intake.imap]\nuser = "cchc"', "khóa 'intake.imap.host': thiếu khóa bắt buộc"),
        ('[intake.imap]\nhost = "mail.example.vn"', "khóa 'intake.imap.user': thiếu khóa bắt buộc"),
        (
            '[intake.imap]\nhost = "m.vn"\nuser = "c"\nallowed_senders = ["langson"]',
            "khóa 'intake.imap.allowed_senders[0]'",
        ),
        (
            '[intake.imap]\nhost = "m.vn"\nuser = "c"\nprocessed_folder = "INBOX"',
            "khóa 'intake.imap.processed_folder'",
        ),
        ("[intake.folder]\npath = 1", "khóa 'intake.folder': khóa không được hỗ trợ"),
    ],
)
def test_bad_values_name_the_key_and_what_is_expected(tmp_path, extra, message):
    path = tmp_path / "config.toml"
    path.write_text(config_text(extra=extra), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("months = [1, 2, 3]\n", "months = [3, 1]\n", "khóa 'periods.Q1.months'"),
        ('due_before = "10/03"', 'due_before = "10-03"', "khóa 'periods.Q1.due_before'"),
        ('due_before = "10/03"', 'due_before = "30/02"', "khóa 'periods.Q1.due_before'"),
        ('due_before = "10/03"', 'due_before = { ward = "05/03" }', "khóa 'periods.Q1.due_before'"),
        (
            'due_before = "10/03"',
            'due_before = { department = "05/3", province = "1/13" }',
            "khóa 'periods.Q1.due_before.province'",
        ),
        ('due_before = "10/03"', 'due_before = "10/03"\nwindow = ["15/12"]', "khóa 'periods.Q1.window'"),
        (
            'due_before = "10/03"',
            'due_before = "10/03"\nwindow = ["15/12", "31/02"]',
            "khóa 'periods.Q1.window[1]'",
        ),
        ('label = "Quý I năm {year}"', 'label = "Quý I"', "khóa 'periods.Q1.label': thiếu chỗ điền năm"),
        ('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Asia/Hanoi_City"', "khóa 'organisation.timezone'"),
        # TOML mistakes, explained with the line instead of tomllib's English
        (
            'name = "Sở Nội vụ tỉnh Lạng Sơn"',
            "name = Sở Nội vụ",
            "dòng 6 (name = Sở Nội vụ): giá trị không hợp lệ",
        ),
        ("[collect]", "[collect]\nworkers = 1", "một khóa hoặc một bảng được khai báo hai lần"),
        ('timezone = "Asia/Ho_Chi_Minh"', "timezone Asia", "thiếu dấu = giữa tên khóa và giá trị"),
    ],
)
def test_bad_periods_timezone_and_toml(tmp_path, old, new, message):
    path = tmp_path / "config.toml"
    path.write_text(config_text().replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_config(path)
    assert not re.search(r"\b(line|column|Invalid|Expected|Cannot)\b", str(info.value))


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="Không tìm thấy tệp cấu hình"):
        load_config(tmp_path / "khong-co.toml")
    path = tmp_path / "config.toml"
    path.write_text("[organisation\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="sai cú pháp TOML"):
        load_config(path)


def test_imap_section_with_defaults_and_without_it(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(config_text(), encoding="utf-8")
    assert load_config(path).imap is None
    path.write_text(
        config_text(
            extra='[intake.imap]\nhost = "mail.langson.gov.vn"\nuser = "cchc@sonoivu.langson.gov.vn"\n'
            'allowed_senders = ["@LangSon.gov.vn", "vanthu@truong.edu.vn"]\n'
            f'processed_folder = "{unicodedata.normalize("NFD", "Đã xử lý")}"\n'  # NFD: a Mac editor
        ),
        encoding="utf-8",
    )
    imap = load_config(path).imap
    assert imap is not None
    assert (imap.host, imap.security, imap.effective_port, imap.folder) == (
        "mail.langson.gov.vn",
        "ssl",
        993,
        "INBOX",
    )
    assert imap.processed_folder == "Đã xử lý"
    assert imap.allowed_senders == ("langson.gov.vn", "vanthu@truong.edu.vn")
    assert "password" not in {f.name for f in dataclasses.fields(imap)}


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ('inbox = "chung"\narchive = "chung/luu-tru"', "[paths] archive (thư mục lưu trữ"),
        ('inbox = "chung"\nfeedback = "chung"', "trùng với [paths] inbox"),
        ('inbox = "workbooks/output/nop"', "[paths] output (thư mục kết quả"),
        ('ledger = "workbooks/inbox/so.sqlite"', "[paths] ledger (sổ theo dõi"),
        ('archive = "workbooks/feedback"', "[paths] feedback (thư mục phản hồi"),
    ],
)
def test_folders_that_overlap_the_inbox_or_the_archive_are_refused(tmp_path, paths, message):
    path = tmp_path / "config.toml"
    path.write_text(config_text(extra=f"[paths]\n{paths}\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in str(caught.value) and "phải tách riêng" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_info_shows_overlapping_folders_too(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        config_text(extra='[paths]\ninbox = "chung"\narchive = "chung/luu-tru"\n'), encoding="utf-8"
    )
    err = io.StringIO()
    assert main(["--config", str(path), "info"], out=io.StringIO(), err=err) == 2
    assert "nằm trong [paths] inbox" in err.getvalue()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"], ids=["bom", "notepad_unicode"])
def test_a_config_saved_by_notepad_with_a_bom_or_as_unicode_loads(tmp_path, encoding):
    path = tmp_path / "config.toml"
    path.write_bytes(config_text().encode(encoding))
    assert load_config(path).organisation == "Sở Nội vụ tỉnh Lạng Sơn"


ADVICE = (
    "dấu \\ trong chuỗi đặt giữa nháy kép là ký tự thoát của TOML, nên đường dẫn Windows không viết được"
    ' như vậy; hãy dùng dấu /, ví dụ "D:/baocao/inbox", hoặc đặt đường dẫn trong nháy đơn, ví dụ'
    " 'D:\\baocao\\inbox'"
)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('inbox = "D:\\baocao\\inbox"', 'config.toml: dòng {n} (inbox = "D:\\baocao\\inbox"): ' + ADVICE),
        ('inbox = "D:\\baocao\\"', 'config.toml: dòng {n} (inbox = "D:\\baocao\\"): ' + ADVICE),
        # \b and \n are valid TOML escapes: the file parses, the path holds control characters
        ('inbox = "D:\\baocao\\new"', "config.toml: khóa 'paths.inbox': " + ADVICE),
    ],
    ids=["invalid_escape", "escaped_closing_quote", "valid_escapes"],
)
def test_a_windows_path_with_single_backslashes_says_what_to_write(tmp_path, line, message):
    path = tmp_path / "config.toml"
    text = config_text(extra=f"[paths]\n{line}\n")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == message.format(n=text.splitlines().index(line) + 1)


@pytest.mark.parametrize("line", ["inbox = 'D:\\baocao\\inbox'", 'inbox = "D:/baocao/inbox"'])
def test_the_two_ways_to_write_a_windows_path(tmp_path, line):
    path = tmp_path / "config.toml"
    path.write_text(config_text(extra=f"[paths]\n{line}\n"), encoding="utf-8")
    assert str(load_config(path).paths["inbox"]).replace("\\", "/").endswith("D:/baocao/inbox")


def test_a_config_in_the_windows_code_page_is_refused_with_how_to_save_it(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(config_text().encode("cp1258", errors="replace"))
    with pytest.raises(ConfigError, match="tệp phải được lưu với mã UTF-8"):
        load_config(path)
