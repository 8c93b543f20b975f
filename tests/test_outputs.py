"""What consolidate writes: one summary rendered four ways that agree, ``--json`` equal to the
library's data, ``--out`` that never lets one output overwrite another, and a unit's unusable
value costing only that unit's cell."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import datetime
from pathlib import Path

import docx
import openpyxl
import pytest
from helpers import TZ, Seeder, at, codes, figures, seed_quarter, total

from baocao import api
from baocao.cli import main
from baocao.consolidate import consolidate, summary_for
from baocao.errors import UsageError
from baocao.report.plain import summary_data

NOW = datetime(2025, 3, 20, 9, 0, tzinfo=TZ)


def test_json_is_the_summary_and_every_rendering_agrees(config_file, deployment):
    final = seed_quarter(deployment)
    out = io.StringIO()
    argv = ["--config", str(config_file), "consolidate", "--period", "2025-Q1", "--docx", "--json"]
    assert main([*argv, "--now", "2025-03-20T09:00"], out=out) == 0
    data = json.loads(out.getvalue())
    library = summary_data(summary_for(deployment, "2025-Q1", now=NOW))
    assert {k: v for k, v in data.items() if k not in ("files", "messages")} == json.loads(
        json.dumps(library)
    )
    # what the issue asks of the data: totals by field code, comparisons with the units compared
    # on each side, each unit's status, target verdicts with their level
    reported = ("NV_VP", "NV_CCHC", "NV_TCBC", "DT_VP", "DT_CSDT", "DT_TG")
    assert data["totals"] == total(deployment, [final[u] for u in reported])
    assert {c["kind"] for c in data["comparisons"]} == {"previous", "last_year"}
    assert all({"units_now", "units_then", "comparable"} <= set(c) for c in data["comparisons"])
    assert {u["code"]: u["status"] for u in data["units"]}["NV_LDVL"] == "rejected"
    assert {(t["scope"], t["level"]) for t in data["targets"]} == {
        ("SNV", "department"),
        ("SDTTG", "department"),
    }
    assert data["period"]["window_start"] == "2025-01-01" and data["period"]["includes_estimates"]

    files = data["files"]
    # the workbook's first sheet and its detail sheet
    book = openpyxl.load_workbook(files["xlsx"], data_only=True)
    labels = {f.label: f.code for f in deployment.form.quantitative_fields}
    first = {r[1]: r for r in book["Tổng hợp"].iter_rows(values_only=True) if r[1] in labels}
    assert {labels[k]: r[3] for k, r in first.items()} == data["totals"]
    grand = next(r for r in book["Chi tiết"].iter_rows(values_only=True) if str(r[0]).startswith("TỔNG CỘNG"))
    assert list(grand[4:20]) == [data["totals"][c] for c in codes(deployment)]
    verdict_rows = {
        r[1]: r[4]
        for r in book["Tổng hợp"].iter_rows(values_only=True)
        if r[1] in ("Sở Nội vụ", "Sở Dân tộc và Tôn giáo")
    }
    assert verdict_rows == {t["scope_name"]: "Đạt" if t["met"] else "Chưa đạt" for t in data["targets"]}
    # the CSV: statuses and figures per unit
    rows = list(csv.DictReader(io.StringIO(Path(files["csv"]).read_bytes().decode("utf-8-sig"))))
    assert {r["unit_code"]: r["status"] for r in rows} == {u["code"]: u["status"] for u in data["units"]}
    for code in codes(deployment):
        assert sum(int(r[code]) for r in rows if r[code]) == data["totals"][code]
    # the Word draft's table of totals
    table = next(t for t in docx.Document(files["docx"]).tables if t.rows[0].cells[0].text == "STT")
    shown = {row.cells[1].text: row.cells[3].text for row in table.rows[1:]}
    assert {labels[k]: int(v.replace(".", "")) for k, v in shown.items()} == data["totals"]


def test_out_names_the_workbook_and_never_overwrites_it(deployment, tmp_path: Path):
    seed_quarter(deployment)
    result = consolidate(deployment, "2025-Q1", out=tmp_path / "bang.xlsx", docx=True, now=NOW)
    assert (result.xlsx, result.csv, result.docx) == (
        tmp_path / "bang.xlsx",
        tmp_path / "bang.csv",
        tmp_path / "bang.docx",
    )
    assert result.xlsx.read_bytes()[:2] == b"PK" and result.csv.read_bytes().startswith(
        b"\xef\xbb\xbfperiod,"
    )
    folder = tmp_path / "ra"
    folder.mkdir()
    in_folder = consolidate(deployment, "2025-Q1", out=folder, now=NOW)
    assert in_folder.xlsx == folder / "tong-hop_2025-Q1_LANGSON.xlsx"


@pytest.mark.parametrize("name", ["x.csv", "x.docx", "x.json"])
def test_out_with_another_extension_is_refused(config_file, deployment, tmp_path: Path, name: str):
    seed_quarter(deployment)
    target = tmp_path / name
    with pytest.raises(UsageError, match=r"cần tên tệp bảng tổng hợp \.xlsx hoặc một thư mục"):
        consolidate(deployment, "2025-Q1", out=target, now=NOW)
    assert not target.exists() and not target.with_suffix(".xlsx").exists()
    err = io.StringIO()
    argv = ["--config", str(config_file), "consolidate", "--period", "2025-Q1", "--out", str(target)]
    assert main(argv, out=io.StringIO(), err=err) == 2
    assert err.getvalue().count("\n") == 1 and "Traceback" not in err.getvalue()
    with pytest.raises(UsageError, match=r"\.xlsx"):
        api.scorecard(deployment, 2025, now=NOW, out=target)


def test_out_that_would_make_two_outputs_one_file_is_refused(deployment, tmp_path: Path):
    seed_quarter(deployment)
    rollup = consolidate(deployment, "2025-Q1", unit="SDTTG", as_submission=True, now=NOW).rollup
    assert rollup is not None
    clash = tmp_path / rollup.name
    with pytest.raises(UsageError, match="trùng tên"):
        consolidate(deployment, "2025-Q1", unit="SDTTG", as_submission=True, out=clash, now=NOW)
    assert not clash.exists()


@pytest.mark.parametrize("folder", ["inbox", "archive"])
def test_out_inside_the_inbox_or_the_archive_is_refused(config_file, deployment, folder: str):
    """The next collect would take the coordinator's summary as a unit's report."""
    seed_quarter(deployment)
    place = deployment.settings.path(folder)
    place.mkdir(parents=True, exist_ok=True)
    before = sorted(place.rglob("*"))
    for out in (place / "tong-hop.xlsx", place):
        with pytest.raises(UsageError, match="lần thu nhận sau"):
            consolidate(deployment, "2025-Q1", out=out, now=NOW)
        with pytest.raises(UsageError, match="lần thu nhận sau"):
            api.scorecard(deployment, 2025, now=NOW, out=out)
    err = io.StringIO()
    argv = [
        "--config",
        str(config_file),
        "consolidate",
        "--period",
        "2025-Q1",
        "--out",
        str(place / "th.xlsx"),
    ]
    assert main(argv, out=io.StringIO(), err=err) == 2
    assert "Traceback" not in err.getvalue()
    assert sorted(place.rglob("*")) == before


def test_an_unusable_value_costs_that_units_cell_only(deployment):
    """Values that slipped into the ledger: a 400-digit number, NaN, 1e308, control characters
    pasted from a PDF, narratives longer than a cell holds."""
    good = {u: figures(deployment, i) for i, u in enumerate(("NV_VP", "NV_CCHC", "DT_TG"))}
    bad = figures(
        deployment,
        9,
        tin_bai_cong_ttdt=10**400,
        tthc_niem_yet=math.nan,
        van_ban_cap_nhat=1e308,
        ket_qua_noi_bat="Tuyên\x01 truyền\x1f" + "x" * 30000,
        ton_tai_han_che="y" * 40000,
    )
    s = Seeder(deployment)
    for unit, values in good.items():
        s.accept(unit, "2025-Q1", at(2025, 3, 5), values)
    s.accept("NV_TCBC", "2025-Q1", at(2025, 3, 5), bad)
    result = consolidate(deployment, "2025-Q1", docx=True, now=NOW)
    data = result.to_dict()
    broken = {"tin_bai_cong_ttdt", "tthc_niem_yet", "van_ban_cap_nhat"}
    expected = total(deployment, list(good.values()))
    for code in codes(deployment):
        expected[code] += 0 if code in broken else bad[code]
    assert data["totals"] == expected
    problems = {(p["unit"], p["field"]) for p in data["problems"]}
    assert problems == {("NV_TCBC", c) for c in (*broken, "ket_qua_noi_bat", "ton_tai_han_che")}
    unit = next(u for u in data["units"] if u["code"] == "NV_TCBC")
    assert unit["status"] == "on_time" and all(unit["values"][c] is None for c in broken)
    # the workbook: blank cells for that unit only; the texts cleaned and within Excel's limit
    book = openpyxl.load_workbook(result.xlsx)
    row = next(r for r in book["Chi tiết"].iter_rows(values_only=True) if r[1] == "NV_TCBC")
    assert row[4:7] == (None, None, None) and row[7] == bad["lop_tap_huan"]
    texts = [c for r in book["Đánh giá"].iter_rows(values_only=True) for c in r if isinstance(c, str)]
    long = next(t for t in texts if t.startswith("Tuyên"))
    assert long.startswith("Tuyên truyền") and len(long) <= 32000 and "\x01" not in long
    warnings = [c for r in book["Cảnh báo"].iter_rows(values_only=True) for c in r if isinstance(c, str)]
    assert sum(1 for w in warnings if w.startswith("Giá trị không dùng được")) == 5
    assert any("401 chữ số" in w for w in warnings)
    # the CSV: empty cells, the row is there; the Word draft opens and says so
    rows = {
        r["unit_code"]: r for r in csv.DictReader(io.StringIO(result.csv.read_bytes().decode("utf-8-sig")))
    }
    assert rows["NV_TCBC"]["tin_bai_cong_ttdt"] == "" and rows["NV_TCBC"]["lop_tap_huan"] == str(
        bad["lop_tap_huan"]
    )
    text = "\n".join(p.text for p in docx.Document(str(result.docx)).paragraphs)
    assert "Có 5 giá trị trong báo cáo của đơn vị không dùng được" in text
