"""Real-world files from other projects' test suites never reach a traceback (fixtures/corpus).

Each file goes through ``api.check`` exactly as ``baocao check FILE`` runs it: a worker process
reads it, the validator judges it. Asserted for every file: an ``Outcome`` comes back, its
messages are Vietnamese with no English library text, and it says what the table below says
(genuine workbooks are read, then told they are not our form; the rest get their refusal).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_config

from baocao import api
from baocao.judge.validate import Outcome

CORPUS = Path(__file__).parent / "fixtures" / "corpus"
READ = "not_a_template"  # a genuine workbook, read and judged: "Tệp này không phải biểu mẫu báo cáo …"
OLD = "được lưu theo định dạng Excel rất cũ (Excel 2.x-4.0)"
# file -> the code of the first issue (``unreadable``: refused by the reader) and a part of its message
EXPECTED: dict[str, tuple[str, str]] = {
    "41139.xls": (READ, ""),
    "49609.xlsx": (READ, ""),
    "53105.xlsx": (READ, ""),
    "59858.xls": (READ, ""),
    "60825.xlsx": (
        "unreadable",
        "bị hỏng hoặc có thành phần chương trình đọc không hiểu; hãy mở tệp bằng Excel",
    ),
    "BlankSheetTypes.xlsm": ("unreadable", "có trang macro Excel 4.0 ('Macro1')"),
    "CRLFX5_2.XLS": ("unreadable", OLD),
    "OOM_alloc3.xls": ("unreadable", "bị hỏng, không đọc được cấu trúc tệp .xls"),
    "WORKBOOK_in_capitals.xls": (READ, ""),
    "biff4_no_format_no_window2.xls": ("unreadable", OLD),
    "capitalized_wbook_stream.xls": (READ, ""),
    "duplicate-filename.xlsx": ("unreadable", "có hai thành phần cùng tên 'xl/worksheets/sheet1.xml'"),
    "gh548_incorrect_sst_unique_count.xls": (READ, ""),
    "issue_530.xlsx": (READ, ""),
    "issue_594_dos.ods": ("unreadable", "có trang tính 'Sheet1' với vùng dữ liệu quá lớn"),
    "issue_666_panic.xlsb": ("unreadable", "là bảng tính dạng Excel nhị phân (.xlsb)"),
    "libreoffice_basic_macro.ods": ("", ""),  # our template, read: judged as any template
    "minimal_package.xlsx": (READ, ""),
    "namesdemo.xls": (READ, ""),
    "pass_protected.ods": ("unreadable", "được đặt mật khẩu; hãy gỡ mật khẩu rồi gửi lại"),
    "poc-xmlbomb.xlsx": ("unreadable", "chứa khai báo XML bị cấm (DTD) ở 'xl/sharedStrings.xml'"),
    "strict_iso_paths.xlsx": (READ, ""),
    "testEXCEL_3.xls": ("unreadable", OLD),
    "too_small.xls": ("unreadable", "không phải bảng tính Excel dù có đuôi .xls"),
    "vba.xlsm": (READ, ""),
    "wtf_path.xlsx": (READ, ""),
}
NOT_A_SPREADSHEET = "không phải bảng tính"
# Words of the English error messages of zipfile, xlrd, calamine, lxml and Python itself.
ENGLISH = set(
    [
        "the",
        "is",
        "not",
        "of",
        "to",
        "for",
        "and",
        "found",
        "file",
        "error",
        "cannot",
        "invalid",
        "unexpected",
        "expected",
        "unsupported",
        "format",
        "detect",
        "record",
        "stream",
        "sector",
        "buffer",
        "unpack",
        "requires",
        "corrupt",
        "corruption",
        "workbook",
        "failed",
        "none",
        "object",
        "token",
        "relationship",
        "bad",
        "size",
        "read",
        "open",
        "missing",
        "truncated",
        "entry",
        "zip",
    ]
)
VIETNAMESE = re.compile("[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]", re.I)


def english_words(message: str) -> set[str]:
    """ASCII words of ``message`` outside quotes that belong to English error messages."""
    bare = re.sub(r"'[^']*'|\"[^\"]*\"|\([^)]*\.[a-z]{2,4}\)", " ", message)
    return {w for w in re.findall(r"[A-Za-z]+", bare) if w.lower() in ENGLISH and w != "ZIP"}


def test_every_corpus_file_is_in_the_table():
    files = {p.name for p in CORPUS.iterdir() if p.suffix.lower() not in (".md", ".py")}
    assert files == set(EXPECTED)


@pytest.fixture(scope="module")
def dep(tmp_path_factory):
    return api.load_deployment(write_config(tmp_path_factory.mktemp("corpus")))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_check_says_what_the_file_is_in_vietnamese(dep, name):
    outcome = api.check(dep, CORPUS / name)
    assert isinstance(outcome, Outcome)
    assert outcome.issues, "none of these files is a valid report"
    for issue in outcome.issues:
        assert VIETNAMESE.search(issue.message), issue.message
        assert not english_words(issue.message), issue.message
    code, part = EXPECTED[name]
    first = outcome.issues[0]
    if code:
        assert first.code == code, first.message
    assert part in first.message
    if code != "unreadable":  # genuine workbooks: read, never "not a spreadsheet"
        assert all(i.code != "unreadable" for i in outcome.issues)
        assert not any(NOT_A_SPREADSHEET in i.message for i in outcome.issues)
    if code == READ:
        assert len(outcome.issues) == 1


def test_english_words_are_caught():
    assert english_words("Tệp 'x.xls' bị hỏng (Cannot detect file format)") == {
        "Cannot",
        "detect",
        "file",
        "format",
    }
    assert not english_words("Tệp 'the file.xls' bị hỏng hoặc không đầy đủ (không mở được dạng nén ZIP)")


@pytest.mark.parametrize("name", ["41139.xls", "OOM_alloc3.xls"])
def test_baocao_check_prints_no_traceback(tmp_path, name):
    """The command as a coordinator runs it: these files made xlrd raise inside the reader, and
    the traceback went to the console; now one verdict in Vietnamese, and nothing on stderr."""
    config = write_config(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "baocao", "--config", str(config), "check", str(CORPUS / name)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr == ""
    assert f"{CORPUS / name}: KHÔNG ĐẠT: sẽ bị trả lại" in done.stdout
