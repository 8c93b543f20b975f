"""The facts every message needs, read from the deployment: who writes, to whom, by when.

``mailtext`` is pure and knows nothing of the deployment; this module is where the deployment's
settings, registry and form become its plain inputs (``Letterhead``, ``Recipient``, ``Due``), so
the scheduler, an e-mail intake answering a file, and the tests word and address messages alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from baocao.notify.mailtext import Due, Letterhead, Recipient
from baocao.spec.deployment import Deployment
from baocao.spec.periods import Period
from baocao.spec.registry import Unit


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
    """``unit``'s registered address (and ``also``: the address typed in its file) in To; its
    department's office in Cc when ``[mail] copy_parent`` is on (the 2025 plan makes the Văn
    phòng "kiểm tra, đôn đốc các phòng")."""
    to = tuple(dict.fromkeys(a for a in (unit.email, *also) if a))
    cc: tuple[str, ...] = ()
    if dep.settings.mail.copy_parent:
        office = office_of(dep, unit, day)
        if office is not None and office.email not in to:
            cc = (office.email,)
    return Recipient(code=unit.code, name=unit.name, to=to, cc=cc)
