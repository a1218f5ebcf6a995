"""Login rate limiting on ``_login_attempts``, so every server behind the balancer agrees.

Failures count within a sliding window, per username and per client (IP address).
A success does not wipe the history: an attacker who also knows one valid password must
not be able to reset the counter for another account. Attempts refused by the throttle
itself are not recorded, so hammering a locked username does not extend its lock.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import sqlalchemy as sa

from engine.auth.errors import LoginThrottled
from engine.auth.tables import AuthTables

__all__ = ["LoginLimits", "LoginThrottle"]

_USERNAME_MAX = 150
_CLIENT_MAX = 64


@dataclass(frozen=True)
class LoginLimits:
    """How many failed logins are allowed within ``window`` before the next is refused."""

    per_username: int = 5
    per_client: int = 20
    window: dt.timedelta = dt.timedelta(minutes=15)


class LoginThrottle:
    """Counts and records login attempts."""

    def __init__(self, tables: AuthTables, limits: LoginLimits):
        self.table = tables.login_attempts
        self.limits = limits

    def check(self, conn: sa.Connection, username: str, client: str, now: dt.datetime) -> None:
        """Raise ``LoginThrottled`` when ``username`` or ``client`` has used up its failures.

        ``retry_after`` is when enough of the counted failures have aged out of the window
        for one more attempt, taking the later of the two limits.
        """
        waits = [
            self._wait(conn, self.table.c.username == username[:_USERNAME_MAX],
                       self.limits.per_username, now),
            self._wait(conn, self.table.c.client == client[:_CLIENT_MAX],
                       self.limits.per_client, now),
        ]  # fmt: skip
        wait = max(waits)
        if wait > 0:
            raise LoginThrottled(retry_after=wait)

    def record(
        self, conn: sa.Connection, username: str, client: str, now: dt.datetime, succeeded: bool
    ) -> None:
        conn.execute(
            self.table.insert().values(
                username=username[:_USERNAME_MAX],
                client=client[:_CLIENT_MAX],
                at=now,
                succeeded=succeeded,
            )
        )

    def prune(self, conn: sa.Connection, now: dt.datetime, keep: dt.timedelta) -> int:
        """Delete attempts older than ``keep`` (at least the window); returns how many."""
        cutoff = now - max(keep, self.limits.window)
        return conn.execute(self.table.delete().where(self.table.c.at < cutoff)).rowcount

    def _wait(
        self, conn: sa.Connection, who: sa.ColumnElement[bool], limit: int, now: dt.datetime
    ) -> int:
        since = now - self.limits.window
        query = (
            sa.select(self.table.c.at)
            .where(who, self.table.c.succeeded.is_(False), self.table.c.at > since)
            .order_by(self.table.c.at.desc())
            .limit(limit)
        )
        recent = conn.execute(query).scalars().all()
        if len(recent) < limit:
            return 0
        # The limit-th most recent failure is the one that must age out.
        frees_at = recent[limit - 1] + self.limits.window
        return max(1, math.ceil((frees_at - now).total_seconds()))
