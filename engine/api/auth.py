"""Who is calling: API tokens (``Authorization: Bearer``) or a session cookie from sign-in.

Every request but health checks, sign-in and the API description resolves to an Actor
before a handler runs. Cookie sessions must echo their CSRF token in ``X-CSRF-Token`` on
unsafe methods (tokens need not: a browser never sends them on its own). Token scopes
narrow what a token may do; they never widen the user's roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import JSONBody

from engine.api.problems import problem, request_locale
from engine.auth import AuthError, LoginThrottled, Scope, SessionStore, TokenStore, UserStore
from engine.auth.scopes import scopes_allow
from engine.records import Actor
from engine.storage.database import Database
from engine.storage.tables import CompiledTables

__all__ = ["AUTH_ROUTES", "Authenticator", "Grant", "require_scope"]

SESSION_COOKIE = "metacrm_session"
CSRF_HEADER = "x-csrf-token"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_ALL_SCOPES = tuple(Scope)


@dataclass(frozen=True)
class Grant:
    """How the caller proved who they are, and what that proof allows."""

    kind: str  # "token" or "session"
    scopes: tuple[Scope, ...]


class Authenticator:
    """Resolves a connection to (Actor, Grant), or None when it carries no valid proof."""

    def __init__(self, db: Database, tables: CompiledTables, *, secure_cookies: bool = False):
        self.users = UserStore(db, tables)
        self.sessions = SessionStore(self.users)
        self.tokens = TokenStore(self.users)
        self.secure_cookies = secure_cookies

    def __call__(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> tuple[Actor, Grant] | None:
        header = connection.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            grant = self.tokens.resolve(header[7:].strip())
            if grant is None:
                return None
            return self.users.actor_for(grant.user), Grant("token", tuple(grant.scopes))
        cookie = connection.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        session = self.sessions.resolve_session(cookie)
        if session is None:
            return None
        method = connection.scope.get("method", "GET")
        if method not in _SAFE and not session.csrf_matches(connection.headers.get(CSRF_HEADER)):
            raise PermissionDeniedException("missing or wrong X-CSRF-Token for a signed-in session")
        return self.users.actor_for(session.user), Grant("session", _ALL_SCOPES)


def require_scope(scope: Scope):
    """A guard refusing callers whose token lacks ``scope`` (403)."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: Any) -> None:
        grant: Grant | None = connection.scope.get("auth")
        if grant is None:
            raise NotAuthorizedException("sign in or send a valid API token")
        if not scopes_allow(grant.scopes, scope):
            raise PermissionDeniedException(f"this token lacks the {scope} scope")

    return guard


class LoginBody(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    password: str


def _authenticator(request: Request[Any, Any, Any]) -> Authenticator:
    return request.app.state.authenticator  # type: ignore[no-any-return]


@post("/api/v1/auth/login", sync_to_thread=True, status_code=200)
def login(request: Request[Any, Any, Any], data: JSONBody[LoginBody]) -> Response[Any]:
    """Sign in; sets the session cookie and returns the CSRF token to echo on writes."""
    auth = _authenticator(request)
    locale = request_locale(request)
    client = request.client.host if request.client else "unknown"
    try:
        session = auth.sessions.login(data.username, data.password, client)
    except LoginThrottled as exc:
        response = problem(429, exc.code, locale, detail=exc.text(locale))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except AuthError as exc:
        return problem(401, exc.code, locale, detail=exc.text(locale))
    user = session.user
    response = Response(
        {
            "user": {
                "id": user.id,
                "username": user.username,
                "display_name": user.display_name,
                "locale": user.locale,
            },
            "csrf_token": session.csrf_token,
        }
    )
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="lax",
        secure=auth.secure_cookies,
        path="/",
        expires=int(session.expires_at.timestamp()),
    )
    return response


@post("/api/v1/auth/logout", sync_to_thread=True, status_code=204)
def logout(request: Request[Any, Any, Any]) -> Response[None]:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        _authenticator(request).sessions.logout(token)
    response: Response[None] = Response(None, status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@get("/api/v1/auth/me", sync_to_thread=False)
def me(request: Request[Any, Any, Any]) -> dict[str, Any]:
    actor: Actor = request.user
    grant: Grant = request.auth
    return {
        "id": actor.user_id,
        "name": actor.name,
        "locale": actor.locale,
        "timezone": actor.timezone,
        "roles": list(actor.roles),
        "org_unit": actor.org_unit,
        "via": grant.kind,
        "scopes": [str(s) for s in grant.scopes],
    }


AUTH_ROUTES = [login, logout, me]
