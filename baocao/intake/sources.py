"""Which intakes a deployment has, and how each is made for one collect run.

An intake factory takes the deployment, the store, the run's clock and whether the run is a
replay (``--now``), and returns an ``Intake``. The folder is always there; the mailbox when
``[intake.imap]`` is configured. Limits come from the deployment: a file in the folder and an
attachment of an e-mail cost the same (``read_limits``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from baocao.errors import UsageError
from baocao.intake.base import Intake
from baocao.intake.folder import FolderIntake
from baocao.judge.safety import ReadLimits
from baocao.spec.deployment import Deployment
from baocao.store.base import Store

if TYPE_CHECKING:  # the mailbox's modules (imapclient, e-mail parsing) load only when one is configured
    from baocao.intake.mime import MailLimits

NOT_CONFIGURED = "Chưa cấu hình hộp thư nhận báo cáo (bảng [intake.imap] trong config.toml)"


IntakeFactory = Callable[[Deployment, Store, datetime, bool], Intake]


def folder_intake(dep: Deployment, store: Store, now: datetime, simulated: bool) -> Intake:
    """The shared inbox folder of ``dep`` as an intake."""
    settings = dep.settings
    inbox = settings.path("inbox")
    inbox.mkdir(parents=True, exist_ok=True)
    return FolderIntake(
        inbox,
        store,
        now,
        stable_seconds=settings.collect.stable_seconds,
        simulated=simulated,
        max_bytes=int(settings.collect.max_file_mb * 2**20),
    )


def imap_intake(dep: Deployment, store: Store, now: datetime, simulated: bool) -> Intake:
    """The ``[intake.imap]`` mailbox of ``dep`` as an intake (a message costs at most these
    limits; an attachment the same as a file in the folder)."""
    if dep.settings.imap is None:
        raise UsageError(NOT_CONFIGURED)
    from baocao.intake.imap import ImapIntake

    return ImapIntake(
        dep.settings.imap,
        store,
        now,
        limits=mail_limits(dep),
        own_addresses=own_addresses(dep),
        simulated=simulated,
    )


def mail_limits(dep: Deployment) -> MailLimits:
    """What one e-mail may cost (``[intake.imap]``), its attachments as much as a file."""
    from baocao.intake.mime import MailLimits

    imap = dep.settings.imap
    if imap is None:
        return MailLimits(read=read_limits(dep))
    return MailLimits(
        max_message_bytes=int(imap.max_message_mb * 2**20),
        max_attachments=imap.max_attachments,
        read=read_limits(dep),
    )


def own_addresses(dep: Deployment) -> frozenset[str]:
    """baocao's own sending address: a message from it is never a submission, never answered."""
    return frozenset(a.lower() for a in (dep.settings.mail.sender,) if a)


INTAKES: dict[str, IntakeFactory] = {"folder": folder_intake, "imap": imap_intake}


def intakes_for(dep: Deployment, source: str | None = None) -> list[IntakeFactory]:
    """The intakes a collect reads: ``source`` alone (``folder`` or ``imap``), else the folder and,
    when ``[intake.imap]`` is configured, the mailbox. ``UsageError`` for an unknown source or a
    mailbox that is not configured."""
    if source is None:
        return [INTAKES[name] for name in INTAKES if name == "folder" or dep.settings.imap is not None]
    if source not in INTAKES:
        raise UsageError(f"Nguồn '{source}' không có; chọn một trong: {', '.join(INTAKES)}")
    if source == "imap" and dep.settings.imap is None:
        raise UsageError(NOT_CONFIGURED)
    return [INTAKES[source]]


def read_limits(dep: Deployment) -> ReadLimits:
    """What one file may cost, from ``[collect]``: the same for a file in the folder and an
    attachment (or a file in a zip attachment) of an e-mail."""
    settings = dep.settings.collect
    return ReadLimits(
        max_file_bytes=int(settings.max_file_mb * 2**20),
        max_unpacked_bytes=int(settings.max_unpacked_mb * 2**20),
        timeout_seconds=settings.read_timeout_seconds,
    )
