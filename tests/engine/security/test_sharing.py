"""Sharing one record with a user: read or edit, audited, withdrawn at once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.auth import PasswordHasher, UserStore
from engine.records import Forbidden, NotFound, ValidationFailed


@pytest.fixture
def people(guarded):
    store = UserStore(guarded.db, guarded.compiled.tables, hasher=PasswordHasher(n=2**4))
    made = {name: store.create_user(name, None, name, roles=["clerk"]) for name in ("ann", "ben")}
    return {name: store.actor_for(user) for name, user in made.items()}


def test_a_shared_record_is_readable_then_editable_then_gone(guarded, people):
    ann, ben = people["ann"], people["ben"]
    record = guarded.create("customer", {"name": "Ann's customer"}, ann)
    with pytest.raises(NotFound):
        guarded.get("customer", record["id"], ben)

    share = guarded.share("customer", record["id"], ann, user=ben.user_id, access="read")
    assert [r["name"] for r in guarded.list("customer", ben).records] == ["Ann's customer"]
    with pytest.raises(Forbidden):
        guarded.update("customer", record["id"], {"name": "Ben was here"}, ben)

    guarded.share("customer", record["id"], ann, user=ben.user_id, access="edit")
    [only] = guarded.shares("customer", record["id"], ann)
    assert (only["user_id"], only["access"]) == (ben.user_id, "edit")
    guarded.update("customer", record["id"], {"name": "Ben was here"}, ben)

    guarded.unshare("customer", record["id"], only["id"], ann)
    with pytest.raises(NotFound):
        guarded.get("customer", record["id"], ben)
    assert guarded.get("customer", record["id"], ann)["name"] == "Ben was here"
    assert share["access"] == "read"

    log = guarded.effects.audit_log
    with guarded.db.engine.connect() as conn:
        actions = conn.execute(
            sa.select(log.c.action, log.c.actor)
            .where(log.c.record_id == record["id"], log.c.action.in_(["share", "unshare"]))
            .order_by(log.c.id)
        ).all()
    assert actions == [("share", ann.user_id), ("share", ann.user_id), ("unshare", ann.user_id)]


def test_only_someone_who_may_change_a_record_may_share_it(guarded, people):
    ann, ben = people["ann"], people["ben"]
    record = guarded.create("customer", {"name": "Ann's customer"}, ann)
    with pytest.raises(NotFound):
        guarded.share("customer", record["id"], ben, user=ben.user_id, access="edit")
    assert guarded.shares("customer", record["id"], ann) == []


@pytest.mark.parametrize(
    ("grantee", "access", "field"),
    [
        ({}, "read", "user"),
        ({"user": "00000000-0000-4000-8000-00000000dead"}, "read", "user"),
        ({"user": "ben"}, "own", "access"),
    ],
)
def test_bad_share_requests_are_field_errors(guarded, people, grantee, access, field):
    ann = people["ann"]
    record = guarded.create("customer", {"name": "Ann's customer"}, ann)
    if grantee.get("user") == "ben":
        grantee = {"user": people["ben"].user_id}
    with pytest.raises(ValidationFailed) as refused:
        guarded.share("customer", record["id"], ann, access=access, **grantee)
    assert [e.field for e in refused.value.errors] == [field]
