"""Test helpers: fill real templates through their defined names, as any tool could."""

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
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from conftest import write_config

from baocao import api
from baocao.model import FileRecord, Submission
from baocao.store import open_store


def valid_values(period_start: date, **overrides) -> dict[str, object]:
    """A complete, valid set of unit inputs for a period starting on ``period_start``."""
    values: dict[str, object] = {
        "nguoi_lap": "Nguyễn Văn An",
        "dien_thoai": "0912345678",
        "email": "an.nv@donvi.langson.example",
        "ngay_lap": period_start.replace(month=min(period_start.month + 2, 12), day=5),
        "co_ke_hoach": "Có",
        "so_ke_hoach": "12/KH-DV",
        "ngay_ke_hoach": date(period_start.year, 1, 15),
        "tin_bai_cong_ttdt": 15,
        "tthc_niem_yet": 30,
        "van_ban_cap_nhat": 4,
        "lop_tap_huan": 2,
        "luot_tap_huan": 80,
        "hoi_nghi_long_ghep": 1,
        "luot_hoi_nghi": 60,
        "cuoc_hop_long_ghep": 5,
        "tin_mang_xa_hoi": 12,
        "tin_cung_cap_bao_chi": 2,
        "pano_khau_hieu": 3,
        "tai_lieu_phat_hanh": 200,
        "cuoc_thi": 1,
        "luot_du_thi": 150,
        "luot_huong_dan_dvc": 90,
        "cuoc_kiem_tra": 1,
        "ket_qua_noi_bat": "Tuyên truyền đều đặn trên Trang thông tin điện tử và mạng xã hội.",
        "ton_tai_han_che": "Không",
        "nguyen_nhan": "",
        "mo_hinh_sang_kien": "",
        "de_xuat_kien_nghi": "",
    }
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
    return fill_workbook(template, valid_values(p.start, **overrides), out)


# --- collect: a deployment's inbox, a replayed moment, the results by name ------------------

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
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


# --- hostile files made from a real submission (the reader's own catalogue is test_package) --

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
