"""baocao.intake.mailbox against a real Dovecot on 127.0.0.1 (tests/dovecot.py).

Each test takes its own mailbox user on the session's server; messages arrive by IMAP APPEND
with a chosen INTERNALDATE. Failures are real: a port nobody listens on, a wrong password, a
server process killed under the client, a relay that cuts the connection mid-fetch.
"""

from __future__ import annotations

import dataclasses
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from dovecot import INSTALL_HINT, PASSWORD, CuttingProxy, Dovecot, dovecot_available
from mail_samples import UNIT_SENDER, VN, fake_xlsx, message, raw
from tls_cert import self_signed_certificate

from baocao.errors import MailboxError
from baocao.intake.mailarrival import message_arrival
from baocao.intake.mailbox import PASSWORD_ENV, imap_password, open_mailbox

ARRIVED = datetime(2025, 3, 5, 16, 45, 12, tzinfo=VN)
NAME = "Báo cáo CCHC quý I.xlsx"


def open_error(settings, **kwargs) -> str:
    """The MailboxError that opening the mailbox raises, as the coordinator reads it."""
    with pytest.raises(MailboxError) as caught, open_mailbox(settings, **kwargs):
        pass
    return str(caught.value)


@pytest.fixture
def user(dovecot: Dovecot, monkeypatch) -> str:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return dovecot.new_user()


def test_lists_fetches_and_files_away_with_arrival_time_from_the_server(dovecot, user):
    late = raw(message(attachments=[(NAME, fake_xlsx("b"))], message_id="<b@pgd>"))
    early = raw(message(attachments=[(NAME, fake_xlsx("a"))], message_id="<a@pgd>"))
    dovecot.append(user, late, ARRIVED + timedelta(hours=2))
    dovecot.append(user, early, ARRIVED)
    with open_mailbox(dovecot.settings(user)) as box:
        entries = box.pending()
        assert [e.internaldate for e in entries] == [
            ARRIVED.astimezone(UTC),
            (ARRIVED + timedelta(hours=2)).astimezone(UTC),
        ]
        assert [e.uid for e in entries] == [2, 1]  # oldest arrival first, whatever the UID order
        assert [e.size for e in entries] == [len(early), len(late)]
        assert {e.uidvalidity for e in entries} == {box.uidvalidity}
        fetched = box.fetch(entries[0], max_bytes=1 << 20)
        assert fetched is not None and fetched.complete and fetched.data == early
        box.file_away(entries[:1])
        assert [e.uid for e in box.pending()] == [1]
    assert dovecot.uids(user, "INBOX") == [1]
    assert dovecot.uids(user, "Đã xử lý") == [1]
    # the server holds the name in modified UTF-7, so every mail client shows "Đã xử lý"
    client = dovecot.client(user)
    client.folder_encode = False
    assert b"&ARAA4w- x&Hu0- l&AP0-" in [
        name.encode() if isinstance(name, str) else name for *_, name in client.list_folders()
    ]
    client.logout()


def test_date_header_a_week_early_does_not_make_a_late_report_on_time(dovecot, user):
    sent = raw(message(attachments=[(NAME, fake_xlsx("late"))], date=ARRIVED - timedelta(days=7)))
    dovecot.append(user, sent, ARRIVED)
    with open_mailbox(dovecot.settings(user)) as box:
        [entry] = box.pending()
        fetched = box.fetch(entry, 1 << 20)
    assert fetched is not None
    arrival = message_arrival(fetched)
    assert arrival.arrived == ARRIVED  # INTERNALDATE
    assert arrival.message.date_header == ARRIVED - timedelta(days=7)  # kept, never used for timeliness
    assert arrival.sender == UNIT_SENDER
    [child] = arrival.children
    assert child.name == NAME and child.key == f"imap:{entry.uidvalidity}:{entry.uid}/1"


def test_same_message_delivered_twice_two_keys_one_dedup_key(dovecot, user):
    data = raw(message(attachments=[(NAME, fake_xlsx("twice"))]))
    dovecot.append(user, data, ARRIVED)
    dovecot.append(user, data, ARRIVED + timedelta(minutes=1))
    with open_mailbox(dovecot.settings(user)) as box:
        arrivals = [message_arrival(box.fetch(e, 1 << 20)) for e in box.pending()]  # type: ignore[arg-type]
    assert arrivals[0].key != arrivals[1].key
    assert arrivals[0].children[0].dedup_key == arrivals[1].children[0].dedup_key


def test_message_over_the_limit_costs_the_limit_and_still_names_its_sender(dovecot, user):
    big = raw(message(attachments=[(NAME, bytes(range(256)) * 4000)]))
    dovecot.append(user, big, ARRIVED)
    with open_mailbox(dovecot.settings(user)) as box:
        [entry] = box.pending()
        fetched = box.fetch(entry, max_bytes=20_000)
    assert fetched is not None and not fetched.complete and len(fetched.data) == 20_000
    arrival = message_arrival(fetched)
    assert arrival.sender == UNIT_SENDER and arrival.children == ()
    assert [p.code for p in arrival.message.problems] == ["too_large"]


def test_processed_folder_deleted_by_a_person_is_created_again(dovecot, user):
    for n in range(2):
        dovecot.append(user, raw(message(message_id=f"<m{n}@pgd>")), ARRIVED + timedelta(minutes=n))
    with open_mailbox(dovecot.settings(user)) as box:
        first, second = box.pending()
        box.file_away([first])
        person = dovecot.client(user)
        person.delete_folder("Đã xử lý")
        person.logout()
        assert "Đã xử lý" not in dovecot.folders(user)
        box.file_away([second])
    assert dovecot.uids(user, "Đã xử lý") == [1]  # the first went with the deleted folder
    assert dovecot.uids(user, "INBOX") == []


def test_message_gone_between_listing_and_fetching_costs_that_message_only(dovecot, user):
    dovecot.append(user, raw(message()), ARRIVED)
    with open_mailbox(dovecot.settings(user)) as box:
        [entry] = box.pending()
        person = dovecot.client(user)
        person.select_folder("INBOX")
        person.delete_messages([entry.uid])
        person.expunge()
        person.logout()
        box._client.noop()  # the session learns about the expunge, as it would on its next command
        assert box.fetch(entry, 1 << 20) is None


def test_a_changed_uidvalidity_moves_nothing(dovecot, user):
    dovecot.append(user, raw(message()), ARRIVED)
    with open_mailbox(dovecot.settings(user)) as box:
        [entry] = box.pending()
        stale = dataclasses.replace(entry, uidvalidity=entry.uidvalidity - 1)
        with pytest.raises(MailboxError, match="UIDVALIDITY"):
            box.file_away([stale])
    assert dovecot.uids(user, "INBOX") == [1]


# --- the server misbehaving ------------------------------------------------------------------


def test_server_down_then_back(monkeypatch):
    if not dovecot_available():
        pytest.skip(INSTALL_HINT)
    server = Dovecot()
    try:
        server.start()
        user = server.new_user()
        monkeypatch.setenv(PASSWORD_ENV, server.users[user])
        server.append(user, raw(message()), ARRIVED)
        server.stop()
        with pytest.raises(MailboxError) as caught, open_mailbox(server.settings(user)):
            pass
        text = str(caught.value)
        assert f"không kết nối được máy chủ hộp thư 127.0.0.1:{server.port}" in text
        assert "Thư vẫn nằm nguyên trong hộp thư" in text
        server.start()
        with open_mailbox(server.settings(user)) as box:
            assert len(box.pending()) == 1
    finally:
        server.close()


def test_server_that_never_answers_times_out(dovecot, user):
    silent = socket.create_server(("127.0.0.1", 0))  # accepts the connection, never greets
    try:
        settings = dovecot.settings(user, port=silent.getsockname()[1], timeout_seconds=1)
        assert re.search("hết thời gian chờ .* khi kết nối \\(1 giây\\)", open_error(settings))
    finally:
        silent.close()


def test_login_refused_and_no_password(dovecot, user, monkeypatch, memory_keyring):
    assert re.search(
        f"từ chối đăng nhập tài khoản {user}", open_error(dovecot.settings(user), password="sai-mat-khau")
    )
    monkeypatch.delenv(PASSWORD_ENV)
    assert re.search("Chưa có mật khẩu hộp thư .* BAOCAO_IMAP_PASSWORD", open_error(dovecot.settings(user)))
    memory_keyring.set_password("baocao", user, dovecot.users[user])  # the keyring, not the config
    with open_mailbox(dovecot.settings(user)) as box:
        assert box.pending() == []


def test_password_from_env_first_then_keyring(monkeypatch, memory_keyring, dovecot, user):
    settings = dovecot.settings(user, keyring_service="baocao-imap")
    memory_keyring.set_password("baocao-imap", user, "tu-keyring")
    monkeypatch.setenv(PASSWORD_ENV, "tu-bien-moi-truong")
    assert imap_password(settings) == "tu-bien-moi-truong"
    monkeypatch.delenv(PASSWORD_ENV)
    assert imap_password(settings) == "tu-keyring"


def test_folder_that_does_not_exist(dovecot, user):
    assert re.search("khi mở thư mục 'Báo cáo'", open_error(dovecot.settings(user, folder="Báo cáo")))


def test_connection_cut_in_the_middle_of_a_fetch_loses_nothing(dovecot, user):
    dovecot.append(user, raw(message(attachments=[(NAME, bytes(200_000))])), ARRIVED)
    proxy = CuttingProxy(dovecot.port, keep=5_000)
    with open_mailbox(dovecot.settings(user, port=proxy.port)) as box:
        [entry] = box.pending()
        with pytest.raises(
            MailboxError, match=f"mất kết nối với máy chủ hộp thư .* khi tải thư UID {entry.uid}"
        ):
            box.fetch(entry, 1 << 20)
    assert proxy.cut.is_set()
    assert dovecot.uids(user, "INBOX") == [entry.uid]


def test_server_process_killed_under_the_client(dovecot, user):
    dovecot.append(user, raw(message()), ARRIVED)
    with open_mailbox(dovecot.settings(user)) as box:
        [entry] = box.pending()
        assert dovecot.kill_sessions(user) == 1
        with pytest.raises(MailboxError, match="mất kết nối"):
            box.file_away([entry])
    assert dovecot.uids(user, "INBOX") == [entry.uid]
    assert dovecot.uids(user, "Đã xử lý") == []


def test_starttls_refused_by_a_server_without_tls(dovecot, user):
    assert re.search("không hỗ trợ STARTTLS", open_error(dovecot.settings(user, security="starttls")))


# --- TLS, and an older server without MOVE ------------------------------------------------------


@pytest.fixture(scope="module")
def tls_dovecot(tmp_path_factory) -> Iterator[tuple[Dovecot, object]]:
    """Dovecot with a self-signed certificate (STARTTLS on the plain port, TLS on its own
    port) that advertises no MOVE, like many older servers: moves fall back to COPY+EXPUNGE."""
    if not dovecot_available():
        pytest.skip(INSTALL_HINT)
    cert = self_signed_certificate(tmp_path_factory.mktemp("imap-tls"))
    server = Dovecot(
        cert_file=cert.cert_file,
        key_file=cert.key_file,
        capabilities="IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UIDPLUS UNSELECT NAMESPACE",
    )
    try:
        yield server.start(), cert
    finally:
        server.close()


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_login_and_move_without_the_move_extension(tls_dovecot, security):
    server, cert = tls_dovecot
    user = server.new_user()
    server.append(user, raw(message()), ARRIVED)
    port = server.tls_port if security == "ssl" else server.port
    settings = server.settings(user, security=security, port=port)
    with open_mailbox(settings, password=server.users[user], ssl_context=cert.client_context()) as box:
        assert not box._client.has_capability("MOVE")
        box.file_away(box.pending())
    assert server.uids(user, "INBOX") == []
    assert server.uids(user, "Đã xử lý") == [1]
    assert re.search(
        "lỗi TLS/chứng chỉ", open_error(settings, password=server.users[user])
    )  # the default context does not trust it
