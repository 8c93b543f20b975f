"""A unit's own web address for a period, and the receipt number it is told after submitting.

The unit page of ``baocao serve`` is reached by a secret link: the path carries the unit, the
period and an HMAC of both keyed with the deployment's secret (``spec.identity``), so nobody can
guess another unit's link. Two ways to revoke links: raise ``[web] link_version`` (every link
changes, templates stay valid: the usual way after a link leaked), or a new secret (every link
*and* every template signature: a new deployment key). Reminders and receipts print the link, so
this lives low in the layers where the notify layer can import it.

The link is a capability, like the template itself: whoever holds it can submit for that unit
and period. It travels in clear without HTTPS (the README says so).
"""

from __future__ import annotations

import hmac

from baocao.spec.deployment import Deployment
from baocao.spec.identity import SigningKey

LINK_PURPOSE = "unit-link"
UNIT_PREFIX = "/don-vi"


def unit_token(key: SigningKey, unit: str, period: str, version: int = 1) -> str:
    """The secret part of ``unit``'s link for ``period`` (32 hex characters, 128 bits)."""
    return key.mac(LINK_PURPOSE, unit, period, str(version))


def token_matches(key: SigningKey, unit: str, period: str, token: str, version: int = 1) -> bool:
    """Whether ``token`` is ``unit``'s token for ``period``, compared in constant time."""
    expected = unit_token(key, unit, period, version)
    return hmac.compare_digest(expected.encode("ascii"), str(token).encode("utf-8", "replace"))


def unit_path(dep: Deployment, unit: str, period: str) -> str:
    """``/don-vi/<period>/<unit>/<token>``: the path of the unit page (unit codes are URL-safe)."""
    token = unit_token(dep.signing_key, unit, period, dep.settings.web.link_version)
    return f"{UNIT_PREFIX}/{period}/{unit}/{token}"


def link_matches(dep: Deployment, unit: str, period: str, token: str) -> bool:
    """Whether ``token`` opens ``unit``'s page for ``period`` in this deployment (constant time)."""
    return token_matches(dep.signing_key, unit, period, token, dep.settings.web.link_version)


def unit_link(dep: Deployment, unit: str, period: str) -> str | None:
    """The full address of ``unit``'s page for ``period``, or None when ``[web] base_url`` is unset.

    For reminders and receipts: without a base URL the deployment has no web desk to point to,
    and the message keeps saying where to drop the file instead.
    """
    base = dep.settings.web.base_url
    if not base:
        return None
    return base.rstrip("/") + unit_path(dep, unit, period)


def receipt_number(file_id: int) -> str:
    """The number a unit quotes for a file the ledger recorded (``BN-000042``): the ledger id,
    so the coordinator finds the file at once and the number never repeats."""
    return f"BN-{file_id:06d}"
