"""Who a template is for, proven: the signature stored in a template's hidden ``_meta`` sheet.

The template writer signs (form id, version, unit, period); the validator checks the signature
of every workbook it judges. Both import it from here so neither depends on the other.
"""

from __future__ import annotations

import hashlib


def signature(form_id: str, version: str, unit: str, period: str) -> str:
    """A checksum of the template's identity, stored in ``_meta``.

    Not a security boundary (no secret): it catches a ``_meta`` sheet edited by hand or copied
    from another unit's template, which is the realistic mistake.
    """
    text = f"{form_id}|{version}|{unit}|{period}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
