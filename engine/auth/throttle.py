"""Login rate limiting on ``_login_attempts``, so every server behind the balancer agrees.

Failures count within a sliding window, per username and per client address. The
username limit is low and holds that account only, until its failures age out of the
window. The client limit is far higher: a whole office behind one NAT address shares it,
and it exists to stop one address guessing a few passwords for each of many accounts.
Even then it never holds back a username that has signed in from that address before
(within ``remembered``): the colleagues of whoever is guessing keep signing in, and a
guesser targeting them still meets each account's own limit. IPv6 clients count per /64,
the block one subscriber is given.

A success does not wipe the history: an attacker who also knows one valid password must
not be able to reset the counter for another account. Attempts refused by the throttle
itself are not recorded, so hammering a locked username does not extend its lock.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
from dataclasses import dataclass

import sqlalchemy as sa

from engine.auth.errors import LoginThrottled
from engine.auth.tables import AuthTables

__all__ = ["LoginLimits", "LoginThrottle", "client_key"]

_USERNAME_MAX = 150
_CLIENT_MAX = 64


@dataclass(frozen=True)
class LoginLimits:
    """How many failed logins are allowed within ``window`` before the next is refused.

    Attributes:
        per_username: Failures against one username (from anywhere).
        per_client: Failures from one client address (against any usernames); not applied
            to usernames that signed in from that address within ``remembered``.
        window: How long a failure counts.
        remembered: How long a success makes a username known at an address.
    """

    per_username: int = 5
    per_client: int = 100
    window: dt.timedelta = dt.timedelta(minutes=15)
    remembered: dt.timedelta = dt.timedelta(days=30)


def client_key(address: str) -> str:
    """What attempts from ``address`` are counted under: the address, or its IPv6 /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:_CLIENT_MAX]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


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
        name, address = username[:_USERNAME_MAX], client_key(client)
        wait = self._wait(conn, self.table.c.username == name, self.limits.per_username, now)
        by_client = self._wait(conn, self.table.c.client == address, self.limits.per_client, now)
        if by_client > 0 and not self._known(conn, name, address, now):
            wait = max(wait, by_client)
        if wait > 0:
            raise LoginThrottled(retry_after=wait)

    def record(
        self, conn: sa.Connection, username: str, client: str, now: dt.datetime, succeeded: bool
    ) -> None:
        conn.execute(
            self.table.insert().values(
                username=username[:_USERNAME_MAX],
                client=client_key(client),
                at=now,
                succeeded=succeeded,
            )
        )

    def prune(self, conn: sa.Connection, now: dt.datetime, keep: dt.timedelta) -> int:
        """Delete attempts older than ``keep`` (at least the window and how long successes
        are remembered); returns how many."""
        cutoff = now - max(keep, self.limits.window, self.limits.remembered)
        return conn.execute(self.table.delete().where(self.table.c.at < cutoff)).rowcount

    def _known(self, conn: sa.Connection, username: str, client: str, now: dt.datetime) -> bool:
        """Whether ``username`` signed in from ``client`` within ``remembered``."""
        t = self.table
        query = sa.select(t.c.id).where(
            t.c.username == username,
            t.c.client == client,
            t.c.succeeded.is_(True),
            t.c.at > now - self.limits.remembered,
        )
        return conn.execute(query.limit(1)).first() is not None

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
