"""Names derived from text: ASCII slugs for file names any file system accepts."""

from __future__ import annotations

import re
import unicodedata


def ascii_slug(text: str, limit: int = 40) -> str:
    """``Phòng Kế hoạch – Tài chính`` -> ``phong-ke-hoach-tai-chinh`` (any file system accepts it)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return slug[:limit].rstrip("-") or "don-vi"
