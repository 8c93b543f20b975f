"""Running the desk: ``baocao serve`` starts uvicorn on the configured address.

uvicorn runs as one process with one event loop; the work that blocks (reading and judging an
upload, building a summary) goes to its thread pool, and the reading itself to a worker process
as in collect. Behind a reverse proxy on the same machine, the client address and the scheme
come from its ``X-Forwarded-*`` headers (trusted from 127.0.0.1 only, uvicorn's default; the
``FORWARDED_ALLOW_IPS`` environment variable names another proxy).

The access log (``workbooks/logs/serve.txt`` on Windows) names every request; a unit's link is its
key, so the secret part of ``/don-vi/<kỳ>/<đơn vị>/<mã>`` is masked before a line is written.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from typing import Any

import uvicorn
import uvicorn.config

from baocao.spec.deployment import Deployment
from baocao.spec.links import UNIT_PREFIX
from baocao.web.app import create_app

_UNIT_LINK = re.compile(rf"({re.escape(UNIT_PREFIX)}/[^/?#\s]+/[^/?#\s]+/)[^/?#\s]+")


def hide_link_tokens(text: str) -> str:
    """``text`` with the secret of every unit link replaced by ``***``."""
    return _UNIT_LINK.sub(r"\1***", text)


class HideLinkTokens(logging.Filter):
    """Masks unit-link secrets in a log record's arguments (uvicorn's access line holds the path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(hide_link_tokens(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = hide_link_tokens(record.msg)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's own logging set-up with ``HideLinkTokens`` on every handler."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config.setdefault("filters", {})["hide_link_tokens"] = {"()": HideLinkTokens}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("hide_link_tokens")
    return config


def serve(
    dep: Deployment, host: str | None = None, port: int | None = None, say: Callable[[str], None] = print
) -> None:
    """Serve ``dep``'s desk until Ctrl+C (blocks)."""
    web = dep.settings.web
    host, port = host or web.host, port or web.port
    say(f"Trang nộp báo cáo đang chạy tại http://{host}:{port} (Ctrl+C để dừng)")
    if not web.https:
        say(
            "Lưu ý: chưa dùng HTTPS ([web] base_url không bắt đầu bằng https://): đường dẫn của đơn vị "
            "và mật khẩu đi qua mạng dưới dạng rõ. Hãy đặt trang sau một reverse proxy có HTTPS (xem README)."
        )
    uvicorn.run(
        create_app(dep),
        host=host,
        port=port,
        proxy_headers=True,
        server_header=False,
        log_level="info",
        log_config=log_config(),
        timeout_keep_alive=5,
    )
