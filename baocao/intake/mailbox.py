"""The IMAP edge of the e-mail intake: list, fetch and file away the messages of one folder.

Only the connection lives here; what a message *means* is ``intake.mime``'s job. imapclient
speaks the protocol (responses parsed into typed values, folder names in modified UTF-7, the
password redacted from its debug log), so nothing here parses IMAP by hand.

Why each choice:

- A message is identified by (UIDVALIDITY, UID). A UID is stable while the folder keeps its
  UIDVALIDITY; when the server recreates the folder every old UID is stale, so a move checks it.
- Bytes are fetched with ``BODY.PEEK[]`` (the \\Seen flag stays for people to use) and a partial
  range one byte past the size limit: a hostile 2 GB message costs at most the limit in memory,
  and what did come (the headers) still says who sent it and whether a reply is due.
- The arrival time is INTERNALDATE, the server's own time of delivery, which the sender cannot
  set (the Date header can say anything).
- Processed messages are *moved*, not flagged: a person looking at the mailbox sees what is
  waiting and what was taken. A processed folder that someone deleted is created again.
- Every failure of the server or the network is one ``MailboxError`` in Vietnamese that names
  the server and says that nothing was lost: a message leaves the folder only when moved.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from imapclient import IMAPClient
from imapclient.exceptions import (
    CapabilityError,
    IMAPClientAbortError,
    IMAPClientError,
    LoginError,
)

from baocao.errors import MailboxError
from baocao.spec.config import ImapSettings
from baocao.spec.identity import keyring_password

PASSWORD_ENV = "BAOCAO_IMAP_PASSWORD"
_LIST_BATCH = 500
_HEADER = "BODY.PEEK[HEADER.FIELDS (FROM SUBJECT MESSAGE-ID)]"
_DELETED = b"\\Deleted"


@dataclass(frozen=True)
class MailboxEntry:
    """One message waiting in the intake folder, as listed (its bytes are not fetched yet)."""

    uidvalidity: int
    uid: int
    internaldate: datetime  # aware, UTC: when the message reached the mailbox
    size: int  # RFC822.SIZE as the server reports it
    header: bytes = b""  # its From, Subject and Message-ID lines: who sent it, before any fetch

    @property
    def key(self) -> str:
        """``"<uidvalidity>:<uid>"``: the message's identity in this folder, stable across runs."""
        return f"{self.uidvalidity}:{self.uid}"


@dataclass(frozen=True)
class FetchedMessage:
    """A message's bytes. ``complete`` is False when it was larger than the limit: ``data`` then
    holds only its first bytes (enough for the headers), never the whole message."""

    entry: MailboxEntry
    data: bytes
    complete: bool


def imap_password(settings: ImapSettings) -> str | None:
    """``$BAOCAO_IMAP_PASSWORD``, else the OS keyring entry (service ``settings.keyring_service``,
    user ``settings.user``), else ``None``. Never from config.toml; a missing or broken keyring
    (a server with no desktop session) is the same as no entry."""
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    return keyring_password(settings.keyring_service, settings.user)


@contextlib.contextmanager
def open_mailbox(
    settings: ImapSettings,
    *,
    password: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Iterator[Mailbox]:
    """Connect, log in and select ``settings.folder``; log out when the block ends.

    ``password`` overrides ``imap_password``; ``ssl_context`` overrides the default verifying
    context (tests pass one trusting their own certificate). Raises ``MailboxError`` when there
    is no password, the server is unreachable or refuses the login, TLS fails, or the folder
    cannot be opened.
    """
    if password is None:
        password = imap_password(settings)
    if password is None:
        raise MailboxError(
            f"Chưa có mật khẩu hộp thư cho tài khoản {settings.user}: đặt biến môi trường "
            f"{PASSWORD_ENV} hoặc lưu vào keyring (dịch vụ {settings.keyring_service!r})"
        )
    client = _connect(settings, password, ssl_context or ssl.create_default_context())
    try:
        yield Mailbox(client, settings)
    finally:
        _close(client)


class Mailbox:
    """A logged-in session on the intake folder (made by ``open_mailbox``)."""

    def __init__(self, client: IMAPClient, settings: ImapSettings) -> None:
        self._client = client
        self.settings = settings
        with _errors(settings, f"mở thư mục {settings.folder!r}"):
            info = client.select_folder(settings.folder)
        self.uidvalidity = int(info[b"UIDVALIDITY"])

    def pending(self) -> list[MailboxEntry]:
        """Every message in the folder not marked deleted, oldest arrival first, with the few
        header lines that say who sent it (so a message can be named before it is fetched)."""
        entries = []
        with _errors(self.settings, "liệt kê thư trong hộp thư"):
            uids = sorted(self._client.search(["UNDELETED"]))
            for start in range(0, len(uids), _LIST_BATCH):
                batch = uids[start : start + _LIST_BATCH]
                for uid, item in self._client.fetch(batch, ["INTERNALDATE", "RFC822.SIZE", _HEADER]).items():
                    when = item[b"INTERNALDATE"].astimezone(UTC)
                    header = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER")), None)
                    entries.append(
                        MailboxEntry(
                            self.uidvalidity, uid, when, int(item[b"RFC822.SIZE"]), bytes(header or b"")
                        )
                    )
        return sorted(entries, key=lambda e: (e.internaldate, e.uid))

    def fetch(self, entry: MailboxEntry, max_bytes: int) -> FetchedMessage | None:
        """The message's bytes, at most ``max_bytes`` of them (see ``FetchedMessage.complete``).

        ``None`` when the message is no longer in the folder (a person moved or deleted it since
        it was listed): that costs this message only. ``MailboxError`` when the connection drops.
        """
        self._check_validity(entry)
        with _errors(self.settings, f"tải thư UID {entry.uid}"):
            response = self._client.fetch([entry.uid], [f"BODY.PEEK[]<0.{max_bytes + 1}>"])
        item = response.get(entry.uid, {})
        data = next((v for k, v in item.items() if k.startswith(b"BODY[")), None)
        if data is None:
            return None
        data = bytes(data)
        if len(data) > max_bytes:
            return FetchedMessage(entry, data[:max_bytes], complete=False)
        return FetchedMessage(entry, data, complete=True)

    def file_away(self, entries: Sequence[MailboxEntry]) -> None:
        """Move ``entries`` to ``settings.processed_folder``, creating it if it is missing (also
        when a person deleted it since the last run). Servers without MOVE get COPY, \\Deleted
        and (UID) EXPUNGE, which is what MOVE does in one step."""
        if not entries:
            return
        for entry in entries:
            self._check_validity(entry)
        uids = [entry.uid for entry in entries]
        target = self.settings.processed_folder
        with _errors(self.settings, f"chuyển thư sang thư mục {target!r}"):
            self._ensure_folder(target)
            try:
                self._move(uids, target)
            except IMAPClientAbortError:
                raise
            except IMAPClientError:
                # deleted between the check and the move: once more, then give up loudly
                if self._client.folder_exists(target):
                    raise
                self._ensure_folder(target)
                self._move(uids, target)

    def _ensure_folder(self, name: str) -> None:
        if not self._client.folder_exists(name):
            self._client.create_folder(name)
            with contextlib.suppress(IMAPClientError):  # a folder people can see in their client
                self._client.subscribe_folder(name)

    def _move(self, uids: list[int], target: str) -> None:
        if self._client.has_capability("MOVE"):
            self._client.move(uids, target)
            return
        self._client.copy(uids, target)
        self._client.add_flags(uids, [_DELETED], silent=True)
        if self._client.has_capability("UIDPLUS"):
            self._client.uid_expunge(uids)
        else:
            self._client.expunge()

    def _check_validity(self, entry: MailboxEntry) -> None:
        if entry.uidvalidity != self.uidvalidity:
            raise MailboxError(
                f"Thư mục {self.settings.folder!r} trên máy chủ hộp thư đã bị tạo lại (UIDVALIDITY "
                f"{entry.uidvalidity} → {self.uidvalidity}): danh sách thư cũ không còn đúng, "
                "không thư nào bị chuyển; hãy chạy lại"
            )


def _connect(settings: ImapSettings, password: str, context: ssl.SSLContext) -> IMAPClient:
    implicit = settings.security == "ssl"
    with _errors(settings, "kết nối"):
        client = IMAPClient(
            settings.host,
            port=settings.effective_port,
            ssl=implicit,
            ssl_context=context if implicit else None,
            timeout=settings.timeout_seconds,
        )
    try:
        with _errors(settings, "đăng nhập"):
            if settings.security == "starttls":
                client.starttls(context)
            client.login(settings.user, password)
    except BaseException:
        _close(client)
        raise
    return client


def _close(client: IMAPClient) -> None:
    """LOGOUT politely; a connection that is already broken needs no goodbye."""
    try:
        client.logout()
    except (IMAPClientError, OSError):
        with contextlib.suppress(IMAPClientError, OSError):
            client.shutdown()


@contextlib.contextmanager
def _errors(settings: ImapSettings, doing: str) -> Iterator[None]:
    """Turn whatever the server or the network does into one Vietnamese ``MailboxError``."""
    try:
        yield
    except MailboxError:
        raise
    except (IMAPClientError, OSError, UnicodeError) as exc:
        raise mailbox_error(settings, doing, exc) from exc


def mailbox_error(settings: ImapSettings, doing: str, exc: BaseException) -> MailboxError:
    """The message a coordinator reads: what failed, on which server, and that nothing was lost."""
    where = f"máy chủ hộp thư {settings.host}:{settings.effective_port}"
    if isinstance(exc, LoginError):
        what = f"{where} từ chối đăng nhập tài khoản {settings.user} (sai tài khoản hoặc mật khẩu?)"
    elif isinstance(exc, CapabilityError) and settings.security == "starttls":
        what = f"{where} không hỗ trợ STARTTLS; mật khẩu không được gửi qua kết nối không mã hoá"
    elif isinstance(exc, ssl.SSLError | ssl.CertificateError):
        what = f"lỗi TLS/chứng chỉ khi {doing} với {where}"
    elif isinstance(exc, TimeoutError | socket.timeout):
        what = f"hết thời gian chờ {where} khi {doing} ({settings.timeout_seconds:g} giây)"
    elif isinstance(exc, UnicodeError):
        what = "tài khoản hoặc mật khẩu có ký tự ngoài ASCII mà máy chủ không nhận"
    elif isinstance(exc, ConnectionRefusedError | socket.gaierror) or doing == "kết nối":
        what = f"không kết nối được {where} (máy chủ không chạy, sai tên máy hoặc sai cổng)"
    elif isinstance(exc, IMAPClientAbortError | OSError):
        what = f"mất kết nối với {where} khi {doing}"
    else:
        what = f"{where} báo lỗi khi {doing}"
    reason = " ".join(f"{type(exc).__name__}: {exc}".split())
    return MailboxError(
        f"Không đọc được hộp thư {settings.user}: {what} (lý do kỹ thuật: {reason}). "
        "Thư vẫn nằm nguyên trong hộp thư và sẽ được lấy ở lần chạy sau."
    )
