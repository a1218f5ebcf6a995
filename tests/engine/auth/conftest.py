from __future__ import annotations

import datetime as dt

import pytest

from engine.auth import (
    LoginLimits,
    PasswordHasher,
    SessionStore,
    TokenStore,
    UserStore,
    ensure_auth_tables,
)

CHEAP = PasswordHasher(n=2**4, r=1, p=1)  # tests lower the cost through the parameter
PASSWORD = "correct horse battery"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users(database, clock) -> UserStore:
    return UserStore(database, ensure_auth_tables(database), clock=clock, hasher=CHEAP)


@pytest.fixture
def sessions(users) -> SessionStore:
    return SessionStore(users, limits=LoginLimits())


@pytest.fixture
def tokens(users) -> TokenStore:
    return TokenStore(users)


@pytest.fixture
def alice(users):
    return users.create_user("Alice", PASSWORD, "Alice Wang", ["sales_rep"])
