"""The web upload as an intake: one file a unit sent through its link, already in memory.

The web desk hands collect a single ``Arrival`` (the bytes, the name the browser gave, the moment
the server received it, ``source="web"``, the link's unit as sender); collect archives, judges,
records and writes feedback exactly as for a file from the shared folder or the mailbox. There is
no original to let go afterwards: the bytes were never anywhere but in the request.
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from pathlib import PurePosixPath

from baocao.intake.base import Arrival, IntakeBase
from baocao.names import printable


def web_location(period: str, unit: str) -> str:
    """Where a file sent through ``unit``'s link for ``period`` sat, for people and for history:
    ``web/<period>/<unit>/`` followed by the file's name."""
    return f"web/{period}/{unit}/"


def upload_arrival(name: str, content: bytes, *, period: str, unit: str, received_at: datetime) -> Arrival:
    """The arrival of one uploaded file. ``name`` is only a label (base name, NFC, printable):
    baocao names the archived copy itself. The key is new for every upload, so sending the same
    bytes twice is a duplicate by hash, as in the folder, never a silently skipped arrival."""
    label = printable(unicodedata.normalize("NFC", PurePosixPath(name.replace("\\", "/")).name), keep="")
    label = label.strip() or "tep-tai-len.xlsx"
    return Arrival(
        key=f"web:{uuid.uuid4().hex}",
        name=label,
        location=web_location(period, unit) + label,
        received_at=received_at,
        source="web",
        sender=unit,
        size=len(content),
        content=content,
    )


class UploadIntake(IntakeBase):
    """Delivers the uploads it was made with, once (see the module docstring)."""

    source = "web"

    def __init__(self, arrivals: list[Arrival]) -> None:
        self._arrivals = arrivals

    def arrivals(self) -> list[Arrival]:
        return list(self._arrivals)
