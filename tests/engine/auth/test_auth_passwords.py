"""Password hashing and policy: no database needed."""

from __future__ import annotations

import base64
import hashlib

import pytest

from engine.auth import PasswordHasher, PasswordRejected, check_password_policy
from engine.auth import passwords as passwords_module

CHEAP = PasswordHasher(n=2**4, r=1, p=1)


def test_default_cost_is_owasps_and_travels_with_the_hash():
    hasher = PasswordHasher()
    encoded = hasher.hash("s3cret-enough")
    algorithm, n, r, p, salt, digest = encoded.split("$")
    assert (algorithm, n, r, p) == ("scrypt", "131072", "8", "1")  # OWASP: N=2^17, r=8, p=1
    assert len(salt) == 24 and len(digest) == 44  # 16 and 32 bytes, base64
    expected = hashlib.scrypt(  # the standard library alone reproduces the stored digest
        b"s3cret-enough", salt=base64.b64decode(salt), n=2**17, r=8, p=1,
        maxmem=2**28, dklen=32,
    )  # fmt: skip
    assert base64.b64decode(digest) == expected
    assert hasher.verify("s3cret-enough", encoded)
    assert not hasher.verify("s3cret-enougH", encoded)


def test_hashes_are_salted():
    assert CHEAP.hash("same password") != CHEAP.hash("same password")


def test_cost_travels_with_the_hash():
    encoded = CHEAP.hash("password one")
    stronger = PasswordHasher(n=2**5, r=1, p=1)
    assert stronger.verify("password one", encoded)
    assert stronger.needs_rehash(encoded)
    assert not CHEAP.needs_rehash(encoded)


@pytest.mark.parametrize(
    "encoded",
    [None, "", "plain", "bcrypt$1$1$1$AA==$AA==", "scrypt$3$1$1$AA==$AA==", "scrypt$x$1$1$A$A",
     "scrypt$16$1$1$not base64$AA=="],
)  # fmt: skip
def test_malformed_hashes_never_match(encoded):
    assert CHEAP.verify("anything at all", encoded) is False


def test_missing_hash_costs_a_verification(monkeypatch):
    calls = []
    real = passwords_module._scrypt
    monkeypatch.setattr(
        passwords_module, "_scrypt", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    hasher = PasswordHasher(n=2**4, r=1, p=1)
    hasher.burn("warm up the dummy hash")
    calls.clear()
    assert hasher.verify("guess", None) is False
    assert len(calls) == 1


def test_overlong_password_never_matches_its_prefix():
    long = "x" * 2000
    encoded = CHEAP.hash(long[:1024])
    assert CHEAP.verify(long[:1024], encoded)
    assert not CHEAP.verify(long, encoded)


def test_policy_short_and_username():
    with pytest.raises(PasswordRejected) as info:
        check_password_policy("Alice", "alice")
    error = info.value
    assert error.details["codes"] == ["password_too_short", "password_is_username"]
    assert "at least 8 characters" in error.text("en")
    assert "密码至少需要8个字符" in error.text("zh-CN")
    assert "密码不能与用户名相同" in error.text("zh-CN")


def test_policy_username_as_password_even_when_long():
    with pytest.raises(PasswordRejected) as info:
        check_password_policy("Alexander.Wang", "alexander.wang")
    assert info.value.details["codes"] == ["password_is_username"]


def test_policy_accepts_a_reasonable_password():
    check_password_policy("correct horse battery", "alice")
    check_password_policy("12345678")


def test_cost_must_be_sane():
    with pytest.raises(ValueError):
        PasswordHasher(n=1000)
