"""Mail for baocao: composed messages (``baocao.mailtext``) turned into bytes and delivered.

``to_email`` builds the message (pure); ``Transport`` is the one way out, chosen by ``[mail]
backend``:

- ``outbox`` (the default, no server needed): each message is written as an ``.eml`` file, the
  exact RFC 5322 bytes that SMTP would carry, so a coordinator can open it in any mail client
  or forward it by hand. The transport names the file (``outbox_path``), the same name for a
  resend, so a retry replaces the file instead of adding a second copy.
- ``smtp``: through yagmail for the connection (implicit TLS, STARTTLS or plain; login only
  when a user is configured, because internal government relays often take neither).

Both send the *same* bytes, built once by ``to_email``; ``notify.smtp`` holds the connection
and the transaction (and tells when a message can no longer be taken back).

Headers are folded by ``baocao.headers`` (every client decodes them the same way); addresses go
out in the form ``addresses.sendable`` gives (IDNA domains). Every message carries
``X-Baocao-Kind``/``-Period``/``-Unit`` headers and a ``Message-ID`` derived from a stable key, so
a resend of the same message is recognisable in any mailbox, and ``In-Reply-To``/``References``
when it answers another message.
"""

from __future__ import annotations

import contextlib
import email.policy
import hashlib
import re
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from baocao.errors import DeliveryError
from baocao.files import atomic_write
from baocao.names import inside, safe_name
from baocao.notify.headers import Header, address_line, header_line
from baocao.notify.mailtext import (
    Attachment,
    OutgoingMessage,
    compose_feedback,
    compose_held,
    compose_receipt,
    compose_reminder,
    compose_summary,
    one_line,
)
from baocao.notify.smtp import PASSWORD_ENV, UncertainDelivery, send_smtp, smtp_password
from baocao.spec.addresses import AddressError, sendable
from baocao.spec.config import MailSettings

__all__ = [
    "Attachment",
    "DeliveryResult",
    "OutgoingMessage",
    "Transport",
    "UncertainDelivery",
    "compose_feedback",
    "compose_held",
    "compose_receipt",
    "compose_reminder",
    "compose_summary",
    "deliver",
    "message_bytes",
    "smtp_password",
    "split_addresses",
    "to_email",
]

# The modern API with CRLF line ends, as sent over the wire; headers are folded by ``headers``.
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
    with contextlib.suppress(AddressError):
        domain = sendable(sender, dotless=True).rpartition("@")[2]
    domain = re.sub(r"[^A-Za-z0-9.-]", "", domain) or "localhost"
    return f"<baocao.{key_hash(message_id_key)[:32]}@{domain}>"


def _checked(addr: str, dotless: bool = False) -> str:
    """The wire form of ``addr`` (``addresses.sendable``); ``DeliveryError`` if it has none."""
    try:
        return sendable(one_line(addr), dotless)
    except AddressError as exc:
        raise DeliveryError(f"Địa chỉ thư không hợp lệ: {addr!r} ({exc})") from None


def split_addresses(addresses: Sequence[str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """(the sendable forms of the good addresses, without repeats; bad address -> why).

    One bad address (a typo in a unit's file) must cost that address only: the caller sends to
    the rest and records the others.
    """
    good: dict[str, None] = {}
    bad: dict[str, str] = {}
    for addr in addresses:
        if not one_line(addr):
            continue
        try:
            good[sendable(one_line(addr)).lower()] = None
        except AddressError as exc:
            bad[addr] = str(exc)
    return tuple(good), bad


def _addresses(name: str, pairs: Sequence[tuple[str, str]], dotless: bool = False) -> Header:
    checked = [(one_line(display), _checked(addr, dotless)) for display, addr in pairs]
    text = ", ".join(f"{d} <{a}>" if d else a for d, a in checked)
    return Header(name, text, address_line(name, checked))


def _text_header(name: str, value: str) -> Header:
    text = one_line(value)
    return Header(name, text, header_line(name, text))


def _msg_ids(values: Sequence[str]) -> str:
    """Message-IDs for In-Reply-To/References: only ``<…@…>`` tokens of printable ASCII."""
    found = [v for v in (one_line(x) for x in values) if re.fullmatch(r"<[!-;=?-~]+@[!-;=?-~]+>", v)]
    return " ".join(found)


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
    reply_to: Sequence[str] = (),
    reply_to_name: str = "",
) -> EmailMessage:
    """The composed message as an ``EmailMessage`` (pure: same inputs, same message).

    Layout: multipart/mixed { multipart/alternative { text/plain, text/html }, attachments }.
    Bodies are quoted-printable UTF-8 so the bytes are 7-bit clean and pass relays that do not
    offer 8BITMIME. ``date`` (aware) becomes the Date header; ``reply_to`` (with
    ``reply_to_name``) is where a unit's reply goes instead of the unattended sender. Every
    header value goes through ``one_line`` again, whoever built ``message``, and is folded by
    ``baocao.headers``. Raises ``DeliveryError`` for an address the mailer cannot send to
    (``split_addresses`` sorts those out beforehand).
    """
    msg = EmailMessage(policy=POLICY)
    msg["From"] = _addresses("From", [(sender_name, sender)], dotless=True)
    msg["To"] = _addresses("To", [("", a) for a in message.to])
    if message.cc:
        msg["Cc"] = _addresses("Cc", [("", a) for a in message.cc])
    if reply_to:
        msg["Reply-To"] = _addresses("Reply-To", [(reply_to_name, a) for a in reply_to])
    msg["Subject"] = _text_header("Subject", message.subject)
    if date is not None:
        msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id(message_id_key, sender)
    if message.in_reply_to and _msg_ids([message.in_reply_to]):
        msg["In-Reply-To"] = _msg_ids([message.in_reply_to])
        msg["References"] = _msg_ids([*message.references, message.in_reply_to])
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies, please
    msg["X-Baocao-Kind"] = _text_header("X-Baocao-Kind", message.kind)
    msg["X-Baocao-Period"] = _text_header("X-Baocao-Period", message.period)
    if message.unit is not None:
        msg["X-Baocao-Unit"] = _text_header("X-Baocao-Unit", message.unit)
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


def envelope(message: OutgoingMessage) -> tuple[str, ...]:
    """Every recipient of ``message`` (To then Cc), in wire form, each once."""
    return tuple(dict.fromkeys(_checked(a).lower() for a in (*message.to, *message.cc)))


# --- I/O: secrets and the transport --------------------------------------------------------


class Transport:
    """The one way a message leaves baocao: an ``.eml`` in the outbox folder, or SMTP.

    It owns the outbox file names (``outbox_path``), so a message delivered by ``deliver``, by
    the scheduler from the ledger or by an e-mail intake's answer lands under the same name.
    ``password`` overrides ``smtp_password``; ``tls_context`` overrides the default verifying
    context (tests pass one trusting their own certificate).
    """

    def __init__(
        self,
        settings: MailSettings,
        outbox: Path,
        *,
        password: str | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.password = password
        self.tls_context = tls_context

    def outbox_path(self, kind: str, unit: str | None, message_id_key: str, day: date) -> Path:
        """``<outbox>/20250307-reminder-PGD01-1a2b3c4d.eml``: ASCII, sortable, the same for a resend,
        always inside the outbox whatever the unit code holds (``names.inside``)."""
        return inside(self.outbox, f"{day:%Y%m%d}-{kind}-{unit or 'all'}-{key_hash(message_id_key)[:8]}.eml")

    def send(
        self,
        data: bytes,
        recipients: Sequence[str],
        *,
        kind: str,
        unit: str | None,
        message_id_key: str,
        day: date,
        on_commit: Callable[[], None] | None = None,
    ) -> DeliveryResult:
        """Deliver already composed bytes (as ``message_bytes`` made them) to ``recipients``.

        The scheduler stores the bytes of every planned message and sends them with this, so a
        retry after a failure sends exactly the same message. ``kind``, ``unit``, the key and
        ``day`` name the outbox file. ``on_commit`` is called once the message can no longer be
        taken back (SMTP: after the server's 354, before the final dot; a raise there aborts
        the transaction and nothing is delivered); the outbox needs none, a rewrite of the same
        file being harmless. Raises ``DeliveryError`` (Vietnamese, with the technical reason)
        when the outbox cannot be written or the server is unreachable, refuses the login, the
        sender or the message; refused *recipients* are reported in the result instead.
        """
        message_id_value = _header(data, b"Message-ID")
        settings = self.settings
        if settings.backend == "outbox":
            path = _write_outbox(self.outbox_path(kind, unit, message_id_key, day), data)
            return DeliveryResult(message_id_value, tuple(recipients), {}, path)
        if settings.backend == "smtp":
            password = self.password
            if settings.user and password is None:
                password = smtp_password(settings)
                if password is None:
                    raise DeliveryError(
                        f"Chưa có mật khẩu SMTP cho tài khoản {settings.user}: đặt biến môi trường "
                        f"{PASSWORD_ENV} hoặc lưu vào keyring (dịch vụ {settings.keyring_service!r})"
                    )
            context = self.tls_context or ssl.create_default_context()
            accepted, refused = send_smtp(settings, tuple(recipients), data, password, context, on_commit)
            return DeliveryResult(message_id_value, accepted, refused, None)
        raise DeliveryError(f"Kiểu gửi thư không hỗ trợ: {settings.backend!r} (cần outbox hoặc smtp)")


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
    """Compose ``message`` and send it through a ``Transport``; say who received it.

    ``message_id_key`` identifies the message for its whole life (e.g. ``"reminder:2025-Q1:
    PGD01:2025-03-06"``): the Message-ID and the outbox file name derive from it. ``now`` is the
    Date header (default: the current local time). Errors as for ``Transport.send``, plus
    ``DeliveryError`` for an address that cannot be sent to.
    """
    when = now if now is not None else datetime.now().astimezone()
    msg = to_email(
        message,
        sender=settings.sender,
        sender_name=settings.sender_name,
        message_id_key=message_id_key,
        date=when,
        reply_to=settings.reply_to,
        reply_to_name=settings.reply_to_name,
    )
    transport = Transport(settings, outbox, password=password, tls_context=tls_context)
    return transport.send(
        message_bytes(msg),
        envelope(message),
        kind=message.kind,
        unit=message.unit,
        message_id_key=message_id_key,
        day=when.date(),
    )


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
