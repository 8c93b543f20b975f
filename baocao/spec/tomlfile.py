"""Reading a TOML file that a person edits by hand, with errors that person can act on.

Why: ``config.toml`` is edited in Notepad on Windows months after it was written. Notepad may
save it with a byte-order mark or as UTF-16 ("Unicode"); a Windows path pasted between double
quotes (``"D:\\baocao\\inbox"``) is a TOML error, since ``\\`` starts an escape there. tomllib
says so in English with a line and column; here the coordinator gets one Vietnamese line that
names the line, shows it, and says what to write instead.
"""

from __future__ import annotations

import codecs
import re
import tomllib
from pathlib import Path
from typing import Any

from baocao.errors import ConfigError

_WHERE = re.compile(r"\(at line (\d+), column (\d+)\)|\(at end of document\)")
# tomllib's messages -> what they mean to someone editing the file
_MEANINGS = (
    ("Unescaped '\\'", ""),  # answered with the backslash advice
    ("Invalid value", 'giá trị không hợp lệ (chữ phải đặt trong dấu nháy kép, ví dụ name = "Sở Nội vụ")'),
    ("Cannot overwrite", "một khóa hoặc một bảng được khai báo hai lần"),
    ("Cannot declare", "một khóa hoặc một bảng được khai báo hai lần"),
    ("Unterminated string", "thiếu dấu nháy đóng chuỗi"),
    ("Unclosed array", "thiếu dấu ] đóng danh sách"),
    ("Unclosed inline table", "thiếu dấu } đóng bảng"),
    ("Expected '=' after a key", "thiếu dấu = giữa tên khóa và giá trị"),
    ("Expected newline or end of document", "mỗi dòng chỉ được một khóa = giá trị"),
    ("Invalid statement", "dòng không phải khóa = giá trị hay [tên bảng]"),
    ("Illegal character", "có ký tự không được phép (ký tự điều khiển)"),
)
_UTF8 = "tệp phải được lưu với mã UTF-8 (trong Notepad: Lưu thành, chọn Mã hoá UTF-8)"
_QUOTED_BACKSLASH = re.compile(r'"[^"]*(?<!\\)\\(?!\\)')  # a lone \ after a double quote
BACKSLASH_ADVICE = (
    "dấu \\ trong chuỗi đặt giữa nháy kép là ký tự thoát của TOML, nên đường dẫn Windows không viết"
    ' được như vậy; hãy dùng dấu /, ví dụ "D:/baocao/inbox", hoặc đặt đường dẫn trong nháy đơn, ví dụ'
    " 'D:\\baocao\\inbox'"
)


def decode_text(data: bytes) -> str:
    """UTF-8 with or without a BOM, or UTF-16 with its BOM (Notepad's "Unicode").

    Raises ``UnicodeDecodeError`` for anything else: guessing an 8-bit encoding would turn
    Vietnamese names into other letters without a word.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def read_toml(path: Path) -> dict[str, Any]:
    """Parse ``path``; raise ``ConfigError`` in one Vietnamese line for a missing file, a file
    in another encoding, or bad TOML (naming the line and what to write instead)."""
    try:
        text = decode_text(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"Không tìm thấy tệp cấu hình {path}") from None
    except OSError as exc:
        raise ConfigError(f"Không đọc được tệp cấu hình {path} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path.name}: tệp phải được lưu với mã UTF-8 (trong Notepad: Lưu thành, Mã hoá UTF-8)"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: {_explain(str(exc), text)}") from None


def _explain(message: str, text: str) -> str:
    """tomllib's English message -> "dòng N (…): what is wrong"."""
    where = _WHERE.search(message)
    lines = text.splitlines()
    line_no = int(where[1]) if where and where[1] else 0
    if not line_no:  # "at end of document": most often a \" that escaped its closing quote
        line_no = next((i for i, line in enumerate(lines, 1) if _QUOTED_BACKSLASH.search(line)), 0)
    line = lines[line_no - 1].strip() if 0 < line_no <= len(lines) else ""
    place = f"dòng {line_no}" if line_no else "cuối tệp"
    if line:
        place += f" ({line if len(line) <= 80 else line[:79] + '…'})"
    if message.startswith("Unescaped '\\'") or _QUOTED_BACKSLASH.search(line):
        return f"{place}: {BACKSLASH_ADVICE}"
    meaning = next((vi for en, vi in _MEANINGS if message.startswith(en) and vi), "sai cú pháp TOML")
    return f"{place}: {meaning}"
