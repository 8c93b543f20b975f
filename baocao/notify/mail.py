"""Mail for baocao: composed messages (``baocao.mailtext``) turned into bytes and delivered.

Two backends, chosen by ``[mail] backend``:

- ``outbox`` (the default, no server needed): each message is written as an ``.eml`` file, the
  exact RFC 5322 bytes that SMTP would carry, so a coordinator can open it in any mail client
  or forward it by hand.
- ``smtp``: through yagmail for the connection (implicit TLS, STARTTLS or plain; login only
  when a user is configured, because internal government relays often take neither).

Both send the *same* bytes, built once by ``to_email``: yagmail is used for connecting, TLS and
login, then the composed message is handed to the underlying ``smtplib`` connection. yagmail's
own ``send`` is not used because it builds a different message (its own MIME tree, Date and
Message-ID) and, on a dropped connection, sleeps, retries and returns ``False`` instead of
raising. This is the only module that imports yagmail (when it connects: importing it is slow).

Every message carries ``X-Baocao-Kind``/``-Period``/``-Unit`` headers and a ``Message-ID``
derived from a stable key, so a resend of the same message is recognisable in any mailbox.
"""

from __future__ import annotations

import contextlib
import email.policy
import hashlib
import os
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING

from baocao.errors import DeliveryError
from baocao.files import atomic_write
from baocao.names import inside, safe_name
from baocao.notify.mailtext import (
    Attachment,
    OutgoingMessage,
    compose_feedback,
    compose_held,
    compose_reminder,
    compose_summary,
    one_line,
)
from baocao.spec.config import MailSettings

if TYPE_CHECKING:
    import yagmail

__all__ = [
    "Attachment",
    "DeliveryResult",
    "OutgoingMessage",
    "compose_feedback",
    "compose_held",
    "compose_reminder",
    "compose_summary",
    "deliver",
    "message_bytes",
    "send_raw",
    "smtp_password",
    "to_email",
]

PASSWORD_ENV = "BAOCAO_SMTP_PASSWORD"
# The modern API (RFC 2047 headers, header objects) with CRLF line ends, as sent over the wire.
POLICY = email.policy.SMTP


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one message.

    ``accepted``: recipients the server (or the outbox) took. ``refused``: recipient -> the
    server's answer (``"550 5.1.1 no such user"``) for those it would not take; a message whose
    recipients were *all* refused still returns (nothing accepted, all refused) rather than
    raising, because that is a fact about the addresses, not a broken server: the caller records
    it per recipient and a retry will not help until the registry is fixed.
    ``outbox_file`` is the ``.eml`` written by the outbox backend, else ``None``.
    """

    message_id: str
    accepted: tuple[str, ...]
    refused: dict[str, str] = field(default_factory=dict)
    outbox_file: Path | None = None

    @property
    def complete(self) -> bool:
        return not self.refused


# --- pure: message -> EmailMessage -> bytes -------------------------------------------------


def key_hash(message_id_key: str) -> str:
    return hashlib.sha256(message_id_key.encode("utf-8")).hexdigest()


def message_id(message_id_key: str, sender: str) -> str:
    """``<baocao.<hash>@<sender domain>>``: the same key always gives the same Message-ID."""
    domain = sender.rpartition("@")[2] if "@" in sender else ""
    domain = re.sub(r"[^A-Za-z0-9.-]", "", domain) or "localhost"
    return f"<baocao.{key_hash(message_id_key)[:32]}@{domain}>"


def _address(addr: str, display_name: str = "") -> Address:
    """A checked address: no spaces, controls or second ``@`` can slip into To/From."""
    addr = addr.strip()
    if not addr or addr.count("@") != 1 or one_line(addr) != addr or " " in addr:
        raise DeliveryError(f"Địa chỉ thư không hợp lệ: {addr!r}")
    try:
        return Address(display_name=one_line(display_name), addr_spec=addr)
    except (ValueError, IndexError) as exc:
        raise DeliveryError(f"Địa chỉ thư không hợp lệ: {addr!r} ({exc})") from exc


def _attach(msg: EmailMessage, attachment: Attachment) -> None:
    maintype, _, subtype = attachment.mimetype.partition("/")
    if not re.fullmatch(r"[\w.+-]+", maintype) or not re.fullmatch(r"[\w.+-]+", subtype):
        maintype, subtype = "application", "octet-stream"
    msg.add_attachment(
        attachment.content,
        maintype=maintype,
        subtype=subtype,
        filename=safe_name(attachment.filename, "tep-dinh-kem"),
    )


def to_email(
    message: OutgoingMessage,
    *,
    sender: str,
    sender_name: str,
    message_id_key: str,
    date: datetime | None = None,
) -> EmailMessage:
    """The composed message as an ``EmailMessage`` (pure: same inputs, same message).

    Layout: multipart/mixed { multipart/alternative { text/plain, text/html }, attachments }.
    Bodies are quoted-printable UTF-8 so the bytes are 7-bit clean and pass relays that do not
    offer 8BITMIME. ``date`` (aware) becomes the Date header; ``deliver`` passes its ``now``.
    Every header value goes through ``one_line`` again, whoever built ``message``.
    Raises ``DeliveryError`` for a malformed address.
    """
    msg = EmailMessage(policy=POLICY)
    msg["From"] = _address(sender, sender_name)
    msg["To"] = [_address(addr) for addr in message.to]
    msg["Subject"] = one_line(message.subject)
    if date is not None:
        msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id(message_id_key, sender)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies, please
    msg["X-Baocao-Kind"] = one_line(message.kind)
    msg["X-Baocao-Period"] = one_line(message.period)
    if message.unit is not None:
        msg["X-Baocao-Unit"] = one_line(message.unit)
    msg.set_content(message.text, charset="utf-8", cte="quoted-printable")
    msg.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    for attachment in message.attachments:
        _attach(msg, attachment)
    _fix_boundaries(msg, message_id_key)
    return msg


def _fix_boundaries(msg: EmailMessage, message_id_key: str) -> None:
    """Replace the random MIME boundaries by ones derived from the key, so the same message
    gives the same bytes. ``=_`` never occurs in quoted-printable or base64 bodies, so such a
    boundary cannot collide with content."""
    stem = key_hash(message_id_key)[:24]
    multiparts = [part for part in msg.walk() if part.is_multipart()]
    for number, part in enumerate(multiparts):
        part.set_boundary(f"=_baocao_{stem}_{number}")


def message_bytes(msg: EmailMessage) -> bytes:
    """The RFC 5322 bytes (CRLF line ends) written to the outbox and sent over SMTP."""
    return msg.as_bytes(policy=POLICY)


def outbox_name(message: OutgoingMessage, message_id_key: str, day: datetime) -> str:
    """``20250307-reminder-PGD01-1a2b3c4d.eml``: ASCII, sortable, the same for a resend."""
    unit = message.unit or "all"
    return safe_name(f"{day:%Y%m%d}-{message.kind}-{unit}-{key_hash(message_id_key)[:8]}.eml")


# --- I/O: secrets and the two backends ----------------------------------------------------


def smtp_password(settings: MailSettings) -> str | None:
    """The SMTP password: ``$BAOCAO_SMTP_PASSWORD``, else the OS keyring entry
    (service ``settings.keyring_service``, user ``settings.user``), else ``None``.

    Never from config.toml. A keyring that is missing or broken (a server with no desktop
    session has none) is the same as no entry: ``None``, not an exception.
    """
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if not settings.user:
        return None
    import keyring  # here only: importing it scans the installed backends
    import keyring.errors

    try:
        return keyring.get_password(settings.keyring_service, settings.user)
    except (keyring.errors.KeyringError, RuntimeError, OSError):
        return None


def deliver(
    message: OutgoingMessage,
    settings: MailSettings,
    *,
    outbox: Path,
    message_id_key: str,
    password: str | None = None,
    now: datetime | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> DeliveryResult:
    """Deliver ``message`` through ``settings.backend`` and say who received it.

    ``message_id_key`` identifies the message for its whole life (e.g. ``"reminder:2025-Q1:
    PGD01:2025-03-06"``): the Message-ID and the outbox file name derive from it. ``now`` is the
    Date header (default: the current local time). ``password`` overrides ``smtp_password``;
    ``tls_context`` overrides the default verifying context (tests pass one trusting their own
    certificate). Raises ``DeliveryError`` (Vietnamese, with the technical reason) when the
    outbox cannot be written or the server is unreachable, refuses the login, the sender or the
    message; refused *recipients* are reported in the result instead.
    """
    when = now if now is not None else datetime.now().astimezone()
    msg = to_email(
        message,
        sender=settings.sender,
        sender_name=settings.sender_name,
        message_id_key=message_id_key,
        date=when,
    )
    data = message_bytes(msg)
    name = outbox_name(message, message_id_key, when)
    return send_raw(
        data, message.to, settings, outbox=inside(outbox, name), password=password, tls_context=tls_context
    )


def send_raw(
    data: bytes,
    recipients: tuple[str, ...],
    settings: MailSettings,
    *,
    outbox: Path,
    password: str | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> DeliveryResult:
    """Deliver already composed bytes (as ``message_bytes`` made them) to ``recipients``.

    The scheduler stores the bytes of every planned message and sends them with this, so a
    retry after a failure sends exactly the same message. ``outbox`` is the ``.eml`` path used
    by the outbox backend. Errors as for ``deliver``.
    """
    message_id_value = _header(data, b"Message-ID")
    if settings.backend == "outbox":
        path = _write_outbox(outbox, data)
        return DeliveryResult(message_id_value, tuple(recipients), {}, path)
    if settings.backend == "smtp":
        if settings.user and password is None:
            password = smtp_password(settings)
            if password is None:
                raise DeliveryError(
                    f"Chưa có mật khẩu SMTP cho tài khoản {settings.user}: đặt biến môi trường "
                    f"{PASSWORD_ENV} hoặc lưu vào keyring (dịch vụ {settings.keyring_service!r})"
                )
        context = tls_context or ssl.create_default_context()
        accepted, refused = _send_smtp(settings, tuple(recipients), data, password, context)
        return DeliveryResult(message_id_value, accepted, refused, None)
    raise DeliveryError(f"Kiểu gửi thư không hỗ trợ: {settings.backend!r} (cần outbox hoặc smtp)")


def _header(data: bytes, name: bytes) -> str:
    """One header's value from composed bytes (headers end at the first blank line)."""
    head = data.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        if line.lower().startswith(name.lower() + b":"):
            return line.split(b":", 1)[1].strip().decode("ascii", "replace")
    return ""


def _write_outbox(path: Path, data: bytes) -> Path:
    """Write the .eml atomically (no half-written message is ever seen by someone watching the
    folder; a resend on the same day replaces the same file)."""
    try:
        return atomic_write(path, data)
    except OSError as exc:
        raise DeliveryError(f"Không ghi được thư vào thư mục outbox {path.parent}: {exc}") from exc


def _client(settings: MailSettings, password: str | None, context: ssl.SSLContext) -> yagmail.SMTP:
    """A yagmail client for ``settings``, not yet connected.

    yagmail 0.16 quirks handled here: with ``smtp_ssl=False`` it turns STARTTLS *on* unless
    ``smtp_starttls=False`` is passed; a login name without ``@`` gets ``@gmail.com`` appended
    (so ``user`` is set back afterwards); a ``None`` password makes it prompt on the terminal
    (so ``deliver`` never lets one through); its default STARTTLS does not verify the server
    certificate (so a verifying context is always passed).
    """
    import yagmail

    ssl_mode = settings.security == "ssl"
    options: dict[str, object] = {"timeout": settings.timeout_seconds}
    if ssl_mode:
        options["context"] = context
    client = yagmail.SMTP(
        user=settings.user or settings.sender,
        password=password,
        host=settings.host,
        port=settings.port,
        smtp_ssl=ssl_mode,
        smtp_starttls={"context": context} if settings.security == "starttls" else False,
        smtp_skip_login=not settings.user,
        soft_email_validation=False,
        **options,
    )
    client.set_logging(None)  # errors are raised to the caller, not printed by yagmail
    if settings.user:
        client.user = settings.user
    return client


def _send_smtp(
    settings: MailSettings,
    recipients: tuple[str, ...],
    data: bytes,
    password: str | None,
    context: ssl.SSLContext,
) -> tuple[tuple[str, ...], dict[str, str]]:
    """Connect, log in if configured, send ``data`` once; (accepted, refused)."""
    client = _client(settings, password, context)
    try:
        client.login()
        refused_raw = client.smtp.sendmail(settings.sender, list(recipients), data)
    except smtplib.SMTPRecipientsRefused as exc:
        refused_raw = exc.recipients
    except (smtplib.SMTPException, OSError) as exc:
        raise _delivery_error(settings, exc) from exc
    except UnicodeError as exc:  # smtplib's AUTH encodes user and password as ASCII
        raise DeliveryError(
            f"Không gửi được thư: tài khoản hoặc mật khẩu SMTP có ký tự ngoài ASCII, smtplib không "
            f"đăng nhập được (lý do kỹ thuật: {exc})"
        ) from exc
    finally:
        _close(client)
    refused = {addr: _reply_text(*reply) for addr, reply in refused_raw.items()}
    return tuple(r for r in recipients if r not in refused), refused


def _reply_text(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {one_line(text)}"


def _delivery_error(settings: MailSettings, exc: BaseException) -> DeliveryError:
    where = f"máy chủ thư {settings.host}:{settings.port}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        what = f"{where} từ chối đăng nhập tài khoản {settings.user}"
    elif isinstance(exc, smtplib.SMTPSenderRefused):
        what = f"{where} từ chối địa chỉ gửi {settings.sender}"
    elif isinstance(exc, smtplib.SMTPDataError):
        what = f"{where} từ chối nội dung thư"
    elif isinstance(exc, smtplib.SMTPNotSupportedError):
        what = f"{where} không hỗ trợ chế độ bảo mật {settings.security!r} hoặc đăng nhập"
    elif isinstance(exc, ssl.SSLError | ssl.CertificateError):
        what = f"lỗi TLS/chứng chỉ khi kết nối {where}"
    elif isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        # smtplib reports a read timeout as SMTPServerDisconnected("... timed out")
        what = f"hết thời gian chờ {where} ({settings.timeout_seconds:g} giây)"
    elif isinstance(exc, OSError | smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        what = f"không kết nối được {where}"
    else:
        what = f"lỗi khi gửi qua {where}"
    reason = one_line(f"{type(exc).__name__}: {exc}")
    return DeliveryError(f"Không gửi được thư: {what} (lý do kỹ thuật: {reason})")


def _close(client: yagmail.SMTP) -> None:
    """QUIT politely; a connection that is already broken needs no goodbye."""
    with contextlib.suppress(smtplib.SMTPException, OSError):
        client.close()
    client.is_closed = True
