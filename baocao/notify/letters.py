"""Who gets which message about what, read from the deployment: the policy of every answer.

``mailtext`` is pure and knows nothing of the deployment; this module is where the deployment's
settings, registry and form become its plain inputs (``Letterhead``, ``Recipient``, ``Due``),
and where it is decided who is told what about a judged file (``file_answers``) and what a
reminder carries (``reminder``), so the scheduler, an e-mail intake answering a file and the
tests word and address messages alike. Each answer is a key (its identity in the ledger) and a
function composing it, so a message that cannot be composed costs that message only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from baocao.model import FileRecord, MailThread
from baocao.notify.mailtext import (
    compose_feedback,
    compose_held,
    compose_receipt,
    compose_reminder,
)
from baocao.notify.message import Attachment, Due, Letterhead, OutgoingMessage, Recipient, Returned, SentFile
from baocao.spec.deployment import Deployment
from baocao.spec.links import receipt_number, unit_link
from baocao.spec.periods import Period, PeriodError
from baocao.spec.registry import Unit

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Planned = tuple[str, Callable[[], OutgoingMessage]]  # (ledger key, compose)


def message_key(kind: str, period: str, recipient: str, version: str, unit: str | None = None) -> str:
    """The idempotency key: kind, period, unit, recipient (``*``: all of the unit's addresses)
    and content version."""
    return "|".join([kind, period, unit or "-", recipient.lower(), version])


def attachment(path: Path | str | None, mimetype: str = XLSX) -> Attachment | None:
    """The file as an attachment, or None when it is gone (the message goes without it)."""
    if not path:
        return None
    try:
        return Attachment(Path(path).name, Path(path).read_bytes(), mimetype)
    except OSError:
        return None


def letterhead(dep: Deployment) -> Letterhead:
    s = dep.settings
    return Letterhead(
        org_name=s.organisation,
        report_name=dep.form.report_name,
        contact=s.contact,
        submit_to=s.submit_to,
    )


def due(dep: Deployment, unit: Unit | str, period: Period) -> Due:
    """``period`` with ``unit``'s deadline (the level it reports to), worded once."""
    return Due(
        period_code=period.code,
        period_name=period.name,
        text=dep.due_text(unit, period),
        last_day=dep.last_on_time_day(unit, period),
        link=unit_link(dep, unit if isinstance(unit, str) else unit.code, period.code),
    )


def unknown_period_due(code: str, today: date) -> Due:
    """For a file naming a period the deployment does not have: no deadline to quote."""
    return Due(
        period_code=code or "-", period_name=code or "(không rõ kỳ)", text="sớm nhất có thể", last_day=today
    )


def office_of(dep: Deployment, unit: Unit, day: date) -> Unit | None:
    """The department above ``unit`` (its office reads the department's address), if any."""
    group = dep.registry.group_of(unit.code, day)
    return group if group is not None and group.code != unit.code and group.email else None


def recipient(dep: Deployment, unit: Unit, day: date, also: Iterable[str | None] = ()) -> Recipient:
    """``unit``'s registered address (and ``also``: the address typed in its file, the address
    it was e-mailed from) in To, each once whatever its case; its department's office in Cc when
    ``[mail] copy_parent`` is on (the 2025 plan makes the Văn phòng "kiểm tra, đôn đốc các phòng")."""
    first: dict[str, str] = {}
    for address in (unit.email, *also):
        if address:
            first.setdefault(address.lower(), address)
    to = tuple(first.values())
    cc: tuple[str, ...] = ()
    if dep.settings.mail.copy_parent:
        office = office_of(dep, unit, day)
        if office is not None and office.email.lower() not in {a.lower() for a in to}:
            cc = (office.email,)
    return Recipient(code=unit.code, name=unit.name, to=to, cc=cc)


def file_answers(
    dep: Deployment,
    rec: FileRecord,
    *,
    letter: Letterhead,
    numbers: Mapping[str, str],
    today: date,
    days_late: Callable[[Unit, Period], int],
    version: str | None = None,
    sender: str = "",
    muted: frozenset[str] = frozenset(),
) -> list[Planned]:
    """The messages answering one judged file, once, and only to whom it concerns.

    ``version`` goes into each message's key: ``tep-<id>`` by default, another one when a
    coordinator asks for the answer again (a new message, sent once).

    A file that came by e-mail: ``sender`` is the address it came from when that may be
    answered (never a machine; ``""`` otherwise), and is answered too, threaded under the
    e-mail (In-Reply-To/References); a unit told about a file e-mailed from an address other
    than its registered one is told so. ``muted`` addresses get nothing now (the daily cap on
    answers to one sender, which makes a loop with an auto-responder impossible).

    Filed under a unit: one message to that unit's registered address and the address typed in
    the file (Cc its department's office when configured): feedback if rejected, a receipt if
    accepted (``days_late`` as status counts it). Unattributed (unknown unit, an edited unit
    cell, no proof): the address typed in it only, never the unit it claims. Held: a notice,
    one message each, to the unit it names (someone sent a file in its name) and to the address
    typed in it.
    """
    period: Period | None
    try:
        period = dep.period(rec.period or "")
    except PeriodError:  # an unknown period still gets feedback, worded without a deadline
        period = None
    day = dep.registry.reference_day(period) if period else today
    unit = (dep.registry.get(rec.unit, day) or dep.registry.latest(rec.unit)) if rec.unit else None
    if rec.unit and unit is None:
        return []
    when = (
        due(dep, unit, period)
        if unit is not None and period is not None
        else unknown_period_due(rec.period or "", day)
    )
    sent = SentFile(
        rec.original_name,
        rec.received_at,
        tuple(rec.issues),
        receipt_number(rec.id) if rec.id else "",
        sent_from=foreign_sender(rec, unit),
    )
    version = version or f"tep-{rec.id}"
    code = unit.code if unit else None
    period_code = rec.period or "-"
    if rec.status == "held":
        claimed = rec.claimed_unit or code or ""
        planned: list[Planned] = []
        told = (unit.email if unit else "", rec.contact, sender)
        for address in dict.fromkeys(a for a in told if a and a.lower() not in muted):
            who = Recipient(code or "", unit.name if unit else "", (address,))
            # no unit link here: the address typed in an unproven file may be anyone's
            compose = partial(
                compose_held,
                letter=letter,
                unit=who,
                claimed=claimed,
                due=replace(when, link=None),
                sent=sent,
            )
            key = message_key("held", period_code, address, version, code)
            planned.append((key, partial(_threaded, compose, rec.mail)))
        return planned
    if unit is not None:
        who = recipient(dep, unit, day, also=[rec.contact, sender])
    elif rec.source == "imap":  # tied to no unit: back to whoever e-mailed it, nobody else
        who = Recipient("", "", (sender,) if sender else ())
    else:
        who = Recipient("", "", (rec.contact,) if rec.contact else ())
    who = replace(
        who,
        to=tuple(a for a in who.to if a.lower() not in muted),
        cc=tuple(a for a in who.cc if a.lower() not in muted),
    )
    if not who.to and not who.cc:
        return []
    if rec.status != "accepted":
        key = message_key("feedback", period_code, "*", version, code)
        compose = partial(
            _feedback, letter=letter, unit=who, due=when, today=today, sent=sent, path=rec.feedback_path,
            numbers=numbers,
        )  # fmt: skip
        return [(key, partial(_threaded, compose, rec.mail))]
    if unit is None or period is None:  # an accepted file always has both; nothing to confirm else
        return []
    key = message_key("receipt", period_code, "*", version, code)
    late = partial(days_late, unit, period)
    compose = partial(
        _receipt,
        letter=letter,
        unit=who,
        due=when,
        sent=sent,
        path=rec.feedback_path,
        numbers=numbers,
        late=late,
    )
    return [(key, partial(_threaded, compose, rec.mail))]


def foreign_sender(rec: FileRecord, unit: Unit | None) -> str:
    """The address a file was e-mailed from when it is not the registered address of the unit
    it names (that unit is told), else ``""``."""
    if rec.source != "imap" or not rec.sender or unit is None:
        return ""
    return "" if rec.sender.lower() == (unit.email or "").lower() else rec.sender


def _threaded(compose: Callable[[], OutgoingMessage], thread: MailThread | None) -> OutgoingMessage:
    """The composed answer, threaded under the e-mail the file came in (if it did)."""
    message = compose()
    if thread is None or not thread.message_id:
        return message
    return replace(message, in_reply_to=thread.message_id, references=thread.references)


def _feedback(*, path: str | None, **kwargs: Any) -> OutgoingMessage:
    return compose_feedback(marked=attachment(path), **kwargs)


def _receipt(*, path: str | None, late: Callable[[], int], **kwargs: Any) -> OutgoingMessage:
    return compose_receipt(marked=attachment(path), days_late=late(), **kwargs)


def reminder(
    dep: Deployment,
    unit: Unit,
    period: Period,
    *,
    stage: str,
    letter: Letterhead,
    numbers: Mapping[str, str],
    today: date,
    returned_file: FileRecord | None,
    template: Callable[[], Attachment | None],
    held_file: FileRecord | None = None,
) -> Planned:
    """A reminder to ``unit`` for ``period`` in slot ``stage`` (days before its deadline).

    ``returned_file``: its last file when it was rejected: the reminder says so and carries the
    marked-up copy; otherwise (or when that copy is gone) ``template()`` is attached.
    ``held_file``: its file waiting for verification, when it has no other: the reminder says
    that file does not count yet instead of "nothing arrived".
    """
    key = message_key("reminder", period.code, unit.email, f"truoc-{stage}-ngay", unit.code)

    def compose() -> OutgoingMessage:
        returned = None
        if returned_file is not None:
            sent = SentFile(
                returned_file.original_name, returned_file.received_at, tuple(returned_file.errors)
            )
            returned = Returned(sent, attachment(returned_file.feedback_path))
        blank = template() if returned is None or returned.marked is None else None
        return compose_reminder(
            letter=letter,
            unit=recipient(dep, unit, dep.registry.reference_day(period)),
            due=due(dep, unit, period),
            today=today,
            template=blank,
            returned=returned,
            numbers=numbers,
            held=SentFile(held_file.original_name, held_file.received_at) if held_file else None,
        )

    return key, compose
