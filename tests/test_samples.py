"""Sample values made from the form spec alone: valid for any form, or with one known flaw.

Each sample is written into the real template of its unit and period, read back and judged, so
"valid" means the validator finds nothing and "flawed" means it finds exactly that flaw.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from conftest import REPO, write_config

from baocao import api
from baocao.judge.reader import read_workbook
from baocao.judge.validate import Context, validate
from baocao.spec.samples import FLAWS, sample_values, with_flaw
from baocao.workbook.template import render_template

MINI = REPO / "tests" / "forms" / "mini.toml"


@pytest.fixture(params=["cchc", "mini"])
def dep(request, tmp_path):
    folder = tmp_path / request.param
    folder.mkdir()
    form = {"cchc": REPO / "forms" / "cchc-tuyen-truyen.toml", "mini": MINI}[request.param]
    return api.load_deployment(write_config(folder, form=form))


def judge(dep, tmp_path, unit_code, period, values, today):
    unit = dep.unit(unit_code, period)
    content = render_template(dep.form, replace(api.template_context(dep, unit, period), values=values))
    path = tmp_path / f"{unit_code}_{period.code}.xlsx"
    path.write_bytes(content)
    raw = read_workbook(path, dep.catalog.layouts(), version_field=dep.catalog.version_field)
    return validate(
        raw, Context(dep.catalog, dep.registry, dep.settings.period_kinds, today, {}, dep.signing_key)
    )


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("period_code", ["2025-Q1", "2025-H1", "2025-Y"])
def test_samples_are_accepted_without_a_single_issue(dep, tmp_path, seed, period_code):
    period = dep.period(period_code)
    rng = random.Random(seed)
    values = sample_values(dep.form, rng, period, unit="DT_TG")
    assert set(values) == {f.code for f in dep.form.fields if not f.locked}
    outcome = judge(dep, tmp_path, "DT_TG", period, values, period.last_on_time_day())
    assert outcome.issues == [], [i.message for i in outcome.issues]


@pytest.mark.parametrize("kind", sorted(FLAWS))
def test_each_flaw_gives_exactly_the_issue_it_names(dep, tmp_path, kind):
    period = dep.period("2025-Q1")
    rng = random.Random(kind)
    values = sample_values(dep.form, rng, period, unit="DT_TG")
    if dep.form.id == "thu-vien-thang" and kind in ("bad_date", "bad_email", "bad_phone", "warning"):
        # the library tally has no date, address, phone or warning rule: nothing to break
        with pytest.raises(ValueError, match="không có"):
            with_flaw(dep.form, values, kind, rng)
        return
    flawed, flaw = with_flaw(dep.form, values, kind, rng)
    outcome = judge(dep, tmp_path, "DT_TG", period, flawed, period.last_on_time_day())
    assert [(i.code, i.field, str(i.severity)) for i in outcome.issues] == [
        (flaw.code, flaw.field, flaw.severity)
    ]
    assert outcome.accepted == (flaw.severity == "warning")


def test_an_unknown_flaw_is_refused(deployment):
    period = deployment.period("2025-Q1")
    values = sample_values(deployment.form, random.Random(0), period)
    with pytest.raises(ValueError, match="không có loại lỗi"):
        with_flaw(deployment.form, values, "typo", random.Random(0))
