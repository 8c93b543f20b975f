"""Reading one uploaded file from a form, with every refusal worded for the unit.

The size limit is enforced while the body streams in (``security.BodyLimit``); here the form is
parsed with at most one file and a few small fields, the name the browser sent is reduced to a
plain base name (used only as the file's label: baocao names every file it stores itself), and
only the spreadsheet extensions collect accepts get through.
"""

from __future__ import annotations

import ntpath
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from baocao.judging import SPREADSHEET_SUFFIXES
from baocao.names import printable
from baocao.web.security import BodyTooLarge

FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small fields around the file
MAX_NAME = 200


@dataclass(frozen=True)
class Upload:
    """One uploaded spreadsheet: the sender's label for it, its bytes, and what was asked."""

    name: str
    content: bytes
    check_only: bool


class Refused(Exception):
    """An upload that is not taken, with the HTTP status and the Vietnamese reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def display_name(raw: str) -> str:
    """The base name of what the browser sent, NFC, printable, bounded (a label, never a path)."""
    name = unicodedata.normalize("NFC", str(raw))
    name = PurePosixPath(ntpath.basename(name.replace("\\", "/"))).name  # old IE sends C:\...\x.xlsx
    return printable(name, keep="")[:MAX_NAME].strip()


def size_words(limit: int) -> str:
    return f"{limit / 2**20:.0f} MB" if limit >= 2**20 else f"{limit // 1024} KB"


async def read_upload(request: Request, max_bytes: int) -> Upload:
    """The single file of an upload form (field ``tep``) and its mode (``che_do=kiem-tra``).

    Raises ``Refused`` for a body or file over ``max_bytes``, a malformed form, no file, an empty
    file or an extension collect does not take.
    """
    accepted = ", ".join(sorted(SPREADSHEET_SUFFIXES))
    try:
        form = await request.form(max_files=1, max_fields=4, max_part_size=FORM_OVERHEAD)
    except BodyTooLarge:
        raise Refused(413, f"Tệp quá lớn: tối đa {size_words(max_bytes)}. Tệp chưa được nộp.") from None
    except HTTPException:
        raise Refused(400, "Biểu mẫu gửi lên không đọc được; hãy chọn lại tệp và gửi lại.") from None
    try:
        item = form.get("tep")
        if not isinstance(item, UploadFile) or not item.filename:
            raise Refused(400, "Chưa chọn tệp: hãy bấm “Chọn tệp” rồi chọn bảng tính báo cáo.")
        name = display_name(item.filename)
        suffix = PurePosixPath(name.lower()).suffix
        if suffix not in SPREADSHEET_SUFFIXES:
            raise Refused(
                415,
                f"Tệp '{name}' không phải bảng tính được nhận ({accepted}). "
                "Hãy gửi tệp biểu mẫu đã điền, lưu dạng .xlsx.",
            )
        content = await item.read()
        if len(content) > max_bytes:
            raise Refused(413, f"Tệp quá lớn: tối đa {size_words(max_bytes)}. Tệp chưa được nộp.")
        if not content:
            raise Refused(400, f"Tệp '{name}' rỗng (0 byte); hãy lưu lại bảng tính rồi gửi lại.")
        return Upload(name=name, content=content, check_only=form.get("che_do") == "kiem-tra")
    finally:
        await form.close()
