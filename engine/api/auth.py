"""Who is calling: API tokens (``Authorization: Bearer``) or a session cookie from sign-in.

Every request but health checks, sign-in and the API description resolves to an Actor
before a handler runs. Cookie sessions must echo their CSRF token in ``X-CSRF-Token`` on
unsafe methods (tokens need not: a browser never sends them on its own). Token scopes
narrow what a token may do; they never widen the user's roles.

Sign-in itself has no session to hold a CSRF token, so it takes JSON only (another site's
page cannot send that without the browser asking us first) from our own pages only
(``engine.api.origins``). The cookie lives exactly as long as the session in the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import JSONBody

from engine.api.origins import from_allowed_origin
from engine.api.problems import problem, request_locale
from engine.auth import (
    DEFAULT_SESSION_TTL,
    AuthError,
    ForeignOrigin,
    JsonRequired,
    LoginThrottled,
    Scope,
    SessionStore,
    TokenStore,
    UserStore,
)
from engine.auth.scopes import scopes_allow
from engine.auth.sessions import Session
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
    """Resolves a connection to (Actor, Grant), or None when it carries no valid proof.

    Args:
        secure_cookies: Mark cookies Secure even on requests that arrived over http (TLS
            ends at a proxy that is not in the trusted list).
        allowed_origins: Origins besides our own whose pages may sign users in.
        session_ttl: How long a session (and its cookie) lasts from sign-in.
    """

    def __init__(
        self,
        db: Database,
        tables: CompiledTables,
        *,
        secure_cookies: bool = False,
        allowed_origins: tuple[str, ...] = (),
        session_ttl: dt.timedelta = DEFAULT_SESSION_TTL,
    ):
        self.users = UserStore(db, tables)
        self.sessions = SessionStore(self.users, ttl=session_ttl)
        self.tokens = TokenStore(self.users)
        self.secure_cookies = secure_cookies
        self.allowed_origins = allowed_origins

    def sign_in_refusal(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthError | None:
        """Why a sign-in request must not be served (another site's page), or None."""
        if not from_allowed_origin(connection, self.allowed_origins):
            return ForeignOrigin()
        return None

    def secure(self, connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
        """Whether cookies set on this response get ``Secure``: https, or told so."""
        return self.secure_cookies or connection.url.scheme == "https"

    def session_cookie(
        self, connection: ASGIConnection[Any, Any, Any, Any], session: Session
    ) -> Cookie:
        """The session cookie: it expires when the session does, never later."""
        left = round((session.expires_at - self.users.clock()).total_seconds())
        return Cookie(
            key=SESSION_COOKIE,
            value=session.token,
            path="/",
            max_age=left,
            expires=left,  # Litestar's ``expires`` is seconds from now, like Max-Age
            httponly=True,
            samesite="lax",
            secure=self.secure(connection),
        )

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


async def _refuse_foreign_sign_in(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """Before the body is read: JSON only (415), from our own pages only (403)."""
    refusal = _authenticator(request).sign_in_refusal(request)
    status = 403
    if refusal is None and request.content_type[0] != "application/json":
        refusal, status = JsonRequired(), 415
    if refusal is None:
        return None
    locale = request_locale(request)
    return problem(status, refusal.code, locale, detail=refusal.text(locale))


@post(
    "/api/v1/auth/login",
    sync_to_thread=True,
    status_code=200,
    before_request=_refuse_foreign_sign_in,
)
def login(request: Request[Any, Any, Any], data: JSONBody[LoginBody]) -> Response[Any]:
    """Sign in; sets the session cookie and returns the CSRF token to echo on writes."""
    auth = _authenticator(request)
    locale = request_locale(request)
    client = request.client.host if request.client else "unknown"  # as trusted proxies say
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
    response.set_cookie(auth.session_cookie(request, session))
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
