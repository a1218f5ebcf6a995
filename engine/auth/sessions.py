"""Browser sessions: log in with a password, resolve the session cookie, log out.

The cookie carries a random token; the database keeps only its SHA-256, so a leaked
database or backup cannot be replayed as sessions. Each session has a CSRF token the
UI echoes in a header on every unsafe request. Sessions live in the database, so any
server can resolve any session.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from engine.auth.digests import hash_token
from engine.auth.errors import LoginFailed
from engine.auth.throttle import LoginLimits, LoginThrottle
from engine.auth.users import User, UserStore, user_from_row

__all__ = ["DEFAULT_SESSION_TTL", "Session", "SessionStore", "session_ttl_from_env"]

DEFAULT_SESSION_TTL = dt.timedelta(hours=12)
_MAX_SESSION_HOURS = 24 * 30


def session_ttl_from_env(env: Mapping[str, str] = os.environ) -> dt.timedelta:
    """``METACRM_SESSION_HOURS`` (a whole number, 1 to 720), else 12 hours.

    Raises:
        ValueError: The value is not such a number (the message names the setting).
    """
    raw = env.get("METACRM_SESSION_HOURS", "").strip()
    if not raw:
        return DEFAULT_SESSION_TTL
    if not raw.isdigit() or not 1 <= int(raw) <= _MAX_SESSION_HOURS:
        raise ValueError(
            f"METACRM_SESSION_HOURS must be a whole number of hours from 1 to "
            f"{_MAX_SESSION_HOURS}, not {raw!r}"
        )
    return dt.timedelta(hours=int(raw))


@dataclass(frozen=True)
class Session:
    """A signed-in session. ``token`` is the cookie value; it exists only in this object."""

    user: User
    token: str = field(repr=False)
    csrf_token: str = field(repr=False)
    expires_at: dt.datetime

    def csrf_matches(self, presented: str | None) -> bool:
        """Whether the header a request carried is this session's CSRF token."""
        return presented is not None and hmac.compare_digest(
            presented.encode("utf-8"), self.csrf_token.encode("utf-8")
        )


class SessionStore:
    """Sessions and login throttling over the users of ``users``.

    Args:
        users: The user directory (its database, tables and clock are used).
        ttl: How long a session lasts from login.
        limits: Failed-login limits.
    """

    def __init__(
        self,
        users: UserStore,
        ttl: dt.timedelta = DEFAULT_SESSION_TTL,
        limits: LoginLimits | None = None,
    ):
        self.users = users
        self.db = users.db
        self.tables = users.tables
        self.ttl = ttl
        self.throttle = LoginThrottle(self.tables, limits or LoginLimits())

    def login(self, username: str, password: str, client: str) -> Session:
        """Check the password and open a session.

        Args:
            username: As typed; compared case-insensitively.
            password: As typed.
            client: Who is asking, for rate limiting (the client IP address).

        Raises:
            LoginThrottled: Too many recent failures for this username, or from this
                client for a username that has not signed in from it before.
            LoginFailed: Unknown user, wrong password or disabled user (one error for all).
        """
        key = _throttle_key(username)
        with self.db.read() as conn:
            self.throttle.check(conn, key, client, self.users.clock())
        user = self.users.authenticate(username, password)
        now = self.users.clock()
        if user is None:
            with self.db.engine.begin() as conn:
                self.throttle.record(conn, key, client, now, succeeded=False)
            raise LoginFailed()
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        session = Session(user=user, token=token, csrf_token=csrf, expires_at=now + self.ttl)
        sessions = self.tables.sessions
        with self.db.engine.begin() as conn:
            self.throttle.record(conn, key, client, now, succeeded=True)
            conn.execute(  # tidy this user's dead sessions while we are here
                sessions.delete().where(sessions.c.user_id == user.id, sessions.c.expires_at <= now)
            )
            conn.execute(
                sessions.insert().values(
                    token_hash=hash_token(token),
                    user_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=session.expires_at,
                )
            )
        return session

    def resolve_session(self, token: str | None) -> Session | None:
        """The live session for a cookie value, or None (unknown, expired, user disabled)."""
        if not token:
            return None
        sessions, users = self.tables.sessions, self.tables.users
        query = (
            sa.select(
                users, sessions.c.csrf_token, sessions.c.expires_at.label("session_expires_at")
            )
            .join(sessions, sessions.c.user_id == users.c.id)
            .where(
                sessions.c.token_hash == hash_token(token),
                sessions.c.expires_at > self.users.clock(),
                users.c.disabled.is_(False),
            )
        )
        with self.db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return Session(
            user=user_from_row(row._mapping),
            token=token,
            csrf_token=row.csrf_token,
            expires_at=row.session_expires_at,
        )

    def resolve(self, token: str | None) -> User | None:
        """The user a session cookie belongs to, or None."""
        session = self.resolve_session(token)
        return session.user if session else None

    def logout(self, token: str) -> bool:
        """End the session; True if there was one."""
        sessions = self.tables.sessions
        with self.db.engine.begin() as conn:
            result = conn.execute(
                sessions.delete().where(sessions.c.token_hash == hash_token(token))
            )
        return result.rowcount > 0

    def logout_everywhere(self, user: User) -> int:
        """End every session of ``user``; returns how many."""
        sessions = self.tables.sessions
        with self.db.engine.begin() as conn:
            result = conn.execute(sessions.delete().where(sessions.c.user_id == user.id))
        return result.rowcount

    def purge(self, keep_attempts: dt.timedelta = dt.timedelta(days=30)) -> int:
        """Delete expired sessions and old login attempts (for a periodic job)."""
        now = self.users.clock()
        sessions = self.tables.sessions
        with self.db.engine.begin() as conn:
            gone = conn.execute(sessions.delete().where(sessions.c.expires_at <= now)).rowcount
            return gone + self.throttle.prune(conn, now, keep_attempts)


def _throttle_key(username: str) -> str:
    """The username as attempts are counted: normalised even when it is not a valid one."""
    return unicodedata.normalize("NFKC", username).strip().lower()
