"""The Word draft in the form of Nghị định 30/2020/NĐ-CP, point by point, read back with
python-docx; and once through LibreOffice, to see the heading lines and page numbers as printed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import docx
import pytest
from conftest import REPO, write_config
from docx.enum.text import WD_COLOR_INDEX
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from helpers import TZ, seed_quarter, total

from baocao import api
from baocao.consolidate import consolidate

NOW = __import__("datetime").datetime(2025, 3, 20, 9, 0, tzinfo=TZ)
# the demo deployment's [report] table (config.toml ends with it)
REPORT_TOML = (REPO / "config.toml").read_text(encoding="utf-8").split("\n[report]\n", 1)[1]


@pytest.fixture
def made(tmp_path: Path):
    dep = api.load_deployment(write_config(tmp_path, extra="[report]\n" + REPORT_TOML))
    final = seed_quarter(dep)
    result = consolidate(dep, "2025-Q1", docx=True, now=NOW)
    return dep, final, result, docx.Document(str(result.docx))


def runs_of(doc):
    cells = [c for t in doc.tables for row in t.rows for c in row.cells]
    paragraphs = [p for c in cells for p in c.paragraphs] + list(doc.paragraphs)
    return [r for p in paragraphs for r in p.runs]


def has_bottom_rule(paragraph) -> bool:
    border = paragraph._p.pPr.find(qn("w:pBdr")) if paragraph._p.pPr is not None else None
    return border is not None and border.find(qn("w:bottom")) is not None and not paragraph.text


def test_heading_agency_number_and_rules(made):
    _dep, _, _, doc = made
    left, right = doc.tables[0].rows[0].cells
    lines = [p for p in left.paragraphs]
    assert [p.text for p in lines] == ["UBND TỈNH LẠNG SƠN", "SỞ NỘI VỤ", "", "Số:      /BC-SNV"]
    assert not any(r.bold for r in lines[0].runs) and all(r.bold for r in lines[1].runs)
    assert has_bottom_rule(lines[2])  # the short rule under the issuing agency
    assert [p.text for p in right.paragraphs][:2] == [
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
    ]
    assert has_bottom_rule(right.paragraphs[2])
    # the test config names no province: the place is a placeholder to fill, like the day and month
    assert right.paragraphs[3].text == "[Địa danh], ngày …… tháng …… năm 2025"
    # the title, the trích yếu and its short rule (a third of the line: indents of 5.5 cm each side)
    texts = [p.text for p in doc.paragraphs]
    subject = "Kết quả công tác thông tin, tuyên truyền cải cách hành chính quý I năm 2025"
    i = texts.index(subject)
    assert texts[i - 1] == "BÁO CÁO" and has_bottom_rule(doc.paragraphs[i + 1])
    rule = doc.paragraphs[i + 1].paragraph_format
    assert rule.left_indent == rule.right_indent and Cm(16.5) / 4 < rule.left_indent < Cm(16.5) / 2


def test_page_language_spacing_and_fonts(made):
    _, _, _, doc = made
    section = doc.sections[0]
    margins = (section.top_margin, section.bottom_margin, section.left_margin, section.right_margin)
    assert [round(m.cm, 2) for m in margins] == [2, 2, 3, 1.5]
    assert round(section.page_width.cm, 1) == 21.0 and round(section.page_height.cm, 1) == 29.7
    # page numbers from page 2: a PAGE field in the header, none on the first page
    assert section.different_first_page_header_footer
    header = section.header.paragraphs[0]._p
    assert "PAGE" in "".join(t.text for t in header.iter(qn("w:instrText")))
    assert not section.first_page_header.paragraphs[0].text
    # Vietnamese (vi-VN), in the defaults and in the Normal style
    styles = doc.styles.element
    langs = [e.get(qn("w:val")) for e in styles.iter(qn("w:lang"))]
    assert langs and set(langs) == {"vi-VN"}
    defaults = styles.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    assert defaults.find(qn("w:lang")).get(qn("w:val")) == "vi-VN"
    # body paragraphs at least 6 pt apart, 13-14 pt Times New Roman throughout
    texts = [p.text for p in doc.paragraphs]
    start = next(i for i, t in enumerate(texts) if t.startswith("Thực hiện "))
    body = [p for p in doc.paragraphs[start:] if p.text.strip()]
    assert body and all(p.paragraph_format.space_after >= Pt(6) for p in body)
    assert all(Pt(13) <= r.font.size <= Pt(14) for p in body for r in p.runs if r.text.strip())
    assert {r.font.name for r in runs_of(doc) if r.text.strip()} == {"Times New Roman"}


def test_opening_items_table_and_signature(made):
    dep, final, _result, doc = made
    texts = [p.text for p in doc.paragraphs]
    opening = next(t for t in texts if t.startswith("Thực hiện "))
    assert opening.startswith(
        "Thực hiện Kế hoạch số 70/KH-UBND ngày 13/3/2025 của UBND tỉnh Lạng Sơn về tuyên truyền cải cách"
    )
    assert "(số liệu từ 01/01/2025 đến 31/03/2025; sau ngày lập báo cáo là số ước thực hiện)" in opening
    # sub-items a), b)… under "2. Kết quả cụ thể", from the form's groups
    assert "a) Trên Cổng/Trang thông tin điện tử" in texts and "b) Hội nghị, tập huấn, họp" in texts
    # the totals table: figures of the units, heading row repeated, no row split across pages
    table = next(t for t in doc.tables if t.rows[0].cells[0].text == "STT")
    expected = total(dep, [final[u] for u in ("NV_VP", "NV_CCHC", "NV_TCBC", "DT_VP", "DT_CSDT", "DT_TG")])
    by_label = {row.cells[1].text: row.cells[3].text for row in table.rows[1:]}
    for f in dep.form.quantitative_fields:
        assert by_label[f.label] == f"{expected[f.code]:,}".replace(",", ".")
    assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None
    assert all(row._tr.trPr.find(qn("w:cantSplit")) is not None for row in table.rows)
    marked = {r.text for r in runs_of(doc) if r.font.highlight_color == WD_COLOR_INDEX.YELLOW}
    # unit text verbatim; nested parentheses gone from the figure lines
    body = "\n".join(texts)
    assert f"Phòng Cải cách hành chính: {final['NV_CCHC']['de_xuat_kien_nghi']}" in body
    assert not re.search(r"\([^()]*\(", body.split("II. ĐÁNH GIÁ")[0])
    # the closing sentence is kept with the signature block (never a page with a signature only)
    closing = next(p for p in doc.paragraphs if p.text.startswith("Trên đây là báo cáo"))
    assert closing.text.endswith("của Sở Nội vụ./.") and closing.paragraph_format.keep_with_next
    # Nơi nhận from config; the signature block with KT. / PHÓ GIÁM ĐỐC and the name to fill
    left, right = doc.tables[-1].rows[0].cells
    assert [p.text for p in left.paragraphs] == [
        "Nơi nhận:",
        "- UBND tỉnh (b/c);",
        "- Bộ Nội vụ (b/c);",
        "- Lãnh đạo Sở;",
        "- Lưu: VT, CCHC.",
    ]
    assert [p.text for p in right.paragraphs] == ["KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC", "[Họ và tên người ký]"]
    assert "[Họ và tên người ký]" in marked and "……" in marked  # date of signing


def test_department_draft_without_config_marks_what_to_fill(deployment):
    seed_quarter(deployment, nguyen_nhan="")  # no unit writes about causes (DT_VP is not under SNV)
    result = consolidate(deployment, "2025-Q1", unit="SNV", docx=True, now=NOW)
    doc = docx.Document(str(result.docx))
    left, _ = doc.tables[0].rows[0].cells
    assert [p.text for p in left.paragraphs][1] == "SỞ NỘI VỤ"
    marked = {r.text for r in runs_of(doc) if r.font.highlight_color == WD_COLOR_INDEX.YELLOW}
    assert {"……/BC-……", "[Cơ quan nhận báo cáo]", "[CHỨC VỤ NGƯỜI KÝ]", "[Họ và tên người ký]"} <= marked
    assert "……/KH-…… ngày …… của ……" in marked  # no plan in config: the opening is to fill
    # a section no SNV unit wrote about (Nguyên nhân) is a highlighted placeholder, never the
    # sentence "Các đơn vị không nêu nội dung này." sent upward
    texts = [p.text for p in doc.paragraphs]
    i = texts.index("3. Nguyên nhân")
    assert texts[i + 1] == "[Các đơn vị không nêu nội dung này; cơ quan tổng hợp bổ sung hoặc bỏ mục]"
    assert doc.paragraphs[i + 1].runs[0].font.highlight_color == WD_COLOR_INDEX.YELLOW
    assert "Các đơn vị không nêu nội dung này." not in texts


@pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftotext")), reason="LibreOffice/poppler")
def test_libreoffice_prints_heading_on_one_line_and_numbers_from_page_two(made, tmp_path: Path):
    _, _, result, _ = made
    subprocess.run(
        [
            "soffice",
            "--headless",
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(result.docx),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pdf = tmp_path / result.docx.with_suffix(".pdf").name

    def page(n: int) -> list[str]:
        done = subprocess.run(
            ["pdftotext", "-layout", "-f", str(n), "-l", str(n), str(pdf), "-"],
            capture_output=True,
            check=True,
        )
        return [line.strip() for line in done.stdout.decode("utf-8").splitlines() if line.strip()]

    first, second = page(1), page(2)
    assert first[0].startswith("UBND TỈNH LẠNG SƠN") and first[1].startswith("SỞ NỘI VỤ")
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in first[0] and "Độc lập - Tự do - Hạnh phúc" in first[1]
    assert not any(line == "SƠN" for line in first[:6])
    assert second[0] == "2" and first[0] != "1"
