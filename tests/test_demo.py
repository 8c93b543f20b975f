"""make demo: the whole pipeline on the demo deployment, its summary checked against its data."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import shutil
from datetime import date

import pytest
from conftest import REPO
from helpers import strict_headers

from baocao import api
from baocao.cli import main
from baocao.demo import DEMO_PERIOD, PLAN, demo_values
from baocao.errors import UsageError


@pytest.fixture
def demo_copy(tmp_path):
    """The repository's demo deployment (config, form, registry) copied somewhere writable."""
    shutil.copy(REPO / "config.toml", tmp_path / "config.toml")
    shutil.copytree(REPO / "forms", tmp_path / "forms")
    (tmp_path / "workbooks").mkdir()
    shutil.copy(REPO / "workbooks" / "don-vi.csv", tmp_path / "workbooks" / "don-vi.csv")
    return tmp_path / "config.toml"


def test_demo_runs_the_pipeline_and_its_summary_is_right(demo_copy):
    out = io.StringIO()
    assert main(["--config", str(demo_copy), "demo"], out=out) == 0
    text = out.getvalue()
    dep = api.load_deployment(demo_copy)
    statuses = {r.unit.code: r.status for r in api.status(dep, DEMO_PERIOD)}
    assert statuses == {
        "NV_VP": "on_time",
        "NV_CCHC": "on_time",
        "NV_TCBC": "on_time",
        "NV_LDVL": "late",
        "TTDVVL": "on_time",
        "DT_VP": "on_time",
        "DT_CSDT": "missing",
        "DT_TG": "on_time",
        "DT_TTRA": "rejected",
    }
    # the totals in the CSV equal the sums of what the demo units sent (accepted ones only)
    accepted = [u for u, (day, kind) in PLAN.items() if kind != "rejected"]
    expected = {
        f.code: sum(
            demo_values(dep, u, DEMO_PERIOD, date(2025, 3, min(PLAN[u][0], 7)), PLAN[u][1])[f.code]
            for u in accepted
        )
        for f in dep.form.quantitative_fields
    }
    csv_path = dep.settings.path("output") / DEMO_PERIOD / f"tong-hop_{DEMO_PERIOD}_LANGSON.csv"
    rows = list(csv.DictReader(io.StringIO(csv_path.read_bytes().decode("utf-8-sig"))))
    for code, total in expected.items():
        assert sum(int(r[code]) for r in rows if r[code]) == total, code
    outbox = list(dep.settings.path("outbox").glob("*.eml"))
    kinds = {p.name.split("-")[1] for p in outbox}
    assert kinds == {"reminder", "feedback", "receipt", "summary"}
    # every header of every message, read from the raw bytes by a strict RFC 2047 decoder
    sender = f"{dep.settings.mail.sender_name} <{dep.settings.mail.sender}>"
    for path in outbox:
        raw = path.read_bytes()
        headers = dict(strict_headers(raw))
        lenient = email.message_from_bytes(raw, policy=email.policy.default)
        assert headers["From"] == sender, path.name  # "Hệ thống", never "Hệthống"
        assert headers["Subject"] == lenient["Subject"] and "  " not in headers["Subject"], path.name
        assert headers["Reply-To"] == "Phòng Cải cách hành chính, Sở Nội vụ <cchc@snv.langson.example>"
        assert headers["Subject"].split("] ", 1)[1].startswith("Báo cáo tuyên truyền CCHC Quý I năm 2025")
    assert str(csv_path.with_suffix(".xlsx")) in text and str(csv_path.with_suffix(".docx")) in text
    # what the summary says (completeness, what is comparable, targets) is on the README's first
    # screen exactly as the demo prints it (lines shortened there with "…" are skipped)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    step5 = readme.split("```text\n", 1)[1].split("```", 1)[0].split("5. Tổng hợp kỳ (sau hạn):\n", 1)[1]
    shown = [line.strip() for line in step5.splitlines() if "…" not in line and "workbooks/" not in line]
    assert len(shown) == 3 and all(line in text for line in shown)
    assert "So với cùng kỳ năm trước (Quý I năm 2024): cùng 5 đơn vị" in text
    # running it again starts from a clean demo area and gives the same result
    assert main(["--config", str(demo_copy), "demo"], out=io.StringIO()) == 0
    assert {r.unit.code: r.status for r in api.status(dep, DEMO_PERIOD)} == statuses


def test_demo_refuses_a_working_area_with_real_data(demo_copy):
    dep = api.load_deployment(demo_copy)
    inbox = dep.settings.path("inbox")
    inbox.mkdir(parents=True)
    (inbox / "bao-cao-that.xlsx").write_bytes(b"real")
    from baocao.demo import demo

    with pytest.raises(UsageError, match="không chạy demo trên dữ liệu thật"):
        demo(dep, say=lambda line: None)
    assert (inbox / "bao-cao-that.xlsx").read_bytes() == b"real"
