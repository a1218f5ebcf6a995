"""Personal API tokens: issued once, stored hashed, scoped, expiring, revocable."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from engine.auth import (
    AmbiguousToken,
    InvalidUserData,
    Scope,
    TokenNotFound,
    hash_token,
    parse_scopes,
    scopes_allow,
)

from .conftest import PASSWORD


def test_create_and_resolve(tokens, alice):
    plaintext, info = tokens.create(alice, "nightly export", ["records:read", "metadata:read"])
    assert plaintext.startswith("mcrm_") and len(plaintext) > 40
    assert plaintext.startswith(info.prefix) and len(info.prefix) == 12
    assert info.scopes == (Scope.RECORDS_READ, Scope.METADATA_READ)
    assert info.expires_at is None and info.user_id == alice.id
    grant = tokens.resolve(plaintext)
    assert grant is not None
    user, scopes = grant
    assert user == alice and scopes == (Scope.RECORDS_READ, Scope.METADATA_READ)


def test_plaintext_is_nowhere_in_the_table(tokens, alice, database):
    plaintext, _ = tokens.create(alice, "ci", ["records:write"])
    with database.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.select(tokens.table))]
    assert len(rows) == 1
    dumped = repr(rows)
    assert plaintext not in dumped and plaintext[12:] not in dumped
    assert hash_token(plaintext) in dumped


def test_unknown_tokens_resolve_to_nothing(tokens, alice):
    plaintext, _ = tokens.create(alice, "ci", ["records:read"])
    for bad in (None, "", plaintext[:-1], plaintext[5:], "mcrm_", "Bearer " + plaintext):
        assert tokens.resolve(bad) is None


def test_scopes_are_checked_and_documented():
    with pytest.raises(InvalidUserData) as info:
        parse_scopes(["records:read", "records:delete"])
    assert "records:delete" in info.value.text("en") and "未知权限范围" in info.value.text("zh-CN")
    assert scopes_allow([Scope.RECORDS_WRITE], Scope.RECORDS_READ)
    assert not scopes_allow([Scope.RECORDS_READ], Scope.RECORDS_WRITE)
    assert not scopes_allow([Scope.METADATA_READ], Scope.RECORDS_READ)
    assert all(scopes_allow([Scope.ADMIN], s) for s in Scope)


def test_bad_requests_are_refused(tokens, alice):
    with pytest.raises(InvalidUserData):
        tokens.create(alice, "ci", [])
    with pytest.raises(InvalidUserData):
        tokens.create(alice, "  ", ["records:read"])
    with pytest.raises(InvalidUserData):
        tokens.create(alice, "ci", ["records:read"], expires_in_days=0)


def test_expiry(tokens, alice, clock):
    plaintext, info = tokens.create(alice, "temp", ["records:read"], expires_in_days=7)
    assert info.expires_at == clock.now + dt.timedelta(days=7)
    clock.advance(days=6, hours=23)
    assert tokens.resolve(plaintext) is not None
    clock.advance(hours=1)
    assert tokens.resolve(plaintext) is None
    assert not tokens.list_tokens(alice)[0].active(clock.now)


def test_revoke_by_prefix_and_by_id(tokens, alice, users, clock):
    first, first_info = tokens.create(alice, "one", ["records:read"])
    second, second_info = tokens.create(alice, "two", ["admin"])
    revoked = tokens.revoke(first_info.prefix)
    assert revoked.id == first_info.id and revoked.revoked_at == clock.now
    assert tokens.resolve(first) is None
    assert tokens.resolve(second) is not None
    revoked_at = tokens.revoke(second_info.id.upper()).revoked_at
    assert tokens.resolve(second) is None
    clock.advance(minutes=5)
    assert tokens.revoke(second_info.id).revoked_at == revoked_at  # the first time is kept
    with pytest.raises(TokenNotFound):
        tokens.revoke("mcrm_nothere")


def test_revoke_limited_to_a_user(tokens, alice, users):
    bob = users.create_user("bob", PASSWORD, "Bob", [])
    _, info = tokens.create(alice, "alice's", ["records:read"])
    with pytest.raises(TokenNotFound):
        tokens.revoke(info.prefix, user=bob)
    assert tokens.revoke(info.prefix, user=alice).revoked_at is not None


def test_ambiguous_prefix_needs_the_id(tokens, alice, database):
    _, one = tokens.create(alice, "one", ["records:read"])
    _, two = tokens.create(alice, "two", ["records:read"])
    with database.engine.begin() as conn:  # force a prefix clash (rare, but possible)
        conn.execute(tokens.table.update().values(prefix=one.prefix))
    with pytest.raises(AmbiguousToken):
        tokens.revoke(one.prefix)
    assert tokens.revoke(two.id).name == "two"


def test_disabled_user_tokens_stop_and_return(tokens, users, alice):
    plaintext, _ = tokens.create(alice, "ci", ["records:read"])
    users.disable("alice")
    assert tokens.resolve(plaintext) is None
    users.enable("alice")
    assert tokens.resolve(plaintext) is not None


def test_last_used_at_written_at_most_once_a_minute(tokens, alice, clock):
    plaintext, _ = tokens.create(alice, "ci", ["records:read"])
    first_use = clock.now
    tokens.resolve(plaintext)
    clock.advance(seconds=30)
    tokens.resolve(plaintext)
    assert tokens.list_tokens(alice)[0].last_used_at == first_use
    clock.advance(seconds=31)
    tokens.resolve(plaintext)
    assert tokens.list_tokens(alice)[0].last_used_at == clock.now


def test_list_tokens_newest_first(tokens, alice, users, clock):
    tokens.create(alice, "old", ["records:read"])
    clock.advance(minutes=1)
    tokens.create(alice, "new", ["records:read"])
    bob = users.create_user("bob", PASSWORD, "Bob", [])
    tokens.create(bob, "bob's", ["records:read"])
    assert [t.name for t in tokens.list_tokens(alice)] == ["new", "old"]
