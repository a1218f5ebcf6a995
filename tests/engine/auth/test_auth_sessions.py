"""Signing in, staying signed in, signing out, and being slowed down when guessing."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from engine.auth import LoginFailed, LoginLimits, LoginThrottled, SessionStore, hash_token
from engine.auth import passwords as passwords_module

from .conftest import PASSWORD


def test_login_resolve_logout(sessions, alice, clock):
    session = sessions.login("ALICE", PASSWORD, client="10.0.0.1")
    assert session.user == alice
    assert session.expires_at == clock.now + sessions.ttl
    assert session.token not in repr(session) and session.csrf_token not in repr(session)
    assert sessions.resolve(session.token) == alice
    again = sessions.resolve_session(session.token)
    assert again is not None and again.csrf_matches(session.csrf_token)
    assert not again.csrf_matches("forged") and not again.csrf_matches(None)
    assert sessions.logout(session.token) is True
    assert sessions.resolve(session.token) is None
    assert sessions.logout(session.token) is False


def test_only_the_hash_is_stored(sessions, alice, database):
    session = sessions.login("alice", PASSWORD, client="c")
    with database.engine.connect() as conn:
        row = conn.execute(sa.select(sessions.tables.sessions)).one()
    assert row.token_hash == hash_token(session.token)
    assert session.token not in str(tuple(row))


def test_garbage_tokens_resolve_to_nobody(sessions, alice):
    sessions.login("alice", PASSWORD, client="c")
    for token in (None, "", "x" * 500, hash_token("x")):
        assert sessions.resolve(token) is None


def test_sessions_expire(sessions, alice, clock):
    session = sessions.login("alice", PASSWORD, client="c")
    clock.advance(hours=11, minutes=59)
    assert sessions.resolve(session.token) == alice
    clock.advance(minutes=1)
    assert sessions.resolve(session.token) is None
    assert sessions.purge() >= 1


def test_disable_ends_sessions_and_refuses_login(sessions, users, alice):
    session = sessions.login("alice", PASSWORD, client="c")
    users.disable("alice")
    assert sessions.resolve(session.token) is None
    with pytest.raises(LoginFailed):
        sessions.login("alice", PASSWORD, client="c")
    users.enable("alice")
    assert sessions.resolve(session.token) is None  # re-enabling does not revive it


def test_disabled_between_login_and_request(sessions, users, alice, database):
    """Even if a session row survives (e.g. restored backup), a disabled user resolves to None."""
    session = sessions.login("alice", PASSWORD, client="c")
    users_table = users.tables.users
    with database.engine.begin() as conn:
        conn.execute(users_table.update().values(disabled=True))
    assert sessions.resolve(session.token) is None


def test_password_change_ends_sessions(sessions, users, alice):
    session = sessions.login("alice", PASSWORD, client="c")
    users.set_password("alice", "another good one")
    assert sessions.resolve(session.token) is None


def test_unknown_user_and_wrong_password_look_the_same(sessions, users, alice, monkeypatch):
    users.create_user("dora", PASSWORD, "Dora", [])
    users.disable("dora")
    users.hasher.burn("warm up")  # the dummy hash is made once, on first use
    calls: list[int] = []
    real = passwords_module._scrypt
    monkeypatch.setattr(
        passwords_module, "_scrypt", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    errors = []
    for username, password in [
        ("alice", "wrong password"),
        ("nobody", "wrong password"),
        ("dora", PASSWORD),
        ("not a valid name!", "x"),
    ]:
        calls.clear()
        with pytest.raises(LoginFailed) as info:
            sessions.login(username, password, client="c")
        errors.append((info.value.code, info.value.text("en"), info.value.text("zh-CN")))
        assert len(calls) == 1, username  # one scrypt run each: same work, similar time
    assert len(set(errors)) == 1
    assert errors[0][0] == "invalid_credentials"


def test_username_limit_trips_and_lifts(sessions, alice, clock):
    for _ in range(5):
        with pytest.raises(LoginFailed):
            sessions.login("alice", "wrong password", client="10.0.0.1")
        clock.advance(minutes=1)
    with pytest.raises(LoginThrottled) as info:  # even the right password, from elsewhere
        sessions.login("Alice", PASSWORD, client="10.9.9.9")
    assert info.value.retry_after == 10 * 60  # the first failure leaves the window then
    assert info.value.code == "login_throttled"
    assert "600秒后重试" in info.value.text("zh-CN")
    clock.advance(minutes=10)
    assert sessions.login("alice", PASSWORD, client="10.0.0.1").user == alice


def test_throttled_attempts_do_not_extend_the_lock(sessions, alice, clock):
    for _ in range(5):
        with pytest.raises(LoginFailed):
            sessions.login("alice", "wrong password", client="c")
    clock.advance(minutes=14)
    for _ in range(5):
        with pytest.raises(LoginThrottled):
            sessions.login("alice", "wrong password", client="c")
    clock.advance(minutes=1)
    assert sessions.login("alice", PASSWORD, client="c").user == alice


def test_success_does_not_wipe_failures(sessions, alice):
    for _ in range(4):
        with pytest.raises(LoginFailed):
            sessions.login("alice", "wrong password", client="c")
    sessions.login("alice", PASSWORD, client="c")
    with pytest.raises(LoginFailed):
        sessions.login("alice", "wrong password", client="c")
    with pytest.raises(LoginThrottled):
        sessions.login("alice", PASSWORD, client="c")


def test_client_limit_spans_usernames(users, alice, clock):
    sessions = SessionStore(users, limits=LoginLimits(per_username=50, per_client=3))
    for name in ("bob", "carol", "dave"):
        with pytest.raises(LoginFailed):
            sessions.login(name, "guess guess", client="203.0.113.7")
    with pytest.raises(LoginThrottled):
        sessions.login("alice", PASSWORD, client="203.0.113.7")
    assert sessions.login("alice", PASSWORD, client="198.51.100.1").user == alice


def test_limits_are_shared_by_every_server(users, alice):
    """Two stores on the same database (two API servers) count the same failures."""
    server_a, server_b = SessionStore(users), SessionStore(users)
    for server in (server_a, server_b, server_a, server_b, server_a):
        with pytest.raises(LoginFailed):
            server.login("alice", "wrong password", client="c")
    with pytest.raises(LoginThrottled):
        server_b.login("alice", PASSWORD, client="c")


def test_the_client_limit_is_far_above_the_username_limit():
    limits = LoginLimits()
    assert (limits.per_username, limits.per_client) == (5, 100)
    assert limits.window == dt.timedelta(minutes=15)


def test_the_client_limit_never_holds_back_who_signed_in_there_before(users, alice, clock):
    """One office behind one NAT address: a guesser there does not lock out colleagues
    who have signed in from it before, and still meets each account's own limit."""
    users.create_user("newcomer", PASSWORD, "New", [])
    sessions = SessionStore(users, limits=LoginLimits(per_username=5, per_client=3))
    office = "203.0.113.7"
    sessions.login("alice", PASSWORD, client=office)  # alice works here
    clock.advance(days=20)
    for name in ("bob", "carol", "dave"):
        with pytest.raises(LoginFailed):
            sessions.login(name, "guess guess", client=office)
    assert sessions.login("alice", PASSWORD, client=office).user == alice
    with pytest.raises(LoginThrottled):  # never signed in here: held with the guesser
        sessions.login("newcomer", PASSWORD, client=office)
    for _ in range(5):  # a guesser aiming at alice meets her own limit
        with pytest.raises(LoginFailed):
            sessions.login("alice", "wrong password", client=office)
    with pytest.raises(LoginThrottled):
        sessions.login("alice", PASSWORD, client=office)
    clock.advance(days=31)  # her last success here is older than 30 days: forgotten
    for name in ("erin", "frank", "gina"):
        with pytest.raises(LoginFailed):
            sessions.login(name, "guess guess", client=office)
    with pytest.raises(LoginThrottled):
        sessions.login("alice", PASSWORD, client=office)


def test_ipv6_clients_count_per_64(users, alice):
    sessions = SessionStore(users, limits=LoginLimits(per_username=50, per_client=3))
    for host in ("2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2:ffff::c"):
        with pytest.raises(LoginFailed):
            sessions.login("bob", "guess guess", client=host)
    with pytest.raises(LoginThrottled):  # same /64: the same subscriber
        sessions.login("carol", PASSWORD, client="2001:db8:1:2::d")
    with pytest.raises(LoginFailed):  # the neighbouring /64 is someone else
        sessions.login("carol", "guess guess", client="2001:db8:1:3::d")


def test_purge_keeps_the_successes_the_client_limit_remembers(sessions, alice, clock, database):
    sessions.login("alice", PASSWORD, client="c")
    clock.advance(days=29)
    sessions.purge(keep_attempts=dt.timedelta(days=1))
    with database.engine.connect() as conn:
        kept = conn.execute(sa.select(sa.func.count()).select_from(
            sessions.tables.login_attempts)).scalar_one()  # fmt: skip
    assert kept == 1
