"""The web desk's guards: security headers, the request-size limit, login throttling, CSRF.

Each is small and framework-light (plain ASGI or plain Python) so its behaviour is easy to test
on its own and hard to bypass by forgetting a decorator: the headers and the size limit wrap the
whole application, not single routes.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]

# No inline script or style anywhere (the CSS and the one small script are files of our own),
# no frames, forms post only to us, and nothing is fetched from elsewhere.
CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # unit pages are secret links: the address must never leave in a Referer header
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders:
    """Adds ``HEADERS`` to every response, ``Cache-Control: no-store`` unless the response set its
    own (pages show a unit's files and must not be kept by shared caches), and HSTS behind HTTPS."""

    def __init__(self, app: ASGIApp, https: bool = False) -> None:
        self.app = app
        self.extra = dict(HEADERS)
        if https:
            self.extra["strict-transport-security"] = "max-age=31536000"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.decode("latin-1").lower() for k, _ in headers}
                for name, value in self.extra.items():
                    if name not in present:
                        headers.append((name.encode("latin-1"), value.encode("latin-1")))
                if "cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(Exception):
    """The request body passed its limit while it was being received."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class BodyLimit:
    """Enforce a per-path request-body limit while the body streams in.

    A ``Content-Length`` above the limit is refused before a byte is read; a body that grows past
    it (chunked, or a lying header) raises ``BodyTooLarge`` from ``receive``, which the upload
    handler turns into its page; anything else that lets it escape gets a plain 413 here.
    ``limit_for(path)`` gives the limit of a path.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int], refuse: Callable[[int], Any]) -> None:
        self.app = app
        self.limit_for = limit_for
        self.refuse = refuse  # limit -> an ASGI response app (the Vietnamese 413 page)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self.refuse(limit)(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self.refuse(limit)(scope, receive, send)


class Throttle:
    """At most ``attempts`` failures per key in ``window`` seconds (login: per name and address).

    In memory: one ``baocao serve`` process is the deployment; a restart forgets, which costs an
    attacker a restart of someone else's server. ``clock`` is injectable for tests.
    """

    def __init__(self, attempts: int, window: float = 900.0, clock: Callable[[], float] = time.monotonic):
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        now = self.clock()
        failures = self._failures.setdefault(key, deque())
        while failures and now - failures[0] > self.window:
            failures.popleft()
        return failures

    def blocked(self, key: str) -> bool:
        return len(self._recent(key)) >= self.attempts

    def retry_after(self, key: str) -> int:
        """Seconds until the oldest counted failure expires (0 when not blocked)."""
        failures = self._recent(key)
        if len(failures) < self.attempts:
            return 0
        return max(1, int(self.window - (self.clock() - failures[0])) + 1)

    def fail(self, key: str) -> None:
        self._recent(key).append(self.clock())
        if len(self._failures) > 10_000:  # bounded memory under a spray of names
            oldest = min(self._failures, key=lambda k: self._failures[k][-1] if self._failures[k] else 0)
            del self._failures[oldest]

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)


CSRF_FIELD = "csrf"


def csrf_token(session: MutableMapping[str, Any]) -> str:
    """The session's anti-forgery token (made on first use); every state-changing form carries it."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def csrf_ok(session: MutableMapping[str, Any], submitted: object) -> bool:
    """Whether a submitted form's token is the session's, compared in constant time."""
    expected = session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not isinstance(submitted, str):
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())
