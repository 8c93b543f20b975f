"""Shared fixtures: a throw-away deployment in ``tmp_path`` using the real CCHC form and registry."""

from __future__ import annotations

import re
from pathlib import Path

import keyring
import keyring.backend
import pytest

from baocao import api

REPO = Path(__file__).resolve().parents[1]
FORM = REPO / "forms" / "cchc-tuyen-truyen.toml"
REGISTRY = REPO / "workbooks" / "don-vi.csv"

# The period kinds of the demo deployment, taken from its config.toml so the two never drift.
PERIODS_TOML = re.search(
    r"^\[periods\.Q1\].*?(?=^\[mail\])", (REPO / "config.toml").read_text(encoding="utf-8"), re.S | re.M
)[0]


# The deployment key every test signs and checks templates with (spec.identity reads it from the
# environment first); the LibreOffice fixtures were made from templates signed with it.
TEST_SECRET = "baocao-khoa-thu-nghiem-khong-dung-that"


@pytest.fixture(autouse=True)
def signing_key(monkeypatch, tmp_path_factory):
    """A fixed signing key, and no generated key file outside the test's temporary folders."""
    monkeypatch.setenv("BAOCAO_SECRET", TEST_SECRET)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.getbasetemp() / "xdg-data"))
    return TEST_SECRET


def config_text(form: Path = FORM, registry: Path = REGISTRY, extra: str = "") -> str:
    """A complete config.toml for a deployment living in the folder it is written to."""
    return f"""
form = "{form.as_posix()}"
registry = "{registry.as_posix()}"

[organisation]
name = "Sở Nội vụ tỉnh Lạng Sơn"
coordinator = "Phòng Cải cách hành chính"
issuing_body = "UBND TỈNH LẠNG SƠN"
timezone = "Asia/Ho_Chi_Minh"

[collect]
stable_seconds = 0
workers = 1
{PERIODS_TOML}
{extra}
"""


def write_config(folder: Path, **kwargs) -> Path:
    path = folder / "config.toml"
    path.write_text(config_text(**kwargs), encoding="utf-8")
    return path


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def deployment(config_file: Path) -> api.Deployment:
    return api.load_deployment(config_file)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """An in-memory OS keyring, so password tests never touch the developer's real one."""

    priority = 1

    def __init__(self) -> None:
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        self.store.pop((service, username), None)


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(scope="session")
def dovecot():
    """A plain Dovecot IMAP server (no TLS), like an internal mail server on the office network;
    one per session, a mailbox per test via ``dovecot.new_user()`` (see tests/dovecot.py)."""
    import dovecot as imap_server  # tests/ is on sys.path

    if not imap_server.dovecot_available():
        pytest.skip(imap_server.INSTALL_HINT)
    server = imap_server.Dovecot()
    try:
        yield server.start()
    finally:
        server.close()
