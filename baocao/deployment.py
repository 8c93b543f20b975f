"""A deployment loaded once: its settings, its form (all versions) and its unit registry.

Every room that needs "the facts of this deployment" takes a ``Deployment``; loading it is the
only place where config.toml, the form spec and the registry are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import Settings, load_config
from .errors import UsageError
from .form import Form, FormCatalog, load_catalog
from .periods import Period, parse_period
from .registry import Registry, Unit, load_registry
from .template import TemplateContext, template_filename


@dataclass(frozen=True)
class Deployment:
    """One deployment: its settings, its form (all versions) and its unit registry."""

    settings: Settings
    catalog: FormCatalog
    registry: Registry

    @property
    def form(self) -> Form:
        return self.catalog.current

    def period(self, code: str) -> Period:
        return parse_period(code, self.settings.period_kinds)

    def unit(self, code: str, period: Period) -> Unit:
        """The unit ``code`` as it is for ``period``; ``UsageError`` if it does not exist then."""
        unit = self.registry.get(code, self.registry.reference_day(period))
        if unit is None:
            raise UsageError(f"Đơn vị '{code}' không có trong danh mục cho kỳ {period.code}")
        return unit


def load_deployment(config_path: str | Path = "config.toml") -> Deployment:
    """Load config.toml, the form catalog and the registry it names (``ConfigError``/``FormSpecError``)."""
    settings = load_config(config_path)
    return Deployment(
        settings=settings,
        catalog=load_catalog(settings.form_file),
        registry=load_registry(settings.registry_file),
    )


def template_context(dep: Deployment, unit: Unit, period: Period) -> TemplateContext:
    day = dep.registry.reference_day(period)
    parent = dep.registry.get(unit.parent, day) if unit.parent else None
    return TemplateContext(
        unit=unit,
        period=period,
        parent_name=parent.name if parent else dep.settings.organisation,
        deadline=period.last_on_time_day(dep.settings.inclusive_deadline),
        submit_to=dep.settings.submit_to,
        organisation=dep.settings.organisation,
    )


def template_path(dep: Deployment, unit: Unit, period: Period) -> Path:
    return dep.settings.path("templates") / period.code / template_filename(unit, period)
