"""The fast feedback writer (``xlsxpatch`` over ``xlsxzip``) against the openpyxl one, on real files.

Filled templates of the form (as the bench makes them: ``render_template`` with values from the
form spec, with real flaws the validator finds) and a LibreOffice-saved file are marked up by
both routes; what a clerk sees must be the same: sheets, cell values, fills, comments, the
issues sheet with its rows, links, merged cells, sizes and print setup. The caches (parts every
file of a template shares) must give the bytes a cold start gives; the zip the writer makes
must read back with any inflater.
"""

from __future__ import annotations

import contextlib
import io
import random
import re
import zipfile
import zlib
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from baocao import api
from baocao.judge.reader import read_workbook
from baocao.judge.validate import Context, validate
from baocao.model import Issue, Severity
from baocao.recent import Recent
from baocao.spec.samples import sample_values, with_flaw
from baocao.workbook import feedback, feedback_book, xlsxpatch, xlsxzip
from baocao.workbook.answer import issues_page
from baocao.workbook.template import render_template

LO_XLSX = Path(__file__).parent / "fixtures" / "libreoffice" / "DT_TG_2025-Q1_saved_by_libreoffice.xlsx"
RECEIVED = datetime(2025, 3, 8, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
# several flaws in one file: errors and warnings, cross-field rules (two cells marked)
FLAWED = {
    "DT_TG": ("text_in_number", "rule", "warning"),
    "DT_VP": ("missing_required", "bad_phone"),
    "NV_VP": ("warning",),
}


def judged_file(dep, tmp_path: Path, unit_code: str, flaws: tuple[str, ...]):
    """A filled template of ``unit_code`` with ``flaws``, its path, the issues the validator
    finds in it and the first sheet's page, as collect words them."""
    period = dep.period("2025-Q1")
    rng = random.Random(unit_code)
    values = sample_values(dep.form, rng, period, unit=unit_code, today=RECEIVED.date())
    for kind in flaws:
        values, _ = with_flaw(dep.form, values, kind, rng)
    unit = dep.unit(unit_code, period)
    path = tmp_path / f"{unit_code}.xlsx"
    path.write_bytes(
        render_template(dep.form, replace(api.template_context(dep, unit, period), values=values))
    )
    return path, *judged(dep, path)


def judged(dep, path: Path):
    raw = read_workbook(path, dep.catalog.layouts(), version_field=dep.catalog.version_field)
    context = Context(
        dep.catalog, dep.registry, dep.settings.period_kinds, RECEIVED.date(), {}, dep.signing_key
    )
    outcome = validate(raw, context)
    errors = sum(1 for i in outcome.issues if i.severity == Severity.ERROR)
    period = dep.period(outcome.period) if outcome.period else None
    page = issues_page(
        dep,
        original_name=path.name,
        received_at=RECEIVED,
        accepted=outcome.accepted,
        errors=errors,
        notes=len(outcome.issues) - errors,
        unit=outcome.filed_under,
        period=period,
    )
    return outcome.issues, page


def what_a_clerk_sees(content: bytes) -> dict:
    """Every sheet's cells (value, fill, comment, link, format, font, alignment, border), merged
    cells, frozen panes, row heights, column widths and print setup; the tabs and the active one.

    An empty text cell reads as empty (openpyxl drops it on saving), ``tabSelected`` and
    ``wrapText`` as bools (openpyxl writes False where the file had nothing).
    """
    book = openpyxl.load_workbook(io.BytesIO(content))
    seen: dict = {
        "sheets": book.sheetnames,
        "active": book.active.title,
        "selected": [bool(ws.sheet_view.tabSelected) for ws in book.worksheets],
    }
    for ws in book.worksheets:
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                fill = (c.fill.fill_type, c.fill.fgColor.rgb) if c.fill.fill_type else None
                cells[c.coordinate] = (
                    None if c.value == "" else c.value,
                    fill,
                    c.comment.text if c.comment else None,
                    c.hyperlink.location if c.hyperlink else None,
                    c.number_format,
                    (c.font.b, c.font.name, c.font.u, c.font.color.rgb if c.font.color else None),
                    (c.alignment.horizontal, c.alignment.vertical, bool(c.alignment.wrap_text)),
                    c.border.left.style,
                )
        setup = ws.page_setup
        seen[ws.title] = {
            "cells": cells,
            "merged": sorted(map(str, ws.merged_cells.ranges)),
            "frozen": ws.freeze_panes,
            "heights": {r: d.height for r, d in ws.row_dimensions.items() if d.height},
            "widths": {k: d.width for k, d in ws.column_dimensions.items() if d.customWidth},
            "print": (setup.orientation, setup.paperSize, setup.fitToWidth, setup.fitToHeight, ws.print_area),
            "fit": ws.sheet_properties.pageSetUpPr.fitToPage if ws.sheet_properties.pageSetUpPr else None,
            "validations": len(ws.data_validations.dataValidation),
        }
    return seen


def both_routes(path: Path, issues, page) -> tuple[bytes, bytes]:
    fast = feedback.fast_feedback(path.read_bytes(), issues, page)
    assert fast is not None  # these files take the fast route
    marks, sheet = feedback._patch_marks(issues), feedback._patch_sheet(issues, page)
    slow = feedback_book.marked_up(feedback_book.Base(source=path), marks, sheet, feedback.ISSUES_SHEETS)
    return fast, slow


@pytest.mark.parametrize("unit", sorted(FLAWED))
def test_the_fast_writer_gives_what_openpyxl_gives_on_filled_templates(deployment, tmp_path, unit):
    path, issues, page = judged_file(deployment, tmp_path, unit, FLAWED[unit])
    assert len(issues) >= min(2, len(FLAWED[unit]))
    fast, slow = both_routes(path, issues, page)
    with zipfile.ZipFile(io.BytesIO(fast)) as zf:
        assert zf.testzip() is None
    seen = what_a_clerk_sees(fast)
    assert seen == what_a_clerk_sees(slow)
    marked = [c for c, v in seen["BaoCao"]["cells"].items() if v[1] and v[1][1] in ("FFFFC7CE", "FFF4B084")]
    assert len(marked) == len({c for i in issues for c in (i.cell, *i.also) if c})  # every cell, once


def test_the_fast_writer_gives_what_openpyxl_gives_on_a_libreoffice_file(deployment, tmp_path):
    issues, page = judged(deployment, LO_XLSX)  # valid but for its signature (a file-level note)
    compared = Issue(
        Severity.ERROR, "requires_positive", "Ô D27: 35 lượt, 0 lớp", "x", "BaoCao", "D27", ("D26",)
    )
    issues = [compared, *issues]  # a cross-field rule marks two cells
    fast, slow = both_routes(LO_XLSX, issues, page)
    assert what_a_clerk_sees(fast) == what_a_clerk_sees(slow)


def test_the_cached_template_parts_give_the_bytes_of_a_cold_start(deployment, tmp_path):
    files = [judged_file(deployment, tmp_path, unit, flaws) for unit, flaws in sorted(FLAWED.items())]
    cold = []
    for path, issues, page in files:
        Recent.clear_all()
        cold.append(feedback.fast_feedback(path.read_bytes(), issues, page))
    warm = [feedback.fast_feedback(path.read_bytes(), issues, page) for path, issues, page in files]
    warm_again = [feedback.fast_feedback(path.read_bytes(), issues, page) for path, issues, page in files]
    assert cold == warm == warm_again
    assert len(set(cold)) == len(cold)  # each file its own workbook


def test_a_spliced_entry_is_one_deflate_stream():
    head, body, tail = b"<worksheet>" * 50, "<c r='D27'>số liệu</c>".encode() * 300, b"</worksheet>" * 70
    spliced = xlsxzip.spliced(head, body, tail)
    assert zlib.decompress(spliced.data, -15) == head + body + tail
    assert spliced.crc == zlib.crc32(head + body + tail) and spliced.size == len(head + body + tail)
    package = xlsxzip.write([("a.xml", spliced), ("b.xml", xlsxzip.entry(b""))])
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        assert zf.testzip() is None and zf.read("a.xml") == head + body + tail and zf.read("b.xml") == b""


@pytest.mark.parametrize("size", [1, 300, 0xFFFF, 0xFFFF + 1, 3 * 0xFFFF + 7])
def test_a_spliced_entry_with_a_stored_rest_is_one_deflate_stream(size):
    """The part that differs from unit to unit after the cached tail is stored, in blocks of at
    most 65,535 bytes: zlib and zipfile read the whole part back."""
    head, body, tail = b"<worksheet>" * 50, "<c r='D27'>số liệu</c>".encode() * 300, b"<pageSetup/>" * 70
    rest = (b"<headerFooter>DV00001</headerFooter></worksheet>" * (size // 40 + 1))[:size]
    spliced = xlsxzip.spliced(head, body, tail, rest)
    whole = head + body + tail + rest
    assert zlib.decompress(spliced.data, -15) == whole
    assert spliced.crc == zlib.crc32(whole) and spliced.size == len(whole)
    with zipfile.ZipFile(io.BytesIO(xlsxzip.write([("a.xml", spliced)]))) as zf:
        assert zf.testzip() is None and zf.read("a.xml") == whole


def test_a_zip_with_bytes_before_it_is_listed_by_zipfile_and_read_the_same(deployment, tmp_path):
    path, _, _ = judged_file(deployment, tmp_path, "DT_VP", FLAWED["DT_VP"])
    plain = xlsxzip.Zip(path.read_bytes())
    prefixed = xlsxzip.Zip(b"MZ" + bytes(510) + path.read_bytes())  # as a self-extracting archive
    assert plain.fallback is None and prefixed.fallback is not None
    assert list(prefixed.members) == list(plain.members)
    assert all(prefixed.read(name) == plain.read(name) for name in plain.members)


def test_a_member_that_does_not_match_its_crc_is_refused(deployment, tmp_path):
    path, issues, page = judged_file(deployment, tmp_path, "NV_VP", FLAWED["NV_VP"])
    package = bytearray(path.read_bytes())
    name = b"xl/worksheets/sheet1.xml"
    crc_at = package.rindex(name) - 46 + 16  # the central directory's record of the sheet
    assert package[crc_at - 16 : crc_at - 12] == b"PK\x01\x02"
    package[crc_at] ^= 0xFF
    with pytest.raises(xlsxzip.BadPackage, match="CRC"):
        xlsxzip.Zip(bytes(package)).read(name.decode())
    with pytest.raises(xlsxpatch.Unpatchable):
        xlsxpatch.add_feedback(
            bytes(package), feedback._patch_marks(issues), feedback._patch_sheet(issues, page)
        )


def test_the_children_after_the_cells_are_read_the_same_when_reused_from_an_earlier_tail():
    """A sheet's XML after its cells is tokenized once per template: a later tail that shares
    the children before its footer reuses them, and gets what reading it whole gives, whatever
    differs (the footer, an earlier child, a comment never closed, a broken tag)."""
    from baocao.workbook.xlsxpatch import _TAIL_SHAPES, _children, _top_level

    head = "<worksheet><sheetData>"
    base = (
        '<sheetProtection sheet="1"/><mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells>'
        '<pageMargins left="0.6"/><headerFooter><oddFooter>Đơn vị {unit}</oddFooter></headerFooter>'
        "</worksheet>"
    )
    tails = [
        base.format(unit="DV00001"),
        base.format(unit="DV00002"),  # the footer differs: reused
        base.format(unit="DV0003 dài hơn"),
        base.format(unit="DV1").replace('left="0.6"', 'left="0.7"'),  # an earlier child differs
        base.format(unit="DV1") + "<!-- late -->",
        base.format(unit="DV1").replace("<pageMargins", "<!-- <pageMargins"),  # never closed
        base.format(unit="DV1").replace("<headerFooter>", "<headerFooter><x:a xmlns:x='u'/>"),
        base.format(unit="DV1").replace("<mergeCells", "<tableParts/><mergeCells"),
        base.format(unit="DV1").replace("</headerFooter>", "</headerFooter><extLst/>"),
        base.format(unit="DV1").replace("<oddFooter>", "<oddFooter><b>"),  # unbalanced: ends early
        # a comment never closed, then closed after the children it would now swallow
        base.format(unit="DV1").replace("<mergeCells", "<!-- <mergeCells"),
        base.format(unit="DV1")
        .replace("<mergeCells", "<!-- <mergeCells")
        .replace("<headerFooter>", "--><headerFooter>"),
    ]
    _TAIL_SHAPES.kept.clear()
    for first in tails:  # each tail read first, then every other reusing it where it can
        for tail in tails:
            _TAIL_SHAPES.kept.clear()
            with contextlib.suppress(xlsxpatch.Unpatchable):
                _children(head, first)
            try:
                expected: object = _top_level(tail)
            except xlsxpatch.Unpatchable:
                expected = "unpatchable"
            try:
                got: object = _children(head, tail)
            except xlsxpatch.Unpatchable:
                got = "unpatchable"
            assert got == expected, (first, tail)
    broken = base.format(unit="DV1").replace('<pageMargins left="0.6"/>', '<pageMargins left="0.6" <a b="/>')
    _TAIL_SHAPES.kept.clear()
    _children(head, broken)  # a "<" matched by nothing: nothing after it is reused
    shape = _TAIL_SHAPES.find(head)
    assert shape is not None and shape.plain == broken.index("<pageMargins")  # no tag matched there


@pytest.mark.parametrize(
    "xml",
    [
        '<row r="27"><c r="D27" s="3"><v>1</v></c></row>',
        "<row r=\"27\"><c s='3' r='D27'/></row>",
        '<c r="D26">r="D27"</c><c t="s" r="D27"/>',  # the address in text first
        '<c a=\'r="D27"\' r="D28"/><c r="D27"/>',  # in another attribute: the pattern takes it
        '<c a="<" r="D27"/>',  # a "<" inside the tag before the address
        '<c x:r="D27"/><c r="D27"/>',
        '<cx r="D27"/><c r="D27"/>',
        '<c r="D270"/>',
        '<c r="D26"/>',
        "",
    ],
)
def test_a_marked_cell_is_found_where_searching_the_whole_sheet_finds_it(xml):
    from baocao.workbook.xlsxpatch import _cell_tag

    sheet = f'<worksheet><sheetData>{xml}</sheetData><x r="D27"/></worksheet>'
    data_end = sheet.find("</sheetData>")
    whole = re.compile(r"""<c\s[^>]*?\br=["']D27["'][^>]*>""").search(sheet, 0, data_end)
    found = _cell_tag(sheet, "D27", data_end)
    assert (found and (found.start(), found.group(0))) == (whole and (whole.start(), whole.group(0)))
