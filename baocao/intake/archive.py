"""The archive read back as an intake: what ``baocao ledger rebuild`` takes, in received order.

Every arrival is already an archived copy (``Arrival.archive_path``): collect hashes it again
instead of copying it, and there is nothing to release. Names, where each came from, sender,
envelope and received time come from the archive's journal (``store.archive``); copies older
than the journal get their name and time from the copy itself.
"""

from __future__ import annotations

from baocao.intake.base import Arrival, IntakeBase
from baocao.model import MailThread
from baocao.store.archive import Archive, Entry


class ArchiveIntake(IntakeBase):
    """Arrivals re-made from the archive's entries (see the module docstring)."""

    source = "archive"

    def __init__(self, archive: Archive, entries: list[Entry]) -> None:
        self.archive = archive
        self.entries = entries

    def arrivals(self) -> list[Arrival]:
        return [
            Arrival(
                key=entry.arrival_key or f"archive:{entry.archive_path}:{entry.received_at}",
                name=entry.original_name,
                location=entry.inbox_path,
                received_at=entry.received,
                source=entry.source,
                sender=entry.sender,
                size=entry.size,
                path=str(self.archive.path(entry.archive_path)),
                container=entry.container,
                parent=entry.parent_key,
                archive_path=entry.archive_path,
                mail=MailThread.from_dict(entry.mail) if entry.mail else None,
            )
            for entry in self.entries
        ]
