"""The summary of one period for one level (province or department): the model and how it is built.

``build_summary`` is pure: registry + form + the ledger's records in, a ``Summary`` out. It never
reads a unit's workbook again; what the ledger accepted is what counts. The renderers (the
workbook, the CSV and JSON of ``report.plain``, the Word draft) take a ``Summary`` and compute
nothing of their own, so they cannot disagree; ``baocao.consolidate`` is the edge that opens the
ledger, builds it and places the files.

Who counts: the units *reporting* in the period according to the registry (active leaves on the
period's reference day), under the level asked for, grouped by their department on that day.
So 2024 periods consolidate with the 2024 structure and 2025 periods with the 2025 one. A
submission from a unit that does not report at this level (a department's own roll-up when its
units are in this registry) is not counted: its figures are already in its units' rows.

Comparisons with earlier periods are like for like (``report.compare``); targets are judged at
the level the form sets (``report.targets``); a value the summary cannot use costs that unit's
cell only and is listed in ``problems`` (``report.cells``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from baocao.errors import UsageError
from baocao.model import FileRecord, Issue, Submission
from baocao.report.cells import CellProblem, clean_figure, clean_text, safe_text
from baocao.report.compare import Comparison, compare
from baocao.report.status import UnitStatus, counts, period_status, shared_zone, unit_order
from baocao.report.targets import Verdict, judge
from baocao.spec.config import PeriodKind
from baocao.spec.form import Form
from baocao.spec.periods import Period, previous_period, same_period_last_year
from baocao.spec.registry import Registry, Unit

NO_TEXT = {"", "không", "không có", "khong"}
NO_VALUES: dict[str, object] = {}  # a held submission's values: none (shared, never written to)


class Figures(Mapping[str, int | None]):
    """One unit's usable figures by field code: a read-only mapping over a tuple, the codes'
    positions shared by every unit of the summary (a dict per unit took 400 bytes, 2.8 MB at
    10,000 units, issue 13). Equal to a dict with the same items."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: Mapping[str, int], values: tuple[int | None, ...]):
        self._index = index
        self._values = values

    def __getitem__(self, code: str) -> int | None:
        return self._values[self._index[code]]

    def get(self, code: str, default=None):
        at = self._index.get(code)
        return default if at is None else self._values[at]

    def __contains__(self, code: object) -> bool:
        return code in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"Figures({dict(self)!r})"


# submission ids -> (id, values) of each, in that order (``Store.each_submission_values``)
Narratives = Callable[[Sequence[int]], Iterable[tuple[int, Mapping[str, object]]]]


@dataclass(frozen=True, slots=True)
class UnitRow:
    """One reporting unit's line: its status and, when accepted, its usable figures and texts.

    ``values`` is ``None`` without an accepted report; inside it a ``None`` figure is one the
    summary could not use (see ``Summary.problems``) and that counts in no total. ``texts``
    ``None``: the narratives were not kept (``Summary.texts_by_row`` reads them). Slots: one per
    unit, 10,000 of them in a province-wide summary.
    """

    unit: Unit
    status: UnitStatus
    values: Figures | None
    texts: dict[str, str] | None
    verdicts: tuple[Verdict, ...] = ()  # targets that apply to each unit
    department: Unit | None = None  # the department it belongs to (None: directly under the level)

    @property
    def reported(self) -> bool:
        return self.values is not None

    @property
    def note(self) -> str:
        """Why a unit stands out: the first reason its file was refused, or its correction."""
        st = self.status
        if st.status == "rejected" and st.issues:
            return st.issues[0].message
        if st.status == "missing":
            return "Chưa gửi tệp nào"
        return "Đã gửi bản sửa; dùng số liệu bản mới nhất" if st.corrected else ""


@dataclass(frozen=True)
class Block:
    """The units of one department with their subtotal; ``department`` None: directly under the level."""

    department: Unit | None
    rows: tuple[UnitRow, ...]
    totals: dict[str, int]
    verdicts: tuple[Verdict, ...] = ()  # targets that apply to the department's total

    @property
    def name(self) -> str:
        return self.department.name if self.department else "Đơn vị trực thuộc"

    @property
    def reported(self) -> int:
        return sum(1 for r in self.rows if r.reported)


@dataclass(frozen=True)
class Summary:
    form: Form
    period: Period
    level: Unit
    organisation: str
    made_at: datetime  # local time of the deployment
    tz: ZoneInfo
    provisional: bool  # made before the last deadline of its units: later files are not in it
    blocks: tuple[Block, ...]
    totals: dict[str, int]
    counts: dict[str, int]
    verdicts: tuple[Verdict, ...] = ()  # province-level targets (unit and department ones: rows, blocks)
    comparisons: tuple[Comparison, ...] = ()
    warnings: tuple[tuple[UnitRow, Issue], ...] = ()
    problems: tuple[CellProblem, ...] = ()
    deadlines: dict[str, date] = field(default_factory=dict)  # level kind -> last on-time day
    # where the narratives not kept in the rows are read again (None: every row holds its own)
    narratives: Narratives | None = field(default=None, compare=False, repr=False)

    @property
    def rows(self) -> list[UnitRow]:
        return [r for b in self.blocks for r in b.rows]

    @property
    def all_verdicts(self) -> list[Verdict]:
        """Every verdict: province, then each department's, then each unit's."""
        return [
            *self.verdicts,
            *(v for b in self.blocks for v in b.verdicts),
            *(v for r in self.rows for v in r.verdicts),
        ]

    @property
    def heading(self) -> str:
        """``Tỉnh Lạng Sơn – Quý I năm 2025 (số liệu từ 01/01/2025 đến 31/03/2025, …)``."""
        p = self.period
        estimates = "; sau ngày lập báo cáo là số ước thực hiện" if p.includes_estimates else ""
        return f"{self.level.name} – {p.name} ({p.window_text}{estimates})"

    @property
    def state(self) -> str:
        """When it was made and whether the figures are final."""
        made = self.made_at
        state = (
            "số liệu tạm thời, lập trước hạn báo cáo: báo cáo nhận sau thời điểm này chưa được tính"
            if self.provisional
            else "số liệu chính thức (đã hết hạn báo cáo)"
        )
        return f"Lập lúc {made:%H:%M} ngày {made:%d/%m/%Y} – {state}"

    @property
    def completeness(self) -> str:
        """``Đã tiếp nhận báo cáo của 7/9 đơn vị (78 %): đúng hạn 6, chậm hạn 1; …``."""
        c = self.counts
        share = f" ({round(100 * c['reported'] / c['expected'])} %)" if c["expected"] else ""
        return (
            f"Đã tiếp nhận báo cáo của {c['reported']}/{c['expected']} đơn vị{share}: đúng hạn "
            f"{c['on_time']}, chậm hạn {c['late']}; bị trả lại chưa gửi lại bản đạt {c['rejected']}; "
            f"chưa nộp {c['missing']}."
        )

    def attention(self) -> list[UnitRow]:
        """The units a leader must hear about: missing, rejected, late (in that order)."""
        order = {"missing": 0, "rejected": 1, "late": 2}
        return sorted(
            (r for r in self.rows if r.status.status in order), key=lambda r: order[r.status.status]
        )

    def texts_by_row(self, rows: Iterable[UnitRow] | None = None) -> Iterator[tuple[UnitRow, dict[str, str]]]:
        """Each of ``rows`` (default: all, in order) with its cleaned narratives, read one row at
        a time: from the row when it holds them, else from ``narratives`` (by the ids of the
        submissions the summary was built from, in one pass). What every rendering of the
        narratives reads (the ``Đánh giá`` sheet, the Word draft, the roll-up)."""
        rows = self.rows if rows is None else list(rows)
        unread = [r.status.submission.id for r in rows if r.texts is None and r.status.submission]
        if unread and self.narratives is None:
            raise ValueError("Bản tổng hợp không giữ nội dung đánh giá và không còn đọc lại được từ sổ")
        found = iter(self.narratives(unread) if unread and self.narratives else ())
        for row in rows:
            if row.texts is not None or row.status.submission is None:
                yield row, row.texts or {}
                continue
            wanted = row.status.submission.id
            got, values = next(found, (None, {}))
            if got != wanted:
                raise ValueError(f"Sổ theo dõi không còn bản báo cáo {wanted} của {row.unit.code}")
            yield row, clean_texts(self.form, values)[0]

    def department_name(self, row: UnitRow) -> str:
        return row.department.name if row.department else self.level.name

    def headline_totals(self) -> list[tuple[str, int]]:
        """(label, total) of every figure, for a message that cannot carry the workbook."""
        return [(f.label, self.totals[f.code]) for f in self.form.quantitative_fields]

    def comparison(self, kind: str) -> Comparison | None:
        return next((c for c in self.comparisons if c.kind == kind), None)


def has_text(text: str) -> bool:
    """False for blanks and a bare "Không" (the accepted way of saying "nothing to report")."""
    return text.strip().rstrip(".").strip().casefold() not in NO_TEXT


def level_unit(registry: Registry, period: Period, unit: str | None) -> Unit:
    day = registry.reference_day(period)
    level = registry.root(day) if unit is None else registry.get(unit, day)
    if level is None:
        raise UsageError(f"Đơn vị '{unit}' không có trong danh mục cho kỳ {period.code}")
    if level.kind == "unit":
        raise UsageError(f"'{level.code}' là đơn vị báo cáo, không phải cấp tổng hợp (sở hoặc tỉnh)")
    return level


def is_top(level: Unit) -> bool:
    return level.kind == "province" or level.parent is None


def sum_figures(rows: Sequence[Mapping[str, int | None]], codes: tuple[str, ...]) -> dict[str, int]:
    return {c: sum(r.get(c) or 0 for r in rows) for c in codes}


Cleaned = tuple[Figures, dict[str, str] | None, tuple[CellProblem, ...]]


def clean_texts(form: Form, values: Mapping[str, object]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The usable narratives of one accepted report, and (field, why) for each one changed."""
    texts, problems = {}, []
    for f in form.text_fields:
        texts[f.code], why = clean_text(values.get(f.code))
        if why:
            problems.append((f.code, why))
    return texts, problems


def _clean(form: Form, sub: Submission, keep_texts: bool, index: Mapping[str, int]) -> Cleaned:
    """The usable figures (positions: ``index``) and texts (``None`` unless ``keep_texts``) of
    one accepted report, and the problems met."""
    problems = []
    values = []
    for f in form.quantitative_fields:
        value, why = clean_figure(sub.values.get(f.code))
        values.append(value)
        if why:
            problems.append(CellProblem(sub.unit, f.code, f"{why}; không tính vào tổng"))
    texts, changed = clean_texts(form, sub.values)
    problems += [CellProblem(sub.unit, code, why) for code, why in changed]
    return Figures(index, tuple(values)), texts if keep_texts else None, tuple(problems)


def _take(
    form: Form, current: Iterable[Submission], keep_texts: bool
) -> tuple[dict[str, Cleaned], dict[str, Submission]]:
    """Each unit's cleaned figures and texts, and its submission without its raw values (who,
    when, warnings: what the status needs), reading ``current`` once: the raw values of the
    period's every unit are never all held at once (at 10,000 units they took 39 MB)."""
    cleaned, held = {}, {}
    index = {f.code: at for at, f in enumerate(form.quantitative_fields)}
    zones: dict = {}
    for sub in current:
        cleaned[sub.unit] = _clean(form, sub, keep_texts, index)
        # what every unit's row repeats is shared: its code is the registry's, its period
        # and form version one string each (issue 13: a summary holds one per unit)
        held[sub.unit] = replace(
            sub,
            unit=sys.intern(sub.unit),
            period=sys.intern(sub.period),
            form_version=sys.intern(sub.form_version),
            values=NO_VALUES,
            received_at=shared_zone(sub.received_at, zones),
        )
    return cleaned, held


def _clean_issue(issue: Issue) -> Issue:
    return Issue(
        issue.severity, issue.code, safe_text(issue.message, 1000), issue.field, issue.sheet, issue.cell
    )


def build_summary(
    *,
    form: Form,
    registry: Registry,
    period: Period,
    level: Unit,
    organisation: str,
    files: Iterable[FileRecord],
    current: Iterable[Submission],
    earlier: Mapping[str, Iterable[Submission]],
    kinds: dict[str, PeriodKind],
    tz: ZoneInfo,
    inclusive: bool,
    now: datetime,
    narratives: Narratives | None = None,
) -> Summary:
    """The summary of ``period`` at ``level`` (pure).

    ``current``: the ledger's submissions in force for the period; ``files``: its file records
    (for status); ``earlier``: submissions in force for other periods by period code (used for
    the comparisons; a period missing or empty means "no data"). Each is read once, so the
    caller may pass the ledger's rows as they come (``Store.each_current_submission``). The
    summary keeps each unit's cleaned values (``UnitRow.values``, ``texts``), not the raw ones:
    its statuses' ``submission`` carries no values. With ``narratives`` it keeps no narratives
    either (``UnitRow.texts`` None): they are read again through it when rendered
    (``Summary.texts_by_row``), so the caller keeps what it reads from open meanwhile.
    """
    day = registry.reference_day(period)
    under = None if is_top(level) else level.code
    units = unit_order(registry, registry.reporting_units(period, under=under), day)
    levels = {u.code: registry.reports_to(u.code, day) for u in units}
    cleaned, held = _take(form, current, keep_texts=narratives is None)
    statuses = period_status(period, units, files, held, tz, inclusive, levels, now=now)
    codes = tuple(f.code for f in form.quantitative_fields)
    unit_rules = [r for r in form.targets if r.level == "unit"]
    grouped: dict[str | None, list[UnitRow]] = {}
    departments: dict[str | None, Unit | None] = {}
    warnings: list[tuple[UnitRow, Issue]] = []
    problems: list[CellProblem] = []
    for st in statuses:
        sub = st.submission
        values: Figures | None = None
        texts: dict[str, str] | None = {}
        if sub is not None:
            values, texts, found = cleaned[sub.unit]
            problems += found
        row = UnitRow(
            unit=st.unit,
            status=st,
            values=values,
            texts=texts,
            verdicts=tuple(judge(r, form, period, st.unit, [values]) for r in unit_rules),
            department=dept
            if (dept := registry.group_of(st.unit.code, day)) and dept.code != level.code
            else None,
        )
        key = row.department.code if row.department else None
        departments[key] = row.department
        grouped.setdefault(key, []).append(row)
        warnings += [(row, _clean_issue(issue)) for issue in (sub.warnings if sub else ())]
    blocks = tuple(
        _block(form, period, level, departments[k], tuple(rows), codes) for k, rows in grouped.items()
    )
    reported = {r.unit.code: r.values for b in blocks for r in b.rows if r.values is not None}
    totals = sum_figures(list(reported.values()), codes)
    index = {code: at for at, code in enumerate(codes)}
    usable = {code: {sub.unit: _usable(sub, index) for sub in subs} for code, subs in earlier.items()}
    comparisons = []
    for kind, other in (
        ("previous", previous_period(period, kinds)),
        ("last_year", same_period_last_year(period)),
    ):
        then = usable.get(other.code, {})
        comparisons.append(
            compare(
                kind,
                registry=registry,
                period=period,
                other=other,
                level=level,
                units=units,
                now_values=reported,
                then_values=then,
                codes=codes,
            )
        )
    all_rows = [r.values for b in blocks for r in b.rows]
    deadlines = {kind or "": period.last_on_time_day(inclusive, kind) for kind in set(levels.values())}
    return Summary(
        form=form,
        period=period,
        level=level,
        organisation=organisation if is_top(level) else level.name,
        made_at=now.astimezone(tz),
        tz=tz,
        provisional=any(
            now <= period.deadline(tz, inclusive, kind) for kind in set(levels.values()) or {None}
        ),
        blocks=blocks,
        totals=totals,
        counts=counts(statuses),
        verdicts=tuple(
            judge(r, form, period, level, all_rows) for r in form.targets if r.level == "province"
        ),
        comparisons=tuple(comparisons),
        warnings=tuple(warnings),
        problems=tuple(problems),
        deadlines=deadlines,
        narratives=narratives,
    )


def _block(
    form: Form, period: Period, level: Unit, department: Unit | None, rows: tuple[UnitRow, ...], codes
) -> Block:
    """A department's rows with its subtotal and the verdicts of department-level targets."""
    scope = department or (level if level.kind == "department" else None)
    verdicts: tuple[Verdict, ...] = ()
    if scope is not None:
        figures = [r.values for r in rows]
        verdicts = tuple(
            judge(r, form, period, scope, figures) for r in form.targets if r.level == "department"
        )
    return Block(
        department, rows, sum_figures([r.values for r in rows if r.values is not None], codes), verdicts
    )


def _usable(sub: Submission, index: Mapping[str, int]) -> Figures:
    """An earlier report's figures (those of ``index``: the only ones compared) with the unusable
    ones ``None`` (they count as 0 there too); compact, like the period's own (issue 13)."""
    return Figures(index, tuple(clean_figure(sub.values.get(code))[0] for code in index))
