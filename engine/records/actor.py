"""Who is acting, and the explicit, audited options that change how a write runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from engine.rules import DEFAULT_TIMEZONE, UserInfo

__all__ = ["Actor", "WriteOptions"]


@dataclass(frozen=True)
class Actor:
    """The authenticated user a call runs for (or a named system user).

    One is made per request (API, UI) or per job, and ``looked_up`` lives as long as it
    does: what the authorizer looked up about the user to decide their rows (the units
    their scopes reach) is looked up once per actor, not once per query, so a unit moved
    or a membership changed counts from the actor's next request. It is not part of the
    actor's value: equal actors compare and hash alike whatever they have looked up.
    """

    user_id: str | None
    locale: str = "en"
    timezone: str = DEFAULT_TIMEZONE
    roles: tuple[str, ...] = ()
    org_unit: str | None = None
    org_units: tuple[str, ...] = ()
    name: str = ""
    #: The kind of ``org_unit`` (``store``...), as rules read it (``$user.org_unit_kind``).
    org_unit_kind: str | None = None
    looked_up: dict[Any, Any] = field(
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def as_user(self) -> UserInfo:
        return UserInfo(
            id=self.user_id,
            roles=self.roles,
            org_unit=self.org_unit,
            org_units=self.org_units,
            org_unit_kind=self.org_unit_kind,
        )


@dataclass(frozen=True)
class WriteOptions:
    """Switches a caller must ask for by name; each one is recorded in the audit entry.

    Attributes:
        skip_hooks: Do not run plugin before-hooks (bulk data loads by an administrator).
        dry_run: Run every step, then roll the transaction back: nothing is written and no
            after-commit hook runs; the results say what the write would have done.
        reason: Why the caller asked, kept in the audit log.
        process: The approval process whose outcome this write carries out (its name).
            Only such a write may take the transitions that process's final actions name;
            users never can, whatever their roles.
    """

    skip_hooks: bool = False
    dry_run: bool = False
    reason: str = ""
    process: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def audit(self) -> dict[str, object]:
        flags: dict[str, object] = {}
        if self.skip_hooks:
            flags["skip_hooks"] = True
        if self.dry_run:
            flags["dry_run"] = True
        if self.reason:
            flags["reason"] = self.reason
        if self.process:
            flags["process"] = self.process
        return flags
