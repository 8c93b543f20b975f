"""An OpenDocument spreadsheet (.ods) that passed the zip scan: passwords, names, areas, formulas.

A password-protected .ods is still a zip with a plain ``mimetype``; what is encrypted is the
content, which the manifest says (``manifest:encryption-data`` per entry, or one
``encrypted-package`` entry for LibreOffice's whole-package encryption). ``content.xml`` is
read in one streaming pass for named ranges, each sheet's used area (only cells with a value:
LibreOffice legitimately writes empty rows repeated a million times) and formulas without a
saved result.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from baocao.a1 import column_letters
from baocao.judge.ooxml import SHEET_NAME, local, parse_part, single_cell
from baocao.judge.safety import HOSTILE, PASSWORD, Extent, Package, ReadLimits, check_extents, refuse
from baocao.judge.zipscan import ZipScan
from baocao.model import CellRef

ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_ODS_REF = re.compile(rf"^\$?{SHEET_NAME}\.\$?([A-Za-z]{{1,3}})\$?([0-9]{{1,7}})$")


def is_ods(scan: ZipScan, ext: str) -> bool:
    """An ODF spreadsheet by its ``mimetype`` entry (or, without one, a content.xml in an .ods)."""
    mimetype = scan.part("mimetype")
    if mimetype is not None:
        return mimetype.strip() == ODS_MIMETYPE
    return ext == ".ods" and "content.xml" in scan.entries


def inspect_ods(path: Path, scan: ZipScan, limits: ReadLimits) -> Package:
    """Refuse an encrypted or oversized .ods; return its names and formulas without results."""
    if "encrypted-package" in scan.entries or _manifest_encrypts(path, scan):
        raise refuse(path, PASSWORD)
    content = scan.part("content.xml")
    if content is None:
        raise refuse(path, "bị hỏng: thiếu phần 'content.xml'; hãy mở bằng LibreOffice, lưu lại rồi gửi lại")
    names: dict[str, CellRef] = {}
    extents: dict[str, Extent] = {}
    formula_only: dict[str, set[str]] = {}
    sheet, row, col, rows_rep = "", 0, 0, 1
    try:
        for event, el in SafeET.iterparse(io.BytesIO(content), ("start", "end"), forbid_dtd=True):
            tag = el.tag
            if event == "start":
                if tag == _TABLE + "table":
                    sheet, row = el.get(_TABLE + "name", ""), 0
                    extents[sheet], formula_only[sheet] = Extent(), set()
                elif tag == _TABLE + "table-row":
                    col, rows_rep = 0, _count(el.get(_TABLE + "number-rows-repeated"))
            elif tag in (_TABLE + "table-cell", _TABLE + "covered-table-cell"):
                reps = _count(el.get(_TABLE + "number-columns-repeated"))
                has_value = el.get(_OFFICE + "value-type") is not None
                if has_value or len(el):
                    extents.setdefault(sheet, Extent()).add(row, col, rows_rep, reps)
                if el.get(_TABLE + "formula") and not has_value:
                    formula_only.setdefault(sheet, set()).add(f"{column_letters(col)}{row + 1}")
                col += reps
                el.clear()
            elif tag == _TABLE + "table-row":
                row += rows_rep
                el.clear()
            elif tag == _TABLE + "named-range":
                ref = single_cell(_ODS_REF, el.get(_TABLE + "cell-range-address", ""))
                if ref is not None:
                    names[el.get(_TABLE + "name", "")] = ref
    except DefusedXmlException as exc:
        raise refuse(path, f"chứa khai báo XML bị cấm ở 'content.xml'; {HOSTILE}") from exc
    except (ParseError, ValueError) as exc:
        raise refuse(
            path, "bị hỏng: không đọc được phần 'content.xml'; hãy mở bằng LibreOffice, lưu lại rồi gửi lại"
        ) from exc
    check_extents(path, extents, limits, whole_book=True)  # calamine builds every sheet at once
    frozen = {s: frozenset(cells) for s, cells in formula_only.items() if cells}
    return Package("ods", names, formula_only=frozen)


def _manifest_encrypts(path: Path, scan: ZipScan) -> bool:
    manifest = scan.part("meta-inf/manifest.xml")
    if manifest is None:
        return False
    return any(
        local(el.tag) == "encryption-data"
        for el in parse_part(path, manifest, "META-INF/manifest.xml").iter()
    )


def _count(text: str | None) -> int:
    return int(text) if text else 1
