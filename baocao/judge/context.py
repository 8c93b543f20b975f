"""What validation needs to judge one workbook: the deployment's facts and the unit's past.

Apart from ``judging`` (which drives collect) so that ``check`` builds it without loading the
collect machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from baocao.judge.validate import Context, Identity, identify
from baocao.model import RawWorkbook
from baocao.spec.deployment import Deployment
from baocao.spec.form import FormCatalog
from baocao.spec.identity import SigningKey
from baocao.spec.registry import Registry


class History(Protocol):
    """Where a unit's earlier accepted reports come from (the store)."""

    def unit_history(self, unit: str, exclude_period: str | None = None) -> dict[str, dict[str, Any]]: ...


@dataclass(frozen=True)
class Facts:
    """The deployment's facts validation uses (plain data a worker process can hold): the form
    versions, the registry, the period kinds and the signing key."""

    catalog: FormCatalog
    registry: Registry
    period_kinds: dict
    key: SigningKey | None

    @classmethod
    def of(cls, dep: Deployment) -> Facts:
        return cls(dep.catalog, dep.registry, dep.settings.period_kinds, dep.signing_key)


def judging_context(
    dep: Deployment | Facts, raw: RawWorkbook, today: date, store: History | None, vouched: bool = False
) -> Context:
    """What validation needs for ``raw`` (``collect``, its workers and ``check`` alike).

    The unit's earlier reports (``history``, from ``store``) only when the file proves it is that
    unit's: warnings quote them, and a forged file must not read another unit's figures.
    """
    facts = dep if isinstance(dep, Facts) else Facts.of(dep)
    who = identify(raw, _context(facts, today, vouched))
    history = {}
    if store is not None and who.proof.proven and who.unit:
        period = who.period.code if who.period else None
        history = store.unit_history(who.unit, exclude_period=period)
    # validation need not work out the identity again (``identified``)
    return _context(facts, today, vouched, history, (raw, who))


def _context(
    facts: Facts,
    today: date,
    vouched: bool,
    history: dict[str, dict[str, Any]] | None = None,
    identified: tuple[RawWorkbook, Identity] | None = None,
) -> Context:
    # built twice per file rather than copied with ``dataclasses.replace`` (several times dearer)
    return Context(
        catalog=facts.catalog,
        registry=facts.registry,
        period_kinds=facts.period_kinds,
        today=today,
        history={} if history is None else history,
        key=facts.key,
        identified=identified,
        vouched=vouched,
    )


def history_unit(ctx: Context) -> str | None:
    """The unit whose earlier reports ``ctx`` holds (None: it holds none, none were looked up)."""
    if ctx.identified is None:
        return None
    who = ctx.identified[1]
    return who.unit if who.proof.proven and who.unit else None
