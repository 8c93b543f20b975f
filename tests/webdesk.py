"""Shared pieces of the web desk tests: a deployment with [web], a fixed clock, a signed-in client.

The desk runs exactly as ``baocao serve`` builds it (``create_app``), against a real ledger,
archive and reader processes in ``tmp_path``; Starlette's test client talks to it in-process.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import uvicorn
from conftest import write_config
from helpers import make_submission
from starlette.testclient import TestClient

from baocao import api
from baocao.spec.links import unit_path
from baocao.web.app import create_app
from baocao.web.users import load_users, set_password

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PERIOD = "2025-Q1"
# 5 March 2025, 09:00: before the deadline of Quý I (last on-time day 9 March)
BEFORE_DEADLINE = datetime(2025, 3, 5, 9, 0, tzinfo=TZ)
USER, PASSWORD = "canbo", "mat-khau-du-dai-1"
WEB = '[web]\nbase_url = "https://baocao.example"\n'


def web_deployment(folder: Path, extra: str = WEB, **kwargs) -> api.Deployment:
    folder.mkdir(parents=True, exist_ok=True)
    return api.load_deployment(write_config(folder, extra=extra, **kwargs))


def client_for(dep: api.Deployment, now: datetime = BEFORE_DEADLINE, https: bool = True) -> TestClient:
    app = create_app(dep, clock=lambda: now)
    return TestClient(app, base_url="https://testserver" if https else "http://testserver")


def link(dep: api.Deployment, unit: str = "NV_VP", period: str = PERIOD) -> str:
    return unit_path(dep, unit, period)


def workbook(dep: api.Deployment, folder: Path, unit: str = "NV_VP", **overrides) -> bytes:
    """A filled workbook of ``unit`` for the test period (with ``overrides`` typed in)."""
    name = f"{unit}-{len(list(folder.glob('*.xlsx')))}.xlsx"
    return make_submission(dep, unit, PERIOD, folder / name, **overrides).read_bytes()


def upload(client: TestClient, path: str, content: bytes, name: str = "bao-cao.xlsx", mode: str = "nop"):
    return client.post(
        path + "/nop", files={"tep": (name, content)}, data={"che_do": mode}, follow_redirects=False
    )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match[1]


_HASHED: dict[tuple[str, str], str] = {}


def add_user(dep: api.Deployment, name: str = USER, password: str = PASSWORD) -> None:
    """Account ``name`` in the deployment's users file. The argon2 hash is made once per test
    session (it costs a fraction of a second on purpose) and written as ``web-user`` writes it."""
    path = dep.settings.web.users_file
    assert path is not None
    if (name, password) not in _HASHED:
        scratch = path.with_name(".hash-once.txt")
        set_password(scratch, name, password)
        _HASHED[name, password] = load_users(scratch)[name]
        scratch.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{name}:{_HASHED[name, password]}\n")


def sign_in(client: TestClient, name: str = USER, password: str = PASSWORD, next_path: str = "/dieu-phoi"):
    page = client.get("/dieu-phoi/dang-nhap")
    return client.post(
        "/dieu-phoi/dang-nhap",
        data={"ten": name, "mat_khau": password, "csrf": csrf_of(page.text), "tiep": next_path},
        follow_redirects=False,
    )


def text_of(html: str) -> str:
    """The page as a person reads it: tags dropped, entities kept, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@contextmanager
def live_server(dep: api.Deployment, now: datetime = BEFORE_DEADLINE) -> Iterator[str]:
    """The desk of ``dep`` served by a real uvicorn on a free port of 127.0.0.1; yields its URL."""
    app = create_app(dep, clock=lambda: now)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", server_header=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
