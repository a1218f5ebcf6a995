"""Checking and normalising what a user record holds: username, locale, time zone, roles.

Usernames are compared case-insensitively by storing them normalised (NFKC, trimmed,
lower case), so ``Alice`` and ``alice`` are one account and the unique constraint on
``_users.username`` enforces it across servers.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.auth.errors import InvalidUserData

__all__ = [
    "check_email",
    "check_locale",
    "check_org_unit",
    "check_roles",
    "check_timezone",
    "normalize_username",
    "parse_id",
]

_USERNAME = re.compile(r"[\w.@+-]{1,150}")
_LOCALE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,4})?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_ROLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def normalize_username(username: str) -> str:
    """The stored form of ``username``; raises ``InvalidUserData`` when it cannot be one."""
    name = unicodedata.normalize("NFKC", username).strip().lower()
    if not _USERNAME.fullmatch(name):
        raise InvalidUserData(
            "username",
            {
                "en": "A username has 1 to 150 letters, digits or . _ @ + -",
                "zh-CN": "用户名须为1到150个字母、数字或 . _ @ + - 字符",
            },
        )
    return name


def check_locale(locale: str) -> str:
    if not _LOCALE.fullmatch(locale):
        raise InvalidUserData(
            "locale",
            {"en": f"{locale!r} is not a locale such as zh-CN or en",
             "zh-CN": f"{locale!r}不是有效的语言区域（如 zh-CN、en）"},
        )  # fmt: skip
    return locale


def check_timezone(timezone: str) -> str:
    """``timezone`` if it is an IANA zone; an unknown zone would break every date rule later."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidUserData(
            "timezone",
            {"en": f"{timezone!r} is not a time zone such as Asia/Shanghai",
             "zh-CN": f"{timezone!r}不是有效的时区（如 Asia/Shanghai）"},
        ) from None  # fmt: skip
    return timezone


def check_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    email = email.strip()
    if len(email) > 320 or not _EMAIL.fullmatch(email):
        raise InvalidUserData(
            "email",
            {"en": f"{email!r} is not an e-mail address", "zh-CN": f"{email!r}不是有效的邮箱地址"},
        )
    return email


def check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """Role names, duplicates dropped, order kept; each must look like a metadata name."""
    seen: dict[str, None] = {}
    for role in roles:
        if not _ROLE.fullmatch(role):
            raise InvalidUserData(
                "roles",
                {"en": f"{role!r} is not a role name", "zh-CN": f"{role!r}不是有效的角色名"},
            )
        seen[role] = None
    return tuple(seen)


def check_org_unit(org_unit: str | None) -> str | None:
    if org_unit is None:
        return None
    parsed = parse_id(org_unit)
    if parsed is None:
        raise InvalidUserData(
            "org_unit",
            {"en": f"{org_unit!r} is not an org unit id",
             "zh-CN": f"{org_unit!r}不是有效的组织单元ID"},
        )  # fmt: skip
    return parsed


def parse_id(value: str) -> str | None:
    """``value`` as a canonical UUID string, or None (so lookups never hit a type error)."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        return None
