"""The library API: one function per ``baocao`` subcommand, with the same name.

The CLI parses arguments, calls one of these and prints the result; scripts, scheduled jobs and
tests call them directly. Each takes a ``Deployment`` (settings, forms and registry loaded
once) and returns plain data that the CLI can print as a table or as JSON.
"""

from __future__ import annotations

import shutil
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from baocao.collect import (
    CollectReport,
    FileResult,
    _collect_lock,
    _Run,
    collect,
    judging_context,
    local_time,
    same_key,
)
from baocao.collect import release as release_held
from baocao.consolidate import (
    ConsolidationResult,
    ScorecardResult,
    consolidate,
    scorecard,
    scorecard_of,
    summary_for,
)
from baocao.errors import BaocaoError, LockedError, UsageError, WorkbookError
from baocao.files import write_if_changed
from baocao.jobs import DueReport, resend_feedback, run, run_due, setup_logging
from baocao.judge.validate import Outcome, validate
from baocao.judge.workers import read_workbooks
from baocao.model import Action, FileRecord, Issue, Severity
from baocao.names import printable, safe_name
from baocao.report import docx as summary_docx
from baocao.report import xlsx as summary_xlsx
from baocao.report.plain import headline, render_csv
from baocao.report.scorecard import Scorecard
from baocao.report.scorecard_xlsx import render_scorecard
from baocao.report.status import UnitStatus, period_status, unit_order
from baocao.spec.deployment import Deployment, load_deployment
from baocao.spec.links import unit_link
from baocao.store.ledger import Ledger
from baocao.workbook.template import render_template, template_context, template_path

__all__ = [
    "CollectReport",
    "ConsolidationResult",
    "Deployment",
    "DueReport",
    "ScorecardResult",
    "check",
    "collect",
    "consolidate",
    "held",
    "info",
    "load_deployment",
    "release",
    "resend_feedback",
    "run",
    "run_due",
    "scorecard",
    "status",
    "submit",
    "template_context",
    "template_path",
    "templates",
    "unattributed",
    "units",
]


def info(dep: Deployment) -> dict:
    """What a coordinator needs to trust the setup: files, paths, form, periods, units."""
    s = dep.settings
    return {
        "config_file": str(s.config_file),
        "organisation": s.organisation,
        "coordinator": s.coordinator,
        "timezone": s.timezone.key,
        "paths": {key: str(path) for key, path in s.paths.items()},
        "form_file": str(s.form_file),
        "registry_file": str(s.registry_file),
        "form": {
            "id": dep.form.id,
            "version": dep.form.version,
            "title": dep.form.title,
            "fields": len(dep.form.fields),
            "known_versions": list(dep.catalog.versions),
        },
        "periods": [
            {
                "kind": k.code,
                "label": k.label,
                "months": list(k.months),
                "due_before": f"{k.due_day:02d}/{k.due_month:02d}",
                "estimates": k.estimates,
            }
            for k in s.period_kinds.values()
        ],
        "units": len({u.code for u in dep.registry.units}),
        "mail": {"backend": s.mail.backend, "coordinators": list(s.mail.coordinators)},
        "signing_key": {"source": dep.signing_key.source, "key_id": dep.signing_key.key_id},
    }


def units(dep: Deployment, period: str) -> list[dict]:
    """Units active in ``period``, with whether each must submit a report itself."""
    p = dep.period(period)
    reporting = {u.code for u in dep.registry.reporting_units(p)}
    return [
        {
            "code": u.code,
            "name": u.name,
            "parent": u.parent,
            "email": u.email,
            "kind": u.kind,
            "reports": u.code in reporting,
        }
        for u in dep.registry.active_units(p)
    ]


@dataclass(frozen=True)
class TemplateFile:
    unit: str
    path: Path
    written: bool


def templates(dep: Deployment, period: str, unit: str | None = None) -> list[TemplateFile]:
    """Write one pre-filled template per reporting unit of ``period`` (or just ``unit``).

    Files go to ``<templates>/<period>/``; an unchanged file is left untouched.
    """
    p = dep.period(period)
    targets = dep.registry.reporting_units(p) if unit is None else [dep.unit(unit, p)]
    with Ledger(dep.settings.path("ledger")) as ledger:
        same_key(dep, ledger)  # templates signed with another key would all be held later
    out = []
    for u in targets:
        path = template_path(dep, u, p)
        content = render_template(dep.form, template_context(dep, u, p))
        out.append(TemplateFile(unit=u.code, path=path, written=write_if_changed(path, content)))
    return out


def status(dep: Deployment, period: str, now: datetime | None = None) -> list[UnitStatus]:
    """Every reporting unit of ``period`` with on time / late / rejected / missing, from the ledger.

    Reading never creates a ledger: before the first collect every unit is missing.
    """
    p = dep.period(period)
    units = unit_order(dep.registry, dep.registry.reporting_units(p), dep.registry.reference_day(p))
    files: list[FileRecord] = []
    current: dict = {}
    if dep.settings.path("ledger").exists():
        with Ledger(dep.settings.path("ledger")) as ledger:
            files = ledger.files(p.code)
            current = ledger.current_submissions(p.code)
    levels = {u.code: dep.level_of(u, p) for u in units}
    s = dep.settings
    return period_status(p, units, files, current, s.timezone, s.inclusive_deadline, levels, now=now)


def unattributed(dep: Deployment, period: str) -> list[FileRecord]:
    """Files refused since the period began that could not be tied to any unit.

    They appear in no unit's status, so the coordinator is shown them separately: a unit may
    have sent a broken file and be waiting for an answer nobody can address to it.
    """
    p = dep.period(period)
    since = datetime.combine(p.start, datetime.min.time(), tzinfo=dep.settings.timezone)
    if not dep.settings.path("ledger").exists():
        return []
    with Ledger(dep.settings.path("ledger")) as ledger:
        return ledger.unattributed(since)


def held(dep: Deployment, period: str) -> list[FileRecord]:
    """Files of ``period`` waiting for the coordinator: they name a unit but do not prove it
    (no valid template signature), so they replace nothing until ``release``d."""
    p = dep.period(period)
    if not dep.settings.path("ledger").exists():
        return []
    with Ledger(dep.settings.path("ledger")) as ledger:
        return ledger.held(p.code)


def release(dep: Deployment, file_id: int, now: datetime | None = None) -> CollectReport:
    """Let held file ``file_id`` in on purpose (see ``collect.release``)."""
    return release_held(dep, file_id, now=now)


def check(dep: Deployment, path: Path, now: datetime | None = None) -> Outcome:
    """Judge one workbook exactly as ``collect`` would, without taking it or recording anything.

    For a coordinator answering a unit's "is my file right?" before it is sent. The file is read
    in a worker process (a hostile file costs that process, not the caller); the unit's earlier
    accepted reports come from the ledger when there is one. An unreadable file gives an
    ``Outcome`` with the reader's message as its only error.
    """
    now = local_time(now, dep.settings.timezone)
    setup_logging(dep)  # a reader failure is logged in the logs folder, never printed
    [(_, raw)] = list(
        read_workbooks(
            [Path(path)], dep.catalog.layouts(), workers=1, version_field=dep.catalog.version_field
        )
    )
    if isinstance(raw, WorkbookError):
        return Outcome(None, None, None, {}, [Issue(Severity.ERROR, "unreadable", str(raw))])
    if not dep.settings.path("ledger").exists():
        return validate(raw, judging_context(dep, raw, now.date(), None))
    with Ledger(dep.settings.path("ledger")) as ledger:
        return validate(raw, judging_context(dep, raw, now.date(), ledger))


# --- the web desk's library twins (``baocao serve`` calls these) ------------------------------


def submit(
    dep: Deployment,
    name: str,
    content: bytes,
    *,
    via: str = "web",
    now: datetime | None = None,
    wait_seconds: float = 0.0,
) -> FileResult:
    """Take one uploaded file the way ``collect`` takes an inbox file, and return its verdict.

    Same steps, same code: the bytes are archived (hashed, verified) and recorded before anything
    else, then read in a worker process, judged, recorded and given a feedback workbook; the
    scheduled job mails feedback as for any file. ``via`` says where it came from (kept in the
    ledger's location, e.g. ``web/NV_VP``). ``wait_seconds``: how long to wait for a running
    collect to finish before giving up with ``LockedError`` (nothing is kept then: the sender
    still has the file and is told to try again).

    Until the intake seam lands this drives collect's run directly: the bytes go to a private
    spool folder under a name baocao makes, and collect takes them from there.
    """
    now = local_time(now, dep.settings.timezone)
    name = printable(unicodedata.normalize("NFC", PurePosixPath(name.replace("\\", "/")).name), keep="")
    spool = dep.settings.path("ledger").parent / ".web-tam" / uuid.uuid4().hex
    path = spool / safe_name(name, "tep-tai-len.xlsx")
    key = "/".join([*(safe_name(part, "web") for part in via.split("/")), path.name])
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with _collect_lock(dep), Ledger(dep.settings.path("ledger")) as ledger:
                same_key(dep, ledger)
                try:
                    spool.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(content)
                    run = _Run(dep, ledger, now, simulated=False, progress=None)
                    run.take(path, key, now)
                finally:
                    shutil.rmtree(spool, ignore_errors=True)
                row = ledger.db.execute("SELECT max(id) FROM files WHERE inbox_path=?", (key,)).fetchone()
                if row[0] is None:  # the copy failed verification: nothing was kept
                    raise BaocaoError("Tệp chưa được lưu (lỗi ghi đĩa trên máy chủ); hãy gửi lại")
                # the spool file had a name baocao made; the ledger keeps the one the sender gave
                with ledger.transaction():
                    ledger.set_original_name(row[0], name)
                run.judge_all()
                return next(r for r in reversed(run.report.results) if r.file_id == row[0])
        except LockedError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.25)


def unit_template(dep: Deployment, period: str, unit: str) -> tuple[str, bytes]:
    """The pre-filled template of ``unit`` for ``period`` as (file name, xlsx bytes), for a download.

    Like ``templates`` it first makes sure the key it is signed with is the deployment's own.
    """
    p = dep.period(period)
    u = dep.unit(unit, p)
    with Ledger(dep.settings.path("ledger")) as ledger:
        same_key(dep, ledger)
    return template_path(dep, u, p).name, render_template(dep.form, template_context(dep, u, p))


def key_in_use(dep: Deployment) -> None:
    """Refuse to serve links and templates made with another key than the ledger's (``ConfigError``);
    without a ledger yet there is nothing to compare with, and none is created."""
    if dep.settings.path("ledger").exists():
        with Ledger(dep.settings.path("ledger")) as ledger:
            same_key(dep, ledger)


def unit_files(dep: Deployment, period: str, unit: str) -> list[FileRecord]:
    """The unit's history for ``period``, oldest first: every file recorded for ``unit`` or naming
    it, and every file sent through its web link for that period (whatever the file turned out
    to be: another unit's template, another period, unreadable)."""
    p = dep.period(period)
    if not dep.settings.path("ledger").exists():
        return []
    with Ledger(dep.settings.path("ledger")) as ledger:
        mine = {r.saved_id: r for r in ledger.files(p.code) if unit in (r.unit, r.claimed_unit)}
        mine.update({r.saved_id: r for r in ledger.files_at(f"web/{p.code}/{unit}/")})
    return sorted(mine.values(), key=lambda r: r.saved_id)


def period_files(dep: Deployment, period: str) -> list[FileRecord]:
    """Every file recorded for ``period``, oldest first."""
    p = dep.period(period)
    if not dep.settings.path("ledger").exists():
        return []
    with Ledger(dep.settings.path("ledger")) as ledger:
        return ledger.files(p.code)


def file_record(dep: Deployment, file_id: int) -> FileRecord:
    """One recorded file by its ledger id (``UsageError`` if there is none)."""
    with Ledger(dep.settings.path("ledger")) as ledger:
        row = ledger.db.execute("SELECT id FROM files WHERE id=?", (file_id,)).fetchone()
        if row is None:
            raise UsageError(f"Không có tệp số {file_id} trong sổ theo dõi")
        return ledger.file(file_id)


SUMMARY_KINDS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def summary_file(dep: Deployment, period: str, kind: str, *, now: datetime) -> tuple[str, bytes]:
    """The province summary of ``period`` as one file (``xlsx``, ``csv`` or ``docx``), in memory.

    The same renderings ``consolidate`` writes, made from the ledger as it is now; nothing is
    written (a download must not change the output folder the scheduled job mails from).
    """
    if kind not in SUMMARY_KINDS:
        raise UsageError(f"Không có dạng tổng hợp '{kind}'")
    _require_ledger(dep)
    summary = summary_for(dep, period, now=now)
    if kind == "xlsx":
        content = summary_xlsx.render_summary(summary)
    elif kind == "csv":
        content = render_csv(summary)
    else:
        content = summary_docx.render_docx(summary, dep.settings)
    return f"tong-hop_{summary.period.code}_{summary.level.code}.{kind}", content


def summary_headline(dep: Deployment, period: str, *, now: datetime) -> list[str]:
    """The summary's first sentences (completeness, what is comparable, targets), as ``consolidate``
    prints them; none before anything was collected (and no ledger is created)."""
    if not dep.settings.path("ledger").exists():
        return []
    return headline(summary_for(dep, period, now=now))


def scorecard_data(dep: Deployment, year: int, *, now: datetime) -> tuple[Scorecard, bytes]:
    """The scorecard of ``year`` and its workbook bytes, without writing a file."""
    _require_ledger(dep)
    result = scorecard_of(dep, year, now=now)
    return result, render_scorecard(result, dep.settings.organisation)


def _require_ledger(dep: Deployment) -> None:
    """Summaries read the ledger; a download must not create an empty one."""
    if not dep.settings.path("ledger").exists():
        raise UsageError("Chưa có dữ liệu: chưa thu nhận tệp báo cáo nào")


def links(dep: Deployment, period: str, unit: str | None = None) -> list[dict]:
    """Each reporting unit's web link for ``period`` (or just ``unit``'s), to hand out.

    Raises ``UsageError`` when ``[web] base_url`` is not set: a link needs the address units type.
    """
    p = dep.period(period)
    if not dep.settings.web.base_url:
        raise UsageError("Chưa khai báo [web] base_url trong config.toml: chưa có địa chỉ để gửi đơn vị")
    targets = dep.registry.reporting_units(p) if unit is None else [dep.unit(unit, p)]
    return [
        {"unit": u.code, "name": u.name, "email": u.email, "link": unit_link(dep, u.code, p.code)}
        for u in targets
    ]


def actions(dep: Deployment, period: str | None = None, limit: int = 100) -> list[Action]:
    """The coordinators' recorded acts (reopen, resend feedback), latest first."""
    if not dep.settings.path("ledger").exists():
        return []
    with Ledger(dep.settings.path("ledger")) as ledger:
        return ledger.actions(period, limit)


def health(dep: Deployment) -> dict:
    """A plain liveness answer for monitoring: the ledger opens and answers (raises otherwise).

    A deployment with no ledger yet is healthy (nothing collected); the check never creates one.
    """
    now = local_time(None, dep.settings.timezone).isoformat()
    if not dep.settings.path("ledger").exists():
        return {"ledger_schema": None, "time": now}
    with Ledger(dep.settings.path("ledger")) as ledger:
        ledger.db.execute("SELECT 1").fetchone()
        return {"ledger_schema": ledger.schema_version, "time": now}
