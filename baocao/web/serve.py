"""Running the desk: ``baocao serve`` starts uvicorn on the configured address.

uvicorn runs as one process with one event loop; the work that blocks (reading and judging an
upload, building a summary) goes to its thread pool, and the reading itself to a worker process
as in collect. Behind a reverse proxy on the same machine, the client address and the scheme
come from its ``X-Forwarded-*`` headers (trusted from 127.0.0.1 only, uvicorn's default; the
``FORWARDED_ALLOW_IPS`` environment variable names another proxy).
"""

from __future__ import annotations

from collections.abc import Callable

import uvicorn

from baocao.spec.deployment import Deployment
from baocao.web.app import create_app


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
        timeout_keep_alive=5,
    )
