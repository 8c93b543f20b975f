"""SMTP for baocao: the connection through yagmail and one transaction per message.

yagmail is used for connecting, TLS and login only (``_client``); the composed bytes go through
the SMTP transaction below, ``smtplib``'s ``sendmail`` spelt out so that the caller learns the
moment the message is handed over (``on_commit``: after the server's 354, before the final
dot). A crash before it means the server never had the message and it can be sent again; a
crash or a lost answer after it means it may have been delivered (``UncertainDelivery``), and
must not be sent again blindly. yagmail's own ``send`` is not used: it builds a different
message (its own MIME tree, Date and Message-ID) and, on a dropped connection, sleeps, retries
and returns ``False`` instead of raising. This is the only module that imports yagmail (when it
connects: importing it is slow).
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from baocao.errors import DeliveryError
from baocao.notify.blocks import one_line
from baocao.spec.addresses import sendable
from baocao.spec.config import MailSettings
from baocao.spec.identity import keyring_password

if TYPE_CHECKING:
    import yagmail

PASSWORD_ENV = "BAOCAO_SMTP_PASSWORD"


class UncertainDelivery(DeliveryError):
    """The server had the whole message but its answer never came (timeout, dropped line): it
    may have been delivered. Sending it again could send it twice, so the caller must not."""


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
    return keyring_password(settings.keyring_service, settings.user)


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


def send_smtp(
    settings: MailSettings,
    recipients: tuple[str, ...],
    data: bytes,
    password: str | None,
    context: ssl.SSLContext,
    on_commit: Callable[[], None] | None = None,
) -> tuple[tuple[str, ...], dict[str, str]]:
    """Connect, log in if configured, send ``data`` once; (accepted, refused)."""
    client = _client(settings, password, context)
    try:
        client.login()
        refused_raw = _transaction(client.smtp, settings.sender, recipients, data, on_commit)
    except _Unanswered as exc:
        cause = exc.__cause__ or exc
        raise UncertainDelivery(
            f"Không chắc thư đã được gửi: máy chủ thư {settings.host}:{settings.port} đã nhận nội dung "
            f"nhưng không trả lời (lý do kỹ thuật: {one_line(f'{type(cause).__name__}: {cause}')}); "
            "thư không được gửi lại tự động, hãy kiểm tra hộp thư của người nhận"
        ) from exc
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


def _transaction(
    smtp: smtplib.SMTP,
    sender: str,
    recipients: tuple[str, ...],
    data: bytes,
    on_commit: Callable[[], None] | None,
) -> dict[str, tuple[int, bytes]]:
    """MAIL, RCPT per recipient, DATA: ``smtplib.SMTP.sendmail`` with a hook before the final
    dot. Returns the refused recipients; raises like ``sendmail`` for everything else."""
    smtp.ehlo_or_helo_if_needed()
    code, reply = smtp.mail(sendable(sender, dotless=True))
    if code != 250:
        smtp.rset()
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for recipient in recipients:
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = (code, reply)
    if len(refused) == len(recipients):
        smtp.rset()
        return refused
    code, reply = smtp.docmd("DATA")
    if code != 354:
        smtp.rset()
        raise smtplib.SMTPDataError(code, reply)
    if on_commit is not None:
        try:
            on_commit()
        except BaseException:
            smtp.close()  # no final dot: the server drops the half-sent message
            raise
    payload = re.sub(rb"(?m)^\.", b"..", data)
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    try:
        smtp.send(payload + b".\r\n")
        code, reply = smtp.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise _Unanswered(exc) from exc
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)
    return refused


class _Unanswered(Exception):
    """The line broke or timed out after the message was handed over (see ``UncertainDelivery``)."""


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
    if isinstance(exc, smtplib.SMTPResponseException):  # the server's own words, as it said them
        reason = f"máy chủ trả lời: {_reply_text(exc.smtp_code, exc.smtp_error)}"
    else:
        reason = "lý do kỹ thuật: " + one_line(f"{type(exc).__name__}: {exc}")
    return DeliveryError(f"Không gửi được thư: {what} ({reason})")


def _close(client: yagmail.SMTP) -> None:
    """QUIT politely; a connection that is already broken needs no goodbye."""
    with contextlib.suppress(smtplib.SMTPException, OSError):
        client.close()
    client.is_closed = True
