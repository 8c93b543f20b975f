"""Small checkers for the values of ``config.toml``: each returns the converted value or raises
``ConfigError`` naming the key, what is wrong and what is expected, in one Vietnamese line.

Why a module of its own: every section of the loader (``spec.config``, ``spec.config_mail``,
``spec.config_periods``) checks its keys with the same few functions and the same wording, so
a coordinator reads one kind of message whatever table the mistake is in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

from baocao.errors import ConfigError
from baocao.spec.tomlfile import BACKSLASH_ADVICE


def _fail(key: str, problem: str, expected: str) -> ConfigError:
    return ConfigError(f"config.toml: khóa '{key}': {problem}; cần {expected}")


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(key, f"giá trị {value!r} không hợp lệ", "một chuỗi không rỗng")
    return unicodedata.normalize("NFC", value.strip())


def _path_text(key: str, value: Any) -> str:
    """A path. One with a control character came from a Windows path between double quotes whose
    backslashes TOML read as escapes (``"D:\\baocao\\new"``: ``\\b`` and ``\\n`` are valid ones)."""
    text = _text(key, value)
    if any(ch < " " for ch in text):
        raise ConfigError(f"config.toml: khóa '{key}': {BACKSLASH_ADVICE}")
    return text


def _int_in(lo: int, hi: int) -> Callable[[str, Any], int]:
    def check(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise _fail(key, f"giá trị {value!r} không hợp lệ", f"số nguyên từ {lo} đến {hi}")
        return value

    return check


def _float_in(lo: float, hi: float) -> Callable[[str, Any], float]:
    def check(key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise _fail(key, f"giá trị {value!r} không hợp lệ", f"số từ {lo:g} đến {hi:g}")
        return float(value)

    return check


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(key, f"giá trị {value!r} không hợp lệ", "true hoặc false")
    return value


def _one_of(*choices: str) -> Callable[[str, Any], str]:
    def check(key: str, value: Any) -> str:
        if value not in choices:
            raise _fail(key, f"giá trị {value!r} không hợp lệ", "một trong " + ", ".join(choices))
        return value

    return check


def _blank_or_text(key: str, value: Any) -> str:
    """A string that may be empty (an empty value is a deliberate "leave it for a person")."""
    if not isinstance(value, str):
        raise _fail(key, f"giá trị {value!r} không hợp lệ", "một chuỗi (có thể rỗng)")
    return unicodedata.normalize("NFC", value.strip())


def _texts(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _fail(key, f"giá trị {value!r} không hợp lệ", 'một danh sách chuỗi, ví dụ ["UBND tỉnh (b/c)"]')
    return tuple(_text(f"{key}[{i}]", v) for i, v in enumerate(value))


def _base_url(key: str, value: Any) -> str:
    text = _text(key, value).rstrip("/")
    if not re.fullmatch(r"https?://[A-Za-z0-9.\-]+(:\d{1,5})?(/[A-Za-z0-9._~\-/]*)?", text):
        raise _fail(key, f"giá trị {value!r} không hợp lệ", 'địa chỉ dạng "https://baocao.snv.example"')
    return text


def _optional_text(key: str, value: Any) -> str | None:
    return None if value in (None, "") else _text(key, value)


def _table(data: dict[str, Any], name: str, schema: dict[str, Callable[[str, Any], Any]]):
    """Check one TOML table against ``schema``; return the converted values present."""
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise _fail(name, "phải là một bảng", f"[{name}]")
    for key in table:
        if key not in schema:
            known = ", ".join(schema)
            raise _fail(f"{name}.{key}", "khóa không được hỗ trợ", f"một trong: {known}")
    return {key: schema[key](f"{name}.{key}", value) for key, value in table.items()}
