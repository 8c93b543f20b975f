"""The unit registry: who reports, to whom, from when to when.

Coordinators keep it as a CSV (UTF-8, Excel can open and save it) or an XLSX with the columns
``code, name, parent, kind, email, valid_from, valid_to, successor``. A unit may have several
rows with different validity intervals: that is how a renamed or re-parented unit is recorded
without losing its history, so 2024 periods consolidate with the 2024 structure and 2025
periods with the 2025 one. ``successor`` names the unit that took over a closed or merged unit,
which lets comparisons with earlier periods follow it.

A unit *reports* in a period when it is valid on the period's last on-time day and has no
active children: leaves report, departments and the province consolidate. A department whose
children are not in this registry (it runs its own baocao) therefore reports itself, with its
roll-up file.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from baocao.errors import ConfigError
from baocao.spec.addresses import AddressError, sendable
from baocao.spec.periods import Period
from baocao.spec.registry_file import cell_text, read_rows

KINDS = ("province", "department", "unit")
COLUMNS = ("code", "name", "parent", "kind", "email", "valid_from", "valid_to", "successor")
CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class Unit:
    """One row of the registry: a unit as it was during ``valid_from``..``valid_to``.

    Slots, and the registry's loader shares what rows repeat (codes, kinds, days): a province
    has 10,000 of them and every stage holds them all (1.3 KB a unit before, issue 13).
    """

    code: str
    name: str
    parent: str | None
    kind: str
    email: str
    valid_from: date | None = None
    valid_to: date | None = None
    successor: str | None = None

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "name": self.name,
            "parent": self.parent,
            "kind": self.kind,
            "email": self.email,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "successor": self.successor,
        }


class Registry:
    """All rows of the registry, answering questions for a given day or period."""

    def __init__(self, units: list[Unit], bad_addresses: Mapping[str, str] | None = None):
        self.units = tuple(units)
        # unit code -> why the address on its row was left out (the unit is kept, without one)
        self.bad_addresses: dict[str, str] = dict(bad_addresses or {})
        # rows per code and the day-lists asked for: a 10,000-unit registry is asked about every
        # unit once per file, so these lookups must not scan the whole registry each time
        by_code: dict[str, list[Unit]] = {}
        for unit in self.units:
            by_code.setdefault(unit.code, []).append(unit)
        self._by_code: dict[str, tuple[Unit, ...]] = {code: tuple(rows) for code, rows in by_code.items()}
        self._on_cache: dict[date, list[Unit]] = {}
        self._children_cache: dict[date, dict[str, list[Unit]]] = {}

    @staticmethod
    def reference_day(period: Period) -> date:
        """The day the structure is read for a period: its last on-time day."""
        return period.last_on_time_day()

    def on(self, day: date) -> list[Unit]:
        """Every unit valid on ``day``, in registry order."""
        if day not in self._on_cache:
            self._on_cache[day] = [u for u in self.units if u.valid_on(day)]
        return list(self._on_cache[day])

    def get(self, code: str, day: date) -> Unit | None:
        return next((u for u in self._by_code.get(code, ()) if u.valid_on(day)), None)

    def latest(self, code: str) -> Unit | None:
        """The most recent row of ``code`` whatever the day (for names of closed units)."""
        rows = self._by_code.get(code, ())
        return max(rows, key=lambda u: u.valid_from or date.min) if rows else None

    def active_units(self, period: Period) -> list[Unit]:
        """Every unit (province, departments, units) that exists for ``period``."""
        return self.on(self.reference_day(period))

    def reporting_units(self, period: Period, under: str | None = None) -> list[Unit]:
        """The units that must submit a report for ``period``: active leaves.

        ``under`` restricts to the subtree of one unit (a department's own consolidation).
        """
        active = self.active_units(period)
        parents = {u.parent for u in active}
        leaves = [u for u in active if u.kind != "province" and u.code not in parents]
        if under is None:
            return leaves
        inside = {u.code for u in self.subtree(under, self.reference_day(period))}
        return [u for u in leaves if u.code in inside]

    def children(self, code: str, day: date) -> list[Unit]:
        if day not in self._children_cache:
            index: dict[str, list[Unit]] = {}
            for unit in self.on(day):
                if unit.parent:
                    index.setdefault(unit.parent, []).append(unit)
            self._children_cache[day] = index
        return list(self._children_cache[day].get(code, ()))

    def subtree(self, code: str, day: date) -> list[Unit]:
        """``code`` and everything below it on ``day`` (depth first, registry order)."""
        root = self.get(code, day)
        if root is None:
            return []
        out = [root]
        for child in self.children(code, day):
            out.extend(self.subtree(child.code, day))
        return out

    def group_of(self, code: str, day: date) -> Unit | None:
        """The department a unit belongs to on ``day`` (itself if it is one, None at the top)."""
        unit = self.get(code, day)
        seen: set[str] = set()
        while unit is not None and unit.kind == "unit" and unit.parent and unit.code not in seen:
            seen.add(unit.code)
            unit = self.get(unit.parent, day)
        return unit if unit is not None and unit.kind != "province" else None

    def reports_to(self, code: str, day: date) -> str | None:
        """The kind of the level ``code`` reports to on ``day`` (its parent's kind: ``department``
        or ``province``), which picks its deadline; None for the top or an unknown unit."""
        unit = self.get(code, day)
        parent = self.get(unit.parent, day) if unit is not None and unit.parent else None
        return parent.kind if parent is not None else None

    def root(self, day: date) -> Unit | None:
        return next((u for u in self.on(day) if u.parent is None), None)

    def successors(self, code: str) -> list[str]:
        """``code`` followed by the chain of units that took it over (cycle-safe)."""
        chain = [code]
        current = self.latest(code)
        while current is not None and current.successor and current.successor not in chain:
            chain.append(current.successor)
            current = self.latest(current.successor)
        return chain


# --- loading -------------------------------------------------------------------------------


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _parse_date(value: object, where: str, days: dict[date, date] | None = None) -> date | None:
    """The day in a cell (a date, or its text in either form); ``days`` shares equal days."""
    day = _day_in(value, where)
    return day if day is None or days is None else days.setdefault(day, day)


def _day_in(value: object, where: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if _ISO_DAY.fullmatch(text):  # the usual cell: what strptime's "%Y-%m-%d" reads, ~20x cheaper
        with contextlib.suppress(ValueError):  # 2025-02-30: refused below with the message
            return date.fromisoformat(text)
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ConfigError(f"{where}: ngày {text!r} không hợp lệ; cần dạng dd/mm/yyyy hoặc yyyy-mm-dd")


def _clean(value: object) -> str:
    return cell_text(value)


def _unit_from_row(
    row: dict[str, object], where: str, days: dict[date, date], bad_addresses: dict[str, str]
) -> Unit:
    """One registry row as a ``Unit``; codes and kinds interned (a parent's code is its own
    row's string), equal days shared through ``days``.

    An address that cannot be sent to is left out and the reason put in ``bad_addresses`` (by
    unit code) rather than refusing the registry: it is the unit's contact, not its place in the
    structure, and one typo must not stop collect, reminders and summaries for every unit."""
    code = sys.intern(_clean(row.get("code")))
    if not CODE_RE.match(code):
        raise ConfigError(f"{where}: mã đơn vị {code!r} không hợp lệ; cần chữ in hoa, số, _ hoặc -")
    name = _clean(row.get("name"))
    if not name:
        raise ConfigError(f"{where}: đơn vị {code} thiếu tên")
    kind = sys.intern(_clean(row.get("kind")).lower())
    if kind not in KINDS:
        raise ConfigError(f"{where}: loại {kind!r} của {code} không hợp lệ; cần {', '.join(KINDS)}")
    email = _clean(row.get("email"))
    if email:
        try:
            sendable(email)
        except AddressError as exc:
            bad_addresses[code] = (
                f"{where}: thư điện tử {email!r} của {code} không hợp lệ: {exc}; "
                "đơn vị này không nhận được thư cho tới khi sửa danh mục"
            )
            email = ""
    parent, successor = _clean(row.get("parent")), _clean(row.get("successor"))
    unit = Unit(
        code=code,
        name=name,
        parent=sys.intern(parent) if parent else None,
        kind=kind,
        email=email,
        valid_from=_parse_date(row.get("valid_from"), where, days),
        valid_to=_parse_date(row.get("valid_to"), where, days),
        successor=sys.intern(successor) if successor else None,
    )
    if unit.valid_from and unit.valid_to and unit.valid_to < unit.valid_from:
        raise ConfigError(f"{where}: {code} có valid_to trước valid_from")
    return unit


def _check_consistency(units: list[Unit], source: str) -> None:
    codes = {u.code for u in units}
    for unit in units:
        if unit.parent and unit.parent not in codes:
            raise ConfigError(
                f"{source}: đơn vị {unit.code} có đơn vị cấp trên {unit.parent} không có trong danh mục"
            )
        if unit.successor and unit.successor not in codes:
            raise ConfigError(
                f"{source}: đơn vị {unit.code} có đơn vị kế thừa {unit.successor} không có trong danh mục"
            )
    by_code: dict[str, list[Unit]] = {}
    for unit in units:
        by_code.setdefault(unit.code, []).append(unit)
    for code, rows in by_code.items():
        rows.sort(key=lambda u: u.valid_from or date.min)
        for a, b in itertools.pairwise(rows):
            if a.valid_to is None or (b.valid_from is not None and b.valid_from <= a.valid_to):
                raise ConfigError(f"{source}: đơn vị {code} có hai dòng với thời gian hiệu lực chồng nhau")


def load_registry(path: str | Path) -> Registry:
    """Load the registry from CSV or XLSX; raise ``ConfigError`` naming the row on bad data."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Không tìm thấy danh mục đơn vị {path}")
    if path.suffix.lower() not in (".csv", ".xlsx", ".xlsm"):
        raise ConfigError(f"Danh mục đơn vị {path.name}: cần tệp .csv hoặc .xlsx")
    rows = read_rows(path)
    if rows:
        missing = [c for c in ("code", "name", "kind") if c not in rows[0][1]]
        if missing:
            raise ConfigError(
                f"{path.name}: thiếu cột {', '.join(missing)}; cần các cột {', '.join(COLUMNS)}"
                f" (dòng đầu tiên có: {', '.join(rows[0][1]) or 'không có gì'})"
            )
    days: dict[date, date] = {}
    bad_addresses: dict[str, str] = {}
    units = [_unit_from_row(row, f"{path.name} dòng {line}", days, bad_addresses) for line, row in rows]
    del rows  # the cells read (a dict per row) are not kept while the registry is checked
    if not units:
        raise ConfigError(f"Danh mục đơn vị {path.name} không có đơn vị nào")
    _check_consistency(units, path.name)
    _check_cycles(units, path.name)
    return Registry(units, bad_addresses)


def _check_cycles(units: list[Unit], source: str) -> None:
    """Refuse parent links that loop (on any day: the structure changes on validity dates) and
    successors that loop. Why: a unit in a loop has a child, so it is never a leaf that
    reports, and it is under no province: it would silently vanish from every list."""
    days = sorted(
        {date.min}
        | {u.valid_from for u in units if u.valid_from}
        | {u.valid_to + timedelta(days=1) for u in units if u.valid_to and u.valid_to < date.max}
    )
    for day in days:
        parents = {u.code: u.parent for u in units if u.valid_on(day) and u.parent}
        loop = _loop(parents)
        if loop:
            when = "" if day == date.min else f" (từ ngày {day:%d/%m/%Y})"
            raise ConfigError(
                f"{source}: cấp trên của các đơn vị tạo thành vòng lặp {' → '.join(loop)}{when}; mỗi đơn vị"
                " phải có một chuỗi cấp trên dẫn tới đơn vị cấp tỉnh, hãy sửa cột parent"
            )
    successors = {u.code: u.successor for u in units if u.successor}
    loop = _loop(successors)
    if loop:
        raise ConfigError(
            f"{source}: đơn vị kế thừa tạo thành vòng lặp {' → '.join(loop)}; một đơn vị không thể kế thừa"
            " đơn vị đã kế thừa nó, hãy sửa cột successor"
        )


def _loop(links: dict[str, str]) -> list[str]:
    """The first cycle in a code -> code mapping, as ``[A, B, A]``; ``[]`` when there is none."""
    done: set[str] = set()
    for start in links:
        path: list[str] = []
        seen: dict[str, int] = {}
        code: str | None = start
        while code is not None and code not in done:
            if code in seen:
                return [*path[seen[code] :], code]
            seen[code] = len(path)
            path.append(code)
            code = links.get(code)
        done.update(path)
    return []
