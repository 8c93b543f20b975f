"""What every intake delivers, and the little collect asks of it.

An intake (the shared folder today, a mailbox and a web upload next) only knows where files come
from. It delivers ``Arrival``s: the bytes (a path or the content), the name the sender gave, an
arrival time it can vouch for, where it came from, and a key for "already taken". Everything
after that — archiving, reading, judging, recording, feedback — is ``baocao.collect``, the same
code for every intake. After the ledger has committed an arrival, collect calls ``release`` and
the intake lets the original go (the folder deletes it if it is unchanged; a mailbox moves the
message to its processed folder).

Containers: an e-mail is archived first as an arrival of its own (``container=True``); collect
then asks the intake to ``expand`` the archived copy into its attachments, each an arrival whose
``parent`` is the container's key, archived, judged and recorded like any file, with the link
to the message kept in the ledger (``FileRecord.parent_id``). Only top-level arrivals are
released, after their children are recorded (in the same ledger transaction as the container).

An intake that cannot be reached (a mail server that is down) says so through ``failure()``
instead of raising: collect reports it and goes on with the other intakes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from baocao.errors import StoreError
from baocao.model import FileRecord, MailThread

SOURCES = ("folder", "imap", "web", "archive")


class Refused(Exception):
    """An arrival that must not be opened or kept (not a regular file, too large…).

    ``message`` is Vietnamese, for the coordinator; the arrival stays where it is.
    """

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Changed(Exception):
    """The original changed while it was being taken: left for the next run."""


@dataclass(frozen=True, slots=True)
class Arrival:
    """One thing an intake delivers (plain data: picklable, comparable, printable).

    ``key``: stable for "already taken" (the folder: path, size and time; a mailbox:
    UIDVALIDITY and UID). ``name``: the name the sender gave, NFC, printable. ``location``:
    where it sat, for people (path below the inbox; mailbox folder and UID). ``received_at``: the
    arrival time the intake vouches for (see the intake's docstring for how). ``content`` or
    ``path`` hold the bytes. ``archive_path``: already in the archive (a rebuild), not copied.
    ``mail``: the e-mail it came in, for answers (threading, and whether the sender may be told).
    """

    key: str
    name: str
    location: str
    received_at: datetime
    source: str = "folder"
    sender: str | None = None
    size: int | None = None
    path: str | None = None  # a string, not a Path: 350 B less a file while a big inbox is listed
    content: bytes | None = None
    container: bool = False
    parent: str | None = None
    archive_path: str | None = None
    mail: MailThread | None = None


ReleaseOutcome = bool | Exception  # what releasing one original gave: ``release``'s answer, or its error


class Releasing(Protocol):
    """Originals being let go (``Intake.release_all``)."""

    def step(self) -> bool:
        """Let one more go now, if any is left (False: none was); collect calls it while it
        waits for its workers."""
        ...

    def wait(self) -> list[ReleaseOutcome]:
        """Release the rest; what became of each, in order: True (nothing left to do), False
        (try again next run) or the exception that stopped it (also next run). Called in the
        ledger transaction that records the result, which also holds what the intake notes
        (the folder drops the sightings)."""
        ...


@dataclass(frozen=True)
class Released:
    """A ``Releasing`` already done."""

    outcomes: list[ReleaseOutcome]

    def step(self) -> bool:
        return False

    def wait(self) -> list[ReleaseOutcome]:
        return self.outcomes


def released(release: Callable[[Arrival], bool], arrival: Arrival) -> ReleaseOutcome:
    """``release(arrival)``, an error in it given back rather than raised (it costs that original
    only: it stays for the next run), except a ``StoreError``, which stops the run."""
    try:
        return release(arrival)
    except StoreError:
        raise
    except Exception as exc:
        return exc


class Intake(Protocol):
    """Where arrivals come from (see the module docstring)."""

    source: str

    def arrivals(self) -> list[Arrival]:
        """What is complete and not taken yet, in a stable order."""
        ...

    def waiting(self) -> list[str]:
        """Locations seen but not complete yet (a copy still being written)."""
        ...

    def skipped(self) -> list[tuple[str, str]]:
        """(location, Vietnamese reason) of things refused before they were opened."""
        ...

    def open(self, arrival: Arrival) -> AbstractContextManager[BinaryIO]:
        """The bytes of ``arrival``. Raises ``Refused`` (not to be taken), ``Changed`` (try
        again next run) or ``OSError`` (unreadable now)."""
        ...

    def unchanged(self, arrival: Arrival) -> bool:
        """After copying: the original is still what was opened (else the copy is not kept)."""
        ...

    def expand(self, container: Arrival, archived: Path) -> list[Arrival]:
        """The arrivals inside a container, read from its verified archived copy."""
        ...

    def release(self, arrival: Arrival) -> bool:
        """The arrival is recorded: let the original go. True when there is nothing left to do
        for it (released, or gone/changed so it is no longer ours); False to try next run."""
        ...

    def release_all(self, arrivals: Sequence[Arrival]) -> Releasing:
        """``release`` for each of ``arrivals``, now or step by step (``Releasing.step``: the
        folder deletes its originals while collect waits for its workers); ``Releasing.wait()``
        finishes and says, in order, what became of each."""
        ...

    def release_pending(self, records: list[FileRecord]) -> list[int]:
        """Try again to release originals an earlier run recorded but could not release;
        return the ids of the records that are now done."""
        ...

    def failure(self) -> str | None:
        """Why the intake could not be read this run (a mail server down, a login refused), in
        Vietnamese, or None. Such a failure costs that intake only: the methods above return
        nothing more and leave every original where it is for the next run."""
        ...

    def close(self) -> None:
        """Let go of what the intake holds open (a server connection); safe to call twice."""
        ...


class IntakeBase:
    """Defaults for intakes that hold bytes in memory and have no containers or stability wait."""

    source = "folder"

    def waiting(self) -> list[str]:
        return []

    def skipped(self) -> list[tuple[str, str]]:
        return []

    def open(self, arrival: Arrival) -> AbstractContextManager[BinaryIO]:
        if arrival.content is not None:
            return io.BytesIO(arrival.content)
        if arrival.path is None:
            raise Refused(f"'{arrival.location}' không có nội dung")
        return open(arrival.path, "rb")

    def unchanged(self, arrival: Arrival) -> bool:
        return True

    def expand(self, container: Arrival, archived: Path) -> list[Arrival]:
        return []

    def release(self, arrival: Arrival) -> bool:
        return True

    def release_all(self, arrivals: Sequence[Arrival]) -> Releasing:
        """One ``release`` after the other, here and now."""
        return Released([released(self.release, arrival) for arrival in arrivals])

    def release_pending(self, records: list[FileRecord]) -> list[int]:
        return [r.saved_id for r in records]

    def failure(self) -> str | None:
        return None

    def close(self) -> None:
        return None
