"""The unit page, reached by the unit's secret link: template, upload, verdict, history.

A clerk opens the link from a reminder on a phone or a desk computer, downloads the template,
fills it, uploads it and sees within seconds whether it was taken (with a receipt number) or
which cells to fix (with the marked-up workbook to download). "Chỉ kiểm tra" judges the same
way and records nothing. The link is the unit's key: a wrong token is a plain 404, the same as
an unknown unit or period, so the page tells nothing to someone guessing.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from baocao import api
from baocao.errors import BaocaoError, LockedError
from baocao.judge.validate import Outcome
from baocao.model import FileRecord
from baocao.spec.links import link_matches, unit_path
from baocao.spec.periods import Period, days_late
from baocao.spec.registry import Unit
from baocao.web.upload import FORM_OVERHEAD, Refused, read_upload
from baocao.web.views import XLSX, deadline_words, desk, download, error_page, file_inside, render, send_file


class NotFound(Exception):
    """The link does not open a unit page (wrong token, unknown unit or period)."""


@dataclass(frozen=True)
class UnitLink:
    unit: Unit
    period: Period
    path: str  # the page's own path, for links and forms


def upload_limit(dep: api.Deployment) -> int:
    """The largest file a unit may upload: collect's own limit, so no intake takes more."""
    return int(dep.settings.collect.max_file_mb * 2**20)


def request_limit(dep: api.Deployment) -> int:
    """The most an upload request may carry: the file plus the form around it."""
    return upload_limit(dep) + FORM_OVERHEAD


def resolve(request: Request) -> UnitLink:
    """The unit and period of the link in ``request``, or ``NotFound``.

    The token is checked first and in constant time; only then are period and unit looked up.
    """
    d = desk(request)
    params = request.path_params
    code, period_code, token = params["unit"], params["period"], params["token"]
    if not link_matches(d.dep, code, period_code, token):
        raise NotFound
    try:
        period = d.dep.period(period_code)
        unit = d.dep.unit(code, period)
    except BaocaoError:
        raise NotFound from None
    if unit.code not in {u.code for u in d.dep.registry.reporting_units(period)}:
        raise NotFound
    return UnitLink(unit, period, unit_path(d.dep, unit.code, period.code))


def not_found(request: Request) -> Response:
    return error_page(
        request,
        404,
        "Không tìm thấy trang",
        "Đường dẫn không đúng hoặc đã hết hiệu lực. Hãy dùng đường dẫn trong thư nhắc mới nhất, "
        "hoặc liên hệ cán bộ tổng hợp.",
    )


def _history(request: Request, link: UnitLink) -> list[FileRecord]:
    files = api.unit_files(desk(request).dep, link.period.code, link.unit.code)
    return sorted(files, key=lambda r: (r.received_at, r.id or 0), reverse=True)


def _standing(request: Request, link: UnitLink) -> dict:
    """Where the unit stands: status label, deadline, days left or late."""
    d = desk(request)
    dep, now = d.dep, d.now()
    status = next((s for s in api.status(dep, link.period.code) if s.unit.code == link.unit.code), None)
    level = dep.level_of(link.unit, link.period)
    due_text, time_left = deadline_words(dep, link.unit, link.period, now.date())
    overdue = days_late(now, link.period, dep.settings.timezone, dep.settings.inclusive_deadline, level)
    return {
        "status": status,
        "due_text": due_text,
        "time_left": time_left,
        "overdue": overdue,
        # a file sent now is kept without replacing the report in force (unless reopened)
        "closed": api.locked_for(dep, link.period.code, link.unit.code, now),
        "current_file": status.submission.file_id if status and status.submission else None,
    }


def _page(request: Request, link: UnitLink, status_code: int = 200, **extra) -> Response:
    """The unit page (reads the ledger: call it in the thread pool, not on the event loop)."""
    files = _history(request, link)
    shown = request.query_params.get("tep", "")
    verdict = next((r for r in files if shown.isdigit() and r.id == int(shown)), None)
    context = {"check": None, "refusal": None, **extra}
    return render(
        request,
        "unit.html",
        status_code,
        unit=link.unit,
        period=link.period,
        base=link.path,
        files=files,
        verdict=verdict,
        max_mb=desk(request).dep.settings.collect.max_file_mb,
        **_standing(request, link),
        **context,
    )


async def unit_page(request: Request) -> Response:
    try:
        link = resolve(request)
    except NotFound:
        return not_found(request)
    return await run_in_threadpool(_page, request, link)


async def template_download(request: Request) -> Response:
    try:
        link = resolve(request)
    except NotFound:
        return not_found(request)
    name, content = await run_in_threadpool(
        api.unit_template, desk(request).dep, link.period.code, link.unit.code
    )
    return download(content, name, XLSX)


def _check(request: Request, name: str, content: bytes) -> Outcome:
    """``baocao check`` on the uploaded bytes: a private temporary copy, judged, then deleted."""
    d = desk(request)
    with tempfile.TemporaryDirectory(prefix="baocao-kiem-tra-") as folder:
        path = Path(folder) / ("kiem-tra" + Path(name).suffix.lower())
        path.write_bytes(content)
        outcome = api.check(d.dep, path, now=d.now())
    # the reader names the temporary copy; the unit knows the file by its own name
    outcome.issues[:] = [replace(i, message=i.message.replace(path.name, name)) for i in outcome.issues]
    return outcome


async def upload(request: Request) -> Response:
    """Submit (``nop``) or only check (``kiem-tra``) one file; the verdict is on the unit page."""
    try:
        link = resolve(request)
    except NotFound:
        return not_found(request)
    d = desk(request)
    limit = upload_limit(d.dep)
    try:
        sent = await read_upload(request, limit)
    except Refused as refusal:
        return await run_in_threadpool(_page, request, link, refusal.status, refusal=refusal.message)
    if sent.check_only:
        outcome = await run_in_threadpool(_check, request, sent.name, sent.content)
        return await run_in_threadpool(_page, request, link, check={"name": sent.name, "outcome": outcome})
    try:
        rec = await run_in_threadpool(
            partial(
                api.submit,
                d.dep,
                sent.name,
                sent.content,
                period=link.period.code,
                unit=link.unit.code,
                now=d.now(),
                wait_seconds=d.dep.settings.web.upload_wait_seconds,
            )
        )
    except LockedError:
        message = (
            "Hệ thống đang bận thu nhận các tệp khác nên tệp của bạn CHƯA được nộp. "
            "Xin chờ vài phút rồi gửi lại."
        )
        return await run_in_threadpool(_page, request, link, 503, refusal=message)
    except BaocaoError as exc:  # the desk's own trouble (archive, ledger): say so, keep the clerk's page
        message = (
            f"Tệp của bạn CHƯA được nộp: {exc}. Xin gửi lại sau ít phút; nếu vẫn không được, "
            f"hãy báo cho {d.dep.settings.coordinator or 'bộ phận tổng hợp'}."
        )
        return await run_in_threadpool(_page, request, link, 503, refusal=message)
    return RedirectResponse(f"{link.path}?tep={rec.id}#ket-qua", status_code=303)


async def feedback_download(request: Request) -> Response:
    """The marked-up workbook of one of this unit's files (only a file of this page's history)."""
    try:
        link = resolve(request)
    except NotFound:
        return not_found(request)
    wanted = request.path_params["file_id"]
    history = await run_in_threadpool(_history, request, link)
    rec = next((r for r in history if r.id == wanted), None)
    folder = desk(request).dep.settings.path("feedback")
    path = file_inside(folder, rec.feedback_path) if rec else None
    if path is None:
        return not_found(request)
    return send_file(path, path.name)


PREFIX = "/don-vi/{period}/{unit}/{token}"
routes = [
    Route(PREFIX, unit_page, methods=["GET"]),
    Route(PREFIX + "/bieu-mau", template_download, methods=["GET"]),
    Route(PREFIX + "/nop", upload, methods=["POST"]),
    Route(PREFIX + "/phan-hoi/{file_id:int}", feedback_download, methods=["GET"]),
]
