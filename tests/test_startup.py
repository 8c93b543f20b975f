"""Start-up (issue 13): what a command loads before it works, and what a worker loads.

``baocao check FILE`` must answer in well under a second; importing openpyxl (with numpy),
python-docx, xlsxwriter, yagmail, pandas or the scheduler costs more than all of its work.
Each is imported only where it is used, and the console script's module imports nothing: a
worker process that imports the main module of its parent (forkserver, spawn) stays light.
"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO
from helpers import BEFORE_DEADLINE, inbox, make_submission

HEAVY = ("openpyxl", "numpy", "pandas", "docx", "xlsxwriter", "yagmail", "schedule", "keyring")

CHECK = """
import json, sys
from baocao.__main__ import main
light = "baocao.cli" not in sys.modules
from baocao import api
dep = api.load_deployment(sys.argv[1])
from datetime import datetime
outcome = api.check(dep, sys.argv[2], now=datetime.fromisoformat(sys.argv[3]))
heavy = sorted(m for m in sys.argv[4].split(",") if m in sys.modules)
print(json.dumps({"light": light, "accepted": outcome.accepted, "heavy": heavy}))
"""


def test_check_loads_no_heavy_library_and_the_console_script_no_command_line(
    deployment, config_file, tmp_path
):
    path = make_submission(deployment, "DT_TG", "2025-Q1", tmp_path / "a.xlsx")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHECK,
            str(config_file),
            str(path),
            BEFORE_DEADLINE.isoformat(),
            ",".join(HEAVY),
        ],
        capture_output=True,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    found = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert found == {"light": True, "accepted": True, "heavy": []}


COLLECT = """
import json, sys
from datetime import datetime
from baocao import api
dep = api.load_deployment(sys.argv[1])
report = api.collect(dep, now=datetime.fromisoformat(sys.argv[2]))
mail = sorted(m for m in ("imapclient", "email.parser", "baocao.intake.imap") if m in sys.modules)
print(json.dumps({"accepted": report.count("accepted"), "mail": mail}))
"""


def test_collect_without_a_mailbox_loads_no_mail_machinery(deployment, config_file):
    """A folder-only deployment (no ``[intake.imap]``) pays nothing for the mailbox it does not
    have: imapclient and the e-mail parsers load only when a mailbox is configured."""
    assert deployment.settings.imap is None
    make_submission(deployment, "DT_TG", "2025-Q1", inbox(deployment) / "a.xlsx")
    done = subprocess.run(
        [sys.executable, "-c", COLLECT, str(config_file), BEFORE_DEADLINE.isoformat()],
        capture_output=True,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    found = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert found == {"accepted": 1, "mail": []}
