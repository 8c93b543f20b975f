"""Pure validation: raw workbook values + form + context -> typed values and a list of issues.

Nothing here touches a file, the clock or the ledger: the caller passes ``today`` and the unit's
earlier accepted reports. Bad data never raises; every problem becomes an ``Issue`` carrying the
field, the cell and a Vietnamese sentence a unit clerk understands, e.g.
``Ô D27 (Số lượt người tham gia tập huấn): có 35 lượt người nhưng số lớp tập huấn là 0``.

Each check is a small function yielding issues; ``validate`` runs them in order: identity of the
workbook (whose template, which period, which form version), then each field, then the rules of
the form spec (``rules``: cross-field errors, then warnings that need history).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from baocao.judge.convert import (
    day,
    shown,
    text_of,
    to_choice,
    to_date,
    to_email,
    to_integer,
    to_phone,
    value_problem,
)
from baocao.judge.rules import check_rules
from baocao.model import Issue, RawCell, RawWorkbook, Severity, cell_issue
from baocao.spec.form import Field, Form, FormCatalog
from baocao.spec.identity import Proof, SigningKey
from baocao.spec.periods import Period, PeriodError, date_bound, parse_period
from baocao.spec.registry import Registry

ERROR, WARNING = Severity.ERROR, Severity.WARNING
IDENTITY_ERRORS = frozenset({"unknown_unit", "no_unit", "unit_edited", "period_edited", "unknown_version"})
USE_THE_TEMPLATE = "hãy dùng biểu mẫu gửi kèm thư nhắc"


@dataclass(frozen=True)
class Context:
    """What validation needs beyond the workbook: the deployment's facts and the unit's past."""

    catalog: FormCatalog
    registry: Registry
    period_kinds: dict
    today: date
    history: dict[str, dict[str, Any]] = field(default_factory=dict)
    key: SigningKey | None = None  # the deployment's signing key; without it nothing is proven
    # who ``raw`` says it is, when already worked out for this context (``judge.context``)
    identified: tuple[RawWorkbook, Identity] | None = field(default=None, compare=False, repr=False)
    vouched: bool = False  # a coordinator released this file on purpose (``baocao release``)


@dataclass
class Outcome:
    """The verdict on one workbook: who, which period, typed values and issues."""

    unit: str | None
    period: str | None
    form_version: str | None
    values: dict[str, Any]
    issues: list[Issue]
    proof: Proof = Proof.MISSING  # whether the file proves it is the template of ``unit``

    @property
    def accepted(self) -> bool:
        return not any(i.severity == ERROR for i in self.issues)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def verdict(self) -> str:
        """``accepted``, ``rejected`` or ``held``: a file that does not prove it is the template of
        the unit it names never counts by itself; it waits for the coordinator (``baocao release``)."""
        if not self.accepted:
            return "rejected"
        return "accepted" if self.proof.proven else "held"

    @property
    def filed_under(self) -> str | None:
        """The unit whose record this file joins (its status, its feedback), or None.

        A rejected file counts for the unit it names only when it proves the claim; otherwise
        (unknown unit, edited unit cell, no valid signature) it is unattributed and goes back
        to its sender only, never to the unit it claims. A held file is listed under the unit
        it names so that the unit can be told.
        """
        if self.verdict == "rejected" and (
            not self.proof.proven or any(i.code in IDENTITY_ERRORS for i in self.issues)
        ):
            return None
        return self.unit

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == WARNING]


def check_field(
    f: Field, cell: RawCell | None, period: Period | None, today: date
) -> tuple[Any, list[Issue]]:
    """Type, presence and bounds of one field. Returns the typed value (None if blank or bad)."""
    if cell is None:
        return None, [
            Issue(
                ERROR,
                "missing_cell",
                f"Không tìm thấy ô của chỉ tiêu '{f.label}' ({f.code}) trong tệp",
                f.code,
            )
        ]
    if cell.formula_without_value:
        return None, [
            cell_issue(
                ERROR,
                "formula_without_value",
                f,
                cell,
                "ô có công thức chưa được tính; mở tệp bằng Excel, lưu lại rồi gửi",
            )
        ]
    value: Any
    raw = cell.value
    kind = type(raw)
    if raw is None or (kind not in _NEVER_BLANK and text_of(raw) == ""):
        if f.required and not f.locked:
            hint = " (ghi 0 nếu không có)" if f.quantitative else ""
            return None, [cell_issue(ERROR, "required", f, cell, f"chưa nhập{hint}")]
        return None, []
    problem = None if kind is int else value_problem(raw)  # every int is a value (its size: below)
    if problem is not None:
        return None, [cell_issue(ERROR, "bad_value", f, cell, problem)]
    if f.type == "integer":
        value, problem = to_integer(raw)
        if problem is None and f.min is not None and value < f.min:
            problem = f"{value} nhỏ hơn {f.min}; cần số nguyên không âm"
        if problem is None and f.max is not None and value > f.max:
            problem = f"{value} lớn hơn mức tối đa {f.max}"
    elif f.type == "date":
        value, problem = to_date(raw)
        if problem is None:
            lo = date_bound(f.not_before, period, today) if f.not_before else None
            hi = date_bound(f.not_after, period, today) if f.not_after else None
            if lo and value < lo:
                problem = f"ngày {day(value)} sớm hơn {day(lo)}"
            elif hi and value > hi:
                problem = f"ngày {day(value)} muộn hơn {day(hi)}" + (
                    " (hôm nay)" if f.not_after == "today" else ""
                )
    elif f.type == "phone":
        value, problem = to_phone(raw)
    elif f.type == "email":
        value, problem = to_email(raw)
    elif f.type == "choice":
        value, problem = to_choice(raw, f.choices)
    else:
        value, problem = text_of(raw), None
        if f.min_length and len(value) < f.min_length and value.casefold() != "không":
            problem = f"quá ngắn ({len(value)} ký tự); cần ít nhất {f.min_length} ký tự"
    if problem:
        return None, [cell_issue(ERROR, f"bad_{f.type}", f, cell, problem)]
    return value, []


_NEVER_BLANK = frozenset({int, float, bool, date, datetime})  # their text is never ""


# --- identity: whose template, which period, which version -----------------------------------

_REPORTING: weakref.WeakKeyDictionary[Registry, dict[Period, tuple[tuple, frozenset[str]]]] = (
    weakref.WeakKeyDictionary()
)


def reporting_codes(registry: Registry, period: Period) -> frozenset[str]:
    """The codes of ``registry.reporting_units(period)``, computed once per registry and period.

    Why: asking the registry walks every unit; asked once per file, a run of N files over N units
    costs N² (10,000 files: seconds). The cache is dropped with the registry and ignored if its
    units were replaced.
    """
    cached = _REPORTING.setdefault(registry, {}).get(period)
    if cached is None or cached[0] is not registry.units:
        cached = (registry.units, frozenset(u.code for u in registry.reporting_units(period)))
        _REPORTING[registry][period] = cached
    return cached[1]


@dataclass
class Identity:
    """Whose report a workbook says it is, and whether it proves it."""

    form: Form
    unit: str | None
    period: Period | None
    proof: Proof
    issues: list[Issue]


def _typed(raw: RawWorkbook, f: Field | None) -> str:
    """What the workbook holds in a pre-filled identity cell, as text ("" when absent)."""
    cell = raw.cells.get(f.code) if f is not None else None
    return text_of(cell.value) if cell is not None else ""


def identify(raw: RawWorkbook, ctx: Context) -> Identity:
    """Pick the form version, the unit and the period from the workbook itself (never its name).

    The claim is the unit and period cells (the ``_meta`` sheet where a cell is missing); it is
    proven only by a signature made with the deployment's key for exactly that claim. An
    unproven claim is a warning here; what it costs (held, or sent back to the sender only) is
    decided where the ledger is known (``judge.attribution``).
    """
    issues: list[Issue] = []
    current = ctx.catalog.current
    version = raw.form_version or raw.meta.get("form_version") or ""
    form = ctx.catalog.get(version)
    if form is None:
        issues.append(
            Issue(
                ERROR,
                "unknown_version",
                f"Biểu mẫu phiên bản '{shown(version) or 'không rõ'}' không còn được dùng; hãy dùng biểu mẫu "
                f"phiên bản {current.version} do cơ quan tổng hợp gửi",
            )
        )
        form = current
    elif raw.meta.get("form_id") and raw.meta["form_id"] != form.id:
        issues.append(
            Issue(
                ERROR,
                "other_form",
                f"Tệp này là biểu mẫu '{shown(raw.meta['form_id'])}', không phải biểu mẫu báo cáo"
                f' "{form.title}"; {USE_THE_TEMPLATE}',
            )
        )
    unit_field, period_field = form.role("unit"), form.role("period")
    unit_code = _typed(raw, unit_field)
    period_code = _typed(raw, period_field)
    unit_code = unit_code or raw.meta.get("unit", "")
    period_code = (period_code or raw.meta.get("period", "")).upper()
    meta_unit, meta_period = raw.meta.get("unit"), raw.meta.get("period")
    edits = (
        (
            unit_field,
            unit_code,
            meta_unit,
            "unit_edited",
            "mã đơn vị '{typed}' đã bị sửa; tệp này là biểu mẫu của đơn vị {meta}",
        ),
        (
            period_field,
            period_code,
            meta_period,
            "period_edited",
            "kỳ '{typed}' đã bị sửa; biểu mẫu này của kỳ {meta}",
        ),
    )
    for f, typed, meta, code, wording in edits:
        if meta and f and typed != meta:
            detail = wording.format(typed=shown(typed), meta=shown(meta))
            issues.append(cell_issue(ERROR, code, f, raw.cells.get(f.code), detail))
    proof = _proof(raw, ctx, form, unit_code, period_code)
    if not proof.proven:
        issues.append(
            Issue(WARNING, "unverified_identity", _UNPROVEN[proof].format(unit=shown(unit_code) or "?"))
        )
    period: Period | None = None
    try:
        period = parse_period(period_code, ctx.period_kinds)
    except PeriodError as exc:  # its message quotes the code: quote it the short way
        message = str(exc).replace(f"'{period_code}'", f"'{shown(period_code)}'")
        issues.append(Issue(ERROR, "bad_period", message, period_field.code if period_field else ""))
    unit = unit_code or None
    if unit and period is not None:
        if unit not in reporting_codes(ctx.registry, period):
            known = ctx.registry.get(unit, ctx.registry.reference_day(period))
            why = "không phải đơn vị phải báo cáo" if known else "không có trong danh mục đơn vị"
            message = f"Mã đơn vị '{shown(unit)}' {why} trong kỳ {period.code}"
            issues.append(Issue(ERROR, "unknown_unit", message, unit_field.code if unit_field else ""))
    elif not unit:
        issues.append(Issue(ERROR, "no_unit", "Không xác định được đơn vị: ô mã đơn vị bị trống"))
    return Identity(form, unit, period, proof, issues)


def identify_once(raw: RawWorkbook, ctx: Context) -> Identity:
    """``identify``, or what the context already worked out for this very workbook (a copy:
    validation adds to the issues)."""
    if ctx.identified is not None and ctx.identified[0] is raw:
        who = ctx.identified[1]
        return Identity(who.form, who.unit, who.period, who.proof, list(who.issues))
    return identify(raw, ctx)


_UNPROVEN = {
    Proof.MISSING: (
        "Tệp không mang chữ ký của biểu mẫu điền sẵn do cơ quan tổng hợp gửi cho đơn vị {unit} "
        "(tệp lập lại bằng tay, hoặc phần thông tin ẩn đã bị xóa)"
    ),
    Proof.OTHER_KEY: (
        "Chữ ký của biểu mẫu không phải của hệ thống này (biểu mẫu cũ hoặc do nơi khác phát hành); "
        "hãy dùng biểu mẫu mới nhất do cơ quan tổng hợp gửi cho đơn vị {unit}"
    ),
    Proof.INVALID: (
        "Chữ ký của biểu mẫu không khớp với đơn vị {unit} và kỳ ghi trong tệp: phần thông tin ẩn "
        "đã bị sửa, hoặc tệp được chép từ biểu mẫu của đơn vị khác"
    ),
}


def _proof(raw: RawWorkbook, ctx: Context, form: Form, unit: str, period: str) -> Proof:
    """Whether the workbook is provably the template of the unit and period it claims."""
    if ctx.vouched:
        return Proof.VOUCHED
    if ctx.key is None:
        return Proof.OTHER_KEY if raw.meta.get("signature") else Proof.MISSING
    return ctx.key.check(raw.meta, form.id, form.version, unit, period)


def not_a_template(raw: RawWorkbook, form: Form) -> Issue | None:
    """One issue for a workbook that is not this form's template at all (a random workbook, a
    table exported from elsewhere): no template information, nothing where the fields are.

    Why: judged field by field it would get "the period '' is not YEAR-KIND" and a list of
    twenty empty cells, which tells the clerk nothing about what went wrong.
    """
    if raw.meta.get("form_id") or raw.meta.get("form_version"):
        return None
    if any(c.value is not None or c.formula_without_value for c in raw.cells.values()):
        return None
    return Issue(
        ERROR,
        "not_a_template",
        f'Tệp này không phải biểu mẫu báo cáo "{form.title}": không có thông tin của biểu mẫu và'
        f" không ô nào của biểu mẫu có số liệu; {USE_THE_TEMPLATE}",
    )


def missing_sheets(raw: RawWorkbook) -> list[str]:
    """Sheets the fields are on that the workbook does not have (deleted or renamed), in order."""
    if not raw.sheets:  # not known (a reader that does not list them)
        return []
    present = {name.casefold() for name in raw.sheets}
    if all(sheet.casefold() in present for sheet in {cell.sheet for cell in raw.cells.values()}):
        return []  # the usual: every field's sheet is there
    missing: dict[str, str] = {}
    for sheet in dict.fromkeys(cell.sheet for cell in raw.cells.values()):  # each once, in order
        if sheet.casefold() not in present:
            missing.setdefault(sheet.casefold(), sheet)
    return list(missing.values())


def _missing_sheet_issue(sheet: str) -> Issue:
    return Issue(
        ERROR,
        "missing_sheet",
        f"Tệp không có trang tính '{sheet}', nơi nhập số liệu của biểu mẫu (trang đã bị xoá hoặc đổi"
        f" tên); {USE_THE_TEMPLATE}, không xoá hay đổi tên trang này",
        sheet=sheet,
    )


def validate(raw: RawWorkbook, ctx: Context) -> Outcome:
    """Judge one workbook. Never raises for bad data; errors reject, warnings only flag.

    A workbook that is not a template of this form, or a template of another form, gets that
    one issue; a template whose data sheet is gone gets one issue for the sheet instead of one
    per field.
    """
    alien = not_a_template(raw, ctx.catalog.current)
    if alien is not None:
        return Outcome(None, None, None, {}, [alien])
    who = identify_once(raw, ctx)
    form, unit, period, issues = who.form, who.unit, who.period, who.issues
    other = [i for i in issues if i.code == "other_form"]
    if other:
        return Outcome(unit, period.code if period else None, form.version, {}, other, proof=who.proof)
    missing = missing_sheets(raw)
    issues.extend(_missing_sheet_issue(sheet) for sheet in missing)
    gone = {sheet.casefold() for sheet in missing}
    values: dict[str, Any] = {}
    cells, today = raw.cells, ctx.today
    for f in form.fields:
        cell = cells.get(f.code)
        if gone and cell is not None and cell.sheet.casefold() in gone:
            values[f.code] = None  # said once for the whole sheet
            continue
        value, problems = check_field(f, cell, period, today)
        values[f.code] = value
        if problems:
            issues.extend(problems)
    known = ctx.registry.get(unit, ctx.registry.reference_day(period)) if unit and period else None
    level = known.kind if known else "unit"
    issues.extend(check_rules(form, raw, values, period, ctx.history, ctx.period_kinds, level))
    issues.sort(key=lambda i: (i.severity != ERROR,))
    return Outcome(
        unit=unit,
        period=period.code if period else None,
        form_version=form.version,
        values=values,
        issues=issues,
        proof=who.proof,
    )
