"""The deployment's log file: where warnings and errors go instead of a clerk's console.

Apart from ``jobs`` (which logs every scheduled run) so that ``check`` sets it up without
loading the scheduler and everything it drives.
"""

from __future__ import annotations

import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path

from baocao.names import printable
from baocao.spec.deployment import Deployment


class PrintableFormatter(logging.Formatter):
    """Log lines with control characters shown, not written: a file name or a cell holding an
    ESC sequence or ``\\r`` cannot forge or hide lines of the log (``names.printable``)."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def setup_logging(dep: Deployment) -> Path:
    """Log to a rotating file in the logs folder (and keep the console quiet but for warnings).

    One such file per process, the deployment's own: a process that serves another deployment
    (a test run, a script over two configs) moves the log to that deployment's folder rather than
    writing into the first one's.
    """
    folder = dep.settings.path("logs")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "baocao.log"
    root = logging.getLogger("baocao")
    root.setLevel(logging.INFO)
    for old in [h for h in root.handlers if isinstance(h, RotatingFileHandler)]:
        if old.baseFilename == os.path.abspath(path):
            return path
        root.removeHandler(old)
        old.close()
    handler = RotatingFileHandler(
        path,
        maxBytes=dep.settings.schedule.log_max_kb * 1024,
        backupCount=dep.settings.schedule.log_backups,
        encoding="utf-8",
    )
    handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    return path
