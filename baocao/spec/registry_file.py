"""The rows of a registry file as a coordinator's Excel saves it: any of its CSV flavours, or XLSX.

Why so tolerant: the registry is kept in Excel by a coordinator on Vietnamese Windows, whose
"Save As" offers several text forms, none of them plain UTF-8 with commas: "CSV" is the ANSI
code page (cp1258) with ``;`` between cells (the list separator of the Vietnamese locale),
"CSV UTF-8" has a byte-order mark, "Unicode Text" is UTF-16 with tabs. Excel also keeps rows
that once held something as ``;;;;;;;`` lines at the end. Each of these reads the same; what
cannot be read gets one Vietnamese line saying how to save the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from pathlib import Path

from baocao.errors import ConfigError
from baocao.spec.tomlfile import decode_text

Row = dict[str, object]
_DELIMITERS = (",", ";", "\t")
SAVE_AS_CSV = "hãy mở bằng Excel, chọn Lưu thành (Save As) dạng CSV UTF-8 (Comma delimited) rồi thử lại"


def cell_text(value: object) -> str:
    """A cell as stripped NFC text ("" for empty); a whole number typed in Excel without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFC", str(value).strip())


def read_rows(path: Path) -> list[tuple[int, Row]]:
    """``(line number, {column: value})`` for every non-blank row under the header.

    Column names are matched without case or surrounding spaces. Raises ``ConfigError`` for a
    file that cannot be decoded or read, or a row with more filled cells than the header.
    """
    if path.suffix.lower() == ".csv":
        return _csv_rows(path)
    return _xlsx_rows(path)


def _decode(path: Path, data: bytes) -> str:
    """UTF-8 (BOM or not), UTF-16 (Excel's "Unicode Text"), else the Vietnamese ANSI code page."""
    try:
        return decode_text(data)
    except UnicodeDecodeError:
        pass
    if data[:200].count(b"\x00") > 20:  # UTF-16 that lost its BOM
        try:
            return data.decode("utf-16-le")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("cp1258")
    except UnicodeDecodeError:
        raise ConfigError(
            f"Danh mục đơn vị {path.name}: không đọc được mã ký tự của tệp; {SAVE_AS_CSV}"
        ) from None


def _csv_rows(path: Path) -> list[tuple[int, Row]]:
    try:
        text = _decode(path, path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"Không đọc được danh mục đơn vị {path} ({exc.strerror})") from None
    if text.startswith(codecs.BOM_UTF8.decode("utf-8")):
        text = text[1:]
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(_DELIMITERS, key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    header: list[str] | None = None
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines and Excel's ;;;;;;; rows
        if header is None:
            header = [cell_text(cell).lstrip("\ufeff").lower() for cell in cells]
            continue
        rows.append((reader.line_num, _row(path, header, cells, reader.line_num)))
    return rows


def _xlsx_rows(path: Path) -> list[tuple[int, Row]]:
    from openpyxl import load_workbook  # only registries in xlsx need it

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            table = list(workbook.worksheets[0].iter_rows(values_only=True))
        finally:
            workbook.close()
    except Exception as exc:  # openpyxl raises many kinds for a damaged or mislabelled file
        raise ConfigError(
            f"Danh mục đơn vị {path.name}: không mở được tệp Excel (tệp hỏng, có mật khẩu hoặc không phải"
            " .xlsx); hãy mở bằng Excel và lưu lại dạng .xlsx hoặc CSV UTF-8"
        ) from exc
    filled = [(n, row) for n, row in enumerate(table, start=1) if any(cell_text(v) for v in row)]
    if not filled:
        return []
    header = [cell_text(h).lower() for h in filled[0][1]]
    return [(n, _row(path, header, list(row), n)) for n, row in filled[1:]]


def _row(path: Path, header: list[str], cells: list, line: int) -> Row:
    extra = [cell for cell in cells[len(header) :] if cell_text(cell)]
    if extra:
        raise ConfigError(
            f"{path.name} dòng {line}: có nhiều ô hơn dòng tiêu đề ({len(header)} cột); tên có dấu phẩy"
            " hoặc chấm phẩy phải nằm trong dấu nháy kép (Excel tự làm việc này khi lưu)"
        )
    return {name: cells[i] if i < len(cells) else None for i, name in enumerate(header) if name}
