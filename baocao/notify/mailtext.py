"""Composing the e-mails baocao sends: pure functions from plain data to ``OutgoingMessage``.

Why a separate module: the wording of a reminder or a rejection is what units actually read,
and it changes more often than the SMTP plumbing. Everything here is pure (no clock, no
network, no files), so every text can be tested by value. ``baocao.mail`` turns an
``OutgoingMessage`` into RFC 5322 bytes and delivers it.

Every message fits what happened to its reader: a unit that sent nothing gets the blank
template; a unit whose file was returned is told so and gets its own marked file back; an
accepted file gets a receipt; a rejection says what to fix, by when and where to send it. Every
subject names the report and gives the deadline in one wording (``Period.due_text``: "trước ngày
10/03/2025"), the same as the template; every message ends with a person to call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

from baocao.model import Issue, Severity
from baocao.notify.blocks import (
    Block,
    Items,
    Para,
    Table,
    days_left_phrase,
    one_line,
    render_html,
    render_text,
    vn_date,
    vn_number,
)
from baocao.notify.message import Attachment, Due, Letterhead, OutgoingMessage, Recipient, Returned, SentFile

__all__ = [
    "Attachment",
    "Due",
    "Letterhead",
    "OutgoingMessage",
    "Recipient",
    "Returned",
    "SentFile",
    "compose_feedback",
    "compose_held",
    "compose_receipt",
    "compose_reminder",
    "compose_summary",
    "issue_line",
    "one_line",
]

MAX_LISTED_ISSUES = 50  # a workbook with 800 errors must not produce an 800-line e-mail
MAX_REMINDER_ISSUES = 10  # a reminder recalls the errors; the attached file lists them all


# --- shared pieces --------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return f"{moment:%H:%M} ngày {vn_date(moment.date())}"


def _report(letter: Letterhead, due: Due) -> str:
    """ "Báo cáo tuyên truyền CCHC Quý I năm 2025": the report named the same way everywhere."""
    return f"{one_line(letter.report_name)} {one_line(due.period_name)}"


def _contact(letter: Letterhead) -> Para:
    who = f"liên hệ {one_line(letter.contact)}, hoặc trả lời thư này" if letter.contact else "trả lời thư này"
    return Para(f"Cần hỏi thêm, xin {who}.")


def _closing(letter: Letterhead, unit_code: str | None, period_code: str) -> list[Block]:
    known = [f"mã đơn vị {one_line(unit_code)}" if unit_code else "", f"kỳ {one_line(period_code)}"]
    if one_line(period_code) in ("", "-"):  # a file that named no period: nothing to print
        known[1] = ""
    about = ", ".join(k for k in known if k)
    return [
        _contact(letter),
        Para(f"Trân trọng,\n{one_line(letter.org_name)}"),
        Para(
            "Thư này được gửi tự động từ hệ thống tổng hợp báo cáo" + (f" ({about})." if about else "."),
            small=True,
        ),
    ]


def _message(
    kind: str,
    due: Due,
    unit: Recipient | None,
    to: Sequence[str],
    subject: str,
    blocks: Sequence[Block],
    attachments: Iterable[Attachment],
) -> OutgoingMessage:
    def clean(addresses: Iterable[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(one_line(a) for a in addresses if one_line(a)))

    recipients = clean(to)
    return OutgoingMessage(
        kind=kind,
        period=one_line(due.period_code),
        unit=(one_line(unit.code) or None) if unit is not None else None,
        to=recipients,
        cc=tuple(a for a in clean(unit.cc if unit else ()) if a not in recipients),
        subject=one_line(subject),
        text=render_text(blocks),
        html=render_html(blocks),
        attachments=tuple(attachments),
    )


def issue_line(issue: Issue, numbers: Mapping[str, str] | None = None) -> str:
    """``Ô D32 (mục II.9 – Số tin, bài …): '12 tin' không phải số`` — the cell once, with the
    item number the template prints (``numbers``: field code -> "II.9"), on one line."""
    number = (numbers or {}).get(issue.field, "")
    parts = issue.label_and_detail
    if parts is not None:
        label, detail = parts
        where = f"mục {number} – {label}" if number else label
        return one_line(f"Ô {issue.cell} ({where}): {detail}")
    if issue.cell:
        return one_line(f"Ô {issue.cell}: {issue.message}")
    return one_line(issue.message)


def _issue_items(title: str, issues: Sequence[Issue], numbers: Mapping[str, str] | None, limit: int) -> Items:
    lines = [issue_line(issue, numbers) for issue in issues[:limit]]
    if len(issues) > limit:
        lines.append(f"… và {len(issues) - limit} mục khác (xem đầy đủ trong tệp đính kèm).")
    return Items(tuple(lines), title=title)


def _split(issues: Sequence[Issue]) -> tuple[list[Issue], list[Issue]]:
    errors = [i for i in issues if i.severity == Severity.ERROR]
    return errors, [i for i in issues if i.severity != Severity.ERROR]


def _sent_from(sent: SentFile, unit: Recipient) -> list[Block]:
    """The sentence that tells a unit its file came from an address other than its registered
    one: someone else sent it in the unit's name, or the unit should register that address."""
    if not sent.sent_from:
        return []
    return [
        Para(
            f"Tệp này được gửi bằng thư điện tử từ địa chỉ {one_line(sent.sent_from)}, không phải địa chỉ "
            f"đã đăng ký của {one_line(unit.name) or 'đơn vị'}. Nếu đơn vị không gửi tệp này, xin báo "
            "ngay cho bộ phận tổng hợp."
        )
    ]


def _where_to_send(letter: Letterhead, due: Due) -> str:
    where = f"Gửi {due.text} vào: {one_line(letter.submit_to)}" if letter.submit_to else f"Gửi {due.text}"
    if due.link:
        where += f"; hoặc nộp trên trang riêng của đơn vị: {due.link} (biết kết quả kiểm tra ngay)"
    return where + "."


# --- reminders ------------------------------------------------------------------------------


def compose_reminder(
    *,
    letter: Letterhead,
    unit: Recipient,
    due: Due,
    today: date,
    template: Attachment | None,
    returned: Returned | None = None,
    numbers: Mapping[str, str] | None = None,
    held: SentFile | None = None,
) -> OutgoingMessage:
    """A reminder to a unit without an accepted report.

    A unit that sent nothing gets the blank ``template``; a unit whose last file was returned
    (``returned``) is told when, with how many errors, and gets its own marked-up file back
    (the template only when the marked file is missing). A unit whose only file is ``held``
    (waiting for verification) is not told that nothing arrived: it is told that file does not
    count yet, and gets the template to fill.
    """
    name, report = one_line(unit.name), _report(letter, due)
    left = days_left_phrase(due.last_day, today)
    blocks: list[Block] = [Para(f"Kính gửi: {name}")]
    attachment = template
    if returned is None:
        subject = f"[Nhắc hạn] {report} – nộp {due.text} ({left})"
        so_far = "Đến nay hệ thống chưa nhận được báo cáo nào của đơn vị."
        if held is not None:
            so_far = (
                f"Tệp “{one_line(held.name)}” gửi ngày {vn_date(held.received_at.date())} chưa được tính: "
                "tệp không chứng minh được là lập từ biểu mẫu điền sẵn của đơn vị nên đang chờ xác minh. "
                "Đến nay hệ thống chưa nhận được báo cáo đạt của đơn vị."
            )
        blocks.append(
            Para(
                f"{one_line(letter.org_name)} đề nghị {name} gửi {report}, hạn nộp {due.text} ({left}). "
                + so_far
            )
        )
        first = (
            f"Mở tệp mẫu đính kèm “{one_line(template.filename)}” (đã điền sẵn tên đơn vị và kỳ báo cáo)."
            if template is not None
            else f"Mở biểu mẫu {report} của đơn vị (đã điền sẵn tên đơn vị và kỳ báo cáo)."
        )
        steps = (first, "Nhập số liệu vào các ô nền vàng; không đổi tên hoặc xóa các trang tính.")
        blocks.append(Items((*steps, _where_to_send(letter, due)), ordered=True, title="Cách gửi báo cáo:"))
    else:
        sent = returned.file
        day = vn_date(sent.received_at.date())
        subject = f"[Nhắc hạn] {report} – bản gửi ngày {day} bị trả lại, nộp lại {due.text} ({left})"
        blocks.append(
            Para(
                f"Bản gửi ngày {day} (tệp “{one_line(sent.name)}”) bị trả lại ({sent.errors} lỗi) và đến nay "
                f"hệ thống chưa nhận được bản đã sửa. Hạn nộp {report} là {due.text} ({left})."
            )
        )
        if returned.marked is not None:
            attachment = returned.marked
            first = (
                f"Mở tệp đính kèm “{one_line(attachment.filename)}”: đó là chính tệp đơn vị đã gửi, các ô "
                "sai được tô đỏ và có ghi chú."
            )
        else:
            first = f"Mở lại tệp “{one_line(sent.name)}” đơn vị đã gửi."
        steps = (first, "Sửa các ô nêu dưới đây, lưu tệp (dạng .xlsx).")
        blocks.append(
            Items((*steps, _where_to_send(letter, due)), ordered=True, title="Cách sửa và gửi lại:")
        )
        errors, _ = _split(sent.issues)
        if errors:
            blocks.append(_issue_items("Các lỗi cần sửa:", errors, numbers, MAX_REMINDER_ISSUES))
    blocks.append(Para("Nếu đơn vị vừa gửi báo cáo, xin bỏ qua thư này."))
    blocks += _closing(letter, unit.code, due.period_code)
    attachments = (attachment,) if attachment is not None else ()
    return _message("reminder", due, unit, unit.to, subject, blocks, attachments)


# --- the answer to a file: rejected (feedback) or accepted (receipt) --------------------------


def compose_feedback(
    *,
    letter: Letterhead,
    unit: Recipient,
    due: Due,
    today: date,
    sent: SentFile,
    marked: Attachment | None,
    numbers: Mapping[str, str] | None = None,
) -> OutgoingMessage:
    """The answer to a rejected file: what is wrong, what to do, by when and where.

    One message to every address of the unit (``unit.to`` and ``unit.cc``). ``marked`` is the
    unit's own file with the wrong cells marked; ``numbers`` gives the item numbers
    ("II.9") the template prints next to each field.
    """
    errors, notes = _split(sent.issues)
    if errors and all(i.code in NOT_OUR_FORM for i in errors):
        return _compose_not_our_form(letter=letter, unit=unit, due=due, sent=sent, reasons=errors)
    name, report = one_line(unit.name) or "người lập báo cáo", _report(letter, due)
    subject = f"[Bị trả lại] {report} – {name}: {len(errors)} lỗi, gửi lại {due.text}"
    blocks: list[Block] = [
        Para(f"Kính gửi: {name}"),
        Para(
            f"{one_line(letter.org_name)} đã nhận tệp “{one_line(sent.name)}” lúc "
            f"{_when(sent.received_at)} – {report} của đơn vị. Báo cáo CHƯA được tiếp nhận vì còn "
            f"{len(errors)} lỗi dưới đây."
        ),
        *_sent_from(sent, unit),
        _issue_items(f"Lỗi cần sửa ({len(errors)}):", errors, numbers, MAX_LISTED_ISSUES),
    ]
    if notes:
        blocks.append(_issue_items(f"Lưu ý, nên xem lại ({len(notes)}):", notes, numbers, MAX_LISTED_ISSUES))
    if marked is not None:
        first = (
            f"Mở tệp đính kèm “{one_line(marked.filename)}”: đó là chính tệp đơn vị đã gửi, các ô sai "
            "được tô đỏ và có ghi chú; trang đầu liệt kê các lỗi, bấm vào địa chỉ ô để tới ô đó."
        )
    else:
        first = f"Mở lại tệp “{one_line(sent.name)}” đơn vị đã gửi."
    steps = (first, "Sửa các ô nêu trên, lưu tệp (dạng .xlsx).", _where_to_send(letter, due))
    blocks.append(Items(steps, ordered=True, title="Cách sửa và gửi lại:"))
    if today > due.last_day:
        blocks.append(
            Para(
                f"Hạn nộp ({due.text}) đã qua: đề nghị gửi lại sớm nhất; báo cáo sẽ được ghi nhận là "
                "nộp chậm."
            )
        )
    blocks.append(Para("Bản gửi sau thay thế bản gửi trước."))
    blocks += _closing(letter, unit.code, due.period_code)
    attachments = (marked,) if marked is not None else ()
    return _message("feedback", due, unit, unit.to, subject, blocks, attachments)


NOT_OUR_FORM = frozenset({"not_a_template", "other_form"})  # the file is not our template at all


def _compose_not_our_form(
    *, letter: Letterhead, unit: Recipient, due: Due, sent: SentFile, reasons: Sequence[Issue]
) -> OutgoingMessage:
    """The answer to a file that is not the report's template (a random workbook, another form).

    Why not the usual feedback: there are no cells to fix and no period or unit to name, so
    "1 lỗi", "sửa các ô nêu trên", a marked-up copy of someone's unrelated workbook and
    "(không rõ kỳ)" would all describe something that did not happen. It says what arrived, that
    nothing was recorded, and what to send instead.
    """
    name, report = one_line(unit.name) or "Anh/Chị", one_line(letter.report_name)
    file_name = one_line(sent.name)
    blocks: list[Block] = [
        Para(f"Kính gửi: {name}"),
        Para(
            f"{one_line(letter.org_name)} đã nhận tệp “{file_name}” lúc {_when(sent.received_at)}. Tệp này "
            f"không phải biểu mẫu {report}, nên chưa có báo cáo nào được ghi nhận."
        ),
        *_sent_from(sent, unit),
        _issue_items("Lý do:", reasons, None, MAX_LISTED_ISSUES),
        Items(
            (
                "Dùng biểu mẫu điền sẵn của đơn vị (tệp đính kèm thư nhắc hạn; chưa có thì xin trả lời thư "
                "này để được gửi lại), không dùng tệp khác.",
                "Nhập số liệu vào các ô nền vàng, lưu tệp (dạng .xlsx).",
                _where_to_send(letter, due),
            ),
            ordered=True,
            title="Cách gửi báo cáo:",
        ),
    ]
    blocks += _closing(letter, unit.code, due.period_code)
    subject = f"[Bị trả lại] {report}: tệp “{file_name}” không phải biểu mẫu báo cáo"
    return _message("feedback", due, unit, unit.to, subject, blocks, ())


def compose_held(
    *, letter: Letterhead, unit: Recipient, claimed: str, due: Due, sent: SentFile
) -> OutgoingMessage:
    """The notice that a file naming a unit was held: it does not prove it is that unit's template.

    Sent, one message each, to the unit's registered address (someone may be sending files in
    its name) and to the address typed in the file. Nothing was replaced; the coordinator
    decides. ``claimed`` is the unit code the file names.
    """
    name, report = one_line(unit.name) or "người lập báo cáo", _report(letter, due)
    org = one_line(letter.org_name)
    reasons = [i for i in sent.issues if i.code == "unverified_identity"] or list(sent.issues)[:1]
    blocks: list[Block] = [
        Para(f"Kính gửi: {name}"),
        Para(
            f"{org} đã nhận tệp “{one_line(sent.name)}” lúc {_when(sent.received_at)}, ghi là {report} "
            f"của {name} (mã {one_line(claimed)}). Tệp không chứng minh được là lập từ biểu mẫu điền sẵn "
            f"do {org} gửi cho đơn vị, nên đang được giữ lại chờ xác minh: chưa được tính và không thay "
            "thế báo cáo nào đã nộp."
        ),
        *_sent_from(sent, unit),
        _issue_items("Lý do:", reasons, None, MAX_REMINDER_ISSUES),
        Items(
            (
                "Nếu đơn vị đã gửi tệp này: hãy điền lại vào biểu mẫu điền sẵn của đơn vị (tệp đính kèm "
                f"thư nhắc hạn) và gửi {due.text}, hoặc liên hệ bộ phận tổng hợp để xác nhận tệp.",
                f"Nếu đơn vị KHÔNG gửi tệp này: xin báo ngay cho {org}.",
            ),
            title="Đề nghị đơn vị:",
        ),
    ]
    blocks += _closing(letter, unit.code or claimed, due.period_code)
    subject = f"[Chờ xác minh] {report} – tệp mang tên {name}"
    return _message("held", due, unit, unit.to, subject, blocks, ())


def compose_receipt(
    *,
    letter: Letterhead,
    unit: Recipient,
    due: Due,
    sent: SentFile,
    days_late: int,
    marked: Attachment | None = None,
    numbers: Mapping[str, str] | None = None,
) -> OutgoingMessage:
    """The receipt for an accepted file, so a clerk need not phone to ask whether it arrived.

    Notes (warnings) are listed, with the marked file attached, as things to check, not to fix.
    """
    name, report = one_line(unit.name), _report(letter, due)
    _, notes = _split(sent.issues)
    tail = f" – {len(notes)} lưu ý" if notes else ""
    subject = f"[Đã tiếp nhận] {report} – {name}{tail}"
    timing = "nộp đúng hạn" if days_late <= 0 else f"nộp chậm {days_late} ngày; hạn nộp {due.text}"
    blocks: list[Block] = [
        Para(f"Kính gửi: {name}"),
        Para(
            f"{one_line(letter.org_name)} đã tiếp nhận tệp “{one_line(sent.name)}” lúc "
            f"{_when(sent.received_at)} – {report} của đơn vị ({timing}). Đơn vị không cần gửi lại."
        ),
    ]
    blocks += _sent_from(sent, unit)
    if sent.receipt:
        blocks.append(Para(f"Số biên nhận: {sent.receipt}."))
    if due.link:
        blocks.append(Para(f"Các lần nộp của đơn vị trong kỳ: {due.link}"))
    if notes:
        blocks.append(_issue_items(f"Điểm cần lưu ý ({len(notes)}):", notes, numbers, MAX_LISTED_ISSUES))
        fix = "sửa tệp đính kèm (các ô tô màu cam)" if marked is not None else "sửa tệp"
        blocks.append(
            Para(
                f"Các lưu ý không làm báo cáo bị trả lại. Nếu số liệu chưa đúng, đơn vị {fix} và gửi lại "
                f"{due.text}; bản gửi sau thay thế bản gửi trước."
            )
        )
    blocks += _closing(letter, unit.code, due.period_code)
    attachments = (marked,) if marked is not None and notes else ()
    return _message("receipt", due, unit, unit.to, subject, blocks, attachments)


# --- the summary for coordinators -----------------------------------------------------------


def compose_summary(
    *,
    letter: Letterhead,
    recipients: Sequence[str],
    due: Due,
    final: bool,
    made_at: datetime,
    expected: int,
    on_time: int,
    late: int,
    headline_totals: Sequence[tuple[str, int]],
    missing_units: Sequence[str],
    rejected_units: Sequence[str],
    late_units: Sequence[str] = (),
    attachments: Sequence[Attachment] = (),
    findings: Sequence[str] = (),
) -> OutgoingMessage:
    """The summary for coordinators: completeness, headline totals, who is missing or returned.

    The counts are the lengths of the lists they name, so the table and the lists cannot
    disagree: reported = on time + late; the rest is either missing (sent nothing) or
    rejected (sent only files that were returned). ``findings`` are the summary's own sentences
    on comparisons and targets, each with its coverage (``report.plain.headline``). ``final``
    marks the summary made after the deadline (official figures); before it the figures are
    provisional and the text says so.
    """
    report = _report(letter, due)
    reported = on_time + late
    status = "số liệu chính thức" if final else "số liệu tạm thời"
    caveat = (
        "Đây là số liệu chính thức, lập sau khi hết hạn báo cáo."
        if final
        else "Đây là số liệu tạm thời, lập trước hạn báo cáo; các báo cáo nhận sau thời điểm này "
        "chưa được tính."
    )
    completeness = Table(
        "Tình hình gửi báo cáo",
        (
            ("Số đơn vị phải báo cáo", vn_number(expected)),
            ("Đã báo cáo (được tiếp nhận)", vn_number(reported)),
            ("– trong đó đúng hạn", vn_number(on_time)),
            ("– trong đó nộp chậm", vn_number(late)),
            ("Bị trả lại, chưa gửi lại bản đạt", vn_number(len(rejected_units))),
            ("Chưa gửi báo cáo", vn_number(len(missing_units))),
        ),
    )
    blocks: list[Block] = [
        Para("Kính gửi: Bộ phận tổng hợp báo cáo"),
        Para(f"Hệ thống gửi bảng tổng hợp {report} (hạn nộp {due.text}), lập lúc {_when(made_at)}. {caveat}"),
        completeness,
    ]
    if headline_totals and reported:
        rows = tuple((one_line(label), vn_number(value)) for label, value in headline_totals)
        blocks.append(
            Table(f"Một số chỉ tiêu chính (cộng của {reported}/{expected} đơn vị đã báo cáo)", rows)
        )
    blocks += [Para(one_line(text)) for text in findings]
    for title, names in (
        ("Chưa gửi báo cáo", missing_units),
        ("Bị trả lại, chưa gửi lại bản đạt", rejected_units),
        ("Nộp chậm", late_units),
    ):
        if names:
            blocks.append(Items(tuple(one_line(n) for n in names), title=f"{title} ({len(names)}):"))
    if not missing_units and not rejected_units:
        blocks.append(Para("Tất cả đơn vị đã gửi báo cáo được tiếp nhận."))
    if attachments:
        blocks.append(Items(tuple(one_line(a.filename) for a in attachments), title="Tệp đính kèm:"))
    blocks += _closing(letter, None, due.period_code)
    subject = f"[Tổng hợp] {report} – {status}: {reported}/{expected} đơn vị đã báo cáo"
    return _message("summary", due, None, recipients, subject, blocks, attachments)
