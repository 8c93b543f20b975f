"""Where an .xlsx keeps its workbook, sheets and names, found the way OPC says: by relationships.

Why not just ``xl/workbook.xml``: the package's root relationships (``_rels/.rels``) name the
workbook part, and generators do put it elsewhere (``workbook.xml`` at the root, ``wtf/…``).
ISO 29500 Strict workbooks use other namespaces (``http://purl.oclc.org/ooxml/…``) for the
same structure: they are read the same way and flagged, because openpyxl reads no sheet of
them. Elements are matched by local name, so either namespace (or a prefixed one) works.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from baocao.judge.safety import HOSTILE, not_a_spreadsheet, refuse
from baocao.judge.zipscan import ZipScan, normal
from baocao.model import CellRef

STRICT_PREFIX = "http://purl.oclc.org/ooxml/"
SHEET_NAME = r"(?:'((?:[^']|'')+)'|([^'!.:\s]+))"
XLSX_REF = re.compile(rf"^=?{SHEET_NAME}!\$?([A-Za-z]{{1,3}})\$?([0-9]{{1,7}})$")
# What a zip's main document is when it is not a workbook: named, so the clerk knows what he sent.
_OTHER_DOCUMENTS = {"document": "văn bản Word", "presentation": "bài trình chiếu PowerPoint"}


@dataclass(frozen=True)
class Book:
    """The workbook part's findings: names, sheet name -> entry, flavour."""

    names: dict[str, CellRef]
    sheet_parts: dict[str, str]
    strict: bool
    macro: bool


def parse_part(path: Path, data: bytes | None, name: str) -> Element:
    """Parse one package part with defusedxml: entities and DTDs are refused, never expanded."""
    if data is None:
        raise refuse(path, f"bị hỏng: thiếu phần '{name}'; hãy mở bằng Excel, lưu lại rồi gửi lại")
    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise refuse(path, f"chứa khai báo XML bị cấm ở '{name}'; {HOSTILE}") from exc
    except (ParseError, ValueError) as exc:
        raise refuse(
            path, f"bị hỏng: không đọc được phần '{name}'; hãy mở bằng Excel, lưu lại rồi gửi lại"
        ) from exc


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _namespace(tag: str) -> str:
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def _rels_of(part: str) -> str:
    folder, _, name = part.rpartition("/")
    return f"{folder}/_rels/{name}.rels" if folder else f"_rels/{name}.rels"


def _relationships(path: Path, scan: ZipScan, part: str) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type, normal target) of ``part`` (``""``: the package itself)."""
    rels_name = _rels_of(part) if part else "_rels/.rels"
    data = scan.part(rels_name)
    if data is None:
        return {}
    base = part.rpartition("/")[0]
    found = {}
    for el in parse_part(path, data, rels_name).iter():
        if local(el.tag) == "Relationship" and el.get("TargetMode") != "External":
            target = el.get("Target", "").replace("\\", "/")
            full = target.lstrip("/") if target.startswith("/") else posixpath.join(base, target)
            found[el.get("Id", "")] = (el.get("Type", ""), normal(posixpath.normpath(full)))
    return found


def workbook_part(path: Path, scan: ZipScan, ext: str) -> str:
    """The normal name of the main document part, by the package's root relationship."""
    for rel_type, target in _relationships(path, scan, "").values():
        if rel_type.endswith("/officeDocument") and target in scan.entries:
            return target
    if "xl/workbook.xml" in scan.entries:  # no usable root relationship: the usual place
        return "xl/workbook.xml"
    raise refuse(path, not_a_spreadsheet(ext))


def read_book(path: Path, scan: ZipScan, ext: str) -> Book:
    """Defined names (single cells, workbook scope), sheet parts and flavour of an .xlsx."""
    part = workbook_part(path, scan, ext)
    root = parse_part(path, scan.part(part), scan.name(part) or part)
    if local(root.tag) != "workbook":
        other = _OTHER_DOCUMENTS.get(local(root.tag))
        raise refuse(path, f"là {other}, không phải bảng tính" if other else not_a_spreadsheet(ext))
    targets = _relationships(path, scan, part)
    names: dict[str, CellRef] = {}
    sheets: dict[str, str] = {}
    for el in root.iter():
        tag = local(el.tag)
        if tag == "sheet":
            rid = next((v for k, v in el.attrib.items() if local(k) == "id" and "}" in k), None)
            rel_type, target = targets.get(rid or "", ("", ""))
            if "macrosheet" in rel_type.rpartition("/")[2].lower():  # xlMacrosheet, xlIntlMacrosheet
                raise refuse(
                    path,
                    f"có trang macro Excel 4.0 ('{el.get('name', '')}'); {HOSTILE}",
                )
            entry = scan.name(target)
            if entry is not None:
                sheets[el.get("name", "")] = entry
        elif tag == "definedName" and el.get("localSheetId") is None:
            ref = single_cell(XLSX_REF, el.text or "")
            if ref is not None:
                names[el.get("name", "")] = ref
    types = scan.part("[content_types].xml")
    macro = types is not None and any(
        "macroEnabled" in el.get("ContentType", "")
        for el in parse_part(path, types, "[Content_Types].xml").iter()
    )
    return Book(names, sheets, _namespace(root.tag).startswith(STRICT_PREFIX), macro)


def single_cell(pattern: re.Pattern[str], text: str) -> CellRef | None:
    """``'Bao Cao'!$D$14`` / ``$BaoCao.$D$14`` -> CellRef; None for ranges, #REF! and the like."""
    match = pattern.match(text.strip())
    if match is None:
        return None
    quoted, bare, col, row = match.groups()
    if bare is not None and bare.upper() == "#REF":  # a name left behind by a deleted sheet
        return None
    sheet = quoted.replace("''", "'") if quoted is not None else bare
    return CellRef(sheet, f"{col.upper()}{row}")
