"""A simulated quarter where half the units e-mail their reports and half use the shared folder
gives the same statuses and the same summary as a quarter where everyone used the folder.

The same files are sent at the same moments to two deployments: one takes them all from its
inbox folder, collecting at each moment; the other gets half of them by IMAP APPEND to a real
Dovecot (INTERNALDATE = the moment) and collects only when a folder file comes and at the end,
so most e-mails are taken long after they arrived, and in a different order.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

from conftest import write_config
from dovecot import PASSWORD
from helpers import TZ, inbox, mailbox_config, make_submission
from mail_samples import message, raw

from baocao import api
from baocao.cli import main
from baocao.intake.mailbox import PASSWORD_ENV


def at(day: str, hour: int) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=TZ)


# (when, unit, figures typed, file name, e-mailed from): None = saved into the shared folder
QUARTER = [
    (at("2025-03-02", 10), "NV_VP", {}, "nv_vp.xlsx", "vanthu@snv.langson.example"),
    (at("2025-03-05", 15), "DT_TG", {}, "dt_tg.xlsx", None),
    (
        at("2025-03-06", 9),
        "DT_VP",
        {"luot_tap_huan": 35, "lop_tap_huan": 0},
        "dt_vp.xlsx",
        "vp@sdttg.example",
    ),
    (at("2025-03-07", 11), "NV_CCHC", {"tin_bai_cong_ttdt": 9}, "cchc.xlsx", None),
    (at("2025-03-08", 8), "NV_LDVL", {"nguoi_lap": None}, "ldvl.xlsx", None),
    (at("2025-03-08", 14), "DT_VP", {}, "dt_vp_sua.xlsx", "vp@sdttg.example"),
    # from a personal address, not the one registered for DT_CSDT: its signed template proves it
    (
        at("2025-03-09", 16),
        "DT_CSDT",
        {"tin_bai_cong_ttdt": 20},
        "csdt.xlsx",
        "chuyenvien.csdt@gmail.example",
    ),
    (at("2025-03-11", 10), "NV_TCBC", {}, "tcbc.xlsx", "tcbc@snv.langson.example"),
    (at("2025-03-12", 9), "NV_CCHC", {"tin_bai_cong_ttdt": 31}, "cchc_sua.xlsx", None),
]
END = at("2025-03-14", 9)


def comparable(config: Path) -> dict:
    """What leaders read, from the command line: statuses and the summary (minus file paths and
    where each file came from, which differ by design)."""
    out = io.StringIO()
    assert main(["--config", str(config), "status", "--period", "2025-Q1", "--json"], out=out) == 0
    status = json.loads(out.getvalue())
    for row in status["units"]:
        assert row.pop("source") in ("folder", "imap", None)
        row.pop("sender")
    for kind in ("held", "locked", "failed", "unattributed"):  # files: ids and origins differ
        for rec in status[kind]:
            for key in ("file_id", "inbox_path", "source", "sender", "message_id"):
                rec.pop(key)
    out = io.StringIO()
    args = ["--config", str(config), "consolidate", "--period", "2025-Q1", "--json", "--now", END.isoformat()]
    assert main(args, out=out) == 0
    summary = json.loads(out.getvalue())
    summary.pop("files")
    return {"status": status, "summary": summary}


def test_half_by_email_half_by_folder_gives_the_same_statuses_and_summary(tmp_path, dovecot, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    user = dovecot.new_user()
    (tmp_path / "folder").mkdir()
    (tmp_path / "mixed").mkdir()
    folder = api.load_deployment(write_config(tmp_path / "folder"))
    mixed = api.load_deployment(mailbox_config(tmp_path / "mixed", dovecot, user))
    made = tmp_path / "made"
    for when, unit, figures, name, sender in QUARTER:
        path = make_submission(folder, unit, "2025-Q1", made / name, ngay_lap=when.date(), **figures)
        (inbox(folder) / name).write_bytes(path.read_bytes())
        api.collect(folder, now=when)
        if sender is None:
            (inbox(mixed) / name).write_bytes(path.read_bytes())
            api.collect(mixed, now=when)
        else:
            mail = message(
                attachments=[(name, path.read_bytes())], sender=sender, message_id=f"<{name}@donvi>"
            )
            dovecot.append(user, raw(mail), when)
    report = api.collect(mixed, now=END)
    assert report.unavailable == [] and report.skipped == []
    assert dovecot.uids(user, "INBOX") == []

    by_folder, by_both = comparable(folder.settings.config_file), comparable(mixed.settings.config_file)
    assert by_both == by_folder
    statuses = {row["unit"]: row["status"] for row in by_both["status"]["units"]}
    assert statuses["NV_VP"] == statuses["DT_VP"] == statuses["DT_CSDT"] == "on_time"
    assert statuses["NV_TCBC"] == "late" and statuses["NV_LDVL"] == "rejected"
    counts = by_both["summary"]["counts"]
    assert (counts["on_time"], counts["late"], counts["rejected"]) == (5, 1, 1)
    # and where each came from is shown: the e-mail's sender, even when it is not the registered one
    csdt = next(s for s in api.status(mixed, "2025-Q1") if s.unit.code == "DT_CSDT")
    assert (csdt.source, csdt.sender) == ("imap", "chuyenvien.csdt@gmail.example")
