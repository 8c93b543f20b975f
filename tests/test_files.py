"""Files baocao writes for people are readable by the other accounts the umask allows."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from conftest import REPO

SCRIPT = """
import os, sys
from pathlib import Path
from datetime import datetime, timezone
from zoneinfo import ZoneInfo
from baocao.files import atomic_write
from baocao.store.archive import Archive
folder = Path(sys.argv[1])
out = atomic_write(folder / "tong-hop.xlsx", b"bytes")
archive = Archive(folder / "archive", ZoneInfo("Asia/Ho_Chi_Minh"))
with open(out, "rb") as source:
    copy = archive.copy(source, datetime.now(timezone.utc))
kept = archive.place(copy, "bao-cao.xlsx", datetime.now(timezone.utc))
print(oct(os.stat(out).st_mode & 0o777), oct(os.stat(archive.path(kept)).st_mode & 0o777))
"""


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
@pytest.mark.parametrize(("umask", "mode"), [(0o022, "0o644"), (0o002, "0o664"), (0o077, "0o600")])
def test_outputs_and_archived_copies_follow_the_umask(tmp_path, umask, mode):
    done = subprocess.run(
        [sys.executable, "-c", f"import os; os.umask({umask}); exec({SCRIPT!r})", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [mode, mode]
    assert not stat.S_ISLNK(os.lstat(tmp_path / "tong-hop.xlsx").st_mode)
