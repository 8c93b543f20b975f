"""Deadlines per level of the chain (Decree 09/2019 art. 8.5): a unit is judged by the deadline
of the level it reports to, in status and in the templates it is sent."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import openpyxl
from conftest import config_text
from helpers import make_submission

from baocao import api

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PER_LEVEL = 'due_before = { department = "05/03", province = "10/03" }'


def deployment_with(tmp_path, q1_due: str) -> api.Deployment:
    path = tmp_path / "config.toml"
    path.write_text(config_text().replace('due_before = "10/03"', q1_due, 1), encoding="utf-8")
    return api.load_deployment(path)


def test_a_phong_is_late_by_its_departments_deadline(tmp_path):
    for due, expected in (('due_before = "10/03"', ("on_time", 0)), (PER_LEVEL, ("late", 2))):
        folder = tmp_path / str(len(due))
        folder.mkdir()
        dep = deployment_with(folder, due)
        inbox = dep.settings.path("inbox")
        make_submission(dep, "DT_TG", "2025-Q1", inbox / "dt_tg.xlsx")
        api.collect(dep, now=datetime(2025, 3, 6, 9, 0, tzinfo=TZ))
        [row] = [r for r in api.status(dep, "2025-Q1") if r.unit.code == "DT_TG"]
        assert (row.status, row.days_late) == expected


def test_the_template_names_the_deadline_of_the_units_level(tmp_path):
    dep = deployment_with(tmp_path, PER_LEVEL)
    path = api.templates(dep, "2025-Q1", unit="DT_TG")[0].path
    guide = "\n".join(
        str(c.value) for row in openpyxl.load_workbook(path)["Hướng dẫn"].iter_rows() for c in row
    )
    assert "Hạn nộp: trước ngày 05/03/2025." in guide
