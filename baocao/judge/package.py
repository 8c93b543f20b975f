"""Safe inspection of a spreadsheet package before any reader library opens it.

Why: python-calamine densifies each sheet into a ``rows x cols`` grid and *aborts the process*
when that allocation fails, e.g. for a 5 KB legal file with cells at A1 and XFD1048576 (calamine
issue 693; openpyxl hangs on it); ``ZipFile.read`` of a bomb entry allocates gigabytes. So each
file is checked here first, with bounded memory, and refused with a Vietnamese ``WorkbookError``
that says what the file is and what to do.

Checked: size; signature (zip, OLE2, an older BIFF stream, or what else it is: PDF, HTML…);
passwords (an encrypted .xlsx is OLE2 with ``EncryptionInfo``, an encrypted .xls has FILEPASS,
an encrypted .ods says so in its manifest); zip integrity, entry count, *actual* inflated
sizes and ratios (``zipscan``); DTDs (never legitimate in the parts anything reads: entity
bombs, XXE); each sheet's used area, and for readers that build every sheet at once (.xls,
.ods) their sum; required parts, found through the package's relationships (``ooxml``).
By-products: defined names, sheet parts, ODS formulas without saved results.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

from baocao.judge.biff import OLD_BIFF, OLE2_MAGIC, inspect_ole2, is_old_biff
from baocao.judge.odf import inspect_ods, is_ods
from baocao.judge.ooxml import read_book
from baocao.judge.safety import (
    CORRUPT_ZIP,
    HOSTILE,
    MIB,
    PASSWORD,
    SAVE_AS_XLSX,
    Extent,
    Package,
    ReadLimits,
    check_extents,
    not_a_spreadsheet,
    refuse,
)
from baocao.judge.zipscan import ZIP_MAGIC, entry_chunks, scan_zip

__all__ = [
    "EXTENSIONS",
    "HOSTILE",
    "PASSWORD",
    "Package",
    "ReadLimits",
    "entry_chunks",  # the bounded inflater, also used by the mail intake for zipped reports
    "inspect_package",
    "refuse",
]

EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods")
# Spreadsheets in a form the reader does not take: say so, and how to save a form it takes.
_OTHER_SPREADSHEETS = {
    ".xlsb": "Excel nhị phân (.xlsb)",
    ".xltx": "mẫu Excel (.xltx)",
    ".xltm": "mẫu Excel có macro (.xltm)",
    ".xlt": "mẫu Excel 97-2003 (.xlt)",
    ".et": "WPS Spreadsheets (.et)",
    ".ett": "mẫu WPS Spreadsheets (.ett)",
    ".fods": "OpenDocument dạng XML phẳng (.fods)",
    ".ots": "mẫu OpenDocument (.ots)",
    ".numbers": "Apple Numbers (.numbers)",
    ".csv": "văn bản CSV (.csv)",
}
# What a file with a spreadsheet's name may really be (first bytes, lower case, after a BOM).
_CONTENT_KINDS = (
    (b"%pdf", "một tệp PDF"),
    (b"<html", "một trang web (HTML)"),
    (b"<!doctype html", "một trang web (HTML)"),
    (b"<table", "một trang web (HTML)"),
    (b"{\\rtf", "một văn bản RTF"),
)


def inspect_package(path: Path, limits: ReadLimits) -> Package:
    """Check ``path`` without any reader library; return what the reader needs.

    Raises ``WorkbookError`` for a file that is empty, too big, not a spreadsheet (saying what it
    is when that is clear), in a spreadsheet format the reader does not take, password
    protected, corrupt, a decompression bomb, carries a DTD, or has sheets whose used area
    exceeds the limits.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext in _OTHER_SPREADSHEETS:
        raise refuse(
            path,
            f"là bảng tính dạng {_OTHER_SPREADSHEETS[ext]}, chương trình không đọc dạng này; {SAVE_AS_XLSX}",
        )
    if ext not in EXTENSIONS:
        raise refuse(path, "không phải bảng tính (chỉ nhận tệp .xlsx, .xlsm, .xls, .ods)")
    try:
        size = path.stat().st_size
        with path.open("rb") as fp:
            head = fp.read(512)
    except OSError as exc:
        raise refuse(path, "không mở được (tệp đang bị khoá hoặc không có quyền đọc)") from exc
    if size == 0:
        raise refuse(path, "là tệp rỗng (0 byte); hãy lưu lại bảng tính rồi gửi lại")
    if size > limits.max_file_bytes:
        raise refuse(path, f"quá lớn ({size / MIB:.1f} MB, tối đa {limits.max_file_bytes // MIB} MB)")
    if head.startswith(ZIP_MAGIC):
        return _inspect_zip(path, ext, limits)
    if head.startswith(OLE2_MAGIC):
        inspect_ole2(path, ext, limits)
        return Package("xls")
    if is_old_biff(head):
        raise refuse(path, OLD_BIFF)
    raise refuse(path, _what_else(head, ext))


def _what_else(head: bytes, ext: str) -> str:
    """Why a file with a spreadsheet's name is not one, naming what it is when that is clear."""
    text = head.replace(b"\x00", b"")  # UTF-16 text reads as ASCII without its zero bytes
    start = text.lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n").lower()
    if start.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in text:
        return f"là bảng tính dạng XML 2003, chương trình không đọc dạng này; {SAVE_AS_XLSX}"
    kind = next((label for prefix, label in _CONTENT_KINDS if start.startswith(prefix)), None)
    if kind is None:
        return not_a_spreadsheet(ext)
    return f"{not_a_spreadsheet(ext)} (nội dung là {kind}); {SAVE_AS_XLSX}"


def _inspect_zip(path: Path, ext: str, limits: ReadLimits) -> Package:
    """Stream every entry once with bounded memory, then parse the few parts we need."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > limits.max_entries:
                raise refuse(path, f"có quá nhiều thành phần bên trong ({len(infos)}); " + HOSTILE)
            if zf.fp is None:  # only after close(); here the archive is open
                raise refuse(path, CORRUPT_ZIP)
            scan = scan_zip(path, zf.fp, infos, limits)
            if is_ods(scan, ext):
                return inspect_ods(path, scan, limits)
            if scan.script_dtds:  # Basic macros only come with an .ods
                raise refuse(path, f"chứa khai báo XML bị cấm (DTD) ở '{scan.script_dtds[0]}'; {HOSTILE}")
            book = read_book(path, scan, ext)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, struct.error) as exc:
        raise refuse(path, CORRUPT_ZIP) from exc
    except (ValueError, NotImplementedError, OverflowError) as exc:  # zipfile on odd directories
        raise refuse(path, CORRUPT_ZIP) from exc
    extents = {sheet: scan.extents.get(part, Extent()) for sheet, part in book.sheet_parts.items()}
    check_extents(path, extents, limits, whole_book=False)  # the reader builds only the sheets it reads
    kind = "xlsx-strict" if book.strict else "xlsm" if book.macro or ext == ".xlsm" else "xlsx"
    return Package(kind, book.names, book.sheet_parts, formula_parts=frozenset(scan.formulas))
