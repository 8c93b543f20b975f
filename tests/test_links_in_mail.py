"""Reminders and receipts point a unit to its own web page; a receipt carries its number.

With ``[web] base_url`` set, the messages a unit gets say where it can submit and see the
verdict at once (its secret link); a held notice, which also goes to whatever address was typed
in an unproven file, never carries the link. Read from the outbox's raw bytes.
"""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from zoneinfo import ZoneInfo

from conftest import write_config
from helpers import make_submission
from webdesk import add_user, client_for, sign_in, text_of

from baocao import api
from baocao.spec.links import receipt_number, unit_link, unit_path
from baocao.store import open_store

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
WEB = (
    '\n[mail]\nbackend = "outbox"\nsender = "baocao@snv.langson.example"\n'
    '[web]\nbase_url = "https://baocao.example"\n'
)


def texts(dep, kind: str) -> dict[str, str]:
    """Plain-text body of every outbox message of ``kind``, by unit."""
    out = {}
    for path in dep.settings.path("outbox").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["X-Baocao-Kind"] == kind:
            out[message["X-Baocao-Unit"]] = message.get_body(("plain",)).get_content()
    return out


def test_reminders_and_receipts_carry_the_units_own_link(tmp_path):

    dep = api.load_deployment(write_config(tmp_path, extra=WEB))
    make_submission(dep, "DT_TG", "2025-Q1", dep.settings.path("inbox") / "dt_tg.xlsx")
    api.run_due(dep, now=datetime(2025, 3, 7, 9, 0, tzinfo=TZ))  # the 3-days-before reminder

    reminders = texts(dep, "reminder")
    assert "DT_TG" not in reminders and "DT_CSDT" in reminders
    assert unit_link(dep, "DT_CSDT", "2025-Q1") in " ".join(reminders["DT_CSDT"].split())
    assert unit_link(dep, "DT_TG", "2025-Q1") not in " ".join(reminders["DT_CSDT"].split())

    [receipt] = texts(dep, "receipt").values()
    with open_store(dep.settings) as store:
        [rec] = store.files("2025-Q1")
    flat = " ".join(receipt.split())
    assert f"Số biên nhận: {receipt_number(rec.saved_id)}." in flat
    assert unit_link(dep, "DT_TG", "2025-Q1") in flat


def subjects(dep, kind: str) -> dict[str, str]:
    out = {}
    for path in dep.settings.path("outbox").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.strict)
        if message["X-Baocao-Kind"] == kind:
            out[message["X-Baocao-Unit"]] = str(message["Subject"])
    return out


def test_the_units_page_and_the_board_word_the_deadline_as_the_reminder_does(tmp_path):
    """Same day, same unit: the reminder's subject and the page the link opens give the same date
    and the same count of days left (the page once said "hết ngày 09/03" and a day fewer)."""
    dep = api.load_deployment(write_config(tmp_path, extra=WEB))
    now = datetime(2025, 3, 7, 9, 0, tzinfo=TZ)
    api.run_due(dep, now=now)
    subject = subjects(dep, "reminder")["DT_CSDT"]
    assert subject.endswith("nộp trước ngày 10/03/2025 (còn 3 ngày)")

    add_user(dep)
    with client_for(dep, now=now) as client:
        page = text_of(client.get(unit_path(dep, "DT_CSDT", "2025-Q1")).text)
        sign_in(client)
        board = text_of(client.get("/dieu-phoi?ky=2025-Q1").text)
        with client_for(dep, now=datetime(2025, 3, 9, 9, 0, tzinfo=TZ)) as last_day:
            on_last_day = text_of(last_day.get(unit_path(dep, "DT_CSDT", "2025-Q1")).text)
    assert "Hạn nộp: trước ngày 10/03/2025 · còn 3 ngày" in page
    assert "Phòng Chính sách dân tộc DT_CSDT Sở Dân tộc và Tôn giáo Chưa nộp còn 3 ngày" in board
    assert "Hạn nộp: trước ngày 10/03/2025 · hôm nay là ngày cuối" in on_last_day


def test_without_a_web_desk_messages_say_where_to_drop_the_file_only(tmp_path):

    extra = '\n[mail]\nbackend = "outbox"\nsender = "baocao@snv.langson.example"\n'
    dep = api.load_deployment(write_config(tmp_path, extra=extra))
    api.run_due(dep, now=datetime(2025, 3, 3, 9, 0, tzinfo=TZ))
    assert all("/don-vi/" not in text for text in texts(dep, "reminder").values())
