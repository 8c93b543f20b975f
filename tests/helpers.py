"""Test helpers shared by the test modules (which never import each other).

Filling real templates through their defined names, as any tool could; seeding a real ledger
with files and outcomes as collect records them; the inbox of a test deployment and hostile
files made from real ones; worker-process jobs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from conftest import write_config
from mail_samples import message, raw

from baocao import api
from baocao.collect import worker_pool
from baocao.model import FileRecord, Issue, Severity, Submission
from baocao.spec.form import Form
from baocao.spec.periods import Period
from baocao.spec.samples import sample_values
from baocao.store import open_store

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


# The contact every test report is signed with, by the role its field plays in the form: tests
# about replies and feedback look for these (``Form.role``), whatever the form calls the fields.
CONTACT = {"preparer": "Nguyễn Văn An", "phone": "0912345678", "contact_email": "an.nv@donvi.langson.example"}
SEED = 2025  # one fixed draw of ``sample_values``: the same report, typed again, in every test


def prepared_on(period: Period) -> date:
    """The day test reports are dated: the 5th of the period's third month (05/03/2025 for
    2025-Q1, before every deadline the tests replay), never past December."""
    return period.start.replace(month=min(period.start.month + 2, 12), day=5)


def valid_values(form: Form, period: Period, /, *, level: str = "unit", **overrides) -> dict[str, object]:
    """A complete, valid set of inputs of ``form`` for ``period`` (from ``sample_values``, fixed
    seed), signed by ``CONTACT``, with ``overrides`` (by field code) on top. ``level`` is the
    registry kind of the reporter, so a target set for departments is met by theirs."""
    values = sample_values(form, random.Random(SEED), period, today=prepared_on(period), level=level)
    for role, value in CONTACT.items():
        field = form.role(role)
        if field is not None:
            values[field.code] = value
    values.update(overrides)
    return values


def fill_workbook(template: Path, values: dict[str, object], out: Path) -> Path:
    """Open ``template`` with openpyxl, write ``values`` into the cells named by field code, save ``out``."""
    book = openpyxl.load_workbook(template)
    for code, value in values.items():
        for sheet, ref in book.defined_names[code].destinations:
            book[sheet][ref.replace("$", "")].value = value
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return out


def make_submission(dep: api.Deployment, unit: str, period: str, out: Path, **overrides) -> Path:
    """A filled submission of ``unit`` for ``period`` made from its real generated template."""
    p = dep.period(period)
    template = api.templates(dep, period, unit=unit)[0].path
    reporter = dep.registry.latest(unit)
    level = reporter.kind if reporter is not None else "unit"
    return fill_workbook(template, valid_values(dep.form, p, level=level, **overrides), out)


def strict_headers(raw: bytes) -> list[tuple[str, str]]:
    """Every header of a message's raw bytes as a strict RFC 2047 decoder reads it.

    Checks on the way what every client needs: 7-bit ASCII, CRLF line ends, lines of at most
    76 characters for headers baocao folds itself (998 for any), folds only before whitespace.
    Decoding is ``email.header.decode_header`` (whitespace between adjacent encoded words is
    dropped, as RFC 2047 says and Thunderbird and Outlook do), not Python's lenient parser.
    """
    import email.header
    import re

    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(b < 128 for b in head), "headers must be 7-bit ASCII"
    text = head.decode("ascii")
    assert "\n" not in text.replace("\r\n", ""), "bare LF in the header block"
    lines = text.split("\r\n")
    assert all(len(line) <= 998 for line in lines)
    headers: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())  # unfolding: the CRLF goes
        else:
            name, _, value = line.partition(":")
            headers.append((name, value.strip()))
    ours = {"From", "To", "Cc", "Reply-To", "Subject"}
    for name, _ in headers:
        if name in ours:
            block = re.search(rf"(?m)^{name}:.*(?:\r\n[ \t].*)*", text)
            assert block is not None
            assert all(len(line) <= 76 for line in block.group(0).split("\r\n")), name
    return [
        (name, str(email.header.make_header(email.header.decode_header(value)))) for name, value in headers
    ]


def rewrite_entry(path: Path, name: str, change: Callable[[bytes], bytes]) -> Path:
    """Rewrite one zip entry of ``path`` in place: for XML written by hand inside a real package
    (what Excel writes but openpyxl and xlsxwriter refuse to: control characters, NaN…)."""
    with zipfile.ZipFile(path) as zf:
        entries = [(info.filename, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for filename, data in entries:
            zf.writestr(filename, change(data) if filename == name else data)
    return path


STRICT_NAMESPACES = (  # ISO 29500 Transitional -> Strict, as Excel's "Strict Open XML" writes them
    (
        b"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        b"http://purl.oclc.org/ooxml/spreadsheetml/main",
    ),
    (
        b"http://schemas.openxmlformats.org/officeDocument/2006/relationships",
        b"http://purl.oclc.org/ooxml/officeDocument/relationships",
    ),
    (b"http://schemas.openxmlformats.org/drawingml/2006/main", b"http://purl.oclc.org/ooxml/drawingml/main"),
)


def to_strict(path: Path) -> Path:
    """Rewrite an .xlsx in place as ISO 29500 Strict: the same parts in the Strict namespaces
    (relationship types included), the workbook marked ``conformance="strict"``."""
    with zipfile.ZipFile(path) as zf:
        entries = [(info.filename, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for filename, data in entries:
            if filename.endswith((".xml", ".rels")) and filename != "[Content_Types].xml":
                for transitional, strict in STRICT_NAMESPACES:
                    data = data.replace(transitional, strict)
            if filename == "xl/workbook.xml":
                data = data.replace(b"<workbook ", b'<workbook conformance="strict" ', 1)
            zf.writestr(filename, data)
    return path


# --- a ledger seeded as collect would have left it --------------------------------------------


def at(y: int, m: int, d: int, h: int = 10) -> datetime:
    """A local moment (Asia/Ho_Chi_Minh)."""
    return datetime(y, m, d, h, tzinfo=TZ)


def figures(dep: api.Deployment, seed: int, **overrides) -> dict[str, object]:
    """Valid values for every field as the ledger stores them (dates as ISO text), told apart by
    ``seed``: distinct figures, and each multi-line text headed "<label> số <seed>: "."""
    values: dict[str, object] = valid_values(dep.form, dep.period("2025-Q1"))
    for i, f in enumerate(dep.form.quantitative_fields):
        values[f.code] = (seed * 7 + i * 3) % 40 + 1
    for f in dep.form.fields:
        if f.code not in values:
            continue
        if f.type == "date":
            values[f.code] = values[f.code].isoformat()
        elif f.multiline:
            values[f.code] = f"{f.label} số {seed}: {values[f.code]}"
    values.update(overrides)
    return values


def codes(dep: api.Deployment) -> list[str]:
    """The quantitative field codes, in form order."""
    return [f.code for f in dep.form.quantitative_fields]


def total(dep: api.Deployment, rows: list[dict]) -> dict[str, int]:
    """Field-by-field sums of ``rows`` (the test's own arithmetic, never baocao's)."""
    return {c: sum(r[c] for r in rows) for c in codes(dep)}


def taken_by_a_worker(dep: api.Deployment, take: object) -> object:
    """What one real (forked) worker of a collect's pool answers for ``take`` (a ``filework.Take``)."""
    with worker_pool(dep, 1, judging=True) as pool:
        answers: list = []
        pool.submit("take", [take], lambda index, answer: answers.append(answer))
        while not answers:
            pool.answers()
    [taken] = answers
    return taken


class Seeder:
    """Writes files and outcomes into a real ledger through its API, as collect would."""

    def __init__(self, dep: api.Deployment, ledger=None):
        self.dep = dep
        self.ledger = ledger  # an open ledger to write into (many files in one transaction)
        self.n = 0

    def file(self, unit: str, period: str, received: datetime, status: str, values=None, issues=()) -> None:
        self.n += 1
        opened = contextlib.nullcontext(self.ledger) if self.ledger else open_store(self.dep.settings)
        with opened as ledger:
            fid = ledger.add_file(
                FileRecord(
                    sha256=f"{self.n:064d}",
                    original_name=f"{unit}_{period}_{self.n}.xlsx",
                    inbox_path=f"inbox/{unit}_{self.n}.xlsx",
                    archive_path=f"archive/{self.n}.xlsx",
                    size=1000,
                    received_at=received,
                )
            )
            ledger.record_outcome(
                fid,
                status=status,
                unit=unit,
                period=period,
                form_version="2025.1",
                values=values,
                issues=list(issues),
                processed_at=received,
            )

    def accept(self, unit: str, period: str, received: datetime, values: dict, warnings=()) -> None:
        self.file(unit, period, received, "accepted", values, warnings)

    def reject(self, unit: str, period: str, received: datetime) -> None:
        error = Issue(Severity.ERROR, "required", "Người lập biểu: chưa nhập", "nguoi_lap", "BaoCao", "D12")
        self.file(unit, period, received, "rejected", None, [error])


INJECTION = '=HYPERLINK("http://evil.example","bấm vào đây")'
BELOW = Issue(
    Severity.WARNING, "below_target", "có 8 tin, bài, dưới chỉ tiêu 12", "tin_bai_cong_ttdt", "BaoCao", "D20"
)


def seed_quarter(dep: api.Deployment, **common) -> dict[str, dict]:
    """2025-Q1 of the demo registry with every kind of outcome, plus earlier periods.

    Returns the values in force per unit for 2025-Q1 (the test's truth). Deadline of units
    reporting to their department: end of 09/03/2025. ``common`` overrides go into every report.
    """
    s = Seeder(dep)

    def report(seed: int, **overrides) -> dict[str, object]:
        return figures(dep, seed, **{**common, **overrides})

    final = {
        "NV_VP": report(1, tin_bai_cong_ttdt=15),
        "NV_CCHC": report(3, tin_bai_cong_ttdt=30),
        "NV_TCBC": report(4, tin_bai_cong_ttdt=8),
        "DT_VP": report(
            5,
            ket_qua_noi_bat=INJECTION,
            ton_tai_han_che="+SUM(A1:A9)",
            nguyen_nhan="-1",
            mo_hinh_sang_kien="@cmd",
        ),
        "DT_CSDT": report(6, tin_bai_cong_ttdt=12),
        "DT_TG": report(7),
    }
    s.accept("NV_VP", "2025-Q1", at(2025, 3, 3), final["NV_VP"])
    s.accept("NV_CCHC", "2025-Q1", at(2025, 3, 4), report(2))  # superseded by the correction
    s.accept("NV_CCHC", "2025-Q1", at(2025, 3, 15), final["NV_CCHC"])
    s.accept("NV_TCBC", "2025-Q1", at(2025, 3, 12), final["NV_TCBC"], [BELOW])  # 3 days late
    s.reject("NV_LDVL", "2025-Q1", at(2025, 3, 8))  # rejected, never corrected
    s.accept("DT_VP", "2025-Q1", at(2025, 3, 9, 23), final["DT_VP"])  # last on-time hour
    s.reject("DT_CSDT", "2025-Q1", at(2025, 3, 5))
    s.accept("DT_CSDT", "2025-Q1", at(2025, 3, 11), final["DT_CSDT"])  # corrected, 2 days late
    s.accept("DT_TG", "2025-Q1", at(2025, 3, 1), final["DT_TG"])
    s.accept("SNV", "2025-Q1", at(2025, 3, 9), report(99))  # a department's roll-up: not counted
    # TTDVVL and DT_TTRA send nothing.
    # 2024-Y (the previous period) under the 2024 structure, and 2024-Q1 (same period last year).
    s.accept("LD_VP", "2024-Y", at(2024, 12, 1), report(10))
    s.accept("LD_BTXH", "2024-Y", at(2024, 12, 2), report(11))
    s.accept("NV_VP", "2024-Y", at(2024, 12, 3), report(12))
    s.accept("LD_CDN", "2024-Q1", at(2024, 3, 1), report(13))
    return final


# --- collect: a deployment's inbox, a replayed moment, the results by name ------------------

BEFORE_DEADLINE = datetime(2025, 3, 8, 9, 0, tzinfo=TZ)  # 2025-Q1 is due before 10/03


def inbox(dep: api.Deployment) -> Path:
    path = dep.settings.path("inbox")
    path.mkdir(parents=True, exist_ok=True)
    return path


def by_name(report) -> dict:
    return {r.name: r for r in report.results}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def collect_command(config_file: Path, now: str = "2025-03-08T09:00") -> list[str]:
    """``baocao collect`` as its own process, at a moment before the 2025-Q1 deadline."""
    return [sys.executable, "-m", "baocao", "--config", str(config_file), "collect", "--now", now]


def stored_files(dep: api.Deployment) -> list[FileRecord]:
    with open_store(dep.settings) as store:
        return store.files()


def current(dep: api.Deployment, period: str = "2025-Q1") -> dict[str, Submission]:
    with open_store(dep.settings) as store:
        return store.current_submissions(period)


# --- hostile files made from a real submission (the reader's own catalogue is reading.HOSTILE) --

LAUGHS = (  # the classic billion laughs: &lol9; would expand to 10**9 "lol"s
    b'<!DOCTYPE lolz [<!ENTITY lol0 "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, 10))
    + b"]>"
)
XXE = b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
PASSWORD_FIXTURE = Path(__file__).parent / "fixtures" / "reader" / "password_matkhau.xlsx"


def _with_prolog(good: Path, out: Path, prolog: bytes, reference: bytes) -> Path:
    """``good`` with a DTD before its workbook part and an entity reference inside it."""
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/workbook.xml":
                head, _, body = data.rpartition(b"?>")
                head += b"?>" if head else b""
                data = head + prolog + body.replace(b"<sheets>", b"<sheets>" + reference, 1)
            dst.writestr(item, data)
    return out


def hostile_files(good: Path, folder: Path) -> dict[str, Path]:
    """Broken and hostile workbooks, each named for what it is, made from the real file ``good``."""
    folder.mkdir(parents=True, exist_ok=True)
    data = good.read_bytes()
    made = {
        "truncated": folder / "truncated.xlsx",
        "random_bytes": folder / "random_bytes.xlsx",
        "zip_bomb": folder / "zip_bomb.xlsx",
    }
    made["truncated"].write_bytes(data[: len(data) // 2])
    made["random_bytes"].write_bytes(random.Random(7).randbytes(5000))
    made["encrypted"] = Path(shutil.copy(PASSWORD_FIXTURE, folder / "encrypted.xlsx"))
    made["zip_bomb"].write_bytes(data)
    with (
        zipfile.ZipFile(made["zip_bomb"], "a", zipfile.ZIP_DEFLATED) as zf,
        zf.open("xl/media/a.png", "w") as fp,
    ):
        for _ in range(64):  # 64 MiB of zeros that deflate to about 64 KiB
            fp.write(bytes(1 << 20))
    made["billion_laughs"] = _with_prolog(good, folder / "billion_laughs.xlsx", LAUGHS, b"&lol9;")
    made["external_entity"] = _with_prolog(good, folder / "external_entity.xlsx", XXE, b"&xxe;")
    return made


@contextlib.contextmanager
def undeletable(folder: Path) -> Iterator[None]:
    """Files in ``folder`` cannot be deleted or renamed, as on a read-only share.

    A non-root user gets a folder without write permission; root (which ignores permissions)
    gets the immutable attribute (``chattr +i``). Skips the test where neither is possible.
    """
    probe = folder / ".tmp-probe"  # ignored by the inbox scan
    probe.write_bytes(b"")
    mode = folder.stat().st_mode
    folder.chmod(0o555)
    undo = [lambda: folder.chmod(mode)]
    try:
        probe.rename(folder / ".tmp-probe2")
        (folder / ".tmp-probe2").rename(probe)
        folder.chmod(mode)
        undo = []
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
            probe.unlink()
            pytest.skip("cannot make a folder undeletable here (root without chattr +i)")
        undo = [lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)]
    except PermissionError:
        pass
    try:
        yield
    finally:
        for step in undo:
            step()
        probe.unlink(missing_ok=True)


# --- jobs for worker-process tests (module-level: a spawned worker imports them by name) ----


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def hog(megabytes: int) -> int:
    return len(bytearray(megabytes * 2**20))


def die_on(item: str) -> str:
    """A job's item: ``"x"`` kills the worker on the spot, anything else comes back twice."""
    if item == "x":
        os._exit(3)
    return item * 2


def die(code: int) -> None:
    os._exit(code)


def slow_feedback(job) -> Path:
    time.sleep(120)
    return job.out


def deployment_with(folder: Path, **collect: object) -> api.Deployment:
    """The test deployment in ``folder`` with these ``[collect]`` settings changed or added."""
    config = write_config(folder)
    text = config.read_text(encoding="utf-8")
    for key, value in collect.items():
        line = f"{key} = {value}"
        text, found = re.subn(rf"^{key} = .*$", line, text, flags=re.M)
        if not found:
            text = text.replace("[collect]\n", f"[collect]\n{line}\n", 1)
    config.write_text(text, encoding="utf-8")
    return api.load_deployment(config)


# --- a deployment reading a mailbox on the test Dovecot (tests/dovecot.py) -------------------


def mailbox_config(folder: Path, server, user: str, imap: str = "", extra: str = "") -> Path:
    """config.toml of the test deployment in ``folder`` with ``[intake.imap]`` reading ``user``'s
    mailbox on ``server`` (plain IMAP on 127.0.0.1); ``imap`` adds keys to that table."""
    table = f"""
[intake.imap]
host = "{server.host}"
port = {server.port}
security = "none"
user = "{user}"
timeout_seconds = 5
{imap}
{extra}"""
    return write_config(folder, extra=table)


def mailed_report(
    dep: api.Deployment,
    unit: str,
    period: str,
    folder: Path,
    *,
    name: str = "Báo cáo CCHC.xlsx",
    sender: str = "vanthu@donvi.langson.example",
    message_id: str | None = None,
    **values,
) -> bytes:
    """The raw bytes of an e-mail from ``sender`` carrying ``unit``'s filled template for
    ``period`` (made in ``folder``), with a Message-ID of its own unless one is given."""
    folder.mkdir(parents=True, exist_ok=True)
    made = make_submission(dep, unit, period, folder / f"{len(list(folder.iterdir()))}.xlsx", **values)
    data = made.read_bytes()
    ident = message_id or f"<{unit}.{period}.{hashlib.sha256(data).hexdigest()[:16]}@donvi.example>"
    return raw(message(attachments=[(name, data)], sender=sender, message_id=ident))
