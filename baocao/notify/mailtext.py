"""Composing the e-mails baocao sends: pure functions from plain data to ``OutgoingMessage``.

Why a separate module: the wording of a reminder or a rejection is what units actually read,
and it changes more often than the SMTP plumbing. Everything here is pure (no clock, no
network, no files), so every text can be tested by value. ``baocao.mail`` turns an
``OutgoingMessage`` into RFC 5322 bytes and delivers it.

Each message is written once as a list of small blocks (paragraph, list, table) and rendered
twice, to plain text and to HTML, so the two parts never drift apart and HTML escaping happens
in exactly one place. Text that comes from units or file names (unit names, original file
names, issue messages) is flattened to one line and stripped of control characters before it
is used anywhere, so it can never start a new header line or a new paragraph.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from baocao.model import Issue, Severity

MAX_LISTED_ISSUES = 50  # a workbook with 800 errors must not produce an 800-line e-mail
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message; ``mimetype`` like ``application/vnd.ms-excel``."""

    filename: str
    content: bytes
    mimetype: str = "application/octet-stream"


@dataclass(frozen=True)
class OutgoingMessage:
    """One composed message, before it is turned into bytes or sent.

    ``kind`` is ``reminder``, ``feedback`` or ``summary``; ``unit`` is the unit code for unit
    messages and ``None`` for summaries. ``text`` and ``html`` are the two alternative parts.
    """

    kind: str
    period: str
    unit: str | None
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()


# --- cleaning and formatting ----------------------------------------------------------------


def one_line(value: object) -> str:
    """NFC text on one line: control, format (bidi overrides) and line-separator characters
    become spaces and runs of whitespace collapse. Safe for a header or a list item."""
    text = unicodedata.normalize("NFC", str(value))
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    return _SPACES.sub(" ", text).strip()


def vn_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def vn_number(value: int) -> str:
    """Vietnamese thousands separator: 12345 -> ``12.345``."""
    return f"{value:,}".replace(",", ".")


def days_left_phrase(deadline: date, today: date) -> str:
    days = (deadline - today).days
    if days > 0:
        return f"còn {days} ngày"
    if days == 0:
        return "hạn cuối là hôm nay"
    return f"đã quá hạn {-days} ngày"


# --- blocks and their two renderings ----------------------------------------------------------


@dataclass(frozen=True)
class Para:
    text: str  # may contain "\n" for a line break (signature); never unit text with breaks
    small: bool = False


@dataclass(frozen=True)
class Items:
    items: tuple[str, ...]
    ordered: bool = False
    title: str = ""  # the lead-in line ("Cách gửi báo cáo:"), kept next to its list


@dataclass(frozen=True)
class Table:
    caption: str
    rows: tuple[tuple[str, str], ...]


Block = Para | Items | Table


def render_text(blocks: Iterable[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Para):
            out.append(block.text)
        elif isinstance(block, Items):
            lines = (
                f"  {f'{n}.' if block.ordered else '-'} {item}" for n, item in enumerate(block.items, start=1)
            )
            out.append("\n".join([block.title, *lines] if block.title else lines))
        else:
            width = max((len(label) for label, _ in block.rows), default=0)
            rows = [f"  {label.ljust(width)}  {value}" for label, value in block.rows]
            out.append("\n".join([block.caption, *rows]))
    return "\n\n".join(out) + "\n"


def _html_block(block: Block) -> str:
    esc = html.escape
    if isinstance(block, Para):
        style = ' style="color:#666;font-size:smaller"' if block.small else ""
        return f"<p{style}>" + esc(block.text).replace("\n", "<br>\n") + "</p>"
    if isinstance(block, Items):
        tag = "ol" if block.ordered else "ul"
        items = "".join(f"<li>{esc(item)}</li>\n" for item in block.items)
        title = f"<p>{esc(block.title)}</p>\n" if block.title else ""
        return f"{title}<{tag}>\n{items}</{tag}>"
    cell = 'style="border:1px solid #999;padding:2px 8px"'
    rows = "".join(
        f'<tr><td {cell}>{esc(label)}</td><td {cell} align="right">{esc(value)}</td></tr>\n'
        for label, value in block.rows
    )
    return (
        '<table style="border-collapse:collapse">\n'
        f'<caption style="text-align:left;font-weight:bold">{esc(block.caption)}</caption>\n'
        f"{rows}</table>"
    )


def render_html(blocks: Iterable[Block]) -> str:
    body = "\n".join(_html_block(block) for block in blocks)
    return (
        '<!DOCTYPE html>\n<html lang="vi">\n<head><meta charset="utf-8"></head>\n'
        '<body style="font-family:Arial,sans-serif;font-size:14px">\n'
        f"{body}\n</body>\n</html>\n"
    )


def _signature(org_name: str) -> Para:
    return Para(f"Trân trọng,\n{org_name}")


def _footer(unit_code: str | None, period_code: str) -> Para:
    unit = f"mã đơn vị {unit_code}, " if unit_code else ""
    return Para(
        f"Thư này được gửi tự động từ hệ thống tổng hợp báo cáo ({unit}kỳ {period_code}).",
        small=True,
    )


def _message(
    kind: str,
    period: str,
    unit: str | None,
    to: Sequence[str],
    subject: str,
    blocks: Sequence[Block],
    attachments: Iterable[Attachment],
) -> OutgoingMessage:
    recipients = tuple(dict.fromkeys(one_line(addr) for addr in to if one_line(addr)))
    return OutgoingMessage(
        kind=kind,
        period=one_line(period),
        unit=one_line(unit) if unit is not None else None,
        to=recipients,
        subject=one_line(subject),
        text=render_text(blocks),
        html=render_html(blocks),
        attachments=tuple(attachments),
    )


# --- the three kinds of message ---------------------------------------------------------------


def compose_reminder(
    *,
    org_name: str,
    unit_code: str,
    unit_name: str,
    email: str,
    period_code: str,
    period_name: str,
    deadline: date,
    today: date,
    template: Attachment | None,
    inbox_hint: str,
) -> OutgoingMessage:
    """A reminder to a unit that has not reported yet.

    ``deadline`` is the last on-time day (for "trước ngày 10/3" that is 09/03);
    ``inbox_hint`` says where to save the file (a shared folder path or an address).
    """
    org, unit, period = one_line(org_name), one_line(unit_name), one_line(period_name)
    when = f"{vn_date(deadline)} ({days_left_phrase(deadline, today)})"
    prefilled = "(đã điền sẵn tên đơn vị và kỳ báo cáo)"
    if template is not None:
        step_one = f"Mở tệp mẫu đính kèm “{one_line(template.filename)}” {prefilled}."
    else:
        step_one = f"Mở tệp mẫu báo cáo {period} của đơn vị {prefilled}."
    blocks: list[Block] = [
        Para(f"Kính gửi: {unit}"),
        Para(
            f"{org} trân trọng đề nghị {unit} gửi báo cáo {period}. Hạn gửi báo cáo là ngày "
            f"{when}. Đến nay hệ thống chưa nhận được báo cáo của đơn vị."
        ),
        Items(
            (
                step_one,
                "Nhập số liệu vào các ô còn trống; không đổi tên hoặc xóa các trang tính.",
                f"Lưu tệp và gửi vào: {one_line(inbox_hint)}.",
            ),
            ordered=True,
            title="Cách gửi báo cáo:",
        ),
        Para("Nếu đơn vị đã gửi báo cáo, xin vui lòng bỏ qua thư này."),
        _signature(org),
        _footer(unit_code, period_code),
    ]
    subject = f"[Nhắc báo cáo] {period} – hạn {when}"
    attachments = (template,) if template is not None else ()
    return _message("reminder", period_code, unit_code, (email,), subject, blocks, attachments)


def issue_line(issue: Issue) -> str:
    """``[Lỗi] BaoCao!D14: Ô bắt buộc chưa nhập`` — one line, whatever the message held."""
    label = "Lỗi" if issue.severity == Severity.ERROR else "Lưu ý"
    where = one_line(issue.location)
    message = one_line(issue.message)
    return f"[{label}] {where}: {message}" if where else f"[{label}] {message}"


def _issue_items(issues: Sequence[Issue]) -> Items:
    ordered = sorted(issues, key=lambda i: i.severity != Severity.ERROR)  # stable: errors first
    lines = [issue_line(issue) for issue in ordered[:MAX_LISTED_ISSUES]]
    if len(ordered) > MAX_LISTED_ISSUES:
        rest = len(ordered) - MAX_LISTED_ISSUES
        lines.append(f"… và {rest} mục khác (xem đầy đủ trong tệp phản hồi đính kèm).")
    return Items(tuple(lines))


def compose_feedback(
    *,
    org_name: str,
    unit_code: str | None,
    unit_name: str,
    email: str,
    period_code: str,
    period_name: str,
    original_name: str,
    accepted: bool,
    issues: Sequence[Issue],
    feedback_workbook: Attachment | None,
) -> OutgoingMessage:
    """The answer to one submission: accepted (perhaps with warnings) or rejected.

    Issues are listed errors first with their cell (``BaoCao!D14``); the feedback workbook,
    when given, is attached so the unit can see every issue next to its cell. Without a unit
    (``unit_code`` None: a file tied to no unit) it is addressed to whoever prepared the file.
    """
    org, period = one_line(org_name), one_line(period_name)
    unit = one_line(unit_name) or "người lập báo cáo"
    n_errors = sum(1 for i in issues if i.severity == Severity.ERROR)
    n_warnings = len(issues) - n_errors
    received = Para(f"{org} đã nhận tệp “{one_line(original_name)}” – báo cáo {period} của đơn vị.")
    if accepted:
        note = f" ({n_warnings} lưu ý)" if n_warnings else ""
        subject = f"[Đã tiếp nhận] Báo cáo {period} – {unit}{note}"
        verdict = (
            f"Báo cáo đã được tiếp nhận. Có {n_warnings} điểm cần lưu ý dưới đây; nếu số liệu "
            "chưa đúng, đơn vị sửa và gửi lại tệp (bản gửi sau sẽ thay thế bản trước)."
            if issues
            else "Báo cáo đã được tiếp nhận, không phát hiện lỗi. Cảm ơn đơn vị."
        )
    else:
        note = f" ({n_errors} lỗi cần sửa)" if n_errors else ""
        subject = f"[Báo cáo bị trả lại] {period} – {unit}{note}"
        verdict = (
            f"Báo cáo CHƯA được tiếp nhận do còn {n_errors} lỗi. Đề nghị đơn vị sửa các ô nêu "
            "dưới đây và gửi lại toàn bộ tệp báo cáo đã sửa."
        )
    blocks: list[Block] = [Para(f"Kính gửi: {unit}"), received, Para(verdict)]
    if issues:
        blocks.append(_issue_items(issues))
    if feedback_workbook is not None and issues:
        blocks.append(Para("Tệp phản hồi đính kèm liệt kê đầy đủ các lỗi và lưu ý."))
    blocks += [_signature(org), _footer(unit_code, period_code)]
    attachments = (feedback_workbook,) if feedback_workbook is not None else ()
    return _message("feedback", period_code, unit_code, (email,), subject, blocks, attachments)


def compose_held(
    *,
    org_name: str,
    unit_code: str | None,
    unit_name: str,
    email: str,
    period_code: str,
    period_name: str,
    original_name: str,
    issues: Sequence[Issue],
) -> OutgoingMessage:
    """The notice that a file naming a unit was held: it does not prove it is that unit's template.

    Sent to the unit's registered address (someone may be sending files in its name) and to the
    address typed in the file. Nothing was replaced; the coordinator decides.
    """
    org, period = one_line(org_name), one_line(period_name)
    unit = one_line(unit_name) or "người lập báo cáo"
    code = one_line(unit_code or "")
    reasons = [i for i in issues if i.code == "unverified_identity"] or list(issues)[:1]
    blocks: list[Block] = [
        Para(f"Kính gửi: {unit}"),
        Para(
            f"{org} đã nhận tệp “{one_line(original_name)}” ghi là báo cáo {period} của đơn vị "
            f"{unit} (mã {code}). Tệp không chứng minh được là lập từ biểu mẫu điền sẵn do {org} "
            "gửi cho đơn vị, nên đang được giữ lại chờ xác minh: chưa được tính và không thay thế "
            "báo cáo nào đã nộp."
        ),
        _issue_items(reasons),
        Items(
            (
                "Nếu đơn vị đã gửi tệp này: hãy điền và gửi lại bằng biểu mẫu điền sẵn của đơn vị "
                "(tệp đính kèm thư nhắc hạn), hoặc liên hệ bộ phận tổng hợp để xác nhận tệp.",
                f"Nếu đơn vị KHÔNG gửi tệp này: xin báo ngay cho {org}.",
            ),
            title="Đề nghị đơn vị:",
        ),
        _signature(org),
        _footer(unit_code, period_code),
    ]
    subject = f"[Chờ xác minh] Tệp báo cáo {period} mang tên {unit}"
    return _message("held", period_code, unit_code, (email,), subject, blocks, ())


def compose_summary(
    *,
    org_name: str,
    recipients: Sequence[str],
    period_code: str,
    period_name: str,
    final: bool,
    made_at: datetime,
    expected: int,
    reported: int,
    on_time: int,
    late: int,
    rejected: int,
    missing: int,
    headline_totals: Sequence[tuple[str, int]],
    missing_units: Sequence[str],
    attachments: Sequence[Attachment],
) -> OutgoingMessage:
    """The summary for coordinators: completeness, headline totals, who is missing.

    ``final`` marks the summary made after the deadline (official figures); before it the
    figures are provisional and the text says so.
    """
    org, period = one_line(org_name), one_line(period_name)
    status = "số liệu chính thức" if final else "số liệu tạm thời"
    made = f"{made_at.strftime('%H:%M')} ngày {vn_date(made_at.date())}"
    caveat = (
        "Đây là số liệu chính thức, lập sau khi hết hạn báo cáo."
        if final
        else "Đây là số liệu tạm thời, lập trước hạn báo cáo; các báo cáo nhận sau thời điểm "
        "này chưa được tính."
    )
    completeness = Table(
        "Tình hình gửi báo cáo",
        (
            ("Số đơn vị phải báo cáo", vn_number(expected)),
            ("Đã báo cáo (được tiếp nhận)", vn_number(reported)),
            ("– trong đó đúng hạn", vn_number(on_time)),
            ("– trong đó trễ hạn", vn_number(late)),
            ("Bị trả lại, chưa gửi lại bản đạt", vn_number(rejected)),
            ("Chưa báo cáo", vn_number(missing)),
        ),
    )
    blocks: list[Block] = [
        Para("Kính gửi: Bộ phận tổng hợp báo cáo"),
        Para(f"Hệ thống gửi bảng tổng hợp báo cáo {period}, lập lúc {made}. {caveat}"),
        completeness,
    ]
    if headline_totals:
        rows = tuple((one_line(label), vn_number(value)) for label, value in headline_totals)
        blocks.append(Table("Một số chỉ tiêu chính", rows))
    if missing_units:
        names = tuple(one_line(name) for name in missing_units)
        blocks.append(Items(names, title=f"Đơn vị chưa báo cáo ({len(names)}):"))
    else:
        blocks.append(Para("Tất cả đơn vị đã gửi báo cáo."))
    if attachments:
        files = tuple(one_line(a.filename) for a in attachments)
        blocks.append(Items(files, title="Tệp đính kèm:"))
    blocks += [_signature(org), _footer(None, period_code)]
    subject = f"[Tổng hợp] {period} – {status}: {reported}/{expected} đơn vị đã báo cáo"
    return _message("summary", period_code, None, recipients, subject, blocks, attachments)
