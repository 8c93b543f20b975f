"""What a template says beyond the form: who, when, by when, where to send it.

Apart from ``template`` so that the sheets it writes (the form sheet, the guide) can take it
without importing the writer that calls them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from baocao.spec.identity import SigningKey
from baocao.spec.periods import Period
from baocao.spec.registry import Unit


@dataclass(frozen=True)
class TemplateContext:
    """What a template says beyond the form: who, when, by when, and where to send it."""

    unit: Unit
    period: Period
    parent_name: str
    deadline: date  # the last on-time day of this unit's level
    submit_to: str
    organisation: str
    key: SigningKey  # signs the ``_meta`` sheet: who the template is for, provably
    values: dict[str, object] | None = None  # input values to fill in (roll-up files, demo data)
    due_before: date | None = None  # the date the plan names ("trước ngày …"); default: the period's
    due_text: str = ""  # the deadline as every message words it (``Period.due_text``)
    contact: str = ""  # a person to call (``Settings.contact``)

    @property
    def due(self) -> str:
        """ "trước ngày 10/03/2025": the same words as the reminders and feedback e-mails."""
        return self.due_text or f"trước ngày {(self.due_before or self.period.due_before):%d/%m/%Y}"
