"""Coordinator accounts of the web desk: names and argon2 hashes in one small text file.

Why a file of its own and not config.toml: config.toml is often kept in a repository or copied
between machines, and an account is a per-machine fact. The file holds no password, only an
argon2id hash per name (``ten:$argon2id$…``), one per line, ``#`` for comments; ``baocao
web-user`` writes it. A hash is still worth guarding: the file is created readable by its owner
only where the OS allows it.

Checking a password always costs one argon2 verification, also for a name that does not exist,
so the time a login takes does not tell which names are accounts.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from baocao.errors import ConfigError, UsageError
from baocao.files import atomic_write

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 10
_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
_DUMMY = _HASHER.hash("baocao: không phải tài khoản nào")


def check_name(name: str) -> str:
    """A valid account name (lower-case ASCII letters, digits, ``.``, ``_``, ``-``; 2–32)."""
    name = unicodedata.normalize("NFC", str(name)).strip().lower()
    if not NAME_RE.match(name):
        raise UsageError(
            f"Tên tài khoản '{name}' không hợp lệ: 2–32 ký tự gồm chữ thường không dấu, số, '.', '_', '-'"
        )
    return name


def load_users(path: Path) -> dict[str, str]:
    """Name -> argon2 hash from the users file (empty when there is no file yet).

    Raises ``ConfigError`` naming the line for a malformed one: a silently skipped line would
    lock a coordinator out without saying why.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Không đọc được tệp tài khoản {path}: {exc}") from None
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, hashed = line.partition(":")
        if not NAME_RE.match(name) or not hashed.startswith("$argon2"):
            raise ConfigError(f"Tệp tài khoản {path}, dòng {number}: cần dạng 'ten:$argon2id$…'")
        users[name] = hashed
    return users


def _write(path: Path, users: dict[str, str]) -> None:
    lines = ["# Tài khoản trang điều phối của baocao (baocao web-user). Chỉ có mã băm argon2."]
    lines += [f"{name}:{hashed}" for name, hashed in sorted(users.items())]
    atomic_write(path, ("\n".join(lines) + "\n").encode("utf-8"))
    if os.name != "nt":
        path.chmod(0o600)


def set_password(path: Path, name: str, password: str) -> bool:
    """Create account ``name`` or change its password; True when it is new.

    Raises ``UsageError`` for a bad name or a password shorter than ``MIN_PASSWORD``.
    """
    name = check_name(name)
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"Mật khẩu cần ít nhất {MIN_PASSWORD} ký tự")
    users = load_users(path)
    created = name not in users
    users[name] = _HASHER.hash(password)
    _write(path, users)
    return created


def remove_user(path: Path, name: str) -> bool:
    """Delete account ``name``; False when there was none. Its open sessions end at their next
    request (the board checks the account on every request)."""
    users = load_users(path)
    if users.pop(check_name(name), None) is None:
        return False
    _write(path, users)
    return True


def verify(users: dict[str, str], name: str, password: str) -> bool:
    """Whether ``password`` is ``name``'s, in about the same time whether or not ``name`` exists."""
    hashed = users.get(name.strip().lower(), _DUMMY)
    try:
        ok = _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and hashed is not _DUMMY
