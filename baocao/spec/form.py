"""The form spec: fields, sections, types, rules and where each field sits in the template.

A form is declared once in TOML (``forms/*.toml``) and read by the template writer, the reader,
the validator and the consolidator alike; adding a field is an edit of that file and nothing
else. Loading refuses a bad spec with a message naming the field and the problem, because a
broken spec discovered at collection time would reject every unit's file.

Rules are declarative data (a ``kind`` and its parameters) interpreted by ``judge.rules``;
nothing from the file is ever evaluated as code. Fields declare what they are for the engine
(``role``: the unit code, the contact address…) and how a department's own report combines its
units' values (``rollup``), so no code outside ``forms/`` names a field of a particular form.

The cell of every field is computed here (``Form.layout``) from the order of the spec, so the
template writer and the reader's fallback agree by construction.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from baocao.a1 import cell_name
from baocao.errors import FormSpecError
from baocao.model import CellRef

FIELD_TYPES = ("integer", "text", "date", "choice", "email", "phone", "period", "unit")
PREFILLS = ("unit.code", "unit.name", "period.code", "form.version")
# What a field *is* for the engine, so no code outside forms/ names a field of a particular form.
# Identity roles come from the pre-fill (a template says whose it is); the others are declared.
ROLES = ("unit", "unit_name", "period", "version", "contact_email", "preparer", "phone", "prepared_on")
PREFILL_ROLES = {
    "unit.code": "unit",
    "unit.name": "unit_name",
    "period.code": "period",
    "form.version": "version",
}
ROLE_TYPES = {
    "contact_email": ("email",),
    "phone": ("phone",),
    "prepared_on": ("date",),
    "preparer": ("text",),
}
# How a department's own report (its roll-up for the level above) fills a field from its units:
# sum the figures, join the texts per unit, take the value most units gave, take the value only
# when all units agree, or leave it blank for the department's office to fill.
ROLLUPS = ("sum", "join", "most_common", "all_equal", "blank")
# Where a target applies: to each reporting unit's own report, to a department's total, or to
# the province's total (the 2025 plan's "04 tin, bài mỗi tháng" is the department's website).
TARGET_LEVELS = ("unit", "department", "province")
DATE_BOUNDS = (
    "period_start",
    "period_end",
    "year_start",
    "previous_year_start",
    "year_end",
    "today",
)
RULE_PARAMS: dict[str, dict[str, tuple[type, ...]]] = {
    # kind: {param: accepted types}; "field"/"fields" are checked against the form's codes
    "required_if": {"field": (str,), "when": (str,), "equals": (str,)},
    "requires_positive": {"field": (str,), "other": (str,)},
    "warn_if_equals": {"field": (str,), "equals": (str,)},
    "min_per_month": {"field": (str,), "per_month": (int, float), "level": (str,)},
    "outlier": {
        "fields": (str, list),
        "factor": (int, float),
        "min_value": (int,),
        "min_history": (int,),
    },
    "cumulative_not_below": {"fields": (str, list)},
}
RULE_SEVERITY = {
    "required_if": "error",
    "requires_positive": "error",
    "warn_if_equals": "warning",
    "min_per_month": "warning",
    "outlier": "warning",
    "cumulative_not_below": "warning",
}
CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
LOOKS_LIKE_CELL = re.compile(r"^[a-z]{1,3}\d+$")

# Template geometry: the header block above the first section, and the columns used.
FIRST_BODY_ROW = 8  # rows 1-7: national heading, title, period, legend, column headings
LABEL_COLUMN = 1  # B
MEASURE_COLUMN = 2  # C
VALUE_COLUMN = 3  # D


@dataclass(frozen=True)
class Field:
    """One input of the form. ``group`` is the sub-heading it sits under (may be empty)."""

    code: str
    label: str
    type: str
    section: str
    group: str = ""
    required: bool = False
    help: str = ""
    min: int | None = None
    max: int | None = None
    choices: tuple[str, ...] = ()
    min_length: int | None = None
    multiline: bool = False
    prefill: str | None = None
    measure: str = ""
    not_before: str | None = None
    not_after: str | None = None
    role: str | None = None
    rollup: str = "blank"

    @property
    def locked(self) -> bool:
        """Pre-filled header fields are locked in the template; everything else is input."""
        return self.prefill is not None

    @property
    def quantitative(self) -> bool:
        return self.type == "integer"


@dataclass(frozen=True)
class Section:
    code: str
    title: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Rule:
    """A cross-field or history rule; ``params`` holds the kind's parameters as declared."""

    kind: str
    severity: str
    params: dict[str, Any]
    message: str = ""

    @property
    def fields(self) -> tuple[str, ...]:
        """The field codes the rule judges (its issues point at these cells)."""
        return tuple(self.params.get("_fields", ()))

    @property
    def level(self) -> str:
        """Where a target rule applies (``TARGET_LEVELS``); every other rule judges each report."""
        return str(self.params.get("level", "unit"))


@dataclass(frozen=True)
class Form:
    id: str
    version: str
    title: str
    sheet: str
    sections: tuple[Section, ...]
    rules: tuple[Rule, ...]
    instructions: tuple[str, ...] = ()
    source: Path | None = None
    layout: dict[str, CellRef] = field(default_factory=dict)
    rows: tuple[tuple[str, str, str], ...] = ()
    short_title: str = ""

    @property
    def report_name(self) -> str:
        """The report's name in a sentence or an e-mail subject ("Báo cáo tuyên truyền CCHC"):
        ``short_title``, else the title in sentence case."""
        if self.short_title:
            return self.short_title
        return self.title[:1].upper() + self.title[1:].lower()

    @cached_property
    def fields(self) -> tuple[Field, ...]:
        """Every field in form order (kept: validation asks for them for every file)."""
        return tuple(f for s in self.sections for f in s.fields)

    @cached_property
    def _by_code(self) -> dict[str, Field]:
        return {f.code: f for f in self.fields}

    def field(self, code: str) -> Field:
        return self._by_code[code]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.fields)

    @property
    def quantitative_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.quantitative)

    @property
    def text_fields(self) -> tuple[Field, ...]:
        """Free-text assessment fields (multi-line), in form order."""
        return tuple(f for f in self.fields if f.multiline)

    def role(self, name: str) -> Field | None:
        """The field that plays ``name`` (one of ``ROLES``: ``unit``, ``contact_email``…), if any.

        Why: the engine needs "the unit code", "the address feedback goes to", "who prepared
        it" whatever a form calls those fields; the form spec says which field is which.
        """
        if name not in ROLES:
            raise KeyError(name)
        return self._by_role.get(name)

    @cached_property
    def _by_role(self) -> dict[str, Field]:
        """The first field of each role (validation asks for the unit and period of every file)."""
        found: dict[str, Field] = {}
        for f in self.fields:
            if f.role:
                found.setdefault(f.role, f)
        return found

    @property
    def targets(self) -> tuple[Rule, ...]:
        """The target rules (``min_per_month``), each with the level it applies at."""
        return tuple(r for r in self.rules if r.kind == "min_per_month")


# --- loading -------------------------------------------------------------------------------


def _err(where: str, problem: str) -> FormSpecError:
    return FormSpecError(f"Biểu mẫu: {where}: {problem}")


def _nfc(value: Any) -> Any:
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


FIELD_KEYS = {
    "code",
    "label",
    "type",
    "required",
    "help",
    "min",
    "max",
    "choices",
    "min_length",
    "multiline",
    "prefill",
    "measure",
    "not_before",
    "not_after",
    "role",
    "rollup",
}


def _field(raw: Any, section: str, group: str, quantitative: bool, seen: set[str]) -> Field:
    if not isinstance(raw, dict):
        raise _err(f"mục {section}", "mỗi trường phải là một bảng")
    code = raw.get("code")
    where = f"trường '{code}'"
    if not isinstance(code, str) or not CODE_RE.match(code) or LOOKS_LIKE_CELL.match(code):
        raise _err(where, "mã không hợp lệ (chữ thường, số, dấu _, không giống địa chỉ ô)")
    if code in seen:
        raise _err(where, "mã trường bị trùng")
    seen.add(code)
    unknown = set(raw) - FIELD_KEYS
    if unknown:
        raise _err(where, f"khóa không được hỗ trợ: {', '.join(sorted(unknown))}")
    ftype = raw.get("type", "integer" if quantitative else "text")
    if ftype not in FIELD_TYPES:
        raise _err(where, f"kiểu '{ftype}' không được hỗ trợ; cần một trong {', '.join(FIELD_TYPES)}")
    label = _nfc(raw.get("label"))
    if not isinstance(label, str) or not label.strip():
        raise _err(where, "thiếu nhãn (label)")
    choices = tuple(_nfc(c) for c in raw.get("choices", ()))
    if ftype == "choice" and not choices:
        raise _err(where, "trường lựa chọn phải có danh sách choices")
    if choices and ftype != "choice":
        raise _err(where, "chỉ trường kiểu choice mới có choices")
    prefill = raw.get("prefill")
    if prefill is not None and prefill not in PREFILLS:
        raise _err(where, f"prefill '{prefill}' không hợp lệ; cần một trong {', '.join(PREFILLS)}")
    for bound in ("not_before", "not_after"):
        if bound in raw and (ftype != "date" or raw[bound] not in DATE_BOUNDS):
            raise _err(where, f"{bound} chỉ dùng cho trường ngày, với {', '.join(DATE_BOUNDS)}")
    role = raw.get("role", PREFILL_ROLES.get(prefill or ""))
    if role is not None and role not in ROLES:
        raise _err(where, f"role '{role}' không hợp lệ; cần một trong {', '.join(ROLES)}")
    if prefill and role != PREFILL_ROLES[prefill]:
        raise _err(where, f"trường điền sẵn {prefill} có role '{PREFILL_ROLES[prefill]}'")
    if role in PREFILL_ROLES.values() and not prefill:
        raise _err(where, f"role '{role}' chỉ dành cho trường điền sẵn")
    if role in ROLE_TYPES and ftype not in ROLE_TYPES[role]:
        raise _err(where, f"role '{role}' cần kiểu {', '.join(ROLE_TYPES[role])}")
    multiline = bool(raw.get("multiline", False))
    default_rollup = "sum" if ftype == "integer" else "join" if multiline else "blank"
    rollup = raw.get("rollup", default_rollup)
    if rollup not in ROLLUPS:
        raise _err(where, f"rollup '{rollup}' không hợp lệ; cần một trong {', '.join(ROLLUPS)}")
    if (rollup == "sum") != (ftype == "integer") or (rollup == "join" and ftype != "text"):
        raise _err(
            where, "rollup sum chỉ dùng cho chỉ tiêu số (và chỉ tiêu số luôn là sum); join cho văn bản"
        )
    if prefill and rollup != "blank":
        raise _err(where, "trường điền sẵn không có rollup (biểu mẫu của cấp trên tự điền)")
    minimum = raw.get("min", 0 if ftype == "integer" else None)
    maximum = raw.get("max")
    for name, value in (("min", minimum), ("max", maximum), ("min_length", raw.get("min_length"))):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise _err(where, f"{name} phải là số nguyên")
    if minimum is not None and maximum is not None and maximum < minimum:
        raise _err(where, "max nhỏ hơn min")
    return Field(
        code=code,
        label=label.strip(),
        type=ftype,
        section=section,
        group=_nfc(group),
        required=bool(raw.get("required", quantitative and prefill is None)),
        help=_nfc(raw.get("help", "")),
        min=minimum,
        max=maximum,
        choices=choices,
        min_length=raw.get("min_length"),
        multiline=multiline,
        prefill=prefill,
        role=role,
        rollup=rollup,
        measure=_nfc(raw.get("measure", "")),
        not_before=raw.get("not_before"),
        not_after=raw.get("not_after"),
    )


def _section(raw: Any, seen_codes: set[str], seen_sections: set[str]) -> Section:
    if not isinstance(raw, dict) or not isinstance(raw.get("code"), str):
        raise _err("sections", "mỗi mục cần có code")
    code = raw["code"]
    if code in seen_sections:
        raise _err(f"mục '{code}'", "mã mục bị trùng")
    seen_sections.add(code)
    unknown = set(raw) - {"code", "title", "fields", "groups", "quantitative"}
    if unknown:
        raise _err(f"mục '{code}'", f"khóa không được hỗ trợ: {', '.join(sorted(unknown))}")
    quantitative = bool(raw.get("quantitative", False))
    fields = [_field(f, code, "", quantitative, seen_codes) for f in raw.get("fields", [])]
    for group in raw.get("groups", []):
        title = group.get("title", "") if isinstance(group, dict) else ""
        fields += [_field(f, code, title, quantitative, seen_codes) for f in group.get("fields", [])]
    if not fields:
        raise _err(f"mục '{code}'", "không có trường nào")
    return Section(code=code, title=_nfc(raw.get("title", code)), fields=tuple(fields))


def _rule(raw: Any, index: int, fields: dict[str, Field]) -> Rule:
    where = f"quy tắc thứ {index}"
    if not isinstance(raw, dict):
        raise _err(where, "phải là một bảng")
    kind = raw.get("kind")
    if kind not in RULE_PARAMS:
        raise _err(where, f"loại '{kind}' không được hỗ trợ; cần một trong {', '.join(RULE_PARAMS)}")
    allowed = RULE_PARAMS[kind]
    params = {k: v for k, v in raw.items() if k not in ("kind", "message", "severity")}
    for key, value in params.items():
        if key not in allowed:
            raise _err(where, f"khóa '{key}' không dùng cho loại {kind}")
        if isinstance(value, bool) or not isinstance(value, allowed[key]):
            raise _err(where, f"khóa '{key}' có giá trị {value!r} không hợp lệ")
    for key in allowed:
        if key not in params and key not in ("min_value", "min_history", "factor", "level"):
            raise _err(where, f"loại {kind} cần khóa '{key}'")
    for key in ("field", "when", "other"):
        if key in params and params[key] not in fields:
            raise _err(where, f"trường '{params[key]}' không có trong biểu mẫu")
    if "fields" in params:
        names = params["fields"]
        if names == "quantitative":
            names = [c for c, f in fields.items() if f.quantitative]
        elif isinstance(names, str):
            raise _err(where, 'fields phải là "quantitative" hoặc danh sách mã trường')
        for name in names:
            if name not in fields:
                raise _err(where, f"trường '{name}' không có trong biểu mẫu")
            if not fields[name].quantitative:
                raise _err(where, f"trường '{name}' không phải chỉ tiêu số")
        params["_fields"] = list(names)
    else:
        params["_fields"] = [params["field"]]
    if kind in ("requires_positive", "min_per_month") and not fields[params["field"]].quantitative:
        raise _err(where, f"trường '{params['field']}' không phải chỉ tiêu số")
    if params.get("level", "unit") not in TARGET_LEVELS:
        raise _err(where, f"level phải là một trong {', '.join(TARGET_LEVELS)}")
    when = fields.get(params.get("when", ""))
    if when is not None and when.type == "choice" and params["equals"] not in when.choices:
        raise _err(where, f"giá trị '{params['equals']}' không có trong lựa chọn của '{params['when']}'")
    severity = raw.get("severity", RULE_SEVERITY[kind])
    if severity not in ("error", "warning"):
        raise _err(where, "severity phải là error hoặc warning")
    return Rule(kind=kind, severity=severity, params=params, message=_nfc(raw.get("message", "")))


def compute_layout(form: Form) -> tuple[dict[str, CellRef], tuple[tuple[str, str, str], ...]]:
    """Where each field sits, plus the body rows in order as (kind, key, text).

    Row kinds: ``section`` (title), ``group`` (sub-heading), ``field`` (key = code). The
    template writer draws exactly these rows starting at ``FIRST_BODY_ROW``.
    """
    rows: list[tuple[str, str, str]] = []
    layout: dict[str, CellRef] = {}
    for section in form.sections:
        rows.append(("section", section.code, section.title))
        group = ""
        for f in section.fields:
            if f.group and f.group != group:
                group = f.group
                rows.append(("group", section.code, group))
            layout[f.code] = CellRef(form.sheet, cell_name(FIRST_BODY_ROW - 1 + len(rows), VALUE_COLUMN))
            rows.append(("field", f.code, f.label))
    return layout, tuple(rows)


def parse_form(data: dict[str, Any], source: Path | None = None) -> Form:
    """Build and check a ``Form`` from parsed TOML data; raise ``FormSpecError`` when bad."""
    head = data.get("form")
    if not isinstance(head, dict):
        raise _err("[form]", "thiếu bảng [form] với id, version, title")
    unknown = set(head) - {"id", "version", "title", "short_title", "sheet", "instructions"}
    if unknown:
        raise _err("[form]", f"khóa không được hỗ trợ: {', '.join(sorted(unknown))}")
    for key in ("id", "version", "title"):
        if not isinstance(head.get(key), str) or not head[key].strip():
            raise _err(f"[form] {key}", "thiếu hoặc rỗng")
    sheet = head.get("sheet", "BaoCao")
    if not isinstance(sheet, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,30}", sheet):
        raise _err("[form] sheet", "tên trang tính chỉ gồm chữ không dấu, số và _")
    top_unknown = set(data) - {"form", "sections", "rules"}
    if top_unknown:
        raise _err("tệp", f"khóa không được hỗ trợ: {', '.join(sorted(top_unknown))}")
    seen_codes: set[str] = set()
    seen_sections: set[str] = set()
    sections = tuple(_section(s, seen_codes, seen_sections) for s in data.get("sections", []))
    if not sections:
        raise _err("sections", "biểu mẫu không có mục nào")
    by_code = {f.code: f for s in sections for f in s.fields}
    roles: dict[str, str] = {}
    for fld in by_code.values():
        if fld.role is not None and roles.setdefault(fld.role, fld.code) != fld.code:
            raise _err(f"trường '{fld.code}'", f"role '{fld.role}' đã thuộc trường '{roles[fld.role]}'")
    rules = tuple(_rule(r, i, by_code) for i, r in enumerate(data.get("rules", []), start=1))
    form = Form(
        id=head["id"].strip(),
        version=head["version"].strip(),
        title=_nfc(head["title"]),
        sheet=sheet,
        sections=sections,
        rules=rules,
        instructions=tuple(_nfc(x) for x in head.get("instructions", [])),
        source=source,
        short_title=_nfc(str(head.get("short_title", ""))).strip(),
    )
    layout, rows = compute_layout(form)
    object.__setattr__(form, "layout", layout)
    object.__setattr__(form, "rows", rows)
    return form


def load_form(path: str | Path) -> Form:
    """Read a form spec file; raise ``FormSpecError`` naming the file and the problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FormSpecError(f"Không tìm thấy tệp biểu mẫu {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise FormSpecError(f"{path.name}: sai cú pháp TOML: {exc}") from None
    try:
        return parse_form(data, source=path)
    except FormSpecError as exc:
        raise FormSpecError(f"{path.name}: {exc}") from None


@dataclass(frozen=True)
class FormCatalog:
    """The current form and every earlier version of it found beside it.

    Old versions matter because a unit may still send last year's template: the reader needs
    that version's cell addresses, and the validator says "this template is outdated".
    """

    current: Form
    versions: dict[str, Form]

    def get(self, version: str) -> Form | None:
        return self.versions.get(version)

    @property
    def version_field(self) -> str | None:
        """The code of the field holding the form version (its ``version`` role), for the reader."""
        field = self.current.role("version")
        return field.code if field else None

    def layouts(self) -> dict[str, dict[str, CellRef]]:
        """Cell addresses per version, the current version last (the reader's default)."""
        ordered = {v: f.layout for v, f in self.versions.items() if v != self.current.version}
        ordered[self.current.version] = self.current.layout
        return ordered


def load_catalog(path: str | Path) -> FormCatalog:
    """Load the form at ``path`` and any other version of the same form id in its folder."""
    current = load_form(path)
    versions = {current.version: current}
    for other in sorted(Path(path).parent.glob("*.toml")):
        if other.resolve() == Path(path).resolve():
            continue
        try:
            candidate = load_form(other)
        except FormSpecError:
            continue  # a different, broken form in the same folder is not ours to judge
        if candidate.id == current.id and candidate.version not in versions:
            versions[candidate.version] = candidate
    return FormCatalog(current=current, versions=versions)
