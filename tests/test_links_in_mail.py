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

from baocao import api
from baocao.spec.links import receipt_number, unit_link
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


def test_without_a_web_desk_messages_say_where_to_drop_the_file_only(tmp_path):

    extra = '\n[mail]\nbackend = "outbox"\nsender = "baocao@snv.langson.example"\n'
    dep = api.load_deployment(write_config(tmp_path, extra=extra))
    api.run_due(dep, now=datetime(2025, 3, 3, 9, 0, tzinfo=TZ))
    assert all("/don-vi/" not in text for text in texts(dep, "reminder").values())
