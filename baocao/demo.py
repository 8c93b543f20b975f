"""The demo deployment's main job: the whole pipeline on a simulated quarter.

``make demo`` runs this against the repository's own ``config.toml``: templates for Quý I năm
2025, filled demo submissions dropped into the inbox over the simulated days (on time, late,
one rejected and never corrected, one missing, one accepted with a warning), and ``run_due``
at the moments the scheduler would run, so reminders, feedback, the provisional and the final
summary land in the outbox. The last year's first quarter is collected first, under the 2024
structure, so the comparison sheet has something to compare with.

The working area is reset at the start, but only when it is empty or was made by the demo
(marker file ``.baocao-demo``): a real deployment's data is never touched.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from baocao import api
from baocao.consolidate import consolidate
from baocao.errors import UsageError
from baocao.spec.samples import sample_values, with_flaw
from baocao.workbook.template import render_template, template_filename

DEMO_PERIOD = "2025-Q1"
HISTORY_PERIOD = "2024-Q1"
MARKER = ".baocao-demo"
# unit -> (day of March 2025 it arrives, what is special about it)
PLAN = {
    "NV_VP": (4, "ok"),
    "NV_CCHC": (5, "ok"),
    "NV_TCBC": (5, "warning"),
    "NV_LDVL": (11, "late"),
    "TTDVVL": (6, "ok"),
    "DT_VP": (6, "ok"),
    "DT_TG": (7, "ok"),
    "DT_TTRA": (7, "rejected"),
    # DT_CSDT never sends anything: the missing unit
}
# what the demo breaks in a unit's file, by kind (see ``spec.samples.FLAWS``)
FLAWS_OF = {"rejected": ("rule", "text_in_number"), "warning": ("warning",)}
RUNS = [(3, 8), (4, 8), (5, 8), (6, 8), (7, 8), (8, 8), (9, 8), (10, 8), (11, 16)]


def demo_values(dep: api.Deployment, unit: str, period_code: str, day: date, kind: str) -> dict[str, object]:
    """Plausible inputs of ``unit`` for a period, the same on every run (seeded by unit and
    period), made from the form spec alone; ``kind`` adds the flaws the demo shows."""
    period = dep.period(period_code)
    rng = random.Random(f"{unit}-{period_code}")
    values = sample_values(dep.form, rng, period, today=day, unit=unit)
    for flaw in FLAWS_OF.get(kind, ()):
        values, _ = with_flaw(dep.form, values, flaw, rng)
    return values


def _prepare_area(dep: api.Deployment) -> None:
    s = dep.settings
    area = [s.path(k) for k in ("templates", "inbox", "archive", "feedback", "output", "outbox", "logs")]
    marker = s.path("ledger").parent / MARKER
    used = s.path("ledger").exists() or any(p.exists() and any(p.iterdir()) for p in area)
    if used and not marker.exists():
        raise UsageError(
            f"Thư mục làm việc {s.path('ledger').parent} đã có dữ liệu không phải của bản chạy thử; "
            "không chạy demo trên dữ liệu thật"
        )
    for path in area:
        shutil.rmtree(path, ignore_errors=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(s.path("ledger")) + suffix).unlink(missing_ok=True)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("Thư mục này do 'baocao demo' tạo; demo được phép xóa và làm lại.\n", encoding="utf-8")


def _drop(
    dep: api.Deployment, unit_code: str, period_code: str, values: dict, name: str | None = None
) -> Path:
    """A unit's filled workbook saved into the inbox, as the unit would leave it."""
    period = dep.period(period_code)
    unit = dep.unit(unit_code, period)
    content = render_template(dep.form, replace(api.template_context(dep, unit, period), values=values))
    path = dep.settings.path("inbox") / (name or template_filename(unit, period))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def demo(dep: api.Deployment, say: Callable[[str], None] = print) -> dict:
    """Run the simulated quarter and report, through ``say``, where each result is."""
    _prepare_area(dep)
    # the demo writes complete files itself: no need to wait for copies to settle
    dep = replace(
        dep, settings=replace(dep.settings, collect=replace(dep.settings.collect, stable_seconds=0))
    )
    tz = dep.settings.timezone
    files = api.templates(dep, DEMO_PERIOD)
    say(f"1. Biểu mẫu kỳ {DEMO_PERIOD}: {len(files)} tệp ở {files[0].path.parent}")

    history = dep.period(HISTORY_PERIOD)
    for unit in dep.registry.reporting_units(history):
        _drop(
            dep,
            unit.code,
            HISTORY_PERIOD,
            demo_values(dep, unit.code, HISTORY_PERIOD, date(2024, 3, 5), "ok"),
        )
    past = api.collect(dep, now=datetime(2024, 3, 6, 9, 0, tzinfo=tz))
    say(f"2. Số liệu cùng kỳ năm trước ({HISTORY_PERIOD}, cơ cấu 2024): {past.count('accepted')} báo cáo")

    sent: Counter = Counter()
    dropped: set[str] = set()
    for day, hour in RUNS:
        for unit_code, (arrival, kind) in PLAN.items():
            if arrival <= day and unit_code not in dropped:
                dropped.add(unit_code)
                made_on = date(2025, 3, min(arrival, 7))  # a late file was written before the deadline
                _drop(dep, unit_code, DEMO_PERIOD, demo_values(dep, unit_code, DEMO_PERIOD, made_on, kind))
        report = api.run_due(dep, now=datetime(2025, 3, day, hour, 0, tzinfo=tz))
        for key in report.sent:
            sent[key.split("|")[0]] += 1
    say(
        f"3. Mô phỏng 03/03–11/03/2025: thư nhắc hạn {sent['reminder']}, báo trả lại {sent['feedback']}, "
        f"xác nhận tiếp nhận {sent['receipt']}, tổng hợp {sent['summary']} — các tệp .eml ở "
        f"{dep.settings.path('outbox')}"
    )
    rows = api.status(dep, DEMO_PERIOD)
    say("4. Tình hình nộp báo cáo:")
    for row in rows:
        note = row.issues[0].message if row.status == "rejected" and row.issues else ""
        say(f"   {row.unit.code:<8} {row.label:<14} {row.unit.name}  {note}")
    result = consolidate(dep, DEMO_PERIOD, docx=True, now=datetime(2025, 3, 11, 16, 30, tzinfo=tz))
    say("5. Tổng hợp kỳ (sau hạn):")
    for line in result.headline():
        say(f"   {line}")
    for label, path in (
        ("bảng tổng hợp", result.xlsx),
        ("CSV", result.csv),
        ("dự thảo báo cáo", result.docx),
    ):
        say(f"   {label}: {path}")
    return {
        "period": DEMO_PERIOD,
        "templates": [str(f.path) for f in files],
        "status": [r.to_dict() for r in rows],
        "messages": dict(sent),
        "summary": {"xlsx": str(result.xlsx), "csv": str(result.csv), "docx": str(result.docx)},
    }
