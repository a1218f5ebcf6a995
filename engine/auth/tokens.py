"""Personal API tokens for scripts and integrations: ``Authorization: Bearer mcrm_...``.

The plaintext is shown once, at creation; the database keeps its SHA-256 and a short
prefix so people can tell their tokens apart in lists. The ``mcrm_`` marker lets secret
scanners recognise leaked tokens.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa

from engine.auth.digests import hash_token
from engine.auth.errors import AmbiguousToken, InvalidUserData, TokenNotFound
from engine.auth.scopes import Scope, parse_scopes
from engine.auth.user_fields import parse_id
from engine.auth.users import User, UserStore, user_from_row

__all__ = ["TOKEN_MARKER", "TokenGrant", "TokenInfo", "TokenStore"]

TOKEN_MARKER = "mcrm_"
_PREFIX_LENGTH = 12  # the marker and 7 random characters: shown in lists, not a secret
_TOUCH_EVERY = dt.timedelta(minutes=1)
_KNOWN_SCOPES = frozenset(s.value for s in Scope)


@dataclass(frozen=True)
class TokenInfo:
    """A token as lists show it; the secret is not here."""

    id: str
    user_id: str
    name: str
    prefix: str
    scopes: tuple[Scope, ...]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    def active(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class TokenGrant(NamedTuple):
    """Who a presented token speaks for, and what it may be used for."""

    user: User
    scopes: tuple[Scope, ...]


class TokenStore:
    """API tokens of the users of ``users`` (its database, tables and clock are used)."""

    def __init__(self, users: UserStore):
        self.users = users
        self.db = users.db
        self.table = users.tables.api_tokens
        self._resolve_query = self._grant_query()

    def create(
        self,
        user: User,
        name: str,
        scopes: Iterable[str],
        expires_in_days: int | None = None,
    ) -> tuple[str, TokenInfo]:
        """Issue a token; returns the plaintext (show it once, then forget it) and its info.

        Raises:
            InvalidUserData: No name, an unknown scope, or a non-positive lifetime.
        """
        label = name.strip()[:100]
        if not label:
            raise InvalidUserData("name", {"en": "Give the token a name", "zh-CN": "请为令牌命名"})
        if expires_in_days is not None and expires_in_days < 1:
            raise InvalidUserData(
                "expires_in_days",
                {"en": "A token lasts at least one day", "zh-CN": "令牌有效期至少一天"},
            )
        plaintext = TOKEN_MARKER + secrets.token_urlsafe(32)
        now = self.users.clock()
        row = {
            "id": str(uuid.uuid4()),
            "user_id": user.id,
            "name": label,
            "prefix": plaintext[:_PREFIX_LENGTH],
            "token_hash": hash_token(plaintext),
            "scopes": [s.value for s in parse_scopes(scopes)],
            "created_at": now,
            "expires_at": now + dt.timedelta(days=expires_in_days) if expires_in_days else None,
            "revoked_at": None,
            "last_used_at": None,
        }
        with self.db.engine.begin() as conn:
            conn.execute(self.table.insert().values(row))
        return plaintext, _info(row)

    def resolve(self, plaintext: str | None) -> TokenGrant | None:
        """The user and scopes for a presented token, or None (unknown, revoked, expired,
        or its user disabled). Records use at most once a minute, to spare the database."""
        if not plaintext or not plaintext.startswith(TOKEN_MARKER):
            return None
        now = self.users.clock()
        with self.db.read() as conn:
            row = conn.execute(
                self._resolve_query, {"digest": hash_token(plaintext), "now": now}
            ).first()
        if row is None:
            return None
        last_used = row.token_last_used_at
        if last_used is None or last_used <= now - _TOUCH_EVERY:
            self._touch(row.token_id, now)
        # A scope dropped from a later engine version is ignored, not an error.
        scopes = tuple(Scope(s) for s in row.token_scopes if s in _KNOWN_SCOPES)
        return TokenGrant(user=user_from_row(row._mapping), scopes=scopes)

    def _grant_query(self) -> sa.Select[Any]:
        """Built once: resolving runs on every request, and building a query costs more
        than running this one."""
        tokens, users = self.table, self.users.tables.users
        now = sa.bindparam("now", type_=tokens.c.expires_at.type)
        return (
            sa.select(users, tokens.c.id.label("token_id"), tokens.c.scopes.label("token_scopes"),
                      tokens.c.last_used_at.label("token_last_used_at"))
            .join(tokens, tokens.c.user_id == users.c.id)
            .where(
                tokens.c.token_hash == sa.bindparam("digest"),
                tokens.c.revoked_at.is_(None),
                sa.or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now),
                users.c.disabled.is_(False),
            )
        )  # fmt: skip

    def revoke(self, ref: str, user: User | None = None) -> TokenInfo:
        """Revoke a token by id or displayed prefix; with ``user``, only among theirs.

        Revoking twice is harmless and keeps the first revocation time.

        Raises:
            TokenNotFound: Nothing matches.
            AmbiguousToken: The prefix matches several tokens.
        """
        matches = self._find(ref, user)
        if not matches:
            raise TokenNotFound(ref)
        if len(matches) > 1:
            raise AmbiguousToken(ref)
        token = matches[0]
        with self.db.engine.begin() as conn:
            conn.execute(
                self.table.update()
                .where(self.table.c.id == token.id, self.table.c.revoked_at.is_(None))
                .values(revoked_at=self.users.clock())
            )
        return self._find(token.id, None)[0]

    def list_tokens(self, user: User) -> list[TokenInfo]:
        """All of ``user``'s tokens, newest first, revoked and expired ones included."""
        query = (
            sa.select(self.table)
            .where(self.table.c.user_id == user.id)
            .order_by(self.table.c.created_at.desc())
        )
        with self.db.read() as conn:
            return [_info(r._mapping) for r in conn.execute(query)]

    def _find(self, ref: str, user: User | None) -> list[TokenInfo]:
        token_id = parse_id(ref)
        where = self.table.c.id == token_id if token_id else self.table.c.prefix == ref.strip()
        query = sa.select(self.table).where(where)
        if user is not None:
            query = query.where(self.table.c.user_id == user.id)
        with self.db.read() as conn:
            return [_info(r._mapping) for r in conn.execute(query.limit(2))]

    def _touch(self, token_id: str, now: dt.datetime) -> None:
        # The condition repeats the check, so concurrent servers write at most once a minute.
        cutoff = now - _TOUCH_EVERY
        with self.db.engine.begin() as conn:
            conn.execute(
                self.table.update()
                .where(
                    self.table.c.id == token_id,
                    sa.or_(self.table.c.last_used_at.is_(None),
                           self.table.c.last_used_at <= cutoff),
                )
                .values(last_used_at=now)
            )  # fmt: skip


def _info(row: Any) -> TokenInfo:
    return TokenInfo(
        id=str(row["id"]),
        user_id=str(row["user_id"]),
        name=row["name"],
        prefix=row["prefix"],
        scopes=tuple(Scope(s) for s in row["scopes"] if s in _KNOWN_SCOPES),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )
