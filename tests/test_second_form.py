"""A second, different form runs the whole pipeline with no code change (issue 9: the form spec
is the whole contract).

``tests/forms/mini.toml`` is a monthly library tally with its own field codes, sheet name and
rule. Templates are made, filled through their defined names as any tool would, collected,
judged, consolidated, rolled up for the level above and collected there, and reminders go to
the units that have not reported: every step reads the spec, none names a field.
"""

from __future__ import annotations

import csv
import email
import io
import random
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from conftest import REPO, write_config
from helpers import fill_workbook

from baocao import api
from baocao.consolidate import consolidate
from baocao.spec.samples import sample_values, with_flaw
from baocao.store import open_store

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MINI = REPO / "tests" / "forms" / "mini.toml"
OUTBOX = '\n[mail]\nbackend = "outbox"\nsender = "baocao@snv.langson.example"\n'


def mini_deployment(folder: Path, registry: Path | None = None) -> api.Deployment:
    folder.mkdir(parents=True, exist_ok=True)
    kwargs = {"registry": registry} if registry else {}
    return api.load_deployment(write_config(folder, form=MINI, extra=OUTBOX, **kwargs))


def test_a_second_form_goes_from_template_to_rollup_and_reminders(tmp_path):
    dep = mini_deployment(tmp_path / "sdttg")
    form, period = dep.form, dep.period("2025-Q1")
    assert form.id == "thu-vien-thang" and form.sheet == "Mau01"
    templates = {t.unit: t.path for t in api.templates(dep, "2025-Q1")}
    assert set(templates) == {u.code for u in dep.registry.reporting_units(period)}

    # three units of Sở Dân tộc và Tôn giáo fill their templates; one breaks the form's rule
    rng = random.Random(9)
    sent = {code: sample_values(form, rng, period, unit=code) for code in ("DT_VP", "DT_TG", "DT_TTRA")}
    sent["DT_TTRA"], flaw = with_flaw(form, sent["DT_TTRA"], "rule", rng)
    inbox = dep.settings.path("inbox")
    for code, values in sent.items():
        fill_workbook(templates[code], values, inbox / f"{code}.xlsx")

    report = api.run_due(dep, now=datetime(2025, 3, 3, 9, 0, tzinfo=TZ))  # 7 days before 10/3
    verdicts = {r.unit: r.status for r in report.collected.results}
    assert verdicts == {"DT_VP": "accepted", "DT_TG": "accepted", "DT_TTRA": "rejected"}
    [rejected] = [r for r in report.collected.results if r.unit == "DT_TTRA"]
    assert [(i.code, i.field, i.sheet) for i in rejected.issues] == [(flaw.code, flaw.field, "Mau01")]
    status = {r.unit.code: r.status for r in api.status(dep, "2025-Q1")}
    assert status["DT_VP"] == status["DT_TG"] == "on_time" and status["DT_TTRA"] == "rejected"
    assert status["DT_CSDT"] == "missing"

    # reminders went to every unit without an accepted report, and to no other
    outbox = dep.settings.path("outbox")
    messages = [email.message_from_bytes(p.read_bytes()) for p in outbox.glob("*.eml")]
    reminded = {m["X-Baocao-Unit"] for m in messages if m["X-Baocao-Kind"] == "reminder"}
    assert reminded == {code for code, st in status.items() if st in ("missing", "rejected")}

    # the summary's totals are the sums of what the accepted units sent, field by field
    result = consolidate(dep, "2025-Q1", now=datetime(2025, 3, 12, tzinfo=TZ))
    rows = list(csv.DictReader(io.StringIO(result.csv.read_bytes().decode("utf-8-sig"))))
    for f in form.quantitative_fields:
        expected = sent["DT_VP"][f.code] + sent["DT_TG"][f.code]
        assert sum(int(r[f.code]) for r in rows if r[f.code]) == expected, f.code

    # the department's roll-up is its own filled template, collected by the level above
    rollup = consolidate(
        dep, "2025-Q1", unit="SDTTG", as_submission=True, now=datetime(2025, 3, 12, tzinfo=TZ)
    )
    upper_registry = tmp_path / "upper-don-vi.csv"
    upper_registry.write_text(
        "code,name,parent,kind,email,valid_from,valid_to,successor\n"
        "LANGSON,Tỉnh Lạng Sơn,,province,cchc@snv.langson.example,2020-01-01,,\n"
        "SDTTG,Sở Dân tộc và Tôn giáo,LANGSON,department,vanphong@sdttg.langson.example,2025-03-01,,\n",
        encoding="utf-8",
    )
    upper = mini_deployment(tmp_path / "upper", registry=upper_registry)
    blanks = {
        f.code: f.choices[0]
        for f in form.fields
        if f.required and not f.locked and f.rollup in ("blank", "most_common", "all_equal")
    }
    fill_workbook(rollup.rollup, blanks, upper.settings.path("inbox") / rollup.rollup.name)  # the office
    api.collect(upper, now=datetime(2025, 3, 14, tzinfo=TZ))
    with open_store(upper.settings) as ledger:
        current = ledger.current_submissions("2025-Q1")
    assert set(current) == {"SDTTG"}
    for f in form.quantitative_fields:
        assert current["SDTTG"].values[f.code] == sent["DT_VP"][f.code] + sent["DT_TG"][f.code]
