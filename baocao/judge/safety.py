"""What every package check shares: the limits, the measured areas, the verdict and its words.

``package`` (the entry), ``zipscan``/``ooxml``/``odf`` (zip packages) and ``biff`` (OLE2 and
older .xls) each check one kind of file; they meet here so that none imports another's room.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from baocao.a1 import column_letters
from baocao.errors import WorkbookError
from baocao.model import CellRef

HOSTILE = "có thể là tệp độc hại hoặc bị hỏng, không được đọc"
PASSWORD = "được đặt mật khẩu; hãy gỡ mật khẩu rồi gửi lại"
CORRUPT_ZIP = "bị hỏng hoặc không đầy đủ (không mở được dạng nén ZIP); hãy lưu lại rồi gửi lại"
CORRUPT_XLS = "bị hỏng, không đọc được cấu trúc tệp .xls; hãy mở bằng Excel, lưu lại rồi gửi lại"
SAVE_AS_XLSX = "hãy mở tệp, chọn Lưu thành (Save As) dạng Sổ làm việc Excel (.xlsx) rồi gửi lại"
MIB = 1 << 20


def not_a_spreadsheet(ext: str) -> str:
    """The one wording for "this is not a spreadsheet", so tests and callers can recognise it."""
    return f"không phải bảng tính Excel dù có đuôi {ext}"


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what one unit's file may cost to read, all checked before any parsing.

    ``max_cells`` bounds one sheet's used area (rows x cols, the grid the reader builds for a
    sheet it reads); ``max_total_cells`` bounds the sum over all sheets of an .xls or .ods,
    whose reader builds every sheet's grid when it opens the file.
    """

    max_file_bytes: int = 20 * 2**20
    max_unpacked_bytes: int = 200 * 2**20  # sum over entries, actual bytes
    max_entry_ratio: float = 200.0  # per entry, checked once an entry passes 1 MiB
    max_entries: int = 2000
    max_rows: int = 100_000
    max_cols: int = 16_384  # Excel's own; the area is what bounds memory
    max_cells: int = 5_000_000
    max_total_cells: int = 5_000_000
    timeout_seconds: float = 60.0  # per file, batch reader only


@dataclass
class Extent:
    """The used area of one sheet as 0-based corners, grown cell by cell."""

    top: int = 1 << 62
    left: int = 1 << 62
    bottom: int = -1
    right: int = -1

    def add(self, row: int, col: int, rows: int = 1, cols: int = 1) -> None:
        self.top, self.left = min(self.top, row), min(self.left, col)
        self.bottom, self.right = max(self.bottom, row + rows - 1), max(self.right, col + cols - 1)

    @property
    def area(self) -> int:
        if self.bottom < 0:
            return 0
        return (self.bottom - self.top + 1) * (self.right - self.left + 1)

    def too_big(self, limits: ReadLimits) -> bool:
        if self.bottom < 0:
            return False
        return self.bottom >= limits.max_rows or self.right >= limits.max_cols or self.area > limits.max_cells


@dataclass(frozen=True)
class Package:
    """What the reader needs from a file that passed every check.

    ``format``: ``xlsx``, ``xlsm``, ``xlsx-strict`` (ISO 29500 Strict: openpyxl reads no sheet
    of it, so feedback rebuilds a template), ``xls`` or ``ods``. ``names``: workbook-level
    defined names that refer to one cell (empty for .xls, where xlrd reads them);
    ``sheet_parts``: sheet name -> zip entry name (xlsx); ``formula_only``: per sheet, ODS
    cells holding a formula without a saved result; ``formula_parts``: the worksheet entries
    that hold a formula (None: not known), so that the reader searches only those (and any
    sheet stored elsewhere) for formulas without a saved result.
    """

    format: str
    names: dict[str, CellRef] = field(default_factory=dict)
    sheet_parts: dict[str, str] = field(default_factory=dict)
    formula_only: dict[str, frozenset[str]] = field(default_factory=dict)
    formula_parts: frozenset[str] | None = None

    def may_have_formulas(self, part: str) -> bool:
        if self.formula_parts is None or not is_worksheet_entry(part):
            return True
        return part in self.formula_parts


def is_worksheet_entry(name: str) -> bool:
    """A zip entry the scan searches for formulas: any ``…/worksheets/…`` part, whatever the
    folder the workbook lives in and however its name is written."""
    return "worksheets/" in name.replace("\\", "/").lower()


def refuse(path: Path, reason: str) -> WorkbookError:
    """A ``WorkbookError`` that starts with the file name: a clerk may have sent several."""
    return WorkbookError(f"Tệp '{path.name}' {reason}")


def column_index(letters: str) -> int:
    """Letters to a 0-based index, any length: hostile files are not limited to XFD like a1."""
    col = 0
    for ch in letters.upper():
        col = col * 26 + ord(ch) - 64
    return col - 1


def check_extents(path: Path, extents: dict[str, Extent], limits: ReadLimits, *, whole_book: bool) -> None:
    """Refuse a sheet whose used area is past the limits; with ``whole_book`` (readers that
    build every sheet at once: .xls, .ods) also a workbook whose sheets add up past them."""
    for sheet, extent in extents.items():
        if extent.too_big(limits):
            far = f"{column_letters(extent.right)}{extent.bottom + 1}"
            raise refuse(
                path,
                f"có trang tính '{sheet}' với vùng dữ liệu quá lớn (tới ô {far}); hãy xoá các ô"
                " thừa nằm xa vùng báo cáo rồi gửi lại",
            )
    total = sum(extent.area for extent in extents.values())
    if whole_book and total > limits.max_total_cells:
        raise refuse(
            path,
            f"có {len(extents)} trang tính với tổng vùng dữ liệu quá lớn ({_thousands(total)} ô, tối đa"
            f" {_thousands(limits.max_total_cells)}); hãy xoá các trang và ô thừa rồi gửi lại",
        )


def _thousands(number: int) -> str:
    """48.024.000: the Vietnamese way of grouping digits."""
    return f"{number:,}".replace(",", ".")
