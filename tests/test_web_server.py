"""The desk on a real server: ``baocao serve`` as a process, the health endpoint, the headers on
every response, an upload cut off while it streams in, and the CLI around the desk."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
from webdesk import PERIOD, client_for, link, live_server, web_deployment

from baocao import cli
from baocao.web.security import CSP
from baocao.web.users import load_users, verify


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str):
    """(status, headers (case-insensitive), body) of a GET on a real socket."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_baocao_serve_runs_the_desk_and_answers_health(tmp_path):
    dep = web_deployment(tmp_path)
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "baocao", "--config", str(dep.settings.config_file), "serve"]
    server = subprocess.Popen(
        [*command, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, headers, body = get(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "baocao serve did not start"
                time.sleep(0.2)
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, headers, body = get(f"http://127.0.0.1:{port}{link(dep)}")
        assert status == 200 and "Văn phòng Sở Nội vụ" in body.decode("utf-8")
        assert headers["Content-Security-Policy"] == CSP and headers["Server"] is None
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0].decode("utf-8", "replace")
    assert "Trang nộp báo cáo đang chạy tại" in output
    # the access log names the request but never the link's secret (the log is a file on Windows)
    unit_page, secret = link(dep).rsplit("/", 1)
    assert f"GET {unit_page}/*** HTTP/1.1" in output and secret not in output


def test_health_says_503_when_the_ledger_is_damaged(tmp_path):
    dep = web_deployment(tmp_path)
    with client_for(dep) as c:
        fresh = c.get("/health")
        assert fresh.status_code == 200 and fresh.json()["ledger"] is None  # no ledger is made
        assert not dep.settings.path("ledger").exists()
        dep.settings.path("ledger").parent.mkdir(parents=True, exist_ok=True)
        dep.settings.path("ledger").write_bytes(b"not a database" * 100)
        broken = c.get("/health")
    assert broken.status_code == 503 and broken.json()["status"] == "error"


@pytest.mark.parametrize(
    "path",
    ["/", "/health", "/tinh/kieu.css", "/khong-co", "/dieu-phoi/dang-nhap", f"/don-vi/{PERIOD}/NV_VP/x"],
)
def test_every_response_carries_the_security_headers(tmp_path, path):
    with client_for(web_deployment(tmp_path)) as c:
        response = c.get(path)
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "no-store" in response.headers["cache-control"] or path.startswith("/tinh/")


def test_static_files_come_from_a_fixed_list_only(tmp_path):
    with client_for(web_deployment(tmp_path)) as c:
        assert c.get("/tinh/kieu.css").headers["content-type"].startswith("text/css")
        assert c.get("/tinh/trang.js").status_code == 200
        for path in ("/tinh/..%2F..%2Fconfig.toml", "/tinh/app.py", "/tinh/../app.py"):
            assert c.get(path).status_code == 404


def test_a_slow_upload_over_the_limit_is_cut_off_while_it_streams(tmp_path):
    """A real socket sends a chunked body slowly: the server answers 413 and closes long before
    the sender is done, so a large upload never fills memory or disk."""
    dep = web_deployment(tmp_path)
    dep = replace(dep, settings=replace(dep.settings, collect=replace(dep.settings.collect, max_file_mb=0.1)))
    with live_server(dep) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            head = (
                f"POST {link(dep)}/nop HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            part = b'--b\r\nContent-Disposition: form-data; name="tep"; filename="a.xlsx"\r\n\r\n'
            sock.sendall(head.encode() + b"%x\r\n%s\r\n" % (len(part), part))
            sent, planned, answer = 0, 4 * 2**20, b""
            sock.settimeout(0.05)
            while sent < planned:
                chunk = b"x" * 16384
                try:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(chunk)
                try:
                    answer += sock.recv(65536)
                except TimeoutError:
                    continue
                if answer:
                    break
            sock.settimeout(5)
            while b"\r\n" not in answer:  # at least the status line
                with contextlib.suppress(TimeoutError, ConnectionResetError):
                    more = sock.recv(65536)
                    if not more:
                        break
                    answer += more
    assert answer.startswith(b"HTTP/1.1 413")
    assert sent < planned / 4  # cut off early: a fraction of what the sender meant to send
    assert not dep.settings.path("ledger").exists()


# --- the CLI around the desk -------------------------------------------------------------------


def run_cli(*args: str) -> tuple[int, str, str]:
    import io

    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_web_user_creates_changes_and_removes_an_account(tmp_path, monkeypatch):
    dep = web_deployment(tmp_path)
    config = str(dep.settings.config_file)
    users = dep.settings.web.users_file
    assert users is not None
    monkeypatch.setenv("BAOCAO_WEB_PASSWORD", "mat-khau-rat-dai-1")
    code, out, _ = run_cli("--config", config, "web-user", "CanBo")
    assert code == 0 and "Đã tạo tài khoản canbo" in out
    assert verify(load_users(users), "canbo", "mat-khau-rat-dai-1")
    assert "mat-khau-rat-dai-1" not in users.read_text(encoding="utf-8")
    monkeypatch.setenv("BAOCAO_WEB_PASSWORD", "ngan")
    code, _, err = run_cli("--config", config, "web-user", "canbo")
    assert code == 2 and "ít nhất 10 ký tự" in err
    code, out, _ = run_cli("--config", config, "web-user", "canbo", "--remove")
    assert code == 0 and load_users(users) == {}
    code, _, err = run_cli("--config", config, "web-user", "canbo", "--remove")
    assert code == 2 and "Không có tài khoản" in err


def test_links_prints_each_units_link_or_says_base_url_is_missing(tmp_path):
    dep = web_deployment(tmp_path / "a")
    code, out, _ = run_cli("--config", str(dep.settings.config_file), "links", "--period", PERIOD, "--json")
    entries = json.loads(out)
    assert code == 0 and {e["unit"] for e in entries} == {
        u.code for u in dep.registry.reporting_units(dep.period(PERIOD))
    }
    assert entries[0]["link"].startswith("https://baocao.example/don-vi/2025-Q1/")
    bare = web_deployment(tmp_path / "b", extra="")
    code, _, err = run_cli("--config", str(bare.settings.config_file), "links", "--period", PERIOD)
    assert code == 2 and "[web] base_url" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[web]\nbase_url = "ftp://x"\n', "web.base_url"),
        ('[web]\nbase_url = "https://x.example/<script>"\n', "web.base_url"),
        ("[web]\nport = 0\n", "web.port"),
        ("[web]\nsession_minute = 5\n", "web.session_minute"),
    ],
)
def test_web_config_is_checked_like_the_rest(tmp_path, text, message):
    from baocao.errors import ConfigError

    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        web_deployment(tmp_path, extra=text)


def test_web_config_defaults_and_users_file_beside_the_ledger(tmp_path):
    dep = web_deployment(tmp_path, extra="")
    web = dep.settings.web
    assert (web.base_url, web.host, web.port, web.https) == (None, "127.0.0.1", 8080, False)
    assert web.users_file == dep.settings.path("ledger").parent / "tai-khoan-web.txt"
    custom = web_deployment(tmp_path / "c", extra='[web]\nusers_file = "rieng/tk.txt"\n')
    assert custom.settings.web.users_file == (tmp_path / "c" / "rieng" / "tk.txt").resolve()
    assert Path(custom.settings.web.users_file).is_absolute()
