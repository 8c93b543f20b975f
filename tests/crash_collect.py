"""``baocao`` killed (SIGKILL) at a chosen point of a collect: run as its own process by the tests.

    python tests/crash_collect.py POINT baocao-arguments…

POINT is where the process kills itself, the way a power cut or ``kill -9`` would stop it (no
``finally``, no flush, no goodbye to the IMAP server):

- ``archived``: the e-mail's raw message is archived and journaled, the ledger has not committed;
- ``children``: its attachments are archived and journaled too, still nothing committed;
- ``committed``: the ledger has committed, the message has not been moved (release not begun);
- ``moved``: the message is in the processed folder, the ledger does not know it was moved;
- ``aside``: a folder original, committed, is moved aside under a temporary name to be deleted,
  and not deleted yet.

Each point is a real function wrapped so the kill comes right after (or instead of) it; the rest
of the process is the real ``baocao`` command line.
"""

from __future__ import annotations

import os
import signal
import sys

from baocao.cli import main
from baocao.intake.folder import ASIDE
from baocao.intake.imap import ImapIntake
from baocao.intake.mailbox import Mailbox
from baocao.store.archive import Archive


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def after(cls: type, name: str, when=lambda *args: True) -> None:
    """Kill the process right after ``cls.name`` returns, when ``when(*args)`` holds."""
    original = getattr(cls, name)

    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        if when(*args):
            die()
        return result

    setattr(cls, name, wrapped)


def instead(cls: type, name: str) -> None:
    setattr(cls, name, lambda *args, **kwargs: die())


def arm(point: str) -> None:
    if point == "archived":
        after(Archive, "journal", lambda self, entries: any(e.container for e in entries))
    elif point == "children":
        after(Archive, "journal", lambda self, entries: entries and not any(e.container for e in entries))
    elif point == "committed":
        instead(ImapIntake, "release")
    elif point == "moved":
        after(Mailbox, "file_away", lambda self, entries: bool(entries))
    elif point == "aside":
        unlink = os.unlink
        os.unlink = lambda path, *a, **k: (
            die() if os.path.basename(path).startswith(ASIDE) else unlink(path, *a, **k)
        )
    else:
        raise SystemExit(f"unknown point {point!r}")


if __name__ == "__main__":
    arm(sys.argv[1])
    sys.exit(main(sys.argv[2:]))
