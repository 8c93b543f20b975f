"""The library API: one function per ``baocao`` subcommand, with the same name.

The CLI parses arguments, calls one of these and prints the result; scripts, scheduled jobs and
tests call them directly. Each takes a ``Deployment`` (settings, forms and registry loaded
once) and returns plain data that the CLI can print as a table or as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import Settings, load_config
from .errors import UsageError
from .form import Form, FormCatalog, load_catalog
from .periods import Period, parse_period
from .registry import Registry, Unit, load_registry
from .template import TemplateContext, render_template, template_filename, write_if_changed


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


def info(dep: Deployment) -> dict:
    """What a coordinator needs to trust the setup: files, paths, form, periods, units."""
    s = dep.settings
    return {
        "config_file": str(s.config_file),
        "organisation": s.organisation,
        "coordinator": s.coordinator,
        "timezone": s.timezone.key,
        "paths": {key: str(path) for key, path in s.paths.items()},
        "form_file": str(s.form_file),
        "registry_file": str(s.registry_file),
        "form": {
            "id": dep.form.id,
            "version": dep.form.version,
            "title": dep.form.title,
            "fields": len(dep.form.fields),
            "known_versions": list(dep.catalog.versions),
        },
        "periods": [
            {
                "kind": k.code,
                "label": k.label,
                "months": list(k.months),
                "due_before": f"{k.due_day:02d}/{k.due_month:02d}",
                "estimates": k.estimates,
            }
            for k in s.period_kinds.values()
        ],
        "units": len({u.code for u in dep.registry.units}),
        "mail": {"backend": s.mail.backend, "coordinators": list(s.mail.coordinators)},
    }


def units(dep: Deployment, period: str) -> list[dict]:
    """Units active in ``period``, with whether each must submit a report itself."""
    p = dep.period(period)
    reporting = {u.code for u in dep.registry.reporting_units(p)}
    return [
        {
            "code": u.code,
            "name": u.name,
            "parent": u.parent,
            "email": u.email,
            "kind": u.kind,
            "reports": u.code in reporting,
        }
        for u in dep.registry.active_units(p)
    ]


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


@dataclass(frozen=True)
class TemplateFile:
    unit: str
    path: Path
    written: bool


def templates(dep: Deployment, period: str, unit: str | None = None) -> list[TemplateFile]:
    """Write one pre-filled template per reporting unit of ``period`` (or just ``unit``).

    Files go to ``<templates>/<period>/``; an unchanged file is left untouched.
    """
    p = dep.period(period)
    targets = dep.registry.reporting_units(p) if unit is None else [dep.unit(unit, p)]
    out = []
    for u in targets:
        path = template_path(dep, u, p)
        content = render_template(dep.form, template_context(dep, u, p))
        out.append(TemplateFile(unit=u.code, path=path, written=write_if_changed(path, content)))
    return out
