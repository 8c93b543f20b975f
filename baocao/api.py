"""The library API: one function per ``baocao`` subcommand, with the same name.

The CLI parses arguments, calls one of these and prints the result; scripts, scheduled jobs and
tests call them directly. Each takes a ``Deployment`` (settings, forms and registry loaded
once) and returns plain data that the CLI can print as a table or as JSON.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baocao.errors import BaocaoError, LockedError, UsageError, WorkbookError
from baocao.files import unwritable_folder, write_if_changed
from baocao.model import Action, FileRecord, Issue, Severity
from baocao.spec.deployment import Deployment, load_deployment, local_time
from baocao.spec.links import unit_link
from baocao.spec.periods import Period
from baocao.store import Store, archive_of, open_store, same_key

if TYPE_CHECKING:
    from baocao.collect import CollectReport
    from baocao.consolidate import ConsolidationResult, ScorecardResult, consolidate, scorecard
    from baocao.jobs import DueReport, resend_feedback, run, run_due
    from baocao.judge.validate import Outcome
    from baocao.logs import setup_logging
    from baocao.rebuild import RebuildResult
    from baocao.report.scorecard import Scorecard
    from baocao.report.status import UnitStatus
    from baocao.workbook.template import template_context, template_path

# What this module hands on from the stages, imported when first asked for: a command imports
# only what it uses (``check`` loads neither consolidation, nor mail, nor the scheduler).
_ELSEWHERE = {
    "CollectReport": "baocao.judging",
    "ConsolidationResult": "baocao.consolidate",
    "ScorecardResult": "baocao.consolidate",
    "consolidate": "baocao.consolidate",
    "scorecard": "baocao.consolidate",
    "DueReport": "baocao.jobs",
    "resend_feedback": "baocao.jobs",
    "run": "baocao.jobs",
    "run_due": "baocao.jobs",
    "RebuildResult": "baocao.rebuild",
    "setup_logging": "baocao.logs",
    "template_context": "baocao.workbook.template",
    "template_path": "baocao.workbook.template",
}


def __getattr__(name: str) -> Any:
    module = _ELSEWHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'baocao.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CollectReport",
    "ConsolidationResult",
    "Deployment",
    "DueReport",
    "RebuildResult",
    "ReopenResult",
    "ScorecardResult",
    "check",
    "collect",
    "consolidate",
    "failed",
    "held",
    "info",
    "ledger_rebuild",
    "load_deployment",
    "locked",
    "release",
    "reopen",
    "resend_feedback",
    "run",
    "run_due",
    "scorecard",
    "setup_logging",
    "status",
    "submit",
    "template_context",
    "template_path",
    "templates",
    "unattributed",
    "units",
]


LEVEL_NAMES = {"department": "đơn vị nộp về sở", "province": "sở nộp về tỉnh"}


def _period_info(dep: Deployment, year: int) -> list[dict]:
    """Each period kind as it reads this ``year``: its name, data window and deadline per level."""
    s = dep.settings
    out = []
    for kind in s.period_kinds.values():
        period = Period(year, kind)
        levels = dict(kind.due_by_level)
        due = {level: period.due_text(s.inclusive_deadline, level) for level in levels} or {
            "": period.due_text(s.inclusive_deadline)
        }
        out.append(
            {
                "kind": kind.code,
                "label": kind.label,
                "code": period.code,
                "name": period.name,
                "months": list(kind.months),
                "window": period.window_text,
                "estimates": period.includes_estimates,
                "due_before": f"{kind.due_day:02d}/{kind.due_month:02d}",
                "due": due,
            }
        )
    return out


def info(dep: Deployment, now: datetime | None = None) -> dict:
    """What a coordinator needs to trust the setup: files, paths, form, periods (named and dated
    for the year of ``now``), units, where mail goes and whom units are told to call."""
    s = dep.settings
    year = local_time(now, s.timezone).year
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
        "year": year,
        "periods": _period_info(dep, year),
        "units": len({u.code for u in dep.registry.units}),
        "registry_problems": list(dep.registry.bad_addresses.values()),
        "mail": {
            "backend": s.mail.backend,
            "coordinators": list(s.mail.coordinators),
            "reply_to": list(s.mail.reply_to),
            "receipts": s.mail.receipts,
            "copy_parent": s.mail.copy_parent,
        },
        "contact": s.contact,
        "imap": {
            "host": s.imap.host,
            "port": s.imap.effective_port,
            "security": s.imap.security,
            "user": s.imap.user,
            "folder": s.imap.folder,
            "processed_folder": s.imap.processed_folder,
            "allowed_senders": list(s.imap.allowed_senders),
        }
        if s.imap
        else None,
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
    from baocao.workbook.template import render_template, template_context, template_path

    p = dep.period(period)
    targets = dep.registry.reporting_units(p) if unit is None else [dep.unit(unit, p)]
    with open_store(dep.settings) as ledger:
        same_key(dep, ledger)  # templates signed with another key would all be held later
    out = []
    for u in targets:
        path = template_path(dep, u, p)
        content = render_template(dep.form, template_context(dep, u, p))
        try:
            written = write_if_changed(path, content)
        except OSError as exc:
            raise unwritable_folder(path.parent, exc) from exc
        out.append(TemplateFile(unit=u.code, path=path, written=written))
    return out


def collect(
    dep: Deployment,
    now: datetime | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    source: str | None = None,
) -> CollectReport:
    """Take, archive, judge and record what has arrived (see ``baocao.collect.collect``).

    ``source``: ``folder`` or ``imap`` alone; by default the folder and, when ``[intake.imap]``
    is configured, the mailbox. A mailbox that cannot be read costs the mailbox only
    (``CollectReport.unavailable``).
    """
    dep.look_up_key_ahead()  # needed before the workers start: looked up while collect is imported
    from baocao.collect import collect as collect_from
    from baocao.intake.sources import intakes_for

    return collect_from(dep, now=now, progress=progress, intakes=intakes_for(dep, source))


def status(dep: Deployment, period: str, now: datetime | None = None) -> list[UnitStatus]:
    """Every reporting unit of ``period`` with on time / late / rejected / missing, from the ledger.

    Reading never creates a ledger: before the first collect every unit is missing.
    """
    from baocao.report.status import period_status, unit_order

    p = dep.period(period)
    units = unit_order(dep.registry, dep.registry.reporting_units(p), dep.registry.reference_day(p))
    files: list[FileRecord] = []
    current: dict = {}
    if dep.settings.path("ledger").exists():
        with open_store(dep.settings) as ledger:
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
    with open_store(dep.settings) as ledger:
        return ledger.unattributed(since)


def locked(dep: Deployment, period: str) -> list[FileRecord]:
    """Files for ``period`` kept after it closed (final summary): they replace nothing until the
    coordinator reopens the period for their unit (``reopen``)."""
    p = dep.period(period)
    with open_store(dep.settings) as ledger:
        return ledger.files(period=p.code, status="locked")


def failed(dep: Deployment, period: str) -> list[FileRecord]:
    """Files received since ``period`` began on which the program failed (archived, kept for the
    coordinator; ``ledger rebuild`` judges them again once the cause is fixed)."""
    p = dep.period(period)
    since = datetime.combine(p.start, datetime.min.time(), tzinfo=dep.settings.timezone)
    with open_store(dep.settings) as ledger:
        return [f for f in ledger.files(status="failed") if f.received_at >= since]


@dataclass(frozen=True)
class ReopenResult:
    """A reopening recorded: the kept file it lets in (judged by the next collect), if any."""

    period: str
    unit: str
    opened_at: datetime
    file: FileRecord | None

    def to_dict(self) -> dict:
        return {
            "period": self.period,
            "unit": self.unit,
            "opened_at": self.opened_at.isoformat(),
            "file": {"id": self.file.id, "name": self.file.original_name} if self.file else None,
        }


def reopen(
    dep: Deployment, period: str, unit: str, now: datetime | None = None, actor: str | None = None
) -> ReopenResult:
    """Let one more file of closed ``period`` in for ``unit``, on purpose, recorded in the ledger
    and kept in the archive (a rebuilt ledger has it too).

    The latest file kept for the unit after the period closed is judged again by the next
    collect and replaces the unit's report; without one, the unit's next file does. Raises
    ``UsageError`` for an unknown period or unit, or a period not closed yet. ``actor``: the
    account that asked (the web desk), recorded with the act.
    """
    from baocao.judging import reopen_in

    now = local_time(now, dep.settings.timezone)
    p = dep.period(period)
    u = dep.unit(unit, p)
    closes = dep.closes_at(p)
    if now < closes:
        raise UsageError(
            f"Kỳ {p.code} chưa khóa sổ (khóa lúc {closes:%H:%M %d/%m/%Y}, sau tổng hợp cuối kỳ): "
            "tệp mới của đơn vị vẫn thay thế bản trước, không cần mở lại"
        )
    archive_of(dep.settings).journal_reopening(p.code, u.code, now)
    with open_store(dep.settings) as ledger, ledger.transaction():
        held = reopen_in(ledger, p.code, u.code, now)
        if actor:
            kept = f"tệp {held.original_name} sẽ được kiểm tra lại" if held else "tệp tiếp theo được nhận"
            ledger.add_action(at=now, actor=actor, action="reopen", period=p.code, unit=u.code, detail=kept)
    return ReopenResult(p.code, u.code, now, held)


def ledger_rebuild(dep: Deployment, now: datetime | None = None, force: bool = False) -> RebuildResult:
    """Rebuild the ledger from the archive (``baocao ledger rebuild``; see ``baocao.rebuild``)."""
    from baocao.rebuild import rebuild

    return rebuild(dep, now, force=force)


def held(dep: Deployment, period: str) -> list[FileRecord]:
    """Files of ``period`` waiting for the coordinator: they name a unit but do not prove it
    (no valid template signature), so they replace nothing until ``release``d."""
    p = dep.period(period)
    if not dep.settings.path("ledger").exists():
        return []
    with open_store(dep.settings) as ledger:
        return ledger.files(period=p.code, status="held")


def release(dep: Deployment, file_id: int, now: datetime | None = None) -> CollectReport:
    """Let held file ``file_id`` in on purpose (see ``collect.release``)."""
    from baocao.collect import release as release_held

    return release_held(dep, file_id, now=now)


def check(dep: Deployment, path: Path, now: datetime | None = None) -> Outcome:
    """Judge one workbook exactly as ``collect`` would, without taking it or recording anything.

    For a coordinator answering a unit's "is my file right?" before it is sent. The file is read
    in a worker process (a hostile file costs that process, not the caller); the unit's earlier
    accepted reports come from the ledger when there is one. An unreadable file gives an
    ``Outcome`` with the reader's message as its only error.
    """
    from baocao.judge.context import judging_context
    from baocao.judge.validate import Outcome, validate
    from baocao.judge.workers import read_workbooks, reading_of
    from baocao.logs import setup_logging

    path = Path(path)
    if not path.exists():  # the coordinator's typo, not a unit's locked or unreadable file
        raise UsageError(f"Không tìm thấy tệp {path}; kiểm tra lại đường dẫn và tên tệp")
    if path.is_dir():
        raise UsageError(f"{path} là một thư mục; hãy chỉ một tệp bảng tính (.xlsx, .xls, .ods)")
    now = local_time(now, dep.settings.timezone)
    setup_logging(dep)  # a reader failure is logged in the logs folder, never printed
    [(_, raw)] = list(read_workbooks([path], {}, workers=1, reading=reading_of(dep)))
    if isinstance(raw, WorkbookError):
        return Outcome(None, None, None, {}, [Issue(Severity.ERROR, "unreadable", str(raw))])
    if not dep.settings.path("ledger").exists():
        return validate(raw, judging_context(dep, raw, now.date(), None))
    with open_store(dep.settings) as ledger:
        return validate(raw, judging_context(dep, raw, now.date(), ledger))


# --- the web desk's library twins (``baocao serve`` calls these) ------------------------------


def submit(
    dep: Deployment,
    name: str,
    content: bytes,
    *,
    period: str,
    unit: str,
    now: datetime | None = None,
    wait_seconds: float = 0.0,
) -> FileRecord:
    """Take one file a unit uploaded through its link, exactly as collect takes any arrival.

    The web upload is an intake (``intake.upload``): collect archives the bytes (hashed,
    verified, journalled) and records them before anything else, then reads the file in a worker
    process, judges, records and writes the marked-up workbook; the scheduled job mails feedback
    as for any file. Returns the file as the ledger now has it (its id is the receipt number).
    ``wait_seconds``: how long to wait for a running collect before giving up with
    ``LockedError``; nothing is kept then (the sender still has the file and is told to retry).
    """
    from baocao.collect import collect as collect_from
    from baocao.intake.upload import UploadIntake, upload_arrival, web_location

    now = local_time(now, dep.settings.timezone)
    arrival = upload_arrival(name, content, period=period, unit=unit, received_at=now)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            collect_from(dep, now=now, intakes=[lambda *_: UploadIntake([arrival])])
            break
        except LockedError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.25)
    with open_store(dep.settings) as ledger:
        mine = [r for r in ledger.files_at(web_location(period, unit)) if r.arrival_key == arrival.key]
    if not mine:  # the copy could not be made or verified: nothing was kept
        raise BaocaoError("Tệp chưa được lưu (lỗi ghi đĩa trên máy chủ); hãy gửi lại")
    return mine[-1]


def unit_template(dep: Deployment, period: str, unit: str) -> tuple[str, bytes]:
    """The pre-filled template of ``unit`` for ``period`` as (file name, xlsx bytes), for a download.

    Like ``templates`` it first makes sure the key it is signed with is the deployment's own.
    """
    from baocao.workbook.template import render_template, template_context, template_path

    p = dep.period(period)
    u = dep.unit(unit, p)
    with open_store(dep.settings) as ledger:
        same_key(dep, ledger)
    return template_path(dep, u, p).name, render_template(dep.form, template_context(dep, u, p))


def key_in_use(dep: Deployment) -> None:
    """Refuse to serve links and templates made with another key than the ledger's (``ConfigError``);
    without a ledger yet there is nothing to compare with, and none is created."""
    if dep.settings.path("ledger").exists():
        with open_store(dep.settings) as ledger:
            same_key(dep, ledger)


def _reading(dep: Deployment) -> Store | None:
    """The store to read, or None before the first collect (a look never creates a ledger)."""
    return open_store(dep.settings) if dep.settings.path("ledger").exists() else None


def locked_for(dep: Deployment, period: str, unit: str, now: datetime | None = None) -> bool:
    """Whether a file from ``unit`` arriving ``now`` would be kept without replacing its report:
    the rule collect applies (``Judge.closed_for``: period closed, a report in force, no open
    reopening), read without using a reopening up."""
    p = dep.period(period)
    if local_time(now, dep.settings.timezone) < dep.closes_at(p):
        return False
    store = _reading(dep)
    if store is None:
        return False
    with store:
        return store.has_submission(p.code, unit) and store.open_reopening(p.code, unit) is None


def unit_files(dep: Deployment, period: str, unit: str) -> list[FileRecord]:
    """The unit's history for ``period``, oldest first: every file recorded for ``unit`` or naming
    it, and every file sent through its web link for that period (whatever the file turned out
    to be: another unit's template, another period, unreadable)."""
    from baocao.intake.upload import web_location

    p = dep.period(period)
    store = _reading(dep)
    if store is None:
        return []
    with store:
        mine = {r.saved_id: r for r in store.files(p.code) if unit in (r.unit, r.claimed_unit)}
        mine.update({r.saved_id: r for r in store.files_at(web_location(p.code, unit))})
    return sorted(mine.values(), key=lambda r: r.saved_id)


def period_files(dep: Deployment, period: str) -> list[FileRecord]:
    """Every file recorded for ``period``, oldest first."""
    p = dep.period(period)
    store = _reading(dep)
    if store is None:
        return []
    with store:
        return store.files(p.code)


def file_record(dep: Deployment, file_id: int) -> FileRecord:
    """One recorded file by its ledger id (``UsageError`` if there is none)."""
    store = _reading(dep)
    found = None
    if store is not None:
        with store:
            found = store.file(file_id)
    if found is None:
        raise UsageError(f"Không có tệp số {file_id} trong sổ theo dõi")
    return found


def actions(dep: Deployment, period: str | None = None, limit: int = 100) -> list[Action]:
    """The coordinators' recorded acts (reopen, resend feedback), latest first."""
    store = _reading(dep)
    if store is None:
        return []
    with store:
        return store.actions(period, limit)


SUMMARY_KINDS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def _require_ledger(dep: Deployment) -> None:
    """Summaries read the ledger; a download must not create an empty one."""
    if not dep.settings.path("ledger").exists():
        raise UsageError("Chưa có dữ liệu: chưa thu nhận tệp báo cáo nào")


def summary_file(dep: Deployment, period: str, kind: str, *, now: datetime) -> tuple[str, bytes]:
    """The province summary of ``period`` as one file (``xlsx``, ``csv`` or ``docx``), in memory.

    The same renderings ``consolidate`` writes, of the ledger as it is now; nothing is written
    (a download must not change the output folder the scheduled job mails from).
    """
    from baocao.consolidate import summary_for
    from baocao.report import docx as summary_docx
    from baocao.report import xlsx as summary_xlsx
    from baocao.report.plain import render_csv

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
    from baocao.consolidate import summary_for
    from baocao.report.plain import headline

    if not dep.settings.path("ledger").exists():
        return []
    return headline(summary_for(dep, period, now=now))


def scorecard_data(dep: Deployment, year: int, *, now: datetime) -> tuple[Scorecard, bytes]:
    """The scorecard of ``year`` and its workbook bytes, without writing a file."""
    from baocao.consolidate import scorecard_of
    from baocao.report.scorecard_xlsx import render_scorecard

    _require_ledger(dep)
    result = scorecard_of(dep, year, now=now)
    return result, render_scorecard(result, dep.settings.organisation)


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


def health(dep: Deployment) -> dict:
    """A plain liveness answer for monitoring: the ledger opens and answers (raises otherwise).

    A deployment with no ledger yet is healthy (nothing collected); the check never creates one.
    """
    now = local_time(None, dep.settings.timezone).isoformat()
    store = _reading(dep)
    if store is None:
        return {"ledger": None, "time": now}
    with store:
        store.state("health")  # a real read: a damaged or locked ledger raises here
    return {"ledger": "ok", "time": now}
