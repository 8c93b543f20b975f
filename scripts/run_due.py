"""One scheduled tick: ``baocao run-due`` with the deployment's config.toml.

Point Windows Task Scheduler, cron or a systemd timer at this file (every 15 minutes is
plenty). It is safe to run twice and safe after the machine was off: every message is sent
once, and what fell due meanwhile is caught up.

    python scripts/run_due.py                      # uses config.toml next to the repository
    python scripts/run_due.py D:\\baocao\\config.toml
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

if __name__ == "__main__":  # a worker process imports this file too: it must not load the CLI
    from baocao.cli import main

    config = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "config.toml")
    sys.exit(main(["--config", config, "run-due"]))
