"""What validation needs to judge one workbook: the deployment's facts and the unit's past.

Apart from ``judging`` (which drives collect) so that ``check`` builds it without loading the
collect machinery.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any, Protocol

from baocao.judge.validate import Context, identify
from baocao.model import RawWorkbook
from baocao.spec.deployment import Deployment


class History(Protocol):
    """Where a unit's earlier accepted reports come from (the store)."""

    def unit_history(self, unit: str, exclude_period: str | None = None) -> dict[str, dict[str, Any]]: ...


def judging_context(
    dep: Deployment, raw: RawWorkbook, today: date, store: History | None, vouched: bool = False
) -> Context:
    """What validation needs for ``raw`` (``collect`` and ``check`` alike).

    The unit's earlier reports (``history``, from ``store``) only when the file proves it is that
    unit's: warnings quote them, and a forged file must not read another unit's figures.
    """
    ctx = Context(
        catalog=dep.catalog,
        registry=dep.registry,
        period_kinds=dep.settings.period_kinds,
        today=today,
        key=dep.signing_key,
        vouched=vouched,
    )
    who = identify(raw, ctx)
    ctx = replace(ctx, identified=(raw, who))  # validation need not work it out again
    if store is None or not (who.proof.proven and who.unit):
        return ctx
    period = who.period.code if who.period else None
    return replace(ctx, history=store.unit_history(who.unit, exclude_period=period))
