"""Where outcomes are kept: the store interface, the SQLite ledger behind it, the archive.

``open_store(settings)`` is the one way stages open the store; it refuses to start an empty
ledger over an archive that already holds files (a lost ledger must be restored or rebuilt,
not silently replaced: units that reported would be reminded again).
"""

from __future__ import annotations

from pathlib import Path

from baocao.errors import ConfigError
from baocao.spec.config import Settings
from baocao.spec.deployment import Deployment
from baocao.store.archive import Archive
from baocao.store.base import Store
from baocao.store.ledger import Ledger, LedgerError

__all__ = ["Archive", "LedgerError", "Store", "archive_of", "open_store", "same_key"]


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


def same_key(dep: Deployment, store: Store) -> None:
    """Refuse to go on with a signing key other than the one this deployment has used.

    Why: the key lives outside the deployment folder, per user; a scheduled task running as
    another account (Windows: SYSTEM), a new machine or a lost key file would otherwise make a
    new key silently, and every template already sent to units would fail to verify (held).
    """
    recorded = store.claim_key(dep.signing_key.key_id)
    if recorded is not None:
        raise ConfigError(
            f"Khóa ký biểu mẫu đang dùng (mã {dep.signing_key.key_id}, lấy từ {dep.signing_key.source}) "
            f"khác khóa của sổ theo dõi này (mã {recorded}): các biểu mẫu đã phát sẽ không xác minh được. "
            f"Hãy chạy bằng tài khoản đã tạo khóa, hoặc đặt biến môi trường BAOCAO_SECRET bằng khóa đó "
            "(xem README, mục Khóa ký biểu mẫu)"
        )
