"""What a personal API token may be used for.

Scopes only narrow: a token never lets its user do more than their roles allow, it only
limits which kinds of call the token is good for, so a leaked read-only token cannot write.

| scope            | allows                                                          |
|------------------|-----------------------------------------------------------------|
| ``records:read``   | list, read and export records (subject to the user's roles)   |
| ``records:write``  | create, update, delete records and run transitions; implies read |
| ``metadata:read``  | read the compiled schema, layouts and translations             |
| ``admin``          | everything, including users, tokens and metadata changes       |
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from engine.auth.errors import InvalidUserData

__all__ = ["Scope", "parse_scopes", "scopes_allow"]


class Scope(StrEnum):
    RECORDS_READ = "records:read"
    RECORDS_WRITE = "records:write"
    METADATA_READ = "metadata:read"
    ADMIN = "admin"


_IMPLIES: dict[Scope, frozenset[Scope]] = {
    Scope.ADMIN: frozenset(Scope),
    Scope.RECORDS_WRITE: frozenset({Scope.RECORDS_WRITE, Scope.RECORDS_READ}),
}


def parse_scopes(values: Iterable[str]) -> tuple[Scope, ...]:
    """Scopes from their names, duplicates dropped, order kept.

    Raises:
        InvalidUserData: A name is not a scope, or there are none.
    """
    found: dict[Scope, None] = {}
    for value in values:
        try:
            found[Scope(value.strip())] = None
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise InvalidUserData(
                "scopes",
                {"en": f"Unknown scope {value!r}; known: {known}",
                 "zh-CN": f"未知权限范围{value!r}；可用：{known}"},
            ) from None  # fmt: skip
    if not found:
        raise InvalidUserData(
            "scopes",
            {"en": "Give at least one scope", "zh-CN": "请至少指定一个权限范围"},
        )
    return tuple(found)


def scopes_allow(granted: Iterable[Scope], required: Scope) -> bool:
    """Whether a token holding ``granted`` may make a call that needs ``required``."""
    return any(required in _IMPLIES.get(scope, frozenset({scope})) for scope in granted)
