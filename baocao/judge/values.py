"""What a cell value becomes on the way in: one place for the cleaning every reader applies.

Why cleaning and not an error: control characters (Excel's ``_x0001_`` escapes, characters
pasted from PDFs), zero-width spaces, soft hyphens and byte-order marks are invisible in Excel,
never meaningful in a report, and break what comes later (python-docx and openpyxl refuse
them, a unit code with a zero-width space matches nothing). So they are removed, and the odd
spaces PDFs paste (no-break, thin, ideographic) become plain spaces; line breaks stay (a
narrative answer may have paragraphs) as ``\\n``. What remains is NFC-normalised and stripped.
Numbers keep their type (NaN, infinities and huge values are judged by validation, not here);
an integral float becomes an int.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# C0 controls but tab and line feed, DEL, C1 controls, soft hyphen, zero-width space, word
# joiner, BOM, non-characters and lone surrogates (which no encoder accepts).
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b\u2060\ufeff\ufffe\uffff\ud800-\udfff]"
)
_ODD_SPACES = re.compile("[\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_LINE_BREAKS = re.compile("\r\n?|[\u2028\u2029]")

EXCEL_CELL_CHARS = 32_767  # the most characters one Excel cell holds


_KEPT_CHARS = 512  # texts up to this long are kept once cleaned (2,048 of them: a few MB at most)


def clean_text(text: str) -> str:
    """Invisible characters removed, odd spaces made plain, line breaks ``\\n``, NFC, stripped.

    A short text is cleaned once and kept: the same text is cleaned when read and again when
    judged (``convert.text_of``, several times per field), and most recur from file to file
    (the ``_meta`` keys, codes, choices); looking one up costs far less than cleaning it.
    """
    return _clean_kept(text) if len(text) <= _KEPT_CHARS else _clean(text)


def _clean(text: str) -> str:
    if text.isprintable():  # the common case: nothing to remove or replace but maybe NFC
        return unicodedata.normalize("NFC", text).strip()
    text = _INVISIBLE.sub("", _LINE_BREAKS.sub("\n", text))
    return unicodedata.normalize("NFC", _ODD_SPACES.sub(" ", text)).strip()


_clean_kept = lru_cache(maxsize=2048)(_clean)


def clean(value: object) -> object:
    """Normalise one cell value: cleaned text (blank -> None), integral floats -> int."""
    if isinstance(value, str):
        return clean_text(value) or None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
