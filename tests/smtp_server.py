"""A real SMTP server on loopback for tests: aiosmtpd, a free port, messages kept as parsed mail.

Used by the mail tests and by any test that wants to see what baocao actually sent::

    from smtp_server import SmtpServer, smtp_server  # tests/ is on sys.path under pytest

    def test_something(smtp_server):
        settings = smtp_server.mail_settings()          # MailSettings(backend="smtp", ...)
        ...                                             # code under test sends mail
        [received] = smtp_server.messages
        assert received.rcpt_tos == ["phong-gd@example.gov.vn"]
        assert received.message["X-Baocao-Kind"] == "reminder"

``stop()`` then ``start()`` simulates a server that is down and comes back (same port);
``refuse("addr")`` makes RCPT TO answer ``550`` for that address; ``reject_data = "554 …"``
refuses every message after its content; ``hold_seconds`` makes the server keep each message
(after the first ``hold_after``) that long before answering the final dot (it has recorded it already, as a real server that
queued it would: a client killed or timing out then cannot know it was delivered);
``tls_context`` (STARTTLS or,
with ``implicit_tls=True``, TLS from the first byte) and ``logins`` (user -> password, AUTH
PLAIN/LOGIN required) make it behave like an authenticated submission server.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from baocao.spec.config import MailSettings


@dataclass(frozen=True)
class Received:
    """One message as the server got it: envelope, parsed message and the raw DATA bytes."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Handler:
    """aiosmtpd handler hooks: refuse some recipients, keep every message."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.server.refused.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.server.reject_data:
            return self.server.reject_data
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self.server.lock:
            self.server.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, raw))
        if self.server.hold_seconds and len(self.server.messages) > self.server.hold_after:
            await asyncio.sleep(self.server.hold_seconds)
        return "250 Message accepted for delivery"


class SmtpServer:
    """A restartable aiosmtpd server on 127.0.0.1 that records what it receives."""

    def __init__(
        self,
        *,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        logins: dict[str, str] | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.logins = dict(logins or {})
        self.auth_attempts: list[tuple[str, str]] = []  # (login, mechanism) as the server saw
        self.messages: list[Received] = []
        self.refused: dict[str, str] = {}
        self.reject_data = ""
        self.hold_seconds = 0.0
        self.hold_after = 0  # messages answered at once before the holding starts
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    # -- control --

    def start(self) -> SmtpServer:
        """Start (or restart, on the same port) the server thread."""
        if self._controller is None:
            self._controller = Controller(
                _Handler(self), hostname=self.host, port=self.port, **self._smtp_options()
            )
            self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until ``start()`` again."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def refuse(self, address: str, reply: str = "550 5.1.1 Mailbox unavailable") -> None:
        """Answer RCPT TO for ``address`` with ``reply`` (a permanent 550 by default)."""
        self.refused[address.lower()] = reply

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers for tests --

    def mail_settings(self, **overrides: object) -> MailSettings:
        """``MailSettings`` pointing at this server (plain SMTP, no login unless overridden)."""
        base = MailSettings(
            backend="smtp",
            host=self.host,
            port=self.port,
            security="none",
            user=None,
            sender="baocao@sonoivu.example.gov.vn",
            sender_name="Hệ thống báo cáo Sở Nội vụ",
            timeout_seconds=5.0,
        )
        return replace(base, **overrides)

    def _smtp_options(self) -> dict[str, object]:
        options: dict[str, object] = {}
        if self.tls_context is not None and self.implicit_tls:
            options["ssl_context"] = self.tls_context
        elif self.tls_context is not None:
            options.update(tls_context=self.tls_context, require_starttls=True)
        if self.logins:
            options.update(authenticator=self._authenticate, auth_required=True)
            # aiosmtpd counts only STARTTLS as TLS for this check, so an implicit-TLS server
            # would never offer AUTH unless it is switched off there (the session is encrypted).
            options["auth_require_tls"] = self.tls_context is not None and not self.implicit_tls
        return options

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8")
        self.auth_attempts.append((login, mechanism))
        ok = self.logins.get(login) == auth_data.password.decode("utf-8")
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server (no TLS, no login), like an internal government relay."""
    with SmtpServer() as server:
        yield server
