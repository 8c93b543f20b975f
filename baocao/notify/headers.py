"""Mail header lines that every client decodes the same way (RFC 5322 folding, RFC 2047 words).

Why not the standard library's folding: ``email.policy`` splits a long Vietnamese subject into
encoded words and folds *between* them, putting the space between two words at the fold. RFC
2047 says whitespace between adjacent encoded words is ignored, so strict decoders (Thunderbird,
Outlook, ``email.header.decode_header``) glue the words: "Hệthống", "lỗicần sửa". Only Python's
own lenient parser reads it back right, which is why it went unnoticed.

Here a header value that needs encoding is cut into pieces of at most ``WORD_BYTES`` bytes of
UTF-8, on character boundaries, and *every* character (spaces included) goes inside some
encoded word. The whitespace between the words is then pure folding, ignored by every decoder,
and the decoded text is exactly the input. ASCII text is left readable and folded at its own
spaces, which unfolding restores. Lines stay within 76 characters (RFC 2047 section 2).

The output of ``header_line`` is a complete ``Name: value`` line (folded, CRLF-terminated) of
7-bit ASCII; ``Header`` wraps it so ``email.message.EmailMessage`` writes it unchanged.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence

LINE = 76  # RFC 2047: lines holding encoded words are at most 76 characters
WORD_BYTES = 39  # 39 bytes -> 52 base64 characters -> a 64-character encoded word
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")  # display names safe without quoting
_NEEDS_WORDS = re.compile(r"[^\x20-\x7e]|=\?")


def encoded_words(text: str) -> list[str]:
    """``text`` as ``=?utf-8?b?…?=`` words, each holding whole characters, spaces included.

    A word ends after a space where one fits (else at a character boundary): strict decoders
    join the words exactly either way, and Python's own lenient address parser, which puts a
    space between adjacent encoded words of a display name, then at worst doubles a space
    instead of splitting a word ("S ở").
    """
    chunks: list[str] = []
    rest = text
    while rest:
        size, cut, space_cut = 0, 0, 0
        for index, ch in enumerate(rest):
            size += len(ch.encode("utf-8"))
            if size > WORD_BYTES:
                break
            cut = index + 1
            if ch == " ":
                space_cut = cut
        else:
            space_cut = cut  # the rest fits whole
        end = space_cut or cut
        chunks.append(rest[:end])
        rest = rest[end:]
    return [f"=?utf-8?b?{base64.b64encode(c.encode('utf-8')).decode('ascii')}?=" for c in chunks]


def _tokens(text: str) -> list[str]:
    """Tokens of an unstructured value, to be joined by single spaces (foldable)."""
    if not text:
        return []
    if _NEEDS_WORDS.search(text):
        return encoded_words(text)
    return text.split(" ")


def fold(name: str, tokens: Sequence[str]) -> str:
    """``Name: tok tok…`` with a fold (CRLF + space) instead of a space where a line would
    pass ``LINE`` characters. A token is never split; a single over-long one keeps its line."""
    lines, line = [], f"{name}:"
    for token in tokens:
        if len(line) + 1 + len(token) > LINE and line.strip() != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def header_line(name: str, text: str) -> str:
    """An unstructured header (Subject, X-…): encoded words only where needed."""
    return fold(name, _tokens(" ".join(text.split())))


def _phrase(display_name: str) -> list[str]:
    """A display name: plain atoms when they need no quoting, else encoded words (which also
    carry commas and dots safely: an encoded word is never parsed as an address separator)."""
    display_name = " ".join(display_name.split())
    if not display_name:
        return []
    if _ATOM.fullmatch(display_name):
        return display_name.split(" ")
    return encoded_words(display_name)


def address_line(name: str, addresses: Sequence[tuple[str, str]]) -> str:
    """``To``/``Cc``/``From``/``Reply-To`` from (display name, ASCII address) pairs."""
    tokens: list[str] = []
    for index, (display, addr) in enumerate(addresses):
        phrase = _phrase(display)
        item = [*phrase, f"<{addr}>"] if phrase else [addr]
        if index < len(addresses) - 1:
            item[-1] += ","
        tokens += item
    return fold(name, tokens)


class Header(str):
    """A header already folded by this module; ``EmailMessage`` writes it as it is.

    ``email.policy`` treats any value with a ``name`` attribute as a header object and calls its
    ``fold(policy=…)`` (documented for ``EmailPolicy.fold``); the string value is the decoded
    text, so reading ``msg["Subject"]`` back gives the subject as written.
    """

    name: str
    folded: str

    def __new__(cls, name: str, text: str, folded: str) -> Header:
        self = super().__new__(cls, text)
        self.name = name
        self.folded = folded
        return self

    def fold(self, *, policy: object) -> str:
        linesep = getattr(policy, "linesep", "\r\n")
        return self.folded.replace("\r\n", linesep)
