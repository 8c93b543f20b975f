"""A1 cell-address arithmetic, in one place (as XlsxWriter keeps it in ``utility.py``).

Rows and columns are zero-based here, as xlsxwriter counts them; addresses are Excel's.
"""

from __future__ import annotations

import re
from functools import lru_cache

CELL_RE = re.compile(r"^\$?([A-Z]{1,3})\$?(\d{1,7})$")


def column_letters(col: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    if col < 0:
        raise ValueError(col)
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


@lru_cache(maxsize=8192)  # the same few dozen addresses, asked for every file
def cell_name(row: int, col: int, absolute: bool = False) -> str:
    """(13, 3) -> D14; with ``absolute`` -> $D$14."""
    if absolute:
        return f"${column_letters(col)}${row + 1}"
    return f"{column_letters(col)}{row + 1}"


@lru_cache(maxsize=8192)
def parse_cell(ref: str) -> tuple[int, int]:
    """D14 or $D$14 -> (13, 3). Raise ``ValueError`` for anything else."""
    match = CELL_RE.match(ref.strip().upper())
    if not match:
        raise ValueError(f"not a cell address: {ref!r}")
    letters, digits = match.groups()
    col = 0
    for ch in letters:
        col = col * 26 + (ord(ch) - 64)
    return int(digits) - 1, col - 1


def sheet_ref(sheet: str, cell: str) -> str:
    """An absolute reference usable in a defined name: ``=BaoCao!$D$14`` (quoted if needed)."""
    row, col = parse_cell(cell)
    quoted = sheet if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", sheet) else "'" + sheet.replace("'", "''") + "'"
    return f"={quoted}!{cell_name(row, col, absolute=True)}"
