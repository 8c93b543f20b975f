"""What the feedback workbook of one judged file says and where it goes.

The marked-up copy of a unit's file is what the clerk opens to fix it, so its first sheet must
answer three questions before the list of cells: what happened, what to do, by when and where.
This module words that (``IssuesPage``) from the deployment and the verdict, and names the file
by unit, period, date and time of arrival (no hash: a clerk reads the name; two files of one
minute get ``-2``, see ``feedback.write_unique``). Collect calls ``feedback_job`` for every file
with issues; the writing is ``feedback``'s.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from baocao.judge.validate import Outcome
from baocao.model import FileRecord, Issue, RawWorkbook, Severity
from baocao.names import inside, printable, safe_name
from baocao.recent import Recent
from baocao.spec.deployment import Deployment
from baocao.spec.form import Form
from baocao.spec.periods import Period, PeriodError
from baocao.workbook.feedback import FeedbackJob, IssuesPage
from baocao.workbook.layout import item_numbers
from baocao.workbook.template import template_context


def feedback_name(unit: str | None, period: str | None, received_at: datetime) -> str:
    """``DT_TTRA_2025-Q1_phan-hoi_20250307-0800.xlsx``: whose, which period, when it came. The unit
    code comes from a cell the unit typed: ``names.safe_name`` keeps it a plain file name."""
    who = f"{safe_name(unit or '', 'khong-ro-don-vi', 40)}_{safe_name(period or '', 'khong-ro-ky', 20)}"
    return safe_name(f"{who}_phan-hoi_{received_at:%Y%m%d-%H%M}.xlsx")


def issues_page(
    dep: Deployment,
    *,
    original_name: str,
    received_at: datetime,
    accepted: bool,
    errors: int,
    notes: int,
    unit: str | None,
    period: Period | None,
    locked: bool = False,
) -> IssuesPage:
    """The title and the lines on what to do, by when and where, above the list of cells."""
    form, s = dep.form, dep.settings
    registered = dep.registry.get(unit, dep.registry.reference_day(period)) if unit and period else None
    when = f"{received_at:%H:%M} ngày {received_at:%d/%m/%Y}"
    due = dep.due_text(registered, period) if registered and period else "sớm nhất có thể"
    where = f"{due} vào: {s.submit_to}" if s.submit_to else due
    about = f"{form.report_name} {period.name}" if period else form.report_name
    who = f" – {registered.name}" if registered else ""
    intro: tuple[str, ...]
    if locked:
        title = f"{about}{who}: ĐÃ LƯU, KHÔNG THAY THẾ BÁO CÁO ĐÃ TIẾP NHẬN"
        intro = (
            f"Tệp “{original_name}” nhận lúc {when} được lưu lại nhưng không thay thế báo cáo đã tiếp "
            "nhận: kỳ báo cáo đã khóa sổ.",
            f"Nếu cần sửa số liệu, xin liên hệ {s.contact}.",
        )
        return IssuesPage(title, True, intro, form.sheet, _numbers(form))
    if accepted:
        title = f"{about}{who}: ĐÃ TIẾP NHẬN (có {notes} lưu ý)"
        intro = (
            f"Tệp “{original_name}” nhận lúc {when} đã được tiếp nhận. Có {notes} điểm cần lưu ý "
            f"(ô tô màu cam, có ghi chú), không bắt buộc sửa.",
            f"Nếu số liệu chưa đúng: sửa ngay trong tệp này, lưu lại và gửi {where}. "
            "Bản gửi sau thay thế bản gửi trước.",
        )
    else:
        title = f"{about}{who}: BỊ TRẢ LẠI ({errors} lỗi)"
        intro = (
            f"Tệp “{original_name}” nhận lúc {when} chưa được tiếp nhận: còn {errors} lỗi, tô màu đỏ "
            f"trong trang {form.sheet}, có ghi chú. Bấm vào địa chỉ ô ở cột “Ô” để tới ô đó.",
            "Sửa các ô đó ngay trong tệp này rồi lưu lại (dạng .xlsx); không cần xóa trang này.",
            f"Gửi lại {where}. Bản gửi sau thay thế bản gửi trước.",
        )
    return IssuesPage(title, accepted, intro, form.sheet, _numbers(form))


# by the form's id, the form held with its numbers (so the id stays its own): hashing a whole
# form per feedback workbook would cost more than what is kept
_NUMBERS: Recent[int, tuple[Form, dict[str, str]]] = Recent(16)


def _numbers(form: Form) -> dict[str, str]:
    """``item_numbers(form)``, worked out once per form, not once per feedback workbook."""
    kept = _NUMBERS.find(id(form))
    if kept is None or kept[0] is not form:
        kept = (form, item_numbers(form))
        _NUMBERS.put(id(form), kept)
    return kept[1]


def feedback_job(
    dep: Deployment,
    rec: FileRecord,
    raw: RawWorkbook,
    outcome: Outcome,
    source: Path,
    issues: list[Issue] | None = None,
) -> FeedbackJob:
    """What it takes to write the marked-up workbook for a file with issues.

    ``source`` is the archived copy; ``issues`` what the file is answered with (the outcome's,
    unless the caller added one, such as "the period is closed").
    """
    issues = outcome.issues if issues is None else issues
    tz = dep.settings.timezone
    received = rec.received_at.astimezone(tz)
    period: Period | None = None
    if outcome.period:
        try:
            period = dep.period(outcome.period)
        except PeriodError:
            period = None
    errors = sum(1 for i in issues if i.severity == Severity.ERROR)
    page = issues_page(
        dep,
        # the name is shown in a cell: control characters would make openpyxl refuse the workbook
        original_name=printable(rec.original_name),
        received_at=received,
        accepted=outcome.accepted,
        errors=errors,
        notes=len(issues) - errors,
        unit=outcome.filed_under,  # a file that proves no unit is not worded as that unit's
        period=period,
        locked=any(i.code == "period_locked" for i in issues),
    )
    rebuild = None
    # only a file openpyxl cannot write back (.xls, .ods, Strict .xlsx) needs a fresh template; it
    # is signed, so only a file that proved whose it is gets one (else it would mint signed templates)
    proven = outcome.proof.proven and outcome.filed_under is not None
    if proven and outcome.unit and period and raw.format not in ("xlsx", "xlsm"):
        unit = dep.registry.get(outcome.unit, dep.registry.reference_day(period))
        if unit is not None:
            form = dep.catalog.get(outcome.form_version or "") or dep.form
            rebuild = (template_context(dep, unit, period), form)
    name = feedback_name(outcome.unit, outcome.period, received)
    # what was read is needed only to rebuild a template or to tell Strict .xlsx: an .xlsx/.xlsm
    # is marked up from its archived copy alone, and the job goes to a worker lighter by half
    kept = raw if rebuild is not None or raw.format not in ("xlsx", "xlsm") else None
    # one check that the path stays inside the feedback folder (its period's folder and the name
    # are each a ``safe_name``): resolving it once, not the folder and then the name within it
    out = inside(dep.settings.path("feedback"), outcome.period or "khong-ro-ky", name)
    return FeedbackJob(rec.original_name, source, kept, issues, out, page, rebuild)
