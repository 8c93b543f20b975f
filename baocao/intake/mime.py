"""Reading one e-mail: who sent it, whether a machine sent it, and which spreadsheets it carries.

Pure: the message's bytes in, a ``ParsedMessage`` out. It never raises: a message whose MIME
is broken, whose parts cannot be decoded or that exceeds a limit comes back with a *problem*
(a code and a Vietnamese sentence), so one hostile message costs that message only.

What counts as a submission: attachments named ``.xlsx``/``.xlsm``/``.xls``/``.ods`` (any case),
also inside a ``.zip`` (one level, with the same limits as a file: entries, real inflated
sizes, ratio) and inside a forwarded message (message/rfc822). Filenames arrive in RFC 2231
or encoded-word form, in UTF-8 or windows-1258 (whose tone marks are combining characters),
or as raw 8-bit bytes; all end NFC-normalised. Inline images, signatures and the text body are
not attachments. Outlook's ``winmail.dat`` (TNEF) is recognised so the sender can be asked to
resend. The automatic kinds (our own messages, bounces, auto-replies, mailing lists) are told
apart (``intake.mailheaders``) so that ``intake.replies`` never answers a machine.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.parser import BytesHeaderParser

from baocao.intake.mailheaders import (
    MESSAGE_IDS,
    OWN_MESSAGE_ID,
    Headers,
    automatic_kind,
    content_type,
    filename,
    safe,
)
from baocao.intake.unzip import spreadsheets_in_zip
from baocao.judge.package import EXTENSIONS, ReadLimits

_MIB = 1 << 20
TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}
SIGNATURE_TYPES = {
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
    "application/pgp-signature",
    "application/pgp-keys",
}
SPREADSHEET_TYPES = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.12": ".xlsm",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
}


@dataclass(frozen=True)
class MailLimits:
    """What one message may cost. ``read`` is the per-file limit shared with the folder intake."""

    max_message_bytes: int = 30 * _MIB
    max_attachments: int = 20
    max_parts: int = 500
    max_multiparts: int = 100  # boundary parameters in the raw bytes: nesting costs quadratic time
    read: ReadLimits = field(default_factory=ReadLimits)


@dataclass(frozen=True)
class Attachment:
    """One spreadsheet found in a message. ``origin`` is ``""`` (attached directly),
    ``"zip:<name of the zip>"`` or ``"forwarded"`` (inside a forwarded message)."""

    name: str
    data: bytes
    sha256: str
    origin: str = ""


@dataclass(frozen=True)
class MailProblem:
    """Something about a message the sender (or the coordinator) should be told, in Vietnamese."""

    code: str  # malformed | too_large | too_many_attachments | attachment | zip | tnef | automatic
    message: str


@dataclass(frozen=True)
class ParsedMessage:
    """What baocao needs to know about one e-mail; every text NFC, addresses lower-case."""

    sender: str  # From's address, "" when there is none usable
    sender_name: str
    message_id: str  # "<…>", "" when absent
    in_reply_to: str
    references: tuple[str, ...]
    subject: str
    date_header: datetime | None  # as the sender's client wrote it: never used for timeliness
    automatic: str  # "" | "own" | "bounce" | "auto-submitted" | "mailing-list"
    answers_us: bool  # In-Reply-To/References name one of our messages
    attachments: tuple[Attachment, ...]
    other_files: tuple[str, ...]  # attached files that are not spreadsheets (.pdf, .docx, …)
    tnef: bool
    problems: tuple[MailProblem, ...]
    body_sha256: str  # of everything after the header block: identity when Message-ID is absent

    @property
    def identity(self) -> str:
        """The message across deliveries: its Message-ID, else a hash of its body (a second
        delivery differs in Received headers only)."""
        return self.message_id or f"body:{self.body_sha256[:32]}"

    def dedup_key(self, attachment: Attachment) -> str:
        """The same attachment of the same message, however often it was delivered."""
        return f"{self.identity}#{attachment.sha256}"


def parse_message(
    raw: bytes,
    limits: MailLimits | None = None,
    *,
    complete: bool = True,
    own_addresses: frozenset[str] = frozenset(),
) -> ParsedMessage:
    """Read ``raw`` (the RFC 5322 bytes). ``complete=False`` means only the first bytes of a
    message over the size limit: headers are read, attachments are not. ``own_addresses``
    are baocao's sending addresses, so its own messages are never taken as submissions."""
    limits = limits or MailLimits()
    problems: list[MailProblem] = []
    multiparts = len(_BOUNDARY.findall(raw))
    if multiparts > limits.max_multiparts:  # the parser's time grows with the square of nesting
        problems.append(_malformed(None, f"{multiparts} phần lồng nhau"))
    headers_only = not complete or bool(problems)
    try:
        if headers_only:
            msg = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
        else:
            msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # the parser is lenient; this is for what it still cannot take
        return _unreadable(raw, exc)
    head = Headers(msg)
    sender_name, sender = head.address("From")
    automatic = automatic_kind(msg, head, sender, own_addresses)
    attachments: list[Attachment] = []
    other: list[str] = []
    tnef = False
    if not complete:
        problems.append(
            MailProblem(
                "too_large",
                f"Thư quá lớn (trên {limits.max_message_bytes / _MIB:g} MB) nên không được tải về; "
                "hãy gửi riêng tệp báo cáo, không kèm tệp khác",
            )
        )
    elif not headers_only:
        try:
            attachments, other, tnef = _attachments(msg, limits, problems)
        except Exception as exc:  # RecursionError on absurd nesting, a parser bug…
            problems.append(_malformed(exc))
        if _broken(msg):
            problems.append(_malformed(None))
    if automatic in ("own", "bounce") and attachments:
        # a bounce carries our own message back, with the feedback workbook we sent: not a report
        problems.append(
            MailProblem(
                "automatic", "Thư tự động (báo lỗi gửi thư hoặc thư của hệ thống): không lấy tệp đính kèm"
            )
        )
        attachments = []
    return ParsedMessage(
        sender=sender,
        sender_name=sender_name,
        message_id=head.message_id("Message-ID"),
        in_reply_to=head.message_id("In-Reply-To"),
        references=tuple(MESSAGE_IDS.findall(head.text("References")))[-20:],
        subject=head.text("Subject"),
        date_header=head.date(),
        automatic=automatic,
        answers_us=bool(OWN_MESSAGE_ID.search(head.text("In-Reply-To") + head.text("References"))),
        attachments=tuple(attachments),
        other_files=tuple(other),
        tnef=tnef,
        problems=tuple(problems),
        body_sha256=_body_hash(raw),
    )


# --- headers ---------------------------------------------------------------------------------

_BOUNDARY = re.compile(rb"boundary\s*=", re.IGNORECASE)


# --- attachments -----------------------------------------------------------------------------


def _attachments(
    msg: Message, limits: MailLimits, problems: list[MailProblem]
) -> tuple[list[Attachment], list[str], bool]:
    found: list[Attachment] = []
    other: list[str] = []
    tnef = False
    unnamed = 0
    for count, (part, forwarded) in enumerate(_leaves(msg), 1):
        if count > limits.max_parts:
            problems.append(
                MailProblem("malformed", f"Thư có quá nhiều phần (trên {limits.max_parts}); chỉ đọc phần đầu")
            )
            break
        ctype = content_type(part)
        name = filename(part)
        if ctype in SIGNATURE_TYPES or (name or "").lower().endswith((".p7s", ".asc", ".sig")):
            continue
        if ctype in TNEF_TYPES or (name or "").lower() == "winmail.dat":
            tnef = True
            continue
        if name is None:
            if ctype not in SPREADSHEET_TYPES:
                continue  # the text body, an inline image, a bounce's report part
            unnamed += 1
            name = f"tep-dinh-kem-{unnamed}{SPREADSHEET_TYPES[ctype]}"
        elif ctype.startswith("image/") and _inline(part):
            continue  # a logo in a signature, a pasted screenshot
        ext = name[name.rfind(".") :].lower() if "." in name else ""
        if ext not in EXTENSIONS and ext != ".zip":
            other.append(name)
            continue
        data = _payload(part, name, problems)
        if data is None:
            continue
        origin = "forwarded" if forwarded else ""
        if ext == ".zip":
            found += _from_zip(name, data, limits, origin, problems, other)
        elif len(data) > limits.read.max_file_bytes:
            problems.append(
                MailProblem(
                    "attachment",
                    f"Tệp '{name}' quá lớn ({len(data) / _MIB:.1f} MB,"
                    f" tối đa {limits.read.max_file_bytes / _MIB:g} MB)",
                )
            )
        else:
            found.append(Attachment(name, data, hashlib.sha256(data).hexdigest(), origin))
    if len(found) > limits.max_attachments:
        problems.append(
            MailProblem(
                "too_many_attachments",
                f"Thư có {len(found)} bảng tính đính kèm, nhiều hơn mức cho phép ({limits.max_attachments}); "
                "không tệp nào được nhận, hãy gửi mỗi báo cáo trong một thư",
            )
        )
        found = []
    return found, other, tnef


def _leaves(msg: Message) -> Iterator[tuple[Message, bool]]:
    """Every non-multipart part, depth first, with whether it sits in a forwarded message."""
    stack: list[tuple[Message, bool]] = [(msg, False)]
    while stack:
        part, forwarded = stack.pop()
        if part.is_multipart():
            inner = forwarded or content_type(part) == "message/rfc822"
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend((child, inner) for child in reversed(children) if isinstance(child, Message))
            continue
        yield part, forwarded


def _from_zip(
    name: str, data: bytes, limits: MailLimits, origin: str, problems: list[MailProblem], other: list[str]
) -> list[Attachment]:
    content = spreadsheets_in_zip(name, data, limits.read, EXTENSIONS)
    problems += [MailProblem("zip", text) for text in content.problems]
    other += [f"{name}/{inner}" for inner in content.skipped]
    via = f"zip:{name}"
    return [
        Attachment(inner, blob, hashlib.sha256(blob).hexdigest(), via if not origin else f"{origin}/{via}")
        for inner, blob in content.files
    ]


def _payload(part: Message, name: str, problems: list[MailProblem]) -> bytes | None:
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:
        problems.append(
            MailProblem("attachment", f"Không giải mã được tệp '{name}' ({type(exc).__name__}); hãy gửi lại")
        )
        return None
    if not isinstance(data, bytes) or not data:
        problems.append(MailProblem("attachment", f"Tệp '{name}' trống hoặc không giải mã được; hãy gửi lại"))
        return None
    return data


def _inline(part: Message) -> bool:
    """An image shown in the body (a signature logo, a pasted screenshot): marked inline or
    referenced by Content-ID, whatever its disposition says."""
    disposition = (safe(part.get_content_disposition) or "").lower()
    return disposition == "inline" or part.get("Content-ID") is not None


# --- filenames -------------------------------------------------------------------------------

# --- whole-message checks ----------------------------------------------------------------------

_STRUCTURE_DEFECTS = (
    "NoBoundaryInMultipartDefect",
    "StartBoundaryNotFoundDefect",
    "CloseBoundaryNotFoundDefect",
    "MultipartInvariantViolationDefect",
    "MissingHeaderBodySeparatorDefect",
    "InvalidBase64PaddingDefect",
    "InvalidBase64CharactersDefect",
    "InvalidBase64LengthDefect",
)


def _broken(msg: Message) -> bool:
    """Defects that mean a part may have been lost or cut (not cosmetic header defects)."""
    try:
        parts = list(msg.walk())
    except Exception:
        return True
    return any(type(d).__name__ in _STRUCTURE_DEFECTS for part in parts for d in part.defects)


def _malformed(exc: BaseException | None, what: str = "") -> MailProblem:
    why = f" ({what or type(exc).__name__})" if exc or what else ""
    return MailProblem(
        "malformed",
        f"Thư bị lỗi cấu trúc MIME{why}: có thể thiếu tệp đính kèm;"
        " hãy gửi lại thư với tệp đính kèm bình thường",
    )


def _body_hash(raw: bytes) -> str:
    for separator in (b"\r\n\r\n", b"\n\n"):
        if separator in raw:
            return hashlib.sha256(raw.split(separator, 1)[1]).hexdigest()
    return hashlib.sha256(raw).hexdigest()


def _unreadable(raw: bytes, exc: BaseException) -> ParsedMessage:
    return ParsedMessage(
        sender="",
        sender_name="",
        message_id="",
        in_reply_to="",
        references=(),
        subject="",
        date_header=None,
        automatic="",
        answers_us=False,
        attachments=(),
        other_files=(),
        tnef=False,
        problems=(_malformed(exc),),
        body_sha256=_body_hash(raw),
    )
