"""Password hashing (scrypt, stdlib only) and the password policy.

A hash is stored as ``scrypt$n$r$p$salt_b64$hash_b64``: the cost travels with the hash, so
raising the default cost later still verifies old hashes and ``needs_rehash`` tells the
login path to upgrade them. Tests build a cheap ``PasswordHasher(n=2**4)`` rather than
flipping a global switch.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import cached_property

from engine.auth.errors import PasswordRejected
from metadata.model.common import Text

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "PasswordHasher",
    "check_password_policy",
    "password_problems",
]

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # bounds the hashing work one request can ask for
_ALGORITHM = "scrypt"
_SALT_BYTES = 16
_HASH_BYTES = 32
_MAX_N = 2**20  # refuse stored hashes that would ask for more than ~1 GiB of memory


@dataclass(frozen=True)
class PasswordHasher:
    """scrypt with a given cost; the defaults are the production cost, OWASP's minimum for
    scrypt (N=2^17, r=8, p=1: 128 MiB and about half a second of one core per sign-in).

    Attributes:
        n: CPU/memory cost, a power of two.
        r: Block size.
        p: Parallelism.
    """

    n: int = 2**17
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1) or self.n > _MAX_N:
            raise ValueError(f"scrypt n must be a power of two between 2 and {_MAX_N}")
        if self.r < 1 or self.p < 1:
            raise ValueError("scrypt r and p must be positive")

    def hash(self, password: str) -> str:
        """A fresh salted hash of ``password``, in the self-describing encoded form."""
        salt = secrets.token_bytes(_SALT_BYTES)
        digest = _scrypt(password, salt, self.n, self.r, self.p)
        return "$".join(
            [_ALGORITHM, str(self.n), str(self.r), str(self.p), _b64(salt), _b64(digest)]
        )

    def verify(self, password: str, encoded: str | None) -> bool:
        """Whether ``password`` matches ``encoded``; malformed or missing hashes never match.

        With no usable hash the dummy hash is checked anyway, so the time taken does not
        tell an attacker whether the account exists or has a password.
        """
        parsed = _parse(encoded) if encoded else None
        if parsed is None:
            self.burn(password)
            return False
        n, r, p, salt, expected = parsed
        actual = _scrypt(password[:MAX_PASSWORD_LENGTH], salt, n, r, p, len(expected))
        matched = hmac.compare_digest(actual, expected)
        return matched and len(password) <= MAX_PASSWORD_LENGTH

    def burn(self, password: str) -> None:
        """Spend the time of one verification (for unknown users) and match nothing."""
        n, r, p, salt, expected = _parse(self._dummy_hash)  # type: ignore[misc]
        _scrypt(password[:MAX_PASSWORD_LENGTH], salt, n, r, p, len(expected))

    def needs_rehash(self, encoded: str) -> bool:
        """Whether ``encoded`` was made with a different cost than this hasher's."""
        parsed = _parse(encoded)
        return parsed is None or parsed[:3] != (self.n, self.r, self.p)

    @cached_property
    def _dummy_hash(self) -> str:
        return self.hash(secrets.token_urlsafe(16))


def password_problems(password: str, username: str | None = None) -> list[tuple[str, Text]]:
    """Every policy rule ``password`` breaks, as ``(code, message)``; empty when it is fine."""
    problems: list[tuple[str, Text]] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            (
                "password_too_short",
                {
                    "en": f"The password must have at least {MIN_PASSWORD_LENGTH} characters",
                    "zh-CN": f"密码至少需要{MIN_PASSWORD_LENGTH}个字符",
                },
            )
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(
            (
                "password_too_long",
                {
                    "en": f"The password must have at most {MAX_PASSWORD_LENGTH} characters",
                    "zh-CN": f"密码不能超过{MAX_PASSWORD_LENGTH}个字符",
                },
            )
        )
    if username and password.strip().casefold() == username.strip().casefold():
        problems.append(
            (
                "password_is_username",
                {
                    "en": "The password must not be the username",
                    "zh-CN": "密码不能与用户名相同",
                },
            )
        )
    return problems


def check_password_policy(password: str, username: str | None = None) -> None:
    """Raise ``PasswordRejected`` listing every broken rule, or return quietly."""
    problems = password_problems(password, username)
    if problems:
        raise PasswordRejected(problems)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int = _HASH_BYTES) -> bytes:
    maxmem = 128 * r * (n + p + 2) + 1024 * 1024
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=dklen
    )


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != _ALGORITHM:
        return None
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, digest = (
            base64.b64decode(parts[4], validate=True),
            base64.b64decode(parts[5], validate=True),
        )
    except ValueError:
        return None
    if n < 2 or n & (n - 1) or n > _MAX_N or not 1 <= r <= 64 or not 1 <= p <= 16 or not digest:
        return None
    return n, r, p, salt, digest


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
