"""What a rule may know besides the record: the user, the old record, the clock.

A compiled rule is called as ``fn(data, env)``. ``env`` is optional; rules that use none
of ``$user``, ``old``, ``changed``, ``now``, ``today`` or a record query
(``record_exists``...) never look at it. Everything that
changes behaviour is passed here explicitly (no globals), so tests inject a fixed clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from sqlalchemy import Executable, Table

    from .reader import FieldReader

__all__ = ["DEFAULT_TIMEZONE", "EvalEnv", "RecordSource", "UserInfo", "system_clock"]

DEFAULT_TIMEZONE = "Asia/Shanghai"


def system_clock() -> datetime:
    """The real time, timezone-aware in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class UserInfo:
    """The acting user, as ``{"var": "$user.<key>"}`` and ``has_role`` see them.

    Attributes:
        id: The user's id.
        roles: Role names the user holds.
        org_unit: The user's own org unit id.
        org_units: The user's org unit and all its ancestors (brand → region → store),
            so ``{"in": [{"var": "org_unit"}, {"var": "$user.org_units"}]}`` reads as
            "the record belongs to my part of the network".
        org_unit_kind: The ``kind`` of the user's own org unit (``store``, ``region``...),
            so a rule can say "only a store's staff".
        attributes: Anything else a deployment exposes as ``$user.<key>``.
    """

    id: Any = None
    roles: tuple[str, ...] = ()
    org_unit: Any = None
    org_units: tuple[Any, ...] = ()
    org_unit_kind: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def as_data(self) -> dict[str, Any]:
        """The user as JsonLogic data (lists, not tuples), for ``$user`` vars."""
        data = dict(self.attributes)
        data.update(
            id=self.id,
            roles=list(self.roles),
            org_unit=self.org_unit,
            org_units=list(self.org_units),
            ancestors=list(self.org_units),
            org_unit_kind=self.org_unit_kind,
        )
        return data


class RecordSource(Protocol):
    """Read-only access to other records, for record queries evaluated in Python.

    The rules compiler builds each query (the same SQL a list filter would run) and hands
    it here; the source only runs it, on the write's own connection, so a validation sees
    the records its transaction wrote. Nothing but a built query can be run through it.

    Attributes:
        tables: The objects' tables by object name.
        reader: Whose rows are searched (None: every live record, as validations search).
    """

    tables: Mapping[str, Table]
    reader: FieldReader | None

    def scalar(self, query: Executable, locks: Sequence[str]) -> Any:
        """The one value ``query`` selects, once writers of ``locks`` (``lock_key``
        names) that could change it have finished (held to the end of the transaction)."""
        ...

    def lock(self, keys: Sequence[str]) -> None:
        """Hold ``keys`` to the end of the transaction: a write of records that a record
        query searches takes the locks that query takes."""
        ...


@dataclass(frozen=True)
class EvalEnv:
    """The evaluation environment of a compiled rule.

    Attributes:
        user: The acting user, or None for system jobs (``$user.*`` reads null).
        old: The record as stored before this update; None on create. ``old`` reads it,
            ``changed`` compares it with the data.
        clock: Returns the current time (aware); injectable for tests.
        timezone: IANA name of the user's time zone; ``today`` and date arithmetic on
            calendar days use it.
        records: Other records, for record queries (None: a rule that asks fails).
    """

    user: UserInfo | None = None
    old: Mapping[str, Any] | None = None
    clock: Callable[[], datetime] = system_clock
    timezone: str = DEFAULT_TIMEZONE
    records: RecordSource | None = None

    @cached_property
    def tz(self) -> tzinfo:
        """The ``ZoneInfo`` of ``timezone``."""
        return ZoneInfo(self.timezone)

    @cached_property
    def user_data(self) -> dict[str, Any] | None:
        """``$user`` as JsonLogic data."""
        return self.user.as_data() if self.user is not None else None

    def now(self) -> datetime:
        """The clock's time in the user's time zone."""
        now = self.clock()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return now.astimezone(self.tz)
