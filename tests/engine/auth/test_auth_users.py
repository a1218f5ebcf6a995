"""The user directory on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.auth import (
    InvalidUserData,
    PasswordHasher,
    PasswordRejected,
    UserExists,
    UserNotFound,
    UserStore,
    ensure_auth_tables,
)
from engine.storage.tables import compile_tables
from engine.validate import validate_paths

from .conftest import PASSWORD

SHOP = Path(__file__).resolve().parents[2] / "fixtures" / "shop_pack"
ORG = "6f1c1a52-4c59-4a8e-9a53-3d1b8f0e2a10"


def test_create_and_find(users, alice):
    assert alice.username == "alice"
    assert alice.roles == ("sales_rep",)
    assert (alice.locale, alice.timezone) == ("zh-CN", "Asia/Shanghai")
    assert users.get(alice.id) == alice
    assert users.by_username("  ALICE ") == alice
    assert users.get("not-a-uuid") is None
    assert users.by_username("nobody") is None


def test_usernames_are_unique_case_insensitively(users, alice):
    with pytest.raises(UserExists) as info:
        users.create_user("ALICE", PASSWORD, "Another Alice", [])
    assert info.value.code == "username_taken"
    assert info.value.text("zh-CN") == "用户alice已存在"


def test_the_unique_constraint_backs_the_check(users, alice, monkeypatch):
    monkeypatch.setattr(users, "by_username", lambda name: None)  # lose the race
    with pytest.raises(UserExists):
        users.create_user("alice", PASSWORD, "Alice again", [])


def test_all_fields_kept(users):
    user = users.create_user(
        "li.lei@dealer", PASSWORD, "李雷", ["dealer_staff", "dealer_staff", "viewer"],
        org_unit=ORG.upper(), locale="en", timezone="Europe/Berlin", email="li@example.com",
    )  # fmt: skip
    again = users.get(user.id)
    assert again == user
    assert again.roles == ("dealer_staff", "viewer")
    assert again.org_unit == ORG
    assert (again.locale, again.timezone, again.email) == ("en", "Europe/Berlin", "li@example.com")


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("username", {"username": "has space"}),
        ("username", {"username": ""}),
        ("timezone", {"timezone": "Mars/Olympus"}),
        ("locale", {"locale": "chinese please"}),
        ("email", {"email": "not-an-email"}),
        ("org_unit", {"org_unit": "head office"}),
        ("roles", {"roles": ["drop table"]}),
    ],
)
def test_malformed_fields_are_refused(users, field, kwargs):
    args = {"username": "bob", "password": PASSWORD, "display_name": "Bob", "roles": []}
    with pytest.raises(InvalidUserData) as info:
        users.create_user(**{**args, **kwargs})
    assert info.value.field == field
    assert info.value.text("zh-CN") != info.value.text("en")


def test_password_policy_applies(users):
    with pytest.raises(PasswordRejected):
        users.create_user("bob", "short", "Bob", [])
    with pytest.raises(PasswordRejected):
        users.create_user("bobby.tables", "Bobby.Tables", "Bob", [])
    assert users.list_users() == []


def test_no_secret_in_user_or_table(users, alice, database):
    assert "scrypt" not in repr(alice) and not hasattr(alice, "password_hash")
    with database.engine.connect() as conn:
        row = conn.execute(sa.select(users.tables.users)).one()
    assert row.password_hash.startswith("scrypt$")
    assert PASSWORD not in str(tuple(row))


def test_list_and_disable_enable(users, alice):
    bob = users.create_user("bob", PASSWORD, "Bob", ["manager"])
    assert [u.username for u in users.list_users()] == ["alice", "bob"]
    assert users.authenticate("alice", PASSWORD) == alice
    disabled = users.disable("Alice")
    assert disabled.disabled
    assert users.authenticate("alice", PASSWORD) is None
    assert users.list_users(include_disabled=False) == [bob]
    users.enable("alice")
    assert users.authenticate("alice", PASSWORD) == alice
    with pytest.raises(UserNotFound):
        users.disable("carol")


def test_set_password(users, alice):
    with pytest.raises(PasswordRejected):
        users.set_password("alice", "alice")
    users.set_password("alice", "a brand new one")
    assert users.authenticate("alice", PASSWORD) is None
    assert users.authenticate("alice", "a brand new one") == alice


def test_token_only_user_cannot_sign_in(users):
    robot = users.create_user("robot", None, "Import robot", ["integration"])
    assert users.authenticate("robot", "") is None
    assert users.authenticate("robot", "anything at all") is None
    assert users.get(robot.id) == robot


def test_old_cost_is_upgraded_on_login(users, alice, database):
    stronger = UserStore(users.db, users.tables, clock=users.clock, hasher=PasswordHasher(n=2**5))
    assert stronger.authenticate("alice", PASSWORD) == alice
    with database.engine.connect() as conn:
        stored = conn.execute(sa.select(users.tables.users.c.password_hash)).scalar_one()
    assert stored.startswith("scrypt$32$8$1$")


def test_actor_for(users):
    user = users.create_user("wang", PASSWORD, "王芳", ["store_guide"], org_unit=ORG)
    actor = users.actor_for(user)
    assert actor.user_id == user.id and actor.name == "王芳"
    assert actor.roles == ("store_guide",) and actor.org_unit == ORG
    assert actor.org_units == (ORG,) and actor.locale == "zh-CN"
    assert str(actor.tz) == "Asia/Shanghai"
    assert users.actor_for(user, org_units=[ORG, "brand"]).org_units == (ORG, "brand")


def test_works_on_compiled_tables(database, clock):
    tables = compile_tables(validate_paths([SHOP]).schema)
    ensure_auth_tables(database, tables)
    store = UserStore(database, tables, clock=clock, hasher=PasswordHasher(n=2**4, r=1))
    user = store.create_user("zoe", PASSWORD, "Zoe", [])
    assert store.authenticate("Zoe", PASSWORD) == user
    assert set(sa.inspect(database.engine).get_table_names(schema=database.schema)) == {
        "_users", "_user_org_units", "_sessions", "_api_tokens", "_login_attempts",
    }  # fmt: skip
