"""The coordinator board, behind a login: where the period stands, unit by unit.

Read-only by default: status per unit with days overdue, filter by department, each unit's
latest file and feedback, the summary (workbook, CSV, Word draft) and the scorecard to download,
the units' links to hand out. The two actions that change state (reopen a unit, resend feedback)
are buttons that lead to a confirmation page, post with the session's CSRF token and are
recorded in the ledger with the account's name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from baocao import api
from baocao.errors import BaocaoError
from baocao.model import FileRecord
from baocao.report.scorecard import SCORE_RULE
from baocao.report.status import UnitStatus, counts
from baocao.spec.links import unit_link, unit_path
from baocao.spec.periods import Period, days_late, periods_of_year
from baocao.web.security import csrf_ok
from baocao.web.views import XLSX, deadline_words, desk, download, error_page, file_inside, render, send_file

BOARD = "/dieu-phoi"
Handler = Callable[[Request], Awaitable[Response]]


def login_required(handler: Handler) -> Handler:
    """Only for a signed-in account that still exists (a removed account is out at once)."""

    async def guarded(request: Request) -> Response:
        user = request.session.get("user")
        if not isinstance(user, str) or user not in desk(request).users():
            request.session.clear()
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"{BOARD}/dang-nhap?tiep={target}", status_code=303)
        return await handler(request)

    return guarded


def periods_to_show(request: Request) -> tuple[list[Period], Period]:
    """This year's and last year's periods (latest deadline first) and the one asked for, else the
    first whose deadline has not long passed: the period a coordinator is working on."""
    d = desk(request)
    kinds, today = d.dep.settings.period_kinds, d.now().date()
    periods = [
        p for year in (today.year + 1, today.year, today.year - 1) for p in periods_of_year(year, kinds)
    ]
    periods.sort(key=lambda p: p.due_before, reverse=True)
    asked = request.query_params.get("ky", "")
    chosen = next((p for p in periods if p.code == asked), None)
    if chosen is None and asked:
        try:
            chosen = d.dep.period(asked)
        except BaocaoError:
            chosen = None
    if chosen is None:
        open_ones = [p for p in periods if (today - p.due_before).days <= 30]
        chosen = open_ones[-1] if open_ones else periods[0]
    return [p for p in periods if p.year <= today.year or p == chosen], chosen


@dataclass(frozen=True)
class Row:
    """One unit on the board."""

    status: UnitStatus
    department: str
    department_name: str
    overdue: int
    time_left: str  # as the reminders say it: "còn 5 ngày", "hôm nay là ngày cuối"
    latest: FileRecord | None
    link: str


def board_rows(request: Request, period: Period) -> list[Row]:
    d = desk(request)
    dep, now = d.dep, d.now()
    files = api.period_files(dep, period.code)
    day = dep.registry.reference_day(period)
    rows = []
    for st in api.status(dep, period.code):
        level = dep.level_of(st.unit, period)
        dept = dep.registry.group_of(st.unit.code, day)
        late = days_late(now, period, dep.settings.timezone, dep.settings.inclusive_deadline, level)
        mine = [r for r in files if r.unit == st.unit.code and r.status in ("accepted", "rejected", "held")]
        rows.append(
            Row(
                status=st,
                department=dept.code if dept else "",
                department_name=dept.name if dept else "",
                overdue=st.days_late if st.reported else late,
                time_left=deadline_words(dep, st.unit, period, now.date())[1],
                latest=mine[-1] if mine else None,
                link=unit_path(dep, st.unit.code, period.code),
            )
        )
    return rows


def _board_page(request: Request) -> Response:
    """The board (reads the ledger: called in the thread pool)."""
    d = desk(request)
    periods, period = periods_to_show(request)
    rows = board_rows(request, period)
    departments = sorted({(r.department, r.department_name) for r in rows if r.department})
    chosen = request.query_params.get("so", "")
    shown = [r for r in rows if not chosen or r.department == chosen]
    return render(
        request,
        "board.html",
        periods=periods,
        period=period,
        departments=departments,
        department=chosen,
        rows=shown,
        counts=counts([r.status for r in shown]),
        headline=api.summary_headline(d.dep, period.code, now=d.now()),
        closed=d.now() >= d.dep.closes_at(period),
        locked=api.locked(d.dep, period.code) if d.dep.settings.path("ledger").exists() else [],
        held=api.held(d.dep, period.code),
        strays=api.unattributed(d.dep, period.code),
        actions=api.actions(d.dep, period.code, limit=20),
        flash=request.session.pop("flash", None),
        now=d.now(),
    )


@login_required
async def board(request: Request) -> Response:
    return await run_in_threadpool(_board_page, request)


@login_required
async def links_page(request: Request) -> Response:
    """Every unit's link for the period, to copy into a message or print."""
    d = desk(request)
    periods, period = periods_to_show(request)
    base = d.dep.settings.web.base_url
    units = d.dep.registry.reporting_units(period)
    entries = [
        (u, unit_link(d.dep, u.code, period.code) or unit_path(d.dep, u.code, period.code)) for u in units
    ]
    return render(request, "links.html", periods=periods, period=period, entries=entries, base_url=base)


def _reopen_target(request: Request, values) -> tuple[Period, str] | Response:
    """The period and unit a reopen is asked for, or the page that says why not."""
    d = desk(request)
    try:
        period = d.dep.period(str(values.get("ky", "")))
        unit = d.dep.unit(str(values.get("don_vi", "")), period)
    except BaocaoError as exc:
        return error_page(request, 404, "Không mở lại được", str(exc))
    closes = d.dep.closes_at(period)
    if d.now() < closes:
        return error_page(
            request,
            400,
            "Kỳ chưa khóa sổ",
            f"Kỳ {period.name} khóa sổ lúc {closes:%H:%M %d/%m/%Y} (sau tổng hợp cuối kỳ); đến lúc đó tệp "
            "mới của đơn vị vẫn thay bản trước, không cần mở lại.",
        )
    return period, unit.code


def _record(request: Request) -> FileRecord | None:
    try:
        return api.file_record(desk(request).dep, request.path_params["file_id"])
    except BaocaoError:
        return None


@login_required
async def original_file(request: Request) -> Response:
    """A unit's file as it arrived (the archived copy), under the name it was sent with."""
    rec = _record(request)
    path = file_inside(desk(request).dep.settings.path("archive"), rec.archive_path) if rec else None
    if rec is None or path is None:
        return error_page(request, 404, "Không có tệp", "Tệp này không có trong kho lưu trữ.")
    return send_file(path, rec.original_name)


@login_required
async def feedback_file(request: Request) -> Response:
    rec = _record(request)
    path = file_inside(desk(request).dep.settings.path("feedback"), rec.feedback_path) if rec else None
    if path is None:
        return error_page(request, 404, "Không có tệp phản hồi", "Tệp này không có bản phản hồi đánh dấu.")
    return send_file(path, path.name)


@login_required
async def summary_download(request: Request) -> Response:
    d = desk(request)
    kind = request.path_params["kind"]
    if kind not in api.SUMMARY_KINDS:
        return error_page(request, 404, "Không có dạng tổng hợp này", "Chỉ có Excel, CSV và Word.")
    try:
        name, content = await run_in_threadpool(
            api.summary_file, d.dep, request.path_params["period"], kind, now=d.now()
        )
    except BaocaoError as exc:
        return error_page(request, 400, "Không lập được bảng tổng hợp", str(exc))
    return download(content, name, api.SUMMARY_KINDS[kind])


async def _scorecard(request: Request, as_workbook: bool) -> Response:
    d = desk(request)
    year = request.path_params["year"]
    if not 2000 <= year <= 2100:
        return error_page(request, 404, "Năm không hợp lệ", "Hãy chọn một năm từ 2000 đến 2100.")
    try:
        result, content = await run_in_threadpool(api.scorecard_data, d.dep, year, now=d.now())
    except BaocaoError as exc:
        return error_page(request, 400, "Chưa lập được bảng chấm điểm", str(exc))
    if as_workbook:
        return download(content, f"cham-diem_{year}.xlsx", XLSX)
    return render(request, "scorecard.html", result=result, year=year, rule=SCORE_RULE)


@login_required
async def scorecard_page(request: Request) -> Response:
    return await _scorecard(request, as_workbook=False)


@login_required
async def scorecard_workbook(request: Request) -> Response:
    return await _scorecard(request, as_workbook=True)


# --- actions that change state: confirm, then post with the CSRF token --------------------


async def posted_form(request: Request) -> FormData | Response:
    """The small form of a confirmed action, or the 403 page when its CSRF token is not the session's."""
    form = await request.form(max_files=0, max_fields=6, max_part_size=4096)
    if not csrf_ok(request.session, form.get("csrf")):
        return error_page(request, 403, "Yêu cầu không hợp lệ", "Trang đã cũ; hãy tải lại trang rồi thử lại.")
    return form


@login_required
async def resend_confirm(request: Request) -> Response:
    rec = _record(request)
    if rec is None or rec.status not in ("accepted", "rejected", "held"):
        return error_page(request, 404, "Không có tệp", "Tệp này chưa có kết quả kiểm tra để gửi lại.")
    unit = desk(request).dep.registry.latest(rec.unit) if rec.unit else None
    recipients = [a for a in dict.fromkeys([unit.email if unit else "", rec.contact or ""]) if a]
    return render(request, "confirm.html", rec=rec, unit=unit, recipients=recipients, target=request.url.path)


@login_required
async def resend(request: Request) -> Response:
    d = desk(request)
    form = await posted_form(request)
    if isinstance(form, Response):
        return form
    rec = _record(request)
    if rec is None:
        return error_page(request, 404, "Không có tệp", "Tệp này không có trong sổ theo dõi.")
    try:
        report = await run_in_threadpool(
            api.resend_feedback, d.dep, rec.saved_id, actor=request.session["user"], now=d.now()
        )
    except BaocaoError as exc:
        return error_page(request, 400, "Chưa gửi lại được", str(exc))
    sent, failed = len(report.sent), len(report.failed)
    request.session["flash"] = f"Đã gửi lại phản hồi tệp '{rec.original_name}': {sent} thư đã gửi" + (
        f", {failed} thư chưa gửi được (sẽ thử lại ở lần chạy sau)" if failed else ""
    )
    return RedirectResponse(f"{BOARD}?ky={rec.period or ''}", status_code=303)


@login_required
async def reopen_confirm(request: Request) -> Response:
    target = _reopen_target(request, request.query_params)
    if isinstance(target, Response):
        return target
    period, code = target
    unit = desk(request).dep.unit(code, period)
    return render(request, "reopen.html", period=period, unit=unit)


@login_required
async def reopen(request: Request) -> Response:
    d = desk(request)
    form = await posted_form(request)
    if isinstance(form, Response):
        return form
    target = _reopen_target(request, form)
    if isinstance(target, Response):
        return target
    period, code = target
    try:
        result = await run_in_threadpool(
            partial(api.reopen, d.dep, period.code, code, now=d.now(), actor=request.session["user"])
        )
    except BaocaoError as exc:
        return error_page(request, 400, "Chưa mở lại được", str(exc))
    kept = (
        f"; tệp '{result.file.original_name}' sẽ được kiểm tra lại ở lần thu nhận tới" if result.file else ""
    )
    request.session["flash"] = f"Đã mở lại kỳ {period.name} cho đơn vị {code}{kept}"
    return RedirectResponse(f"{BOARD}?ky={period.code}", status_code=303)


routes = [
    Route(BOARD, board, methods=["GET"]),
    Route(BOARD + "/lien-ket", links_page, methods=["GET"]),
    Route(BOARD + "/tep/{file_id:int}", original_file, methods=["GET"]),
    Route(BOARD + "/phan-hoi/{file_id:int}", feedback_file, methods=["GET"]),
    Route(BOARD + "/tong-hop/{period}.{kind}", summary_download, methods=["GET"]),
    Route(BOARD + "/cham-diem/{year:int}", scorecard_page, methods=["GET"]),
    Route(BOARD + "/cham-diem/{year:int}.xlsx", scorecard_workbook, methods=["GET"]),
    Route(BOARD + "/gui-lai/{file_id:int}", resend_confirm, methods=["GET"]),
    Route(BOARD + "/gui-lai/{file_id:int}", resend, methods=["POST"]),
    Route(BOARD + "/mo-lai", reopen_confirm, methods=["GET"]),
    Route(BOARD + "/mo-lai", reopen, methods=["POST"]),
]
