"""The web desk as one ASGI application: ``create_app(dep)``; ``baocao serve`` runs it.

One process, the deployment's own ledger, no other server: the embedded default of a
coordinator's machine or a LAN server. Starlette because it is small, maintained and typed, and
its request stream lets the upload limit hold while the body arrives; uvicorn serves it, on
Windows too (pure Python, no extra build). The guards wrap the whole application: security
headers on every response, a request-size limit per path, sessions signed with a key derived
from the deployment's secret (rotating the secret signs everyone out and revokes every link).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from baocao import api
from baocao.spec.deployment import Deployment
from baocao.web import auth, board, unit_pages
from baocao.web.security import BodyLimit, SecurityHeaders, Throttle
from baocao.web.upload import size_words
from baocao.web.views import HERE, Desk, error_page, make_templates, render

SMALL_BODY = 64 * 1024  # any request but an upload: a login form is a few hundred bytes
STATIC = {
    "kieu.css": ("text/css; charset=utf-8", HERE / "static" / "kieu.css"),
    "trang.js": ("text/javascript; charset=utf-8", HERE / "static" / "trang.js"),
}


async def home(request: Request) -> Response:
    return render(request, "home.html")


async def health(request: Request) -> Response:
    """For monitoring: 200 and ``ok`` when the ledger opens, 503 otherwise (plain JSON)."""
    dep = request.app.state.desk.dep
    try:
        info = api.health(dep)
    except Exception as exc:  # a monitor wants a status, not a traceback
        return JSONResponse({"status": "error", "detail": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok", **info})


async def static(request: Request) -> Response:
    """The one stylesheet and the one script, from fixed files (no path from the request)."""
    entry = STATIC.get(request.path_params["name"])
    if entry is None:
        raise HTTPException(404)
    media_type, path = entry
    return Response(path.read_bytes(), media_type=media_type, headers={"cache-control": "max-age=3600"})


async def board_root_slash(request: Request) -> Response:
    return RedirectResponse(board.BOARD, status_code=308)


def _too_large(limit: int):
    def page(scope, receive, send):
        html = (
            "<!doctype html><html lang='vi'><meta charset='utf-8'><title>Tệp quá lớn</title>"
            f"<p>Tệp hoặc yêu cầu quá lớn: tối đa {size_words(limit)}. Tệp chưa được nộp.</p></html>"
        )
        return HTMLResponse(html, status_code=413, headers={"connection": "close"})(scope, receive, send)

    return page


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    titles = {
        404: ("Không tìm thấy trang", "Địa chỉ này không có trên hệ thống."),
        405: ("Thao tác không được phép", "Trang này không nhận yêu cầu kiểu đó."),
    }
    title, message = titles.get(status, ("Yêu cầu không hợp lệ", "Hãy quay lại trang trước và thử lại."))
    return error_page(request, status, title, message)


async def server_error(request: Request, exc: Exception) -> Response:
    return error_page(
        request,
        500,
        "Lỗi hệ thống",
        "Máy chủ gặp lỗi không lường trước. Hãy thử lại sau; nếu vẫn lỗi, hãy báo cán bộ tổng hợp.",
    )


def create_app(dep: Deployment, *, clock: Callable[[], datetime] | None = None) -> Starlette:
    """The desk for ``dep``; ``clock`` replaces the system clock (tests, replaying a period).

    Raises ``ConfigError`` when the deployment's signing key is not the one its ledger knows: the
    links and templates the desk hands out would match nothing the units were sent.
    """
    api.key_in_use(dep)
    web = dep.settings.web
    tz = dep.settings.timezone
    upload_limit = unit_pages.request_limit(dep)

    def limit_for(path: str) -> int:
        return upload_limit if path.startswith("/don-vi/") and path.endswith("/nop") else SMALL_BODY

    secure = web.https
    middleware = [
        Middleware(SecurityHeaders, https=secure),
        Middleware(BodyLimit, limit_for=limit_for, refuse=_too_large),
        Middleware(
            SessionMiddleware,
            secret_key=dep.signing_key.mac("web-session"),
            session_cookie="__Host-baocao" if secure else "baocao_phien",
            max_age=web.session_minutes * 60,
            same_site="lax",
            https_only=secure,
        ),
    ]
    routes = [
        Route("/", home, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/tinh/{name}", static, methods=["GET"]),
        Route(board.BOARD + "/", board_root_slash, methods=["GET"]),
        *unit_pages.routes,
        *auth.routes,
        *board.routes,
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: http_error, 500: server_error},
    )
    app.state.desk = Desk(
        dep=dep,
        clock=clock or (lambda: datetime.now(tz)),
        templates=make_templates(),
        throttle=Throttle(web.login_attempts),
        ip_throttle=Throttle(web.login_attempts * 4),
    )
    return app


def static_files() -> list[Path]:
    return [path for _, path in STATIC.values()]
