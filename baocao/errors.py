"""The one small exception hierarchy of baocao.

Exceptions are for broken *operations* (a file that cannot be opened, a bad config, an SMTP
server that is down). Bad *data* in a unit's workbook is never an exception: validation returns
a list of issues instead. The CLI turns every ``BaocaoError`` into one readable line and an exit
code; ``--debug`` shows the traceback.
"""

from __future__ import annotations


class BaocaoError(Exception):
    """Base class: something baocao was asked to do could not be done."""


class ConfigError(BaocaoError):
    """config.toml or the unit registry is missing, malformed or has a wrong value."""


class UsageError(BaocaoError):
    """The command was asked for something that does not exist (unknown period or unit)."""


class FormSpecError(BaocaoError):
    """A form spec (forms/*.toml) is malformed: duplicate code, unknown type, bad rule…"""


class WorkbookError(BaocaoError):
    """A workbook cannot be read safely (corrupt, encrypted, hostile, not a spreadsheet).

    The message is Vietnamese and meant for the unit that sent the file.
    """


class DeliveryError(BaocaoError):
    """A message could not be delivered (SMTP refused or unreachable, outbox not writable)."""


class LockedError(BaocaoError):
    """Another baocao process holds the lock on the working area (e.g. a second collect)."""


class StoreError(BaocaoError):
    """The ledger or the archive cannot be used: missing, damaged, newer, or not writable.

    The coordinator must act (restore, rebuild, fix permissions) before collecting again.
    """


class MailboxError(BaocaoError):
    """The intake mailbox could not be read (IMAP server down, login refused, connection lost).

    The message is Vietnamese and names the server; nothing was lost: a message stays in the
    mailbox until it has been archived and recorded.
    """
