"""A deployment loaded once: its settings, its form (all versions) and its unit registry.

Every room that needs "the facts of this deployment" takes a ``Deployment``; loading it is the
only place where config.toml, the form spec and the registry are read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path

from baocao.errors import UsageError
from baocao.spec.config import Settings, load_config
from baocao.spec.form import Form, FormCatalog, load_catalog
from baocao.spec.identity import SigningKey, load_signing_key, signing_key_ahead
from baocao.spec.periods import Period, parse_period
from baocao.spec.registry import Registry, Unit, load_registry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deployment:
    """One deployment: its settings, its form (all versions) and its unit registry."""

    settings: Settings
    catalog: FormCatalog
    registry: Registry

    @property
    def form(self) -> Form:
        return self.catalog.current

    @cached_property
    def signing_key(self) -> SigningKey:
        """The key templates are signed with (loaded, or created, on first use: ``spec.identity``;
        or looked up ahead, ``look_up_key_ahead``)."""
        ahead = self.__dict__.pop("_key_ahead", None)
        return ahead() if ahead is not None else load_signing_key(self.settings.key_name)

    def look_up_key_ahead(self) -> None:
        """Begin looking up ``signing_key`` in the background (``spec.identity.signing_key_ahead``)
        for a caller that will need it after other work (collect). Asking for it waits."""
        if "signing_key" not in self.__dict__ and "_key_ahead" not in self.__dict__:
            self.__dict__["_key_ahead"] = signing_key_ahead(self.settings.key_name)

    def period(self, code: str) -> Period:
        return parse_period(code, self.settings.period_kinds)

    def closes_at(self, period: Period) -> datetime:
        """The final-summary moment of ``period`` (``[mail] final_summary_days_after`` days after
        its last on-time day, at ``summary_time``): from then on the period is closed, and a file
        for a unit that already has an accepted report is kept without replacing it."""
        s = self.settings
        day = period.last_on_time_day(s.inclusive_deadline) + timedelta(days=s.mail.final_summary_days_after)
        return datetime.combine(day, s.mail.summary_time, tzinfo=s.timezone)

    def level_of(self, unit: Unit | str, period: Period) -> str | None:
        """The level ``unit`` reports to in ``period`` (picks its deadline, ``Period.due_before_for``)."""
        code = unit if isinstance(unit, str) else unit.code
        return self.registry.reports_to(code, self.registry.reference_day(period))

    def last_on_time_day(self, unit: Unit | str, period: Period) -> date:
        """The last on-time day of ``unit``'s report for ``period`` (its level's deadline)."""
        return period.last_on_time_day(self.settings.inclusive_deadline, self.level_of(unit, period))

    def due_text(self, unit: Unit | str, period: Period) -> str:
        """``unit``'s deadline for ``period`` as every template and message words it."""
        return period.due_text(self.settings.inclusive_deadline, self.level_of(unit, period))

    def unit(self, code: str, period: Period) -> Unit:
        """The unit ``code`` as it is for ``period``; ``UsageError`` if it does not exist then."""
        unit = self.registry.get(code, self.registry.reference_day(period))
        if unit is None:
            raise UsageError(f"Đơn vị '{code}' không có trong danh mục cho kỳ {period.code}")
        return unit


def load_deployment(config_path: str | Path = "config.toml") -> Deployment:
    """Load config.toml, the form catalog and the registry it names (``ConfigError``/``FormSpecError``)."""
    settings = load_config(config_path)
    registry = load_registry(settings.registry_file)
    for reason in registry.bad_addresses.values():  # every command says it until it is mended
        logger.warning(reason)
    return Deployment(settings=settings, catalog=load_catalog(settings.form_file), registry=registry)


def local_time(now: datetime | None, tz) -> datetime:
    """``now`` in the deployment's zone (a naive time is taken as local); the system clock if None."""
    if now is None:
        return datetime.now(tz)
    return now.replace(tzinfo=tz) if now.tzinfo is None else now.astimezone(tz)
