"""Authentication errors as values: a code, a message in every shipped locale, and details.

Surfaces map them to their own shapes (HTTP 401/403/409/429 with problem details in the
API, a red line in the CLI). Messages never say whether a username exists: a failed login
is one error whatever the reason.
"""

from __future__ import annotations

from typing import Any

from metadata.model.common import Text

__all__ = [
    "AmbiguousToken",
    "AuthError",
    "ForeignOrigin",
    "InvalidUserData",
    "JsonRequired",
    "LoginFailed",
    "LoginThrottled",
    "PasswordRejected",
    "TokenNotFound",
    "UserExists",
    "UserNotFound",
]


class AuthError(Exception):
    """Base of the auth errors; ``code`` is stable, ``message`` is per locale."""

    code = "auth_error"

    def __init__(self, message: Text, **details: Any):
        self.message = message
        self.details = details
        super().__init__(message.get("en", ""))

    def text(self, locale: str) -> str:
        """The message in ``locale``, falling back to English."""
        return self.message.get(locale) or self.message.get("en") or self.code


class PasswordRejected(AuthError):
    """The new password breaks the policy; ``problems`` lists every rule it broke."""

    code = "password_rejected"

    def __init__(self, problems: list[tuple[str, Text]]):
        self.problems = problems
        super().__init__(
            {
                "en": "; ".join(m["en"] for _, m in problems),
                "zh-CN": "；".join(m["zh-CN"] for _, m in problems),
            },
            codes=[code for code, _ in problems],
        )


class InvalidUserData(AuthError):
    """A username, locale, time zone, e-mail, role or scope is malformed."""

    code = "invalid_user_data"

    def __init__(self, field: str, message: Text):
        self.field = field
        super().__init__(message, field=field)


class UserExists(AuthError):
    code = "username_taken"

    def __init__(self, username: str):
        super().__init__(
            {"en": f"User {username} already exists", "zh-CN": f"用户{username}已存在"},
            username=username,
        )


class UserNotFound(AuthError):
    code = "user_not_found"

    def __init__(self, username: str):
        super().__init__(
            {"en": f"No user {username}", "zh-CN": f"用户{username}不存在"}, username=username
        )


class LoginFailed(AuthError):
    """Unknown user, wrong password, disabled user: deliberately one error for all three."""

    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__(
            {"en": "Wrong username or password", "zh-CN": "用户名或密码错误"},
        )


class LoginThrottled(AuthError):
    """Too many recent failures for this username or client; ``retry_after`` in seconds."""

    code = "login_throttled"

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(
            {
                "en": f"Too many failed sign-ins; try again in {retry_after} seconds",
                "zh-CN": f"登录失败次数过多，请在{retry_after}秒后重试",
            },
            retry_after=retry_after,
        )


class ForeignOrigin(AuthError):
    """A sign-in sent by a page of another site (login CSRF), or by a page with no origin."""

    code = "foreign_origin"

    def __init__(self) -> None:
        super().__init__(
            {
                "en": "Sign in from this site's own sign-in page",
                "zh-CN": "请在本站的登录页面登录",
            }
        )


class JsonRequired(AuthError):
    """A sign-in to the API whose body is not ``application/json`` (a form or text/plain,
    which another site's page can send without asking)."""

    code = "json_required"

    def __init__(self) -> None:
        super().__init__(
            {
                "en": "Send the sign-in as application/json",
                "zh-CN": "登录请求须以application/json格式发送",
            }
        )


class TokenNotFound(AuthError):
    code = "token_not_found"

    def __init__(self, ref: str):
        super().__init__({"en": f"No API token {ref}", "zh-CN": f"API令牌{ref}不存在"}, ref=ref)


class AmbiguousToken(AuthError):
    """A prefix matched more than one token; the caller must give the id."""

    code = "token_ambiguous"

    def __init__(self, ref: str):
        super().__init__(
            {
                "en": f"More than one API token starts with {ref}; give the token id",
                "zh-CN": f"有多个API令牌以{ref}开头，请提供令牌ID",
            },
            ref=ref,
        )
