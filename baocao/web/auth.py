"""Signing coordinators in and out of the board.

A login checks the account file (argon2), is refused after too many failures from one address
for one name (and, more loosely, from one address for any name), starts a fresh session (no
session fixation: whatever the browser had is dropped) with a new CSRF token, and returns to the
board page asked for — only ever a path of the board, never an address elsewhere.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from baocao.web.board import BOARD
from baocao.web.security import csrf_ok, csrf_token
from baocao.web.users import verify
from baocao.web.views import desk, error_page, render

LOGIN = BOARD + "/dang-nhap"


def next_path(value: object) -> str:
    """Where to go after signing in: a board path, or the board itself (no open redirect)."""
    text = value if isinstance(value, str) else ""
    if text.startswith(BOARD) and "//" not in text and "\\" not in text and "\n" not in text:
        return text
    return BOARD


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


async def login_form(request: Request) -> Response:
    if not desk(request).users():
        return error_page(
            request,
            503,
            "Chưa có tài khoản",
            "Chưa có tài khoản điều phối nào. Trên máy chủ, chạy: baocao web-user TEN_TAI_KHOAN",
        )
    return render(request, "login.html", next=next_path(request.query_params.get("tiep")), error=None)


async def login(request: Request) -> Response:
    d = desk(request)
    form = await request.form(max_files=0, max_fields=5, max_part_size=4096)
    name = str(form.get("ten", "")).strip().lower()[:64]
    password = str(form.get("mat_khau", ""))[:1024]
    target = next_path(form.get("tiep"))
    if not csrf_ok(request.session, form.get("csrf")):
        return render(request, "login.html", 403, next=target, error="Trang đăng nhập đã cũ; hãy thử lại.")
    key, ip_key = f"{_client(request)}|{name}", _client(request)
    if d.throttle.blocked(key) or d.ip_throttle.blocked(ip_key):
        wait = max(d.throttle.retry_after(key), d.ip_throttle.retry_after(ip_key))
        message = f"Đăng nhập sai quá nhiều lần. Hãy thử lại sau {max(1, wait // 60)} phút."
        response = render(request, "login.html", 429, next=target, error=message)
        response.headers["retry-after"] = str(wait)
        return response
    users = d.users()
    if not await run_in_threadpool(verify, users, name, password):
        d.throttle.fail(key)
        d.ip_throttle.fail(ip_key)
        error = "Tên tài khoản hoặc mật khẩu không đúng."
        return render(request, "login.html", 401, next=target, error=error)
    d.throttle.reset(key)
    request.session.clear()
    request.session["user"] = name
    csrf_token(request.session)
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=4, max_part_size=4096)
    if csrf_ok(request.session, form.get("csrf")):
        request.session.clear()
    return RedirectResponse(LOGIN, status_code=303)


routes = [
    Route(LOGIN, login_form, methods=["GET"]),
    Route(LOGIN, login, methods=["POST"]),
    Route(BOARD + "/dang-xuat", logout, methods=["POST"]),
]
