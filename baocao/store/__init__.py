"""Where outcomes are kept: the store interface, the SQLite ledger behind it, the archive.

``open_store(settings)`` is the one way stages open the store; it refuses to start an empty
ledger over an archive that already holds files (a lost ledger must be restored or rebuilt,
not silently replaced: units that reported would be reminded again).
"""

from __future__ import annotations

from pathlib import Path

from baocao.spec.config import Settings
from baocao.store.archive import Archive
from baocao.store.base import Store
from baocao.store.ledger import Ledger, LedgerError

__all__ = ["Archive", "LedgerError", "Store", "archive_of", "open_store"]


def archive_of(settings: Settings) -> Archive:
    return Archive(settings.path("archive"), settings.timezone)


def open_store(settings: Settings, *, location: Path | None = None) -> Store:
    """Open the deployment's store (the SQLite ledger at ``[paths] ledger``), creating it if new.

    ``location`` opens another ledger file instead (``ledger rebuild`` builds one aside).
    Raises ``LedgerError`` when the ledger is missing but the archive is not, or when the
    ledger is damaged or from a newer baocao.
    """
    path = location or settings.path("ledger")
    if location is None and not path.exists() and archive_of(settings).has_files():
        raise LedgerError(
            f"Không tìm thấy sổ theo dõi {path} nhưng thư mục lưu trữ {settings.path('archive')} "
            "đã có tệp đã nhận. Hãy khôi phục sổ từ bản sao lưu, hoặc chạy 'baocao ledger rebuild' "
            "để dựng lại sổ từ thư mục lưu trữ; chưa thu nhận gì để không nhắc nhầm các đơn vị đã nộp"
        )
    return Ledger(path)
