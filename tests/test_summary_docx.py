"""The Word draft: administrative layout, figures from the ledger, highlighted placeholders."""

from __future__ import annotations

import docx
from docx.enum.text import WD_COLOR_INDEX
from docx.shared import Cm
from test_consolidate import NOW, seed, total

from baocao.consolidate import consolidate


def test_docx_draft(deployment):
    dep, final = deployment, seed(deployment)
    result = consolidate(dep, "2025-Q1", unit="SNV", docx=True, now=NOW)
    assert result.docx == result.xlsx.with_suffix(".docx")
    doc = docx.Document(str(result.docx))
    section = doc.sections[0]
    margins = (section.top_margin, section.bottom_margin, section.left_margin, section.right_margin)
    assert [round(m.cm, 2) for m in margins] == [2, 2, 3, 1.5]
    assert round(section.page_width.cm, 1) == 21.0 and section.page_width < Cm(21.1)
    texts = [p.text for p in doc.paragraphs]
    assert "BÁO CÁO" in texts
    assert "Kết quả công tác thông tin, tuyên truyền cải cách hành chính quý I năm 2025" in texts
    heading = doc.tables[0]
    left, right = (c.text for c in heading.rows[0].cells)
    assert "SỞ NỘI VỤ" in left and "Số: ……/BC-SNV" in left
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in right and "Độc lập - Tự do - Hạnh phúc" in right
    # the totals table holds the consolidated figures of the SNV units (Vietnamese thousands dot)
    expected = total(dep, [final[u] for u in ("NV_VP", "NV_CCHC", "NV_TCBC")])
    table = next(t for t in doc.tables if t.rows[0].cells[0].text == "STT")
    by_label = {row.cells[1].text: row.cells[3].text for row in table.rows[1:]}
    for f in dep.form.quantitative_fields:
        assert by_label[f.label] == f"{expected[f.code]:,}".replace(",", ".")
    # limitations and proposals from units; unit text appears verbatim
    body = "\n".join(texts)
    assert "Phòng Cải cách hành chính: Đề xuất số 3: tăng kinh phí tuyên truyền." in body.replace("- ", "")
    assert "Tỷ lệ" not in body and "Chưa nộp" not in body
    # what a person must fill is highlighted, in the heading and the signature block
    runs = [r for t in doc.tables for row in t.rows for c in row.cells for p in c.paragraphs for r in p.runs]
    runs += [r for p in doc.paragraphs for r in p.runs]
    marked = {r.text for r in runs if r.font.highlight_color == WD_COLOR_INDEX.YELLOW}
    assert {"……", "[Họ và tên người ký]", "[CHỨC VỤ NGƯỜI KÝ]", "[Cơ quan nhận báo cáo]"} <= marked
    fonts = {r.font.name for r in runs if r.text.strip()}
    assert fonts == {"Times New Roman"}
