"""What every page of the web desk shares: the desk's state, rendering, downloads, error pages.

Pages are rendered on the server with Jinja2 (autoescaping on: every unit name, file name and
cell message is text, never markup) and work without JavaScript; the words are Vietnamese.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from urllib.parse import quote

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from baocao.names import printable
from baocao.notify.blocks import days_left_phrase
from baocao.notify.mailtext import NOT_OUR_FORM, issue_line
from baocao.spec.deployment import Deployment
from baocao.spec.links import receipt_number
from baocao.spec.periods import Period
from baocao.spec.registry import Unit
from baocao.web.security import Throttle, csrf_token
from baocao.web.users import load_users
from baocao.workbook.layout import item_numbers

HERE = Path(__file__).parent
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")

VERDICTS = {
    "accepted": "Đã tiếp nhận",
    "rejected": "Bị trả lại",
    "duplicate": "Trùng tệp đã nộp",
    "held": "Chờ cán bộ tổng hợp xác minh",
    "locked": "Gửi sau khi khóa sổ – chưa thay báo cáo",
    "failed": "Lỗi khi xử lý – cán bộ tổng hợp sẽ xem",
    "archived": "Đang kiểm tra",
}


@dataclass
class Desk:
    """The running desk: the deployment, the clock, the templates, the login throttles."""

    dep: Deployment
    clock: Callable[[], datetime]
    templates: Jinja2Templates
    throttle: Throttle
    ip_throttle: Throttle
    notes: list[str] = field(default_factory=list)

    def now(self) -> datetime:
        return self.clock().astimezone(self.dep.settings.timezone)

    @cached_property
    def item_numbers(self) -> dict[str, str]:
        """Field code -> "II.9": one numbering for the page's cell lists, made once per desk."""
        return item_numbers(self.dep.form)

    def users(self) -> dict[str, str]:
        path = self.dep.settings.web.users_file
        return load_users(path) if path is not None else {}


def desk(request: Request) -> Desk:
    return request.app.state.desk


def vn_time(value: datetime | None, tz=None) -> str:
    if value is None:
        return ""
    return (value.astimezone(tz) if tz else value).strftime("%d/%m/%Y %H:%M")


def vn_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def deadline_words(dep: Deployment, unit: Unit, period: Period, today: date) -> tuple[str, str]:
    """The deadline of ``unit`` and the time left, worded as the reminders and receipts word them
    ("trước ngày 10/03/2025", "còn 5 ngày"): a clerk reading the page after a reminder must not
    see another date or another count of days."""
    return dep.due_text(unit, period), days_left_phrase(dep.last_on_time_day(unit, period), today)


def not_our_form(errors: list) -> bool:
    """Whether a file was refused only for not being the report's template at all (then there
    are no cells to fix: the clerk is told to use the template, as the e-mail answer says)."""
    return bool(errors) and all(i.code in NOT_OUR_FORM for i in errors)


def make_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every page escapes unit text: names, file names, cell messages
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["vn_date"] = vn_date
    env.filters["receipt"] = receipt_number
    env.filters["printable"] = printable
    env.globals["VERDICTS"] = VERDICTS
    env.globals["not_our_form"] = not_our_form
    return Jinja2Templates(env=env)


def render(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    """A page of the desk with what every page needs (organisation, the session's CSRF token)."""
    d = desk(request)
    tz = d.dep.settings.timezone
    base = {
        "organisation": d.dep.settings.organisation,
        "coordinator": d.dep.settings.coordinator,
        "user": request.session.get("user") if "session" in request.scope else None,
        # made only by a page that has a form to protect: a unit's page sets no cookie at all
        "csrf": lambda: csrf_token(request.session),
        "vn_time": lambda value: vn_time(value, tz),
        # a cell to fix named as the e-mail and the marked-up file name it: "Ô D42 (mục II.16 – …)"
        "issue_text": lambda issue: issue_line(issue, d.item_numbers),
        # plain HTTP to another machine: passwords and links cross the network readable
        "insecure": request.url.scheme != "https" and request.url.hostname not in LOCAL_HOSTS,
    }
    return d.templates.TemplateResponse(request, template, {**base, **context}, status_code=status_code)


def error_page(request: Request, status: int, title: str, message: str, **headers: str) -> HTMLResponse:
    response = render(request, "error.html", status, title=title, message=message)
    response.headers.update(headers)
    return response


def download(content: bytes, filename: str, media_type: str) -> Response:
    """Bytes as an attachment named ``filename`` (RFC 6266: ASCII or ``filename*=utf-8''…``)."""
    quoted = quote(filename)
    disposition = (
        f'attachment; filename="{filename}"'
        if quoted == filename
        else f"attachment; filename*=utf-8''{quoted}"
    )
    return Response(content, media_type=media_type, headers={"content-disposition": disposition})


def file_inside(folder: Path, stored: str | None) -> Path | None:
    """A path the ledger recorded, if it is a regular file inside ``folder`` (else None).

    Only ledger-recorded paths are ever opened, never one from the request; the check guards a
    ledger edited by hand or a link planted in the folder.
    """
    if not stored:
        return None
    path = Path(stored) if Path(stored).is_absolute() else folder / stored
    try:
        resolved = path.resolve()
    except OSError:
        return None
    if not resolved.is_relative_to(folder.resolve()) or not resolved.is_file():
        return None
    return resolved


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES = {
    ".xlsx": XLSX,
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    ".xls": "application/vnd.ms-excel",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
}


def send_file(path: Path, filename: str) -> Response:
    return download(
        path.read_bytes(), filename, MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    )
