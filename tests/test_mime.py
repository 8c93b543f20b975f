"""baocao.intake.mime: real MIME bytes (email package, or written by hand for what clients get
wrong) in, sender, automatic kind, spreadsheets and problems out; never an exception."""

from __future__ import annotations

import random
import unicodedata
import zipfile
from datetime import datetime, timedelta
from email.message import EmailMessage

import pytest
from mail_samples import UNIT_SENDER, VN, fake_xlsx, message, raw, zipped

from baocao.intake.mime import MailLimits, parse_message
from baocao.judge.package import ReadLimits

NAME = "Báo cáo CCHC quý I - PGD.xlsx"


def test_a_units_message_gives_sender_identity_and_the_spreadsheet():
    data = fake_xlsx("a")
    parsed = parse_message(raw(message(attachments=[(NAME, data)])))
    assert parsed.sender == UNIT_SENDER
    assert parsed.sender_name == "Văn thư PGD"
    assert parsed.message_id == "<abc123@pgd.huyen.langson.gov.vn>"
    assert parsed.subject == "Báo cáo tuyên truyền CCHC quý I"
    assert parsed.automatic == ""
    assert parsed.problems == ()
    [attachment] = parsed.attachments
    assert attachment.name == NAME and unicodedata.is_normalized("NFC", attachment.name)
    assert attachment.data == data and attachment.origin == ""
    assert parsed.dedup_key(attachment) == f"<abc123@pgd.huyen.langson.gov.vn>#{attachment.sha256}"


def test_spreadsheet_extensions_in_any_case_other_files_listed():
    files = [
        ("BAO CAO.XLSX", fake_xlsx("1")),
        ("bao cao.Xls", b"\xd0\xcf\x11\xe0old"),
        ("baocao.ods", b"PK-ods"),
        ("baocao.XLSM", b"PK-xlsm"),
        ("cong van.pdf", b"%PDF-1.4"),
        ("ghi chu.docx", b"PK-docx"),
    ]
    parsed = parse_message(raw(message(attachments=files)))
    assert [a.name for a in parsed.attachments] == [
        "BAO CAO.XLSX",
        "bao cao.Xls",
        "baocao.ods",
        "baocao.XLSM",
    ]
    assert parsed.other_files == ("cong van.pdf", "ghi chu.docx")


def test_no_attachment_is_no_problem_here_just_nothing_found():
    parsed = parse_message(raw(message(attachments=[("cong van.pdf", b"%PDF")])))
    assert parsed.attachments == () and parsed.problems == ()
    assert parsed.other_files == ("cong van.pdf",)


def test_thirty_attachments_are_refused_together():
    files = [(f"bao cao {i}.xlsx", fake_xlsx(str(i))) for i in range(30)]
    parsed = parse_message(raw(message(attachments=files)), MailLimits(max_attachments=20))
    assert parsed.attachments == ()
    [problem] = parsed.problems
    assert problem.code == "too_many_attachments"
    assert "30 bảng tính" in problem.message and "(20)" in problem.message


def test_zip_one_level_spreadsheets_taken_other_entries_listed():
    inner = {"Bao cao/Báo cáo quý I.xlsx": fake_xlsx("z1"), "phu luc.XLS": b"\xd0\xcf", "scan.pdf": b"%PDF"}
    parsed = parse_message(raw(message(attachments=[("baocao.ZIP", zipped(inner))])))
    assert [(a.name, a.origin) for a in parsed.attachments] == [
        ("Báo cáo quý I.xlsx", "zip:baocao.ZIP"),
        ("phu luc.XLS", "zip:baocao.ZIP"),
    ]
    assert parsed.attachments[0].data == inner["Bao cao/Báo cáo quý I.xlsx"]
    assert parsed.other_files == ("baocao.ZIP/scan.pdf",)


def test_zip_bomb_inside_a_zip_is_not_opened_and_a_bomb_entry_is_refused():
    bomb = zipped({f"{i}.xlsx": bytes(3 << 20) for i in range(5)})  # 15 MB of zeros in ~15 KB
    outer = zipped({"bomb.zip": bomb, "that.xlsx": bytes(3 << 20), "good.xlsx": fake_xlsx("ok")})
    assert len(outer) < 100_000
    limits = MailLimits(read=ReadLimits(max_file_bytes=2 << 20, max_unpacked_bytes=50 << 20))
    parsed = parse_message(raw(message(attachments=[("nop.zip", outer)])), limits)
    assert [a.name for a in parsed.attachments] == ["good.xlsx"]
    texts = [p.message for p in parsed.problems]
    assert any("tệp nén lồng nhau 'bomb.zip'" in t for t in texts)
    assert any("that.xlsx" in t and "quá lớn" in t for t in texts)  # declared size over the file limit


def test_zip_entry_that_lies_about_its_size_is_caught_while_inflating():
    payload = bytes(3 << 20)
    outer = bytearray(zipped({"that.xlsx": payload}))
    # rewrite the declared size in the central directory: 1 KB instead of 3 MB
    central = outer.rfind(b"PK\x01\x02")
    outer[central + 24 : central + 28] = (1024).to_bytes(4, "little")
    local = outer.find(b"PK\x03\x04")
    outer[local + 22 : local + 26] = (1024).to_bytes(4, "little")
    limits = MailLimits(read=ReadLimits(max_file_bytes=2 << 20))
    parsed = parse_message(raw(message(attachments=[("nop.zip", bytes(outer))])), limits)
    assert parsed.attachments == ()
    assert any(p.code == "zip" for p in parsed.problems)


def test_corrupt_and_encrypted_zips_are_problems_not_exceptions():
    encrypted = bytearray(zipped({"a.xlsx": b"secret"}, zipfile.ZIP_STORED))
    encrypted[6] |= 1  # local header: encrypted
    central = encrypted.rfind(b"PK\x01\x02")
    encrypted[central + 8] |= 1
    parsed = parse_message(
        raw(message(attachments=[("a.zip", b"PK\x03\x04 broken"), ("b.zip", bytes(encrypted))]))
    )
    texts = [p.message for p in parsed.problems]
    assert any("'a.zip' bị hỏng" in t for t in texts)
    assert any("'b.zip'" in t and "mật khẩu" in t for t in texts)


def test_forwarded_message_attachment_is_found():
    inner = message(attachments=[(NAME, fake_xlsx("fw"))], sender="nguoiky@pgd.example.gov.vn")
    outer = message(body="Chuyển tiếp báo cáo của đơn vị.")
    outer.add_attachment(inner)  # message/rfc822
    parsed = parse_message(raw(outer))
    assert [(a.name, a.origin) for a in parsed.attachments] == [(NAME, "forwarded")]
    assert parsed.sender == UNIT_SENDER  # the forwarder, not the original author


RAW_HEAD = (
    b"From: =?utf-8?b?VsSDbiB0aMawIFBHRA==?= <VanThu@PGD.example.gov.vn>\r\n"
    b"To: cchc@sonoivu.example.gov.vn\r\nSubject: bao cao\r\nMessage-ID: <raw1@pgd.example.gov.vn>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
    b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nxin gui\r\n"
)


def _with_part(headers: bytes, body: bytes = b"UEsDBA==") -> bytes:
    return (
        RAW_HEAD
        + b"--XX\r\n"
        + headers
        + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + body
        + b"\r\n--XX--\r\n"
    )


@pytest.mark.parametrize(
    "headers",
    [
        # RFC 2231 in windows-1258: "Báo cáo Quý I.xlsx" with ý as y + combining acute (0x79 0xEC)
        b"Content-Type: application/vnd.ms-excel\r\n"
        b"Content-Disposition: attachment; filename*=windows-1258''B%E1o%20c%E1o%20Quy%EC%20I.xlsx",
        # encoded word in windows-1258 (Outlook's habit, inside the quoted parameter)
        b'Content-Type: application/octet-stream; name="=?windows-1258?Q?B=E1o_c=E1o_Quy=EC_I.xlsx?="\r\n'
        b'Content-Disposition: attachment; filename="=?windows-1258?Q?B=E1o_c=E1o_Quy=EC_I.xlsx?="',
        # encoded word in UTF-8, NFD (macOS writes decomposed names)
        b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="=?UTF-8?B?'
        + __import__("base64").b64encode(unicodedata.normalize("NFD", "Báo cáo Quý I.xlsx").encode())
        + b'?="',
        # raw 8-bit windows-1258 bytes (no encoding at all, an old webmail)
        b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="'
        b'B\xe1o c\xe1o Quy\xec I.xlsx"',
        # raw 8-bit UTF-8 and a Windows path in front of the name
        b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="C:\\Users\\vt\\'
        + "Báo cáo Quý I.xlsx".encode()
        + b'"',
        # RFC 2231 continuations in UTF-8
        b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n"
        b" filename*0*=UTF-8''B%C3%A1o%20c%C3%A1o%20Qu;\r\n filename*1*=%C3%BD%20I.xlsx",
    ],
    ids=[
        "rfc2231-1258",
        "encoded-word-1258",
        "encoded-word-utf8-nfd",
        "raw-1258",
        "raw-utf8-path",
        "rfc2231-cont",
    ],
)
def test_filenames_in_every_encoding_end_the_same_nfc_name(headers):
    parsed = parse_message(_with_part(headers))
    assert [a.name for a in parsed.attachments] == ["Báo cáo Quý I.xlsx"]
    assert unicodedata.is_normalized("NFC", parsed.attachments[0].name)
    assert parsed.sender == "vanthu@pgd.example.gov.vn"  # lower-cased
    assert parsed.sender_name == "Văn thư PGD"


def test_winmail_dat_is_recognised_and_taken_as_nothing():
    msg = message()
    msg.add_attachment(
        b"\x78\x9f\x3e\x22tnef", maintype="application", subtype="ms-tnef", filename="winmail.dat"
    )
    parsed = parse_message(raw(msg))
    assert parsed.tnef and parsed.attachments == () and parsed.other_files == ()


def test_inline_images_and_signatures_are_not_attachments():
    msg = message(attachments=[(NAME, fake_xlsx("x"))])
    html = EmailMessage()
    html.set_content("<p>Kính gửi</p><img src='cid:logo@pgd'>", subtype="html")
    html.add_related(b"\x89PNG logo", maintype="image", subtype="png", cid="<logo@pgd>", filename="logo.png")
    msg.attach(html)
    msg.add_attachment(b"0\x82sig", maintype="application", subtype="pkcs7-signature", filename="smime.p7s")
    msg.add_attachment(b"\x89PNG photo", maintype="image", subtype="png", filename="anh chup.png")
    parsed = parse_message(raw(msg))
    assert [a.name for a in parsed.attachments] == [NAME]
    assert parsed.other_files == ("anh chup.png",)  # an image sent as a file is listed, a logo is not


@pytest.mark.parametrize(
    ("headers", "sender", "kind"),
    [
        ({"X-Baocao-Kind": "feedback"}, UNIT_SENDER, "own"),
        ({}, "baocao@sonoivu.langson.gov.vn", "own"),
        ({"Auto-Submitted": "auto-replied"}, UNIT_SENDER, "auto-submitted"),
        ({"X-Autoreply": "yes"}, UNIT_SENDER, "auto-submitted"),
        ({"Precedence": "bulk"}, UNIT_SENDER, "mailing-list"),
        ({"List-Id": "<tin-tuc.sonoivu.gov.vn>"}, UNIT_SENDER, "mailing-list"),
        ({"Return-Path": "<>"}, UNIT_SENDER, "bounce"),
        ({}, "MAILER-DAEMON@mx.langson.gov.vn", "bounce"),
        ({"Auto-Submitted": "no"}, UNIT_SENDER, ""),
    ],
)
def test_automatic_kinds(headers, sender, kind):
    msg = message(sender=sender, headers=headers)
    parsed = parse_message(raw(msg), own_addresses=frozenset({"baocao@sonoivu.langson.gov.vn"}))
    assert parsed.automatic == kind


def test_our_message_id_marks_our_own_message():
    msg = message(message_id="<baocao.0123456789abcdef0123456789abcdef@sonoivu.langson.gov.vn>")
    assert parse_message(raw(msg)).automatic == "own"


def test_out_of_office_reply_in_vietnamese():
    msg = message(
        subject="Trả lời tự động: Nhắc nộp báo cáo quý I",
        body="Tôi đang nghỉ phép đến hết ngày 10/3, có việc gấp xin liên hệ văn phòng.",
        headers={
            "Auto-Submitted": "auto-replied",
            "In-Reply-To": "<baocao.0123456789abcdef0123456789abcdef@sonoivu.langson.gov.vn>",
        },
    )
    parsed = parse_message(raw(msg))
    assert parsed.automatic == "auto-submitted" and parsed.answers_us
    # the same reply without the header is still known by its subject
    del msg["Auto-Submitted"]
    assert parse_message(raw(msg)).automatic == "auto-submitted"


def test_a_bounce_carrying_our_feedback_workbook_gives_no_attachment():
    ours = message(sender="baocao@sonoivu.langson.gov.vn", attachments=[("phan-hoi.xlsx", fake_xlsx("fb"))])
    bounce = EmailMessage()
    bounce["From"] = "Mail Delivery System <MAILER-DAEMON@mx.langson.gov.vn>"
    bounce["To"] = "baocao@sonoivu.langson.gov.vn"
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce.set_content(
        "This is the mail system at host mx.langson.gov.vn. I'm sorry to have to inform you..."
    )
    bounce.add_attachment(ours)
    bounce.replace_header(
        "Content-Type", bounce["Content-Type"].replace("multipart/mixed", "multipart/report")
    )
    parsed = parse_message(raw(bounce))
    assert parsed.automatic == "bounce"
    assert parsed.attachments == ()
    assert [p.code for p in parsed.problems] == ["automatic"]


MALFORMED = {
    "no-closing-boundary": RAW_HEAD + b"--XX\r\nContent-Type: application/vnd.ms-excel\r\n"
    b'Content-Disposition: attachment; filename="a.xls"\r\nContent-Transfer-Encoding: base64\r\n\r\n0M8R4KGxGuE=\r\n',
    "boundary-never-starts": RAW_HEAD.replace(b"--XX\r\n", b"") + b"no parts here\r\n",
    "no-boundary-parameter": RAW_HEAD.replace(b'; boundary="XX"', b""),
    "broken-base64": _with_part(
        b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="a.xlsx"',
        b"UEsDBA=!!!*&^%===",
    ),
    "header-garbage": b"\xff\xfe\x00From: <<<@@@>>>\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n--\r\n--\r\n",
    "binary-junk": bytes(random.Random(7).randrange(256) for _ in range(4000)),
    "empty": b"",
    "deep-nesting": b'From: a@b.vn\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n'
    + b"".join(
        f'--b{i}\r\nContent-Type: multipart/mixed; boundary="b{i + 1}"\r\n\r\n'.encode() for i in range(3000)
    ),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_mime_never_raises(name):
    parsed = parse_message(MALFORMED[name])
    assert isinstance(parsed.problems, tuple)
    if name in (
        "no-closing-boundary",
        "boundary-never-starts",
        "no-boundary-parameter",
        "broken-base64",
        "deep-nesting",
    ):
        assert "malformed" in {p.code for p in parsed.problems}, parsed.problems


def test_mutated_messages_never_raise():
    base = raw(message(attachments=[(NAME, fake_xlsx("m")), ("x.zip", zipped({"a.xlsx": b"1"}))]))
    rng = random.Random(2025)
    for _ in range(150):
        data = bytearray(base)
        for _ in range(rng.randrange(1, 12)):
            position = rng.randrange(len(data))
            data[position : position + rng.randrange(1, 40)] = bytes(
                rng.randrange(256) for _ in range(rng.randrange(0, 8))
            )
        parse_message(bytes(data))


def test_the_same_message_delivered_twice_has_the_same_keys():
    msg = message(attachments=[(NAME, fake_xlsx("twice"))])
    first = parse_message(b"Received: from mx1 by mx; Wed, 5 Mar 2025 09:30:01 +0700\r\n" + raw(msg))
    second = parse_message(b"Received: from mx2 by mx; Wed, 5 Mar 2025 09:31:12 +0700\r\n" + raw(msg))
    assert first.dedup_key(first.attachments[0]) == second.dedup_key(second.attachments[0])
    del msg["Message-ID"]  # some clients send none: the body still identifies it
    first = parse_message(b"Received: from mx1\r\n" + raw(msg))
    second = parse_message(b"Received: from mx2\r\n" + raw(msg))
    assert first.identity.startswith("body:") and first.identity == second.identity


def test_the_same_file_in_two_messages_is_the_same_content_but_two_submissions():
    data = fake_xlsx("same")
    one = parse_message(raw(message(attachments=[(NAME, data)], message_id="<m1@pgd>")))
    two = parse_message(raw(message(attachments=[("ban sao.xlsx", data)], message_id="<m2@pgd>")))
    assert one.attachments[0].sha256 == two.attachments[0].sha256
    assert one.dedup_key(one.attachments[0]) != two.dedup_key(two.attachments[0])


def test_a_message_over_the_size_limit_gives_headers_and_a_problem():
    data = raw(message(attachments=[(NAME, fake_xlsx("big"))]))
    parsed = parse_message(data[:300], complete=False)
    assert parsed.sender == UNIT_SENDER and parsed.attachments == ()
    assert [p.code for p in parsed.problems] == ["too_large"]


def test_date_header_is_kept_but_only_as_information():
    early = datetime(2025, 3, 5, 9, 30, tzinfo=VN) - timedelta(days=7)
    parsed = parse_message(raw(message(date=early)))
    assert parsed.date_header == early
