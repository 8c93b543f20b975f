"""Whose report a file is: keyed template signatures, held files, unattributed files.

Every file here is a real template written by baocao, filled through its defined names, then
forged the way a unit could (its hidden ``_meta`` sheet edited with openpyxl, a template made
under another key, another unit's template relabelled), dropped in a real inbox and collected;
messages are the ``.eml`` files ``run-due`` writes to the outbox.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import logging
import os
import stat
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from conftest import REPO, TEST_SECRET
from helpers import fill_workbook, make_submission, valid_values

from baocao import api
from baocao.cli import main
from baocao.errors import ConfigError, UsageError
from baocao.spec.identity import SECRET_ENV, Proof, SigningKey, load_signing_key, signing_key_ahead
from baocao.store import open_store
from baocao.workbook.template import render_template

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
EARLY, LATER, AFTER = (datetime(2025, 3, d, 9, 0, tzinfo=TZ) for d in (5, 7, 8))
OWNER = "tongiao@sdttg.langson.example"  # DT_TG's registered address
SENDER = "ai.do@gmail.example"  # the address typed in the forged files


def inbox(dep) -> Path:
    path = dep.settings.path("inbox")
    path.mkdir(parents=True, exist_ok=True)
    return path


def set_meta(path: Path, **rows: str | None) -> Path:
    """Edit the hidden ``_meta`` rows of a workbook as a unit with openpyxl could (None deletes)."""
    book = openpyxl.load_workbook(path)
    sheet = book["_meta"]
    found = {sheet.cell(r, 1).value: r for r in range(1, sheet.max_row + 1)}
    for key, value in rows.items():
        if value is None:
            sheet.delete_rows(found[key])
            found = {sheet.cell(r, 1).value: r for r in range(1, sheet.max_row + 1)}
        else:
            sheet.cell(found[key], 2).value = value
    book.save(path)
    return path


def outbox_messages(dep) -> list[email.message.EmailMessage]:
    folder = dep.settings.path("outbox")
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted(folder.glob("*.eml"))
    ]


def accepted_report(dep, tmp_path) -> None:
    """DT_TG's own, signed report: accepted on 5 March with 15 items on its portal."""
    make_submission(dep, "DT_TG", "2025-Q1", inbox(dep) / "dt_tg.xlsx", tin_bai_cong_ttdt=15)
    assert [r.status for r in api.collect(dep, now=EARLY).results] == ["accepted"]


def forged(dep, tmp_path, how: str) -> Path:
    """A file claiming DT_TG for 2025-Q1 (portal items 99, typed contact SENDER), forged ``how``."""
    out = tmp_path / "forged" / f"{how}.xlsx"
    values = {"tin_bai_cong_ttdt": 99, "email": SENDER}
    if how == "other_unit_relabelled":  # NV_VP's own template, hidden sheet and unit cell changed
        make_submission(
            dep, "NV_VP", "2025-Q1", out, ma_don_vi="DT_TG", ten_don_vi="Phòng Quản lý tôn giáo", **values
        )
        return set_meta(out, unit="DT_TG", unit_name="Phòng Quản lý tôn giáo")
    if how == "other_key":  # a template made by a deployment with another secret
        template = tmp_path / "khoa-khac.xlsx"
        template.write_bytes(other_key_template(dep))
        return fill_workbook(template, valid_values(dep.form, dep.period("2025-Q1"), **values), out)
    make_submission(dep, "DT_TG", "2025-Q1", out, **values)
    if how == "no_signature":
        return set_meta(out, signature=None, key_id=None)
    if how == "wrong_signature":
        return set_meta(out, signature="0" * 32)
    raise AssertionError(how)


OTHER_KEY = SigningKey(b"mot-khoa-khac-hoan-toan-0123456789", "test")


def other_key_template(dep) -> bytes:
    """DT_TG's 2025-Q1 template as a deployment with another secret writes it."""
    period = dep.period("2025-Q1")
    ctx = api.template_context(dep, dep.unit("DT_TG", period), period)
    return render_template(dep.form, replace(ctx, key=OTHER_KEY))


FORGERIES = ["no_signature", "wrong_signature", "other_key", "other_unit_relabelled"]


@pytest.mark.parametrize("how", FORGERIES)
def test_a_file_without_the_units_signature_never_replaces_its_report(deployment, tmp_path, how):
    dep = deployment
    accepted_report(dep, tmp_path)
    forged(dep, tmp_path, how).rename(inbox(dep) / "ban-sua.xlsx")
    [result] = api.collect(dep, now=LATER).results
    assert (result.status, result.unit) == ("held", "DT_TG")
    with open_store(dep.settings) as ledger:
        current = ledger.current_submissions("2025-Q1")["DT_TG"]
        [held] = ledger.files(period="2025-Q1", status="held")
    assert current.values["tin_bai_cong_ttdt"] == 15  # the unit's own figure still stands
    assert held.proof == {"no_signature": "missing", "other_key": "other_key"}.get(how, "invalid")
    assert held.claimed_unit == "DT_TG" and held.contact == SENDER
    [row] = [s for s in api.status(dep, "2025-Q1") if s.unit.code == "DT_TG"]
    assert row.status == "on_time" and row.last_file == "dt_tg.xlsx"
    # the unit's registered address and the sender are told; nobody else
    api.run_due(dep, now=LATER)
    notices = [m for m in outbox_messages(dep) if m["X-Baocao-Kind"] == "held"]
    assert sorted(m["To"] for m in notices) == sorted([OWNER, SENDER])
    assert all(
        m["Subject"]
        == "[Chờ xác minh] Báo cáo tuyên truyền CCHC Quý I năm 2025 – tệp mang tên Phòng Quản lý tôn giáo"
        for m in notices
    )
    body = notices[0].get_body(("plain",)).get_content()
    assert "“ban-sua.xlsx”" in body and "không thay thế báo cáo nào đã nộp" in body


def test_the_coordinator_sees_held_files_and_lets_one_in_on_purpose(config_file, deployment, tmp_path):
    dep = deployment
    accepted_report(dep, tmp_path)
    forged(dep, tmp_path, "no_signature").rename(inbox(dep) / "tu-lam.xlsx")
    api.collect(dep, now=LATER)
    out = io.StringIO()
    assert main(["--config", str(config_file), "status", "--period", "2025-Q1"], out=out) == 0
    text = out.getvalue()
    assert "1 tệp chờ xác minh" in text and "baocao release SỐ" in text and "tu-lam.xlsx" in text
    out = io.StringIO()
    main(["--config", str(config_file), "status", "--period", "2025-Q1", "--json"], out=out)
    [entry] = json.loads(out.getvalue())["held"]
    assert (entry["name"], entry["unit"], entry["status"], entry["proof"]) == (
        "tu-lam.xlsx",
        "DT_TG",
        "held",
        "missing",
    )
    # a file id that is not held is refused with a clear line, and nothing changes
    err = io.StringIO()
    assert main(["--config", str(config_file), "release", "1"], out=io.StringIO(), err=err) == 2
    assert "Không có tệp nào đang chờ xác minh mang số 1" in err.getvalue()
    out = io.StringIO()
    code = main(
        ["--config", str(config_file), "release", str(entry["file_id"]), "--now", "2025-03-08T10:00"], out=out
    )
    assert code == 0 and out.getvalue().startswith("tiếp nhận")
    with open_store(dep.settings) as ledger:
        assert ledger.files(status="held") == []
        current = ledger.current_submissions("2025-Q1")["DT_TG"]
        assert {f.id: f for f in ledger.files()}[current.file_id].proof == Proof.VOUCHED
    assert current.values["tin_bai_cong_ttdt"] == 99  # the released file is the newer: it supersedes
    assert current.received_at == LATER  # its received time is when it arrived, not when released
    with pytest.raises(UsageError):
        api.release(dep, entry["file_id"])


def test_an_unsigned_file_for_a_unit_with_no_report_yet_is_held_too(deployment, tmp_path):
    # the choice: held, not accepted; else a forged first report would count in the summary,
    # stop the unit's reminders, and outrank the unit's own file received earlier
    dep = deployment
    forged(dep, tmp_path, "no_signature").rename(inbox(dep) / "dau-tien.xlsx")
    [result] = api.collect(dep, now=EARLY).results
    assert result.status == "held"
    [row] = [s for s in api.status(dep, "2025-Q1") if s.unit.code == "DT_TG"]
    assert row.status == "missing"
    make_submission(dep, "DT_TG", "2025-Q1", inbox(dep) / "ban-that.xlsx")
    [result] = api.collect(dep, now=LATER).results
    assert result.status == "accepted"  # the unit's own signed file is not blocked by the held one


def test_a_reminder_to_a_unit_whose_only_file_is_held_says_that_file_does_not_count_yet(deployment, tmp_path):
    """It once said "chưa nhận được báo cáo nào" to a unit that had sent a file the day before."""
    dep = deployment
    forged(dep, tmp_path, "no_signature").rename(inbox(dep) / "dau-tien.xlsx")
    api.run_due(dep, now=EARLY)
    api.run_due(dep, now=LATER)  # the 3-days-before reminder
    reminder = [
        m for m in outbox_messages(dep) if m["X-Baocao-Kind"] == "reminder" and m["X-Baocao-Unit"] == "DT_TG"
    ][-1]
    text = " ".join(reminder.get_body(("plain",)).get_content().split())
    assert "Tệp “dau-tien.xlsx” gửi ngày 05/03/2025 chưa được tính" in text and "đang chờ xác minh" in text
    assert "chưa nhận được báo cáo nào" not in text
    assert [a.get_filename() for a in reminder.iter_attachments()] == [
        "DT_TG_2025-Q1_phong-quan-ly-ton-giao.xlsx"
    ]
    others = [
        m for m in outbox_messages(dep) if m["X-Baocao-Kind"] == "reminder" and m["X-Baocao-Unit"] != "DT_TG"
    ]
    assert others and all(
        "chưa nhận được báo cáo nào" in m.get_body(("plain",)).get_content() for m in others
    )


def test_regenerating_templates_gives_the_same_bytes_for_the_same_key_only(deployment):
    first = api.templates(deployment, "2025-Q1", unit="DT_TG")[0].path.read_bytes()
    again = api.load_deployment(deployment.settings.config_file)
    assert api.templates(again, "2025-Q1", unit="DT_TG")[0].written is False
    assert other_key_template(deployment) != first


def test_a_run_with_another_key_stops_before_it_holds_every_file(monkeypatch, config_file, deployment):
    # e.g. the scheduled task runs as another Windows account, whose key file is not the one
    # that signed the templates: it would make a new key and hold every report
    api.templates(deployment, "2025-Q1", unit="DT_TG")
    make_submission(deployment, "DT_TG", "2025-Q1", inbox(deployment) / "a.xlsx")
    monkeypatch.setenv(SECRET_ENV, "mot-khoa-khac-hoan-toan-0123456789")
    for command in (["collect"], ["templates", "--period", "2025-Q1"], ["run-due"]):
        err = io.StringIO()
        assert main(["--config", str(config_file), *command], out=io.StringIO(), err=err) == 2
        assert "khác khóa của sổ theo dõi này (mã " in err.getvalue(), command
    assert (inbox(deployment) / "a.xlsx").exists()
    monkeypatch.setenv(SECRET_ENV, "baocao-khoa-thu-nghiem-khong-dung-that")
    assert [r.status for r in api.collect(api.load_deployment(config_file)).results] == ["accepted"]


# --- where the key comes from -------------------------------------------------------------------


def test_without_environment_or_keyring_a_key_file_is_made_once_for_the_owner_only(monkeypatch, tmp_path):
    monkeypatch.delenv(SECRET_ENV)
    folder = tmp_path / "appdata" / "baocao" / "khoa"
    first = load_signing_key("so-noi-vu-tinh-lang-son", folder)
    assert first.created and first.source == str(folder / "so-noi-vu-tinh-lang-son.key")
    assert stat.S_IMODE((folder / "so-noi-vu-tinh-lang-son.key").stat().st_mode) == 0o600
    again = load_signing_key("so-noi-vu-tinh-lang-son", folder)
    assert again.secret == first.secret and not again.created
    assert load_signing_key("so-khac", folder).secret != first.secret
    assert load_signing_key("../../CON", folder).source == str(folder / "_CON.key")


def test_the_key_file_lives_in_the_users_data_folder_not_the_deployment(monkeypatch, config_file, tmp_path):
    monkeypatch.delenv(SECRET_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    dep = api.load_deployment(config_file)
    assert (
        Path(dep.signing_key.source) == tmp_path / "xdg" / "baocao" / "khoa" / "so-noi-vu-tinh-lang-son.key"
    )
    out = io.StringIO()
    assert main(["--config", str(config_file), "info"], out=out) == 0
    assert f"Khóa ký      : mã {dep.signing_key.key_id} – {dep.signing_key.source}" in out.getvalue()


def test_two_processes_starting_at_once_make_one_key(monkeypatch, tmp_path):
    monkeypatch.delenv(SECRET_ENV)
    code = (
        "import sys; from pathlib import Path; from baocao.spec.identity import load_signing_key;"
        "print(load_signing_key('dv', Path(sys.argv[1])).key_id)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    ids = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(ids) == 1 and "" not in ids


def test_a_short_secret_is_refused(monkeypatch):
    monkeypatch.setenv(SECRET_ENV, "ngan")
    with pytest.raises(ConfigError, match="quá ngắn"):
        load_signing_key("x")


def test_the_keyring_is_used_before_the_key_file(monkeypatch, tmp_path):
    import keyring
    from keyring.backend import KeyringBackend

    class Memory(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def __init__(self):
            self.store = {("baocao-khoa-ky", "dv"): "khoa-trong-keyring-0123456789"}

        def get_password(self, service, username):
            return self.store.get((service, username))

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def delete_password(self, service, username):
            self.store.pop((service, username), None)

    monkeypatch.delenv(SECRET_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    previous = keyring.get_keyring()
    keyring.set_keyring(Memory())
    try:
        key = load_signing_key("dv", tmp_path)
        ahead = signing_key_ahead("dv")()  # collect's lookup, in a child process: the same order
    finally:
        keyring.set_keyring(previous)
    assert key.secret == b"khoa-trong-keyring-0123456789" and "keyring" in key.source
    assert ahead == key
    assert list(tmp_path.iterdir()) == []


def test_a_key_looked_up_ahead_is_the_key_and_is_made_once(monkeypatch, tmp_path, caplog):
    """``signing_key_ahead`` (collect's lookup, in a child process): the same key file made once
    and the same message about it, told by this process; later lookups find the same key."""
    monkeypatch.delenv(SECRET_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="baocao.spec.identity"):
        first = signing_key_ahead("dv")()
    path = tmp_path / "baocao" / "khoa" / "dv.key"
    assert first.created and first.source == str(path)
    assert [r.getMessage() for r in caplog.records] == [f"Đã tạo khóa ký biểu mẫu mới: {path}"]
    again = signing_key_ahead("dv")()
    assert again.secret == first.secret == load_signing_key("dv").secret and not again.created


def test_a_short_secret_looked_up_ahead_is_refused_with_the_same_message(monkeypatch, tmp_path):
    monkeypatch.delenv(SECRET_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    folder = tmp_path / "baocao" / "khoa"
    folder.mkdir(parents=True)
    (folder / "dv.key").write_text("ngan\n", encoding="utf-8")
    with pytest.raises(ConfigError) as direct:
        load_signing_key("dv")
    with pytest.raises(ConfigError) as ahead:
        signing_key_ahead("dv")()
    assert str(ahead.value) == str(direct.value) and "quá ngắn" in str(ahead.value)


def test_collect_looks_the_key_up_in_a_child_and_judges_with_it(tmp_path, config_file, deployment):
    """No secret in the environment: the key file is found by collect's child process (the
    collecting process itself never imports keyring), and files signed with it are accepted."""
    make_submission(deployment, "DT_TG", "2025-Q1", inbox(deployment) / "a.xlsx")
    folder = tmp_path / "xdg" / "baocao" / "khoa"
    folder.mkdir(parents=True)
    (folder / "so-noi-vu-tinh-lang-son.key").write_text(TEST_SECRET + "\n", encoding="utf-8")
    os.chmod(folder / "so-noi-vu-tinh-lang-son.key", 0o600)
    code = (
        "import sys; from datetime import datetime; from baocao import api;"
        "dep = api.load_deployment(sys.argv[1]);"
        "report = api.collect(dep, now=datetime.fromisoformat(sys.argv[2]));"
        "print(*[r.status for r in report.results], 'keyring' in sys.modules, dep.signing_key.source)"
    )
    env = {k: v for k, v in os.environ.items() if k != SECRET_ENV}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    done = subprocess.run(
        [sys.executable, "-c", code, str(config_file), LATER.isoformat()],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["accepted", "False", str(folder / "so-noi-vu-tinh-lang-son.key")]


# --- nothing invisible: files that name a unit they cannot prove -------------------------------


def test_an_unknown_unit_code_is_listed_and_answered_to_the_sender_only(config_file, deployment, tmp_path):
    dep = deployment
    make_submission(dep, "DT_TG", "2025-Q1", inbox(dep) / "la.xlsx", ma_don_vi="XYZ", email=SENDER)
    [result] = api.collect(dep, now=LATER).results
    assert result.status == "rejected"
    [stray] = api.unattributed(dep, "2025-Q1")
    assert (stray.unit, stray.claimed_unit, stray.contact) == (None, "XYZ", SENDER)
    out = io.StringIO()
    main(["--config", str(config_file), "status", "--period", "2025-Q1", "--json"], out=out)
    [entry] = json.loads(out.getvalue())["unattributed"]
    assert (entry["name"], entry["claimed_unit"]) == ("la.xlsx", "XYZ")
    api.run_due(dep, now=LATER)
    assert [m["To"] for m in outbox_messages(dep) if m["X-Baocao-Kind"] != "reminder"] == [SENDER]


def test_a_file_under_another_real_units_code_is_not_filed_or_mailed_there(deployment, tmp_path):
    # NV_VP's template with DT_TG typed in its unit cell and an error: it used to be filed under
    # DT_TG (its status turned "rejected") and its feedback mailed to DT_TG
    dep = deployment
    make_submission(
        dep, "NV_VP", "2025-Q1", inbox(dep) / "nham.xlsx", ma_don_vi="DT_TG", email=SENDER, nguoi_lap=None
    )
    [result] = api.collect(dep, now=LATER).results
    assert result.status == "rejected"
    [row] = [s for s in api.status(dep, "2025-Q1") if s.unit.code == "DT_TG"]
    assert row.status == "missing" and row.files == 0
    [stray] = api.unattributed(dep, "2025-Q1")
    assert stray.claimed_unit == "DT_TG"
    api.run_due(dep, now=LATER)
    recipients = [m["To"] for m in outbox_messages(dep) if m["X-Baocao-Kind"] != "reminder"]
    assert recipients == [SENDER]


def test_a_forged_file_does_not_read_the_units_earlier_figures(deployment, tmp_path):
    # history warnings quote the unit's accepted figures; only a file that proves it is that
    # unit's may be told them (the answer goes back to the sender)
    dep = deployment
    make_submission(dep, "DT_TG", "2025-Q1", inbox(dep) / "q1.xlsx", tthc_niem_yet=40)
    api.collect(dep, now=EARLY)
    june = datetime(2025, 6, 8, 9, 0, tzinfo=TZ)
    own = make_submission(dep, "DT_TG", "2025-H1", tmp_path / "own.xlsx", tthc_niem_yet=30)
    fake = set_meta(
        make_submission(dep, "DT_TG", "2025-H1", tmp_path / "fake.xlsx", tthc_niem_yet=30), signature=None
    )
    quoted = [i.message for i in api.check(dep, own, now=june).issues if i.code == "cumulative_not_below"]
    assert quoted and "(40)" in quoted[0]
    assert [i for i in api.check(dep, fake, now=june).issues if i.code == "cumulative_not_below"] == []
