"""Who may use the engine: users, passwords, browser sessions, API tokens, login limits.

Everything lives in the tenant's database (``_users``, ``_sessions``, ``_api_tokens``,
``_login_attempts``), so API servers stay stateless. Secrets are never stored: passwords
as scrypt hashes, session and API tokens as SHA-256 digests.

Typical wiring (the API's auth middleware)::

    users = UserStore(db, compiled.tables)
    sessions, tokens = SessionStore(users), TokenStore(users)
    user = sessions.resolve(cookie) or (grant := tokens.resolve(bearer)) and grant.user
    actor = users.actor_for(user)
"""

from engine.auth.digests import hash_token
from engine.auth.errors import (
    AmbiguousToken,
    AuthError,
    ForeignOrigin,
    InvalidUserData,
    JsonRequired,
    LoginFailed,
    LoginThrottled,
    PasswordRejected,
    TokenNotFound,
    UserExists,
    UserNotFound,
)
from engine.auth.passwords import PasswordHasher, check_password_policy, password_problems
from engine.auth.scopes import Scope, parse_scopes, scopes_allow
from engine.auth.sessions import (
    DEFAULT_SESSION_TTL,
    Session,
    SessionStore,
    session_ttl_from_env,
)
from engine.auth.tables import AuthTables, auth_tables, ensure_auth_tables
from engine.auth.throttle import LoginLimits
from engine.auth.tokens import TOKEN_MARKER, TokenGrant, TokenInfo, TokenStore
from engine.auth.users import User, UserStore

__all__ = [
    "DEFAULT_SESSION_TTL",
    "TOKEN_MARKER",
    "AmbiguousToken",
    "AuthError",
    "AuthTables",
    "ForeignOrigin",
    "InvalidUserData",
    "JsonRequired",
    "LoginFailed",
    "LoginLimits",
    "LoginThrottled",
    "PasswordHasher",
    "PasswordRejected",
    "Scope",
    "Session",
    "SessionStore",
    "TokenGrant",
    "TokenInfo",
    "TokenNotFound",
    "TokenStore",
    "User",
    "UserExists",
    "UserNotFound",
    "UserStore",
    "auth_tables",
    "check_password_policy",
    "ensure_auth_tables",
    "hash_token",
    "parse_scopes",
    "password_problems",
    "scopes_allow",
    "session_ttl_from_env",
]
