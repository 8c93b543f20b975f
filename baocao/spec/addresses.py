"""E-mail addresses: one rule for what baocao accepts, and the form it is sent in.

Why one place: an address is accepted in three places (config.toml, the unit registry, the
e-mail cell of a unit's workbook) and used in one (the mailer). If the validator accepts what the
mailer cannot send, one unit's typo stops a message at sending time, far from where it was made.
So every check calls ``sendable``, and the mailer sends exactly what it returns.

What is accepted: a local part of ASCII "atext" characters and dots (``an.nv``, ``cchc+bc``),
at most 64 characters, no leading, trailing or double dot (RFC 5321/5322 dot-atom, without
quoted strings, which few relays take); and a domain of at least two labels, each 1–63 letters,
digits or hyphens, not starting or ending with a hyphen, the last one not all digits. Vietnamese
letters are allowed in the domain (``sởnộivụ.vn``): it is sent in its IDNA (punycode) form,
``xn--...``, which every mail server understands. They are not allowed in the local part,
which would need SMTPUTF8, an extension many relays lack: the message says so.
"""

from __future__ import annotations

import re
import unicodedata

_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


class AddressError(ValueError):
    """Why an address cannot be used (a Vietnamese sentence, without the address itself)."""


def sendable(address: str, dotless: bool = False) -> str:
    """The address as it goes on the wire: stripped, NFC, domain in lower-case IDNA form.

    ``"An.NV@Sở-Nội-Vụ.vn "`` -> ``"An.NV@xn--s-ni-v-....vn"``. Raises ``AddressError`` with the
    reason for anything the mailer could not send. ``dotless`` also accepts a one-label domain
    (``baocao@localhost``, a sender on an internal relay); a unit's address never needs one.
    """
    text = unicodedata.normalize("NFC", str(address)).strip()
    if text.count("@") != 1:
        raise AddressError("cần đúng một dấu @, dạng ten@coquan.gov.vn")
    local, domain = text.split("@")
    if not local or not domain:
        raise AddressError("thiếu phần trước hoặc sau dấu @")
    if not local.isascii():
        raise AddressError("phần trước dấu @ chỉ được dùng chữ không dấu, số và . _ - +")
    if len(local) > 64 or not _LOCAL.fullmatch(local):
        raise AddressError("phần trước dấu @ có ký tự không hợp lệ (khoảng trắng, dấu phẩy, hai dấu chấm…)")
    return f"{local}@{_domain(domain, dotless)}"


def _domain(domain: str, dotless: bool = False) -> str:
    domain = domain.rstrip(".").lower()
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise AddressError(f"tên miền '{domain}' không hợp lệ") from None
    labels = domain.split(".")
    if len(labels) < (1 if dotless else 2) or len(domain) > 253:
        raise AddressError(f"tên miền '{domain}' không hợp lệ (cần dạng coquan.gov.vn)")
    if not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise AddressError(f"tên miền '{domain}' có ký tự không hợp lệ")
    return domain


def is_sendable(address: str) -> bool:
    try:
        sendable(address)
    except AddressError:
        return False
    return True
