"""File names built from hostile text stay one safe name inside their folder; shown text is inert."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from baocao.names import MAX_NAME, inside, printable, safe_name

RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


def is_safe(name: str) -> bool:
    """What every file system (NTFS, FAT, ext4, APFS, SMB shares) accepts as one plain name."""
    return (
        0 < len(name) <= MAX_NAME
        and all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in name)
        and name not in (".", "..")
        and not name.startswith((".", "-"))
        and not name.endswith((".", " "))
        and name.split(".", 1)[0].upper() not in RESERVED
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("../../x", "x"),
        ("..\\..\\x.xlsx", "x.xlsx"),
        ("/etc/passwd", "etc_passwd"),
        ("C:\\Windows\\x", "C_Windows_x"),
        ("\\\\server\\share\\x", "server_share_x"),
        ("CON", "_CON"),
        ("con.xlsx", "_con.xlsx"),
        ("Nul.tar.gz", "_Nul.tar.gz"),
        ("COM1.eml", "_COM1.eml"),
        ("lpt9", "_lpt9"),
        ("COM¹.txt", "_COM1.txt"),  # Windows also reserves the superscript digits
        ("CONSOLE.xlsx", "CONSOLE.xlsx"),
        ("bao cao. ", "bao_cao"),
        ("x\x1b[31m\r\n.xlsx", "x_31m_.xlsx"),
        ("", "tep"),
        ("...", "tep"),
        ("/", "tep"),
        ("Báo cáo Đơn vị.xlsx", "Bao_cao_Don_vi.xlsx"),
        (unicodedata.normalize("NFD", "Báo cáo Đơn vị.xlsx"), "Bao_cao_Don_vi.xlsx"),
        ("DT_TG_2025-Q1_phan-hoi.xlsx", "DT_TG_2025-Q1_phan-hoi.xlsx"),
    ],
)
def test_hostile_names_become_one_plain_name(text, expected):
    assert safe_name(text) == expected
    assert is_safe(safe_name(text))


def test_a_very_long_name_is_cut_and_keeps_its_extension():
    name = safe_name("a" * 5000 + ".xlsx")
    assert len(name) == MAX_NAME and name.endswith(".xlsx")


def test_an_empty_result_takes_the_default_made_safe():
    assert safe_name("///", default="khong-ro-don-vi") == "khong-ro-don-vi"
    assert safe_name("", default="../CON") == "_CON"


@given(st.text(max_size=400))
def test_any_text_gives_a_safe_name(text):
    name = safe_name(text)
    assert is_safe(name)
    assert safe_name(name) == name  # idempotent: a name made safe stays what it is


@given(st.text(alphabet="./\\:~$ CONUL1a\x00\x1b", max_size=40))
def test_path_like_text_never_leaves_the_folder(tmp_path_factory, text):
    folder = tmp_path_factory.getbasetemp() / "hop-thu"
    path = inside(folder, text, "x.xlsx")
    assert path.parent.parent == folder and path.resolve().is_relative_to(folder.resolve())


def test_inside_refuses_a_planted_link_out_of_the_folder(tmp_path):
    folder = tmp_path / "phan-hoi"
    folder.mkdir()
    (folder / "2025-Q1").symlink_to(tmp_path)  # a sub-folder that is really a link elsewhere
    with pytest.raises(ValueError):
        inside(folder, "2025-Q1", "x.xlsx")
    assert inside(folder, "2025-Q2", "x.xlsx") == folder / "2025-Q2" / "x.xlsx"


def test_printable_shows_control_and_bidi_characters_instead_of_obeying_them():
    text = "bao\x1b[2Jcao\r\u202egnp.exe\u2028\U000e0001 Đơn vị\nx\ty"
    shown = printable(text)
    assert shown == "bao\\u001b[2Jcao\\u000d\\u202egnp.exe\\u2028\\udb40\\udc01 Đơn vị\nx\ty"
    assert all(unicodedata.category(ch) not in ("Cc", "Cf") for ch in shown if ch not in "\n\t")
    assert printable("a\nb", keep="") == "a\\u000ab"


@given(st.text(max_size=200))
def test_printable_keeps_json_valid_and_meaning_the_same(text):
    document = json.dumps({"x": text}, ensure_ascii=False)
    assert json.loads(printable(document)) == {"x": text}


def test_names_used_for_real_files(tmp_path):
    for text in ("CON", "a" * 300, "x\x00y", "con.xlsx"):
        path = inside(tmp_path, text)
        path.write_bytes(b"1")
        assert path.read_bytes() == b"1" and path.parent == tmp_path
    assert len(list(Path(tmp_path).iterdir())) == 4


# --- the class as it happened: names built from what a unit typed ------------------------------


@pytest.mark.parametrize(
    "typed", ["../../inbox/vong-lap", "/tmp/ngoai", "C:\\x", "CON", "\\\\may-chu\\chia-se\\x"]
)
def test_a_path_typed_in_the_unit_cell_cannot_place_the_feedback_file(deployment, tmp_path, typed):
    # the unit code cell is what the feedback file was named after: ../../inbox wrote it into
    # the inbox, where the next collect took it as a submission, and so on
    from helpers import make_submission

    from baocao import api

    inbox = deployment.settings.path("inbox")
    make_submission(deployment, "DT_TG", "2025-Q1", inbox / "a.xlsx", ma_don_vi=typed)
    report = api.collect(deployment)
    [result] = report.results
    feedback = deployment.settings.path("feedback")
    assert result.status == "rejected" and result.feedback is not None
    assert result.feedback.resolve().parent.parent == feedback.resolve()
    assert list(inbox.rglob("*.xlsx")) == []
    everything = {p.resolve() for p in tmp_path.rglob("*") if p.is_file()}
    outside = {p for p in everything if not p.is_relative_to(tmp_path.resolve() / "workbooks")}
    assert {p.name for p in outside} <= {"config.toml"}


def test_terminal_and_log_show_escape_sequences_and_carriage_returns(deployment, config_file, tmp_path):
    import io
    import logging

    from helpers import make_submission

    from baocao.cli import main
    from baocao.jobs import setup_logging

    inbox = deployment.settings.path("inbox")
    hostile = "\x1b[2J\x1b[31mbao-cao\u202egnp.xlsx"
    make_submission(deployment, "DT_TG", "2025-Q1", inbox / hostile, dien_thoai="09\r1234")
    out, err = io.StringIO(), io.StringIO()
    assert main(["--config", str(config_file), "collect"], out=out, err=err) == 1
    for text in (out.getvalue(), err.getvalue()):
        assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    assert "\\u001b[2J\\u001b[31mbao-cao\\u202egnp.xlsx" in out.getvalue()
    # a carriage return inside a cell is a line break by the time it is read (judge.values)
    assert "'09 1234' không phải số điện thoại" in out.getvalue()
    out = io.StringIO()
    assert main(["--config", str(config_file), "status", "--period", "2025-Q1", "--json"], out=out) == 0
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()
    root = logging.getLogger("baocao")
    before = list(root.handlers)
    log = setup_logging(deployment)
    try:
        logging.getLogger("baocao.collect").warning("Chưa xóa được %s", inbox / hostile)
    finally:
        for handler in set(root.handlers) - set(before):
            handler.close()
            root.removeHandler(handler)
    written = log.read_text(encoding="utf-8")
    assert "\x1b" not in written and "\\u001b[2J" in written


def test_a_control_character_in_a_file_name_does_not_cost_the_feedback_workbook(deployment, tmp_path):
    # the name goes into the feedback's title cell; openpyxl (.xlsm, rebuilt files) refused it
    from helpers import make_submission

    from baocao import api

    made = make_submission(deployment, "DT_TG", "2025-Q1", tmp_path / "x.xlsm", dien_thoai="1")
    deployment.settings.path("inbox").mkdir(parents=True)
    made.rename(deployment.settings.path("inbox") / "bao\x07cao.xlsm")
    [result] = api.collect(deployment).results
    assert result.status == "rejected" and result.feedback is not None and result.feedback.is_file()
