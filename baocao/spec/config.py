"""Loading and checking ``config.toml``: one typed ``Settings`` object for a deployment.

Why strict: a coordinator edits this file by hand, often months after it was written. A typo
that is silently ignored (``reminder_day`` instead of ``reminder_days``) would mean reminders
never go out. So every unknown key is an error, and every wrong value names the key, what is
wrong and what is expected, in one line.

Paths are resolved relative to the folder of the config file, so a deployment folder can be
moved (or mounted on another drive letter on Windows) without editing it.

This module is the loader and the public face: the settings dataclasses live in
``spec.settings``, the value checkers in ``spec.config_checks``, the mail sections in
``spec.config_mail`` and the period tables in ``spec.config_periods``; every name other
modules import from here is re-exported (``__all__``).
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from baocao.names import ascii_slug
from baocao.spec.config_checks import (
    _base_url,
    _blank_or_text,
    _bool,
    _fail,
    _float_in,
    _int_in,
    _path_text,
    _table,
    _text,
    _texts,
)
from baocao.spec.config_mail import DOMAIN_RE, _imap, _mail
from baocao.spec.config_periods import _periods
from baocao.spec.settings import (
    LEVELS,
    PATH_KEYS,
    PATH_LABELS,
    CollectSettings,
    DayMonth,
    ImapSettings,
    MailSettings,
    PeriodKind,
    ReportSettings,
    ScheduleSettings,
    Settings,
    WebSettings,
    _check_separate,
)
from baocao.spec.tomlfile import read_toml

# The public face: other layers, tests and scripts import these from ``baocao.spec.config``.
__all__ = [
    "DOMAIN_RE",
    "LEVELS",
    "PATH_KEYS",
    "PATH_LABELS",
    "TOP_KEYS",
    "CollectSettings",
    "DayMonth",
    "ImapSettings",
    "MailSettings",
    "PeriodKind",
    "ReportSettings",
    "ScheduleSettings",
    "Settings",
    "WebSettings",
    "load_config",
]


TOP_KEYS = {
    "organisation",
    "paths",
    "form",
    "registry",
    "periods",
    "mail",
    "schedule",
    "collect",
    "report",
    "intake",
    "web",
}


def load_config(path: str | Path) -> Settings:
    """Read and check a deployment's ``config.toml``.

    Returns a ``Settings`` whose paths are absolute. Raises ``ConfigError`` with one line
    naming the key for a missing file, bad TOML, an unknown key or a wrong value.
    """
    config_file = Path(path).resolve()
    data = read_toml(config_file)
    for key in data:
        if key not in TOP_KEYS:
            raise _fail(key, "khóa không được hỗ trợ", "một trong: " + ", ".join(sorted(TOP_KEYS)))
    base = config_file.parent

    org = _table(
        data,
        "organisation",
        {
            "name": _text,
            "coordinator": _text,
            "issuing_body": _text,
            "province": _text,
            "timezone": _text,
            "inclusive_deadline": _bool,
            "submit_to": _text,
            "contact_name": _text,
            "contact_phone": _text,
            "key_name": _text,
        },
    )
    if "name" not in org:
        raise _fail("organisation.name", "thiếu khóa bắt buộc", "tên cơ quan tổng hợp")
    tz_name = org.get("timezone", "Asia/Ho_Chi_Minh")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(
            "organisation.timezone", f"không biết múi giờ {tz_name!r}", 'ví dụ "Asia/Ho_Chi_Minh"'
        ) from None

    path_values = _table(data, "paths", {key: _path_text for key in PATH_KEYS})
    paths = {key: (base / path_values.get(key, f"workbooks/{key}")).resolve() for key in PATH_KEYS}
    if "ledger" not in path_values:
        paths["ledger"] = (base / "workbooks/ledger.sqlite").resolve()
    _check_separate(paths)

    for key in ("form", "registry"):
        if key not in data:
            raise _fail(key, "thiếu khóa bắt buộc", "đường dẫn tới tệp")
    form_file = (base / _path_text("form", data["form"])).resolve()
    registry_file = (base / _path_text("registry", data["registry"])).resolve()

    kinds = _periods(data)

    mail = _mail(data, org)

    schedule = ScheduleSettings(
        **_table(
            data,
            "schedule",
            {
                "interval_minutes": _int_in(1, 1440),
                "log_max_kb": _int_in(16, 1024 * 1024),
                "log_backups": _int_in(0, 100),
            },
        )
    )
    collect = CollectSettings(
        **_table(
            data,
            "collect",
            {
                "stable_seconds": _float_in(0, 3600),
                "workers": _int_in(0, 64),
                "max_file_mb": _float_in(0.01, 1024),
                "max_unpacked_mb": _float_in(0.1, 8192),
                "read_timeout_seconds": _float_in(1, 3600),
            },
        )
    )
    report = ReportSettings(
        **_table(
            data,
            "report",
            {
                "agency": _blank_or_text,
                "number_suffix": _blank_or_text,
                "plan": _blank_or_text,
                "recipients": _texts,
                "signer_authority": _blank_or_text,
                "signer_title": _blank_or_text,
                "signer_name": _blank_or_text,
            },
        )
    )
    web_values = _table(
        data,
        "web",
        {
            "base_url": _base_url,
            "host": _text,
            "port": _int_in(1, 65535),
            "users_file": _text,
            "session_minutes": _int_in(5, 7 * 24 * 60),
            "login_attempts": _int_in(1, 100),
            "upload_wait_seconds": _float_in(0, 600),
            "link_version": _int_in(1, 1_000_000),
        },
    )
    users_file = web_values.pop("users_file", None)
    default_users = paths["ledger"].parent / "tai-khoan-web.txt"
    web = WebSettings(**web_values, users_file=(base / users_file).resolve() if users_file else default_users)
    return Settings(
        config_file=config_file,
        organisation=org["name"],
        coordinator=org.get("coordinator", org["name"]),
        issuing_body=org.get("issuing_body", ""),
        province=org.get("province", ""),
        timezone=tz,
        inclusive_deadline=org.get("inclusive_deadline", False),
        submit_to=org.get("submit_to", str(paths["inbox"])),
        paths=paths,
        form_file=form_file,
        registry_file=registry_file,
        period_kinds=kinds,
        mail=mail,
        contact_name=org.get("contact_name", ""),
        contact_phone=org.get("contact_phone", ""),
        schedule=schedule,
        collect=collect,
        report=report,
        imap=_imap(data),
        web=web,
        key_name=org.get("key_name") or ascii_slug(org["name"], 60),
    )
