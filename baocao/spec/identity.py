"""Who a template is for, proven: an HMAC signature keyed with the deployment's secret.

The template writer signs (form id, version, unit, period) into the hidden ``_meta`` sheet; the
validator checks that signature on every workbook it judges. Without the secret nobody can make
a valid signature, so a unit that re-labels the ``_meta`` sheet of its own template (or builds
a workbook by hand) cannot pass it off as another unit's report.

The secret is per deployment and never in the deployment folder or the repository. It is read,
in this order, from:
1. the environment variable ``BAOCAO_SECRET`` (CI, a scheduled task under another account);
2. the OS keyring, service ``baocao-khoa-ky``, user = the key name (a coordinator who prefers
   Windows Credential Manager or the macOS keychain puts it there);
3. the file ``<app data>/baocao/khoa/<key name>.key`` in the user's application-data folder
   (``%LOCALAPPDATA%`` on Windows, ``~/Library/Application Support`` on macOS,
   ``$XDG_DATA_HOME`` or ``~/.local/share`` elsewhere), created with 32 random bytes on first
   use, readable by its owner only.
The key name is ``[organisation] key_name`` or, by default, the organisation's name as a slug.
The same secret always gives the same template bytes; a new secret makes earlier templates
unverifiable (their files are then held for the coordinator, not lost).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import pickle
import secrets
import stat
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from filelock import FileLock

from baocao.errors import ConfigError
from baocao.names import safe_name

logger = logging.getLogger(__name__)

SECRET_ENV = "BAOCAO_SECRET"
KEYRING_SERVICE = "baocao-khoa-ky"
MIN_SECRET_CHARS = 16


class Proof(StrEnum):
    """What a workbook proves about whose template it is."""

    VERIFIED = "verified"  # signed with this deployment's key for exactly the unit and period it claims
    VOUCHED = "vouched"  # not proven, but a coordinator released it on purpose (``baocao release``)
    MISSING = "missing"  # no signature at all (a hand-made workbook, ``_meta`` deleted)
    OTHER_KEY = "other_key"  # signed with another key (another deployment, a key since replaced)
    INVALID = "invalid"  # this key's mark, but the signature does not fit what the file claims

    @property
    def proven(self) -> bool:
        return self in (Proof.VERIFIED, Proof.VOUCHED)


@dataclass(frozen=True)
class SigningKey:
    """The deployment's secret and where it came from (``source`` is for ``baocao info``)."""

    secret: bytes
    source: str
    created: bool = False

    def mac(self, purpose: str, *parts: str) -> str:
        """A keyed checksum of ``parts`` for ``purpose`` (128 bits, hex).

        JSON keeps ``("A|B", "C")`` and ``("A", "B|C")`` apart; ``purpose`` keeps a template
        signature from ever being valid as, say, a unit's web link (issue 15 uses ``mac`` too).
        """
        message = json.dumps([purpose, *parts], ensure_ascii=False).encode("utf-8")
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()[:32]

    @property
    def key_id(self) -> str:
        """A short public name of the key, written in every template: tells "made with another
        key" from "edited" in messages. It reveals nothing of the secret."""
        return self.mac("key-id")[:8]

    def sign(self, form_id: str, version: str, unit: str, period: str) -> str:
        return self.mac("template", form_id, version, unit, period)

    def check(self, meta: Mapping[str, str], form_id: str, version: str, unit: str, period: str) -> Proof:
        """Does ``meta`` (a workbook's ``_meta`` rows) prove it is the template of ``unit``/``period``?"""
        claimed = str(meta.get("signature") or "")
        if not claimed:
            return Proof.MISSING
        if hmac.compare_digest(claimed.encode(), self.sign(form_id, version, unit, period).encode()):
            return Proof.VERIFIED
        return Proof.INVALID if meta.get("key_id") == self.key_id else Proof.OTHER_KEY


def key_folder() -> Path:
    """The per-user application-data folder where generated keys are kept."""
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "baocao" / "khoa"


def _checked(secret: str, where: str) -> bytes:
    secret = secret.strip()
    if len(secret) < MIN_SECRET_CHARS:
        raise ConfigError(f"Khóa ký biểu mẫu ở {where} quá ngắn: cần ít nhất {MIN_SECRET_CHARS} ký tự")
    return secret.encode("utf-8")


def keyring_password(service: str, user: str) -> str | None:
    """The OS keyring's entry for ``service``/``user``, or None when there is none or no usable
    keyring (a server with no desktop session): the same as no entry, never an exception.

    keyring is imported only here, and without its macOS Security bindings off macOS: importing
    those looks for the macOS frameworks with ``ctypes.util.find_library``, which on Linux runs
    ``ldconfig`` and compilers in subprocesses (~0.15 s of ``baocao check``), for a backend whose
    priority refuses any other platform anyway. keyring catches the missing module itself, so
    which backend it picks is unchanged.
    """
    if sys.platform != "darwin":
        sys.modules.setdefault("keyring.backends.macOS.api", None)  # type: ignore[arg-type]
    import keyring
    import keyring.errors

    try:
        return keyring.get_password(service, user)
    except (keyring.errors.KeyringError, RuntimeError, OSError):  # no keyring on this machine
        return None


def _from_keyring(name: str) -> str | None:
    return keyring_password(KEYRING_SERVICE, name)


def load_signing_key(name: str, folder: Path | None = None) -> SigningKey:
    """The deployment's key named ``name``: environment, keyring, key file, or a new key file.

    A new key is created once even when two processes ask at the same moment (a file lock),
    with owner-only permissions on POSIX (on Windows the user's profile folder is already
    private to the user). Raises ``ConfigError`` for a secret that is too short or a key file
    that cannot be read or written.
    """
    key, notes = _find_signing_key(name, folder)
    for note in notes:
        logger.warning("%s", note)
    return key


def _find_signing_key(name: str, folder: Path | None = None) -> tuple[SigningKey, list[str]]:
    """``load_signing_key``, with what it has to tell the coordinator returned, not logged (a
    child process looking it up ahead hands them to its parent, ``signing_key_ahead``)."""
    from_env = os.environ.get(SECRET_ENV)
    if from_env:
        where = f"biến môi trường {SECRET_ENV}"
        return SigningKey(_checked(from_env, where), where), []
    from_keyring = _from_keyring(name)
    if from_keyring:
        where = f"keyring (dịch vụ {KEYRING_SERVICE}, tên {name})"
        return SigningKey(_checked(from_keyring, where), where), []
    folder = folder or key_folder()
    path = folder / f"{safe_name(name, 'baocao')}.key"
    notes = []
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with FileLock(str(path) + ".lock", timeout=30):
            created = not path.exists()
            if created:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(secrets.token_urlsafe(32) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                notes.append(f"Đã tạo khóa ký biểu mẫu mới: {path}")
            text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Không đọc/ghi được khóa ký biểu mẫu {path}: {exc}") from None
    if os.name != "nt" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        notes.append(f"Tệp khóa {path} cho người khác đọc được; nên đặt quyền 600")
    return SigningKey(_checked(text, str(path)), str(path), created), notes


def signing_key_ahead(name: str) -> Callable[[], SigningKey]:
    """Begin ``load_signing_key(name)`` now in a child process; the function returned waits for
    it and gives the same key, logs the same notes and raises the same ``ConfigError``.

    Why: the lookup imports keyring and asks the OS keyring which backend it has (~0.1 s of
    CPU), on the serial path of ``collect`` before its workers can start; a child does it
    while the caller imports the collect machinery. Same order (environment, keyring, key
    file), same single creation of a new key file (the child creates it under the file lock,
    the caller only reads the answer). Only where forking is safe and cheap: Linux, a caller
    with a single thread; and not when the environment holds the secret (nothing to wait for).
    Anywhere else, and if the child fails in any other way, the lookup runs here when asked.
    """
    if os.environ.get(SECRET_ENV) or not sys.platform.startswith("linux") or threading.active_count() > 1:
        return lambda: load_signing_key(name)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: look it up, send the answer, leave without running anything else
        try:
            os.close(read)
            try:
                answer: object = _find_signing_key(name)
            except ConfigError as exc:
                answer = exc
            except BaseException:
                answer = None  # the caller looks it up itself
            with os.fdopen(write, "wb") as pipe:
                pickle.dump(answer, pipe)
        finally:
            os._exit(0)
    os.close(write)

    def wait() -> SigningKey:
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()
        os.waitpid(pid, 0)
        try:
            answer = pickle.loads(data)
        except Exception:  # the child died before answering
            answer = None
        if isinstance(answer, ConfigError):
            raise answer
        if answer is None:
            return load_signing_key(name)
        key, notes = answer
        for note in notes:
            logger.warning("%s", note)
        return key

    return wait
