"""How session and API tokens are kept at rest: as a SHA-256 digest, never as themselves."""

from __future__ import annotations

import hashlib

__all__ = ["hash_token"]


def hash_token(token: str) -> str:
    """The hex SHA-256 stored in place of a session or API token.

    A fast hash is right here (unlike passwords): the token has 256 random bits, so there
    is nothing to brute-force, and lookups by digest stay a single indexed equality.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
