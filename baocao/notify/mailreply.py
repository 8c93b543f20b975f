"""The e-mail intake's own answer to a message that brought no usable report (pure).

A report that arrives is answered by its feedback or receipt (``letters.file_answers``). A
message that brought nothing usable gets this one polite answer instead, to its sender only,
threaded under it, saying what to send: the report attached as a normal file (no attachment, an
attachment that is not a spreadsheet), attached the ordinary way (Outlook's ``winmail.dat``),
alone (a message over the size limit), or fewer per message. Whether a message may be answered
at all is decided by ``intake.replies`` (never a machine, one answer per message, a daily cap).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from baocao.notify.blocks import Block, Items, Para, one_line, render_html, render_text, vn_date
from baocao.notify.message import Letterhead, OutgoingMessage

KIND = "mail-reply"

LEADS = {
    "no_attachment": "Thư không có tệp báo cáo (bảng tính) đính kèm, nên chưa có báo cáo nào được ghi nhận.",
    "tnef": (
        "Thư được gửi từ Outlook ở dạng riêng của Outlook (tệp đính kèm nằm trong “winmail.dat”), nên "
        "hệ thống không đọc được tệp báo cáo."
    ),
    "too_large": "Thư quá lớn nên không được tải về, và chưa có báo cáo nào được ghi nhận.",
    "too_many_attachments": (
        "Thư có nhiều bảng tính đính kèm hơn mức cho phép, nên không tệp nào được ghi nhận."
    ),
}
ASKS = {
    "no_attachment": (
        "Xin gửi lại thư, đính kèm tệp báo cáo đã điền: bảng tính .xlsx lập từ biểu mẫu điền sẵn của "
        "đơn vị (tệp .xls, .ods hoặc nén .zip cũng được nhận)."
    ),
    "tnef": (
        "Xin gửi lại thư với tệp báo cáo đính kèm bình thường: trong Outlook, soạn thư ở định dạng HTML "
        "hoặc văn bản thường (không dùng Rich Text) rồi đính kèm lại tệp .xlsx."
    ),
    "too_large": "Xin gửi riêng tệp báo cáo (thường chỉ vài chục KB), không kèm ảnh hay tệp khác.",
    "too_many_attachments": "Xin gửi mỗi báo cáo trong một thư, hoặc ít tệp hơn trong mỗi thư.",
}


@dataclass(frozen=True)
class MailReply:
    """What the intake decided to answer (``intake.replies.ReplyDue``, as plain data here)."""

    kind: str  # no_attachment | tnef | too_large | too_many_attachments
    to: str
    subject: str
    received_at: datetime
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    other_files: tuple[str, ...] = ()  # attached files that are not spreadsheets


def compose_mail_reply(*, letter: Letterhead, reply: MailReply) -> OutgoingMessage:
    """The one answer to a message that brought no usable report, to its sender, threaded."""
    blocks: list[Block] = [
        Para("Kính gửi: Anh/Chị,"),
        Para(
            f"{one_line(letter.org_name)} đã nhận thư của anh/chị lúc {reply.received_at:%H:%M} ngày "
            f"{vn_date(reply.received_at.date())} gửi tới hộp thư nhận {one_line(letter.report_name)}. "
            + LEADS.get(reply.kind, LEADS["no_attachment"])
        ),
    ]
    if reply.reasons:
        blocks.append(Items(tuple(one_line(r) for r in reply.reasons[:10]), title="Chi tiết:"))
    if reply.other_files:
        names = tuple(one_line(n) for n in reply.other_files[:10])
        blocks.append(Items(names, title="Tệp đính kèm không phải bảng tính báo cáo:"))
    blocks.append(Para(ASKS.get(reply.kind, ASKS["no_attachment"])))
    if letter.submit_to:
        blocks.append(Para(f"Nơi nhận báo cáo: {one_line(letter.submit_to)}."))
    contact = f"liên hệ {one_line(letter.contact)}" if letter.contact else "liên hệ bộ phận tổng hợp"
    blocks += [
        Para(f"Nếu anh/chị đã gửi báo cáo bằng thư khác, xin bỏ qua thư này. Cần hỏi thêm, xin {contact}."),
        Para(f"Trân trọng,\n{one_line(letter.org_name)}"),
        Para("Thư này được gửi tự động, một lần cho thư của anh/chị.", small=True),
    ]
    return OutgoingMessage(
        kind=KIND,
        period="-",
        unit=None,
        to=(one_line(reply.to),),
        subject=one_line(reply.subject),
        text=render_text(blocks),
        html=render_html(blocks),
        in_reply_to=reply.in_reply_to or None,
        references=reply.references,
    )
