"""Who is using the UI: the session cookie set at sign-in (the API's sessions), and the
CSRF token each form carries back."""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request
from litestar.exceptions import PermissionDeniedException

from engine.api.auth import SESSION_COOKIE, Authenticator
from engine.auth.sessions import Session
from engine.records import Actor

__all__ = ["LOGIN_CSRF_COOKIE", "SignInRequired", "check_csrf", "new_login_token", "signed_in"]

#: Double-submit token of the sign-in form (there is no session to hold one yet).
LOGIN_CSRF_COOKIE = "metacrm_login_csrf"


class SignInRequired(Exception):
    """No valid session: the page sends the user to sign in."""


def authenticator(request: Request[Any, Any, Any]) -> Authenticator:
    return request.app.state.authenticator  # type: ignore[no-any-return]


def signed_in(request: Request[Any, Any, Any]) -> tuple[Session, Actor]:
    """The session and the actor it signs in.

    Raises:
        SignInRequired: No cookie, or one that is expired or signed out.
    """
    auth = authenticator(request)
    session = auth.sessions.resolve_session(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise SignInRequired
    return session, auth.users.actor_for(session.user)


def check_csrf(session: Session, form: Any) -> None:
    """A form post must carry its session's token (a page of another site cannot)."""
    if not session.csrf_matches(form.get("csrf_token")):
        raise PermissionDeniedException("the form is stale or did not come from this site")


def new_login_token() -> str:
    return secrets.token_urlsafe(24)
