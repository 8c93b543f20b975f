"""A real Dovecot IMAP server on 127.0.0.1 for tests, with a throw-away configuration.

Debian's ``/usr/sbin/dovecot`` (package ``dovecot-imapd``) is run in the foreground with a
config written into a temporary folder: a passwd-file of test users, Maildir mailboxes in the
same folder, listeners on free ports. One server serves a whole test session; each test takes
its own user (``new_user``), so tests never see each other's messages.

Why a temporary folder outside pytest's ``tmp_path``: Dovecot never runs its login processes
as root and never gives mail access to uid 0. Run as root (as CI does), it uses Debian's
``dovenull`` and ``dovecot`` system users, which must be able to enter the folder; pytest's
base temp folder is private (0700) to root. Run as anyone else, every process is that user.

Messages are put in with IMAP APPEND and a chosen INTERNALDATE, so a test controls arrival time.
``CuttingProxy`` stands between client and server to drop a connection in the middle of a fetch.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from imapclient import IMAPClient
from smtp_server import free_port

from baocao.spec.config import ImapSettings

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
INSTALL_HINT = "Dovecot is not installed (Debian: apt-get install -y dovecot-imapd)"
PASSWORD = "mat-khau-thu-nghiem"
USERS = 200  # written once: Dovecot's passwd-file cache does not see users added later


def _user(number: int) -> str:
    return f"donvi{number}@sonoivu.example.gov.vn"


def dovecot_available() -> bool:
    return Path(DOVECOT).is_file() and os.access(DOVECOT, os.X_OK)


class Dovecot:
    """One Dovecot master process; ``stop()``/``start()`` again simulate a server that is down."""

    def __init__(
        self,
        *,
        cert_file: Path | None = None,
        key_file: Path | None = None,
        capabilities: str | None = None,
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="baocao-dovecot-"))
        self.root.chmod(0o755)
        self.host = "127.0.0.1"
        self.port = free_port()  # plain, STARTTLS offered when a certificate is given
        self.tls_port = free_port() if cert_file else 0  # TLS from the first byte
        self.cert_file, self.key_file = cert_file, key_file
        self.capabilities = capabilities
        self.users = {_user(n): PASSWORD for n in range(1, USERS + 1)}
        self._numbers = itertools.count(1)
        self._process: subprocess.Popen | None = None
        self._write_config()

    # -- control --

    def start(self) -> Dovecot:
        if self._process is not None:
            return self
        self._process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # one process group: stop() kills master and children together
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode() if self._process.stderr else ""
                self._process = None
                raise RuntimeError(f"dovecot did not start: {err}\n{self.log()}")
            if self._greets():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not answer on port {self.port}\n{self.log()}")

    def stop(self) -> None:
        """Kill the master and every child at once (its own process group): the ports refuse
        connections until ``start()``. A graceful stop takes Dovecot seconds; tests need none."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()
        if self._process.stderr:
            self._process.stderr.close()
        self._process = None
        deadline = time.monotonic() + 10
        while self._greets() and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    # -- users and messages --

    def new_user(self) -> str:
        """A fresh, empty mailbox: each test takes its own, so tests never see each other's mail."""
        number = next(self._numbers)
        if number > USERS:
            raise RuntimeError(f"tests/dovecot.py has {USERS} test users; raise USERS")
        return _user(number)

    def settings(self, user: str, **overrides: object) -> ImapSettings:
        """``ImapSettings`` for ``user`` on the plain listener (override security/port for TLS)."""
        base = ImapSettings(host=self.host, port=self.port, security="none", user=user, timeout_seconds=5)
        return replace(base, **overrides)

    def client(self, user: str) -> IMAPClient:
        """A logged-in client for the test's own doings (APPEND, deleting a folder)."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=5)
        client.login(user, self.users[user])
        return client

    def append(self, user: str, raw: bytes, arrived: datetime, folder: str = "INBOX") -> None:
        """Deliver ``raw`` to ``user``'s ``folder`` with INTERNALDATE ``arrived`` (aware)."""
        with contextlib.closing(_LoggedOut(self.client(user))) as session:
            session.client.append(folder, raw, msg_time=arrived)

    def folders(self, user: str) -> list[str]:
        with contextlib.closing(_LoggedOut(self.client(user))) as session:
            return sorted(name for _flags, _sep, name in session.client.list_folders())

    def uids(self, user: str, folder: str) -> list[int]:
        with contextlib.closing(_LoggedOut(self.client(user))) as session:
            if not session.client.folder_exists(folder):
                return []
            session.client.select_folder(folder, readonly=True)
            return sorted(session.client.search(["ALL"]))

    def kill_sessions(self, user: str) -> int:
        """SIGKILL the ``imap`` processes serving ``user``: the server side of a dropped link."""
        killed = 0
        for pid in self._children():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"imap" in cmdline and user.encode() in cmdline and b"login" not in cmdline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
        return killed

    # -- internals --

    def _greets(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                return sock.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def _children(self) -> list[int]:
        """Pids of the master's children (``dovecot/imap [user …]``, ``dovecot/auth``…)."""
        if self._process is None:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            with contextlib.suppress(OSError, IndexError):
                if entry.name.isdigit():
                    parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                    if parent == self._process.pid:
                        found.append(int(entry.name))
        return found

    def _write_config(self) -> None:
        import grp  # POSIX only, like Dovecot itself
        import pwd

        root = self.root
        for name in ("run", "state", "home"):
            (root / name).mkdir()
        if os.geteuid() == 0:
            login_user, internal_user = "dovenull", "dovecot"
            mail = pwd.getpwnam("dovecot")
            os.chown(root / "home", mail.pw_uid, mail.pw_gid)
        else:
            mail = pwd.getpwuid(os.geteuid())
            login_user = internal_user = mail.pw_name
        internal_group = grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name
        lines = "".join(f"{name}:{{PLAIN}}{pw}\n" for name, pw in self.users.items())
        (root / "passwd").write_text(lines, encoding="utf-8")
        if self.cert_file:
            tls = f"ssl = yes\nssl_cert = <{self.cert_file}\nssl_key = <{self.key_file}\n"
            tls += "ssl_min_protocol = TLSv1.2\n"
        else:
            tls = "ssl = no\n"
        capability = f"imap_capability = {self.capabilities}\n" if self.capabilities else ""
        (root / "dovecot.conf").write_text(
            f"""# throw-away test server (tests/dovecot.py)
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
listen = 127.0.0.1
protocols = imap
{tls}{capability}disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
verbose_proctitle = yes
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail.pw_uid} gid={mail.pw_gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
""",
            encoding="utf-8",
        )


class _LoggedOut:
    """``contextlib.closing`` adapter: log out of a test client, whatever state it is in."""

    def __init__(self, client: IMAPClient) -> None:
        self.client = client

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.logout()


class CuttingProxy:
    """A TCP relay to ``port`` that drops both sides once the client asks for a message body
    and ``keep`` bytes of the answer have passed: a connection lost in the middle of a fetch."""

    def __init__(self, port: int, keep: int = 200) -> None:
        self.target = port
        self.keep = keep
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.target))
        budget: int | None = None
        try:
            while True:
                ready, _, _ = select.select([client, server], [], [], 10)
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        if b"BODY.PEEK[]" in data.upper():
                            budget = self.keep
                        server.sendall(data)
                        continue
                    if budget is not None:
                        data = data[:budget]
                        budget -= len(data)
                    client.sendall(data)
                    if budget == 0:
                        self.cut.set()
                        return
        finally:
            for sock in (client, server, self.listener):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
