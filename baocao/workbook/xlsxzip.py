"""The zip container of an .xlsx, read and written without redoing what did not change.

Why not ``zipfile``: the feedback patch (``xlsxpatch``) changes a few parts of a package already
in memory and copies the rest. ``zipfile`` cannot copy a member's compressed bytes as they are,
and opening a package with it (its directory parsed in Python, a file object per member) costs
as much as the patch itself. Here the central directory is read with ``struct`` from the bytes
at hand, an unchanged member is copied as its compressed bytes (never inflated nor deflated
again), and a changed one is deflated once at level 1 (``entry``).

Anything but a plain single-disk archive (zip64, bytes before the archive, a directory that does
not add up) is listed by ``zipfile`` instead: same names, same members. A member is inflated
only when asked for, checked against its declared size and CRC. Members whose content is known
to repeat (the parts every file of a template shares) are keyed by their compressed bytes
(``Zip.key``), so a caller can cache what it derives from them.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from baocao.recent import Recent

_END = struct.Struct("<4s4H2LH")  # end of central directory record
_CENTRAL = struct.Struct("<4s6H3L5H2L")  # central directory file header
_LOCAL = struct.Struct("<4s5H3L2H")  # local file header
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01: the same input gives the same bytes
STORE_BELOW = 4096  # a new part smaller than this is stored, not deflated (``fresh``)
LEVEL = 1  # deflate level of changed parts: level 6 saves ~15 % of their size for ~50 % more CPU


class BadPackage(Exception):
    """The bytes are not a zip this module reads (the caller uses something slower)."""


@dataclass(frozen=True, slots=True)
class Member:
    """A member as the central directory describes it."""

    name: str
    method: int
    flags: int
    crc: int
    packed: int  # compressed size
    size: int
    offset: int  # of its local header


class Entry(NamedTuple):
    """A member ready to be written: CRC, size, the bytes stored and the method they are in."""

    crc: int
    size: int
    data: bytes
    method: int


def entry(content: bytes) -> Entry:
    """``content`` deflated (raw deflate, as zip stores it) at ``LEVEL``.

    Why the window and memory level: zlib's defaults (a 32 KiB window, memory level 8) make it
    set up ~0.5 MB of tables per call, which costs more than deflating a part of a few KiB. A
    window as large as the content finds the same matches; memory level 6 was measured the
    fastest on these parts, within 0.5 % of the default's size.
    """
    return Entry(zlib.crc32(content), len(content), _deflated(content, zlib.Z_FINISH), 8)


def fresh(content: bytes) -> Entry:
    """A part made for one file only (never cached): stored as it is when under ``STORE_BELOW``
    bytes, else ``entry``. Why: setting up deflate costs ~30 µs a call whatever the size, a
    tenth of a feedback workbook's CPU for its three small new parts (comments, VML, a short
    issues list), to save ~3 KB of a ~20 KB file."""
    if len(content) < STORE_BELOW:
        return Entry(zlib.crc32(content), len(content), content, 0)
    return entry(content)


def _deflated(content: bytes, flush: int) -> bytes:
    window = min(15, max(9, (len(content) - 1).bit_length()))
    packer = zlib.compressobj(LEVEL, zlib.DEFLATED, -window, 6)
    return packer.compress(content) + packer.flush(flush)


def spliced(head: bytes, body: bytes, tail: bytes, rest: bytes = b"") -> Entry:
    """The entry of ``head + body + tail + rest`` where ``body`` and ``rest`` are new: ``head``
    and ``tail`` (the same on every file of a template, such as a sheet's XML around its cells)
    are deflated once per process and cached; ``rest`` (a few hundred bytes that differ from
    unit to unit, such as a page footer naming the unit) is stored as it is: setting up deflate
    for it would cost more than the bytes it saves.

    Each piece is deflated on its own and all but the last end on a sync flush (byte-aligned,
    not final), so the pieces joined are one valid deflate stream, as parallel compressors
    write them; the cost is a few bytes per piece and no matches across pieces.
    """
    crc = zlib.crc32(rest, zlib.crc32(tail, zlib.crc32(body, zlib.crc32(head))))
    first = _PIECES.get((head, zlib.Z_SYNC_FLUSH), lambda: _deflated(head, zlib.Z_SYNC_FLUSH))
    ends = zlib.Z_SYNC_FLUSH if rest else zlib.Z_FINISH
    last = _PIECES.get((tail, ends), lambda: _deflated(tail, ends))
    data = first + _deflated(body, zlib.Z_SYNC_FLUSH) + last + (_stored(rest) if rest else b"")
    return Entry(crc, len(head) + len(body) + len(tail) + len(rest), data, 8)


def _stored(content: bytes) -> bytes:
    """``content`` as the final stored (uncompressed) blocks of a deflate stream whose earlier
    blocks end byte-aligned (a sync flush): each block a header byte (final or not, type 00),
    its length and the length's complement, then the bytes."""
    out = []
    for at in range(0, len(content), 0xFFFF):
        block = content[at : at + 0xFFFF]
        final = at + 0xFFFF >= len(content)
        out.append(bytes((1 if final else 0,)) + struct.pack("<HH", len(block), len(block) ^ 0xFFFF) + block)
    return b"".join(out)


class Zip:
    """The members of a zip held in memory, in their order in the central directory."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.fallback: zipfile.ZipFile | None = None
        try:
            members = _members(data)
        except struct.error:
            members = None
        if members is None:
            members = self._listed_by_zipfile()
        self.members = members

    def _listed_by_zipfile(self) -> dict[str, Member]:
        try:
            self.fallback = zipfile.ZipFile(io.BytesIO(self.data))
            infos = self.fallback.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
            raise BadPackage(f"not a readable zip: {exc}") from exc
        return {
            i.filename: Member(
                i.filename, i.compress_type, i.flag_bits, i.CRC, i.compress_size, i.file_size, i.header_offset
            )
            for i in infos
        }

    def raw(self, member: Member) -> bytes:
        """The member's bytes as stored (compressed), found through its local header."""
        start = member.offset
        if self.data[start : start + 4] != b"PK\x03\x04":
            raise BadPackage(f"no local header for {member.name}")
        name_length, extra_length = struct.unpack_from("<HH", self.data, start + 26)
        begin = start + 30 + name_length + extra_length
        raw = self.data[begin : begin + member.packed]
        if len(raw) != member.packed:
            raise BadPackage(f"{member.name} is cut short")
        return raw

    def key(self, name: str) -> Hashable:
        """What identifies the member's content exactly (method and compressed bytes): equal
        keys, equal contents. None for a member the package does not have."""
        member = self.members.get(name)
        if member is None:
            return None
        return (member.method, member.crc, member.size, self.raw(member))

    def read(self, name: str) -> bytes:
        """The member's content, inflated and checked (``KeyError`` when there is none)."""
        member = self.members[name]
        if self.fallback is not None:
            try:
                return self.fallback.read(name)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, zlib.error) as e:
                raise BadPackage(f"cannot read {name}: {e}") from e
        if member.flags & 0x1:
            raise BadPackage(f"{name} is encrypted")
        raw = self.raw(member)
        if member.method == 8:
            inflater = zlib.decompressobj(-15)
            try:
                content = inflater.decompress(raw, member.size + 1)
            except zlib.error as exc:
                raise BadPackage(f"cannot read {name}: {exc}") from exc
        elif member.method == 0:
            content = raw
        else:
            raise BadPackage(f"{name} is compressed with method {member.method}")
        if len(content) != member.size or zlib.crc32(content) != member.crc:
            raise BadPackage(f"{name} does not match its declared size or CRC")
        return content

    def copied(self, member: Member) -> Entry | None:
        """The member as it is stored, to write again unchanged; None when it must be inflated
        and written again (a data descriptor after it, or too large for a plain header)."""
        if member.flags & 0x08 or member.size >= 1 << 31 or member.packed >= 1 << 31:
            return None
        return Entry(member.crc, member.size, self.raw(member), member.method)


def declared_size(data: bytes) -> int | None:
    """How much a plain zip held in memory inflates to, as its directory declares (what
    ``zipfile`` sums from ``file_size``); None for anything ``_members`` does not read."""
    try:
        members = _members(data)
    except struct.error:
        return None
    return None if members is None else sum(member.size for member in members.values())


def _members(data: bytes) -> dict[str, Member] | None:
    """The central directory of a plain single-disk archive; None for anything else."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - _END.size - 0xFFFF))
    if end < 0:
        return None
    _, disk, directory_disk, here, count, size, offset, _ = _END.unpack_from(data, end)
    if disk or directory_disk or here != count or 0xFFFF in (here, count) or 0xFFFFFFFF in (size, offset):
        return None
    if end >= 20 and data[end - 20 : end - 16] == b"PK\x06\x07":  # zip64 locator
        return None
    if offset + size != end:  # bytes before the archive, or a directory that does not add up
        return None
    members: dict[str, Member] = {}
    at = offset
    for _ in range(count):
        fields = _CENTRAL.unpack_from(data, at)
        if fields[0] != b"PK\x01\x02":
            return None
        flags, method, crc, packed, size = fields[3], fields[4], fields[7], fields[8], fields[9]
        name_length, extra_length, comment_length, local = fields[10], fields[11], fields[12], fields[16]
        if 0xFFFFFFFF in (packed, size, local):
            return None
        raw_name = data[at + 46 : at + 46 + name_length]
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
        name = name.split("\0", 1)[0]  # as zipfile reads it
        if os.sep != "/":
            name = name.replace(os.sep, "/")
        members[name] = Member(name, method, flags, crc, packed, size, local)
        at += 46 + name_length + extra_length + comment_length
    if at != end:
        return None
    return members


def write(entries: Iterable[tuple[str, Entry]]) -> bytes:
    """A zip of ``entries`` in that order (no data descriptors, fixed dates)."""
    chunks: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for name, (crc, size, data, method) in entries:
        encoded = name.encode("utf-8")
        flags = 0 if name.isascii() else 0x800
        fields = (20, flags, method, 0, _DOS_DATE, crc, len(data), size, len(encoded))
        header = _LOCAL.pack(b"PK\x03\x04", *fields, 0)
        chunks += (header, encoded, data)
        central.append(_CENTRAL.pack(b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, 0, offset) + encoded)
        offset += len(header) + len(encoded) + len(data)
    directory = b"".join(central)
    end = _END.pack(b"PK\x05\x06", 0, 0, len(central), len(central), len(directory), offset, 0)
    return b"".join([*chunks, directory, end])


_PIECES: Recent[tuple[bytes, int], bytes] = Recent(64)  # deflated heads and tails (``spliced``)
