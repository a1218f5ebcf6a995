"""A rule a user writes (filter, sort, search) reads only what that user may read.

The clerk may not read ``customer.code`` nor reveal personal data; the rep may reveal it
on every customer; the cashier reads every customer but may reveal the personal data of
their own only (``view_pii: own``). Each test compares what a user learns for two
different secret values: the answers must be the same.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.records import Actor, BadQuery, Forbidden

from .conftest import CLERK, OTHER_CLERK, REP, SYSTEM

CASHIER = Actor(user_id="00000000-0000-4000-8000-0000000000d1", roles=("cashier",))


def _audit(service, action: str) -> list[tuple]:
    log = service.effects.audit_log
    with service.db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(log.c.actor, log.c.object, log.c.record_id, log.c.detail)
            .where(log.c.action == action)
            .order_by(log.c.id)
        )
        return [tuple(r) for r in rows]


@pytest.mark.parametrize(
    "rule",
    [
        {"==": [{"var": "code"}, "R-1"]},
        {"==": [{"val": "code"}, "R-1"]},
        {"==": [{"val": ["code"]}, "R-1"]},
        {"<": [{"val": "code"}, "S"]},
        {"starts_with": [{"val": "code"}, "R"]},
        {"!!": {"val": "code"}},
        {"in": [{"val": "code"}, ["R-1", "R-2"]]},
    ],
)
def test_a_hidden_field_is_refused_by_var_and_val_alike(guarded, rule):
    with pytest.raises(BadQuery) as refused:
        guarded.list("customer", CLERK, filter=rule)
    assert "customer.code" in str(refused.value)


def test_a_hidden_field_through_a_lookup_is_refused(guarded):
    mine = guarded.create("customer", {"name": "Mine"}, CLERK)
    guarded.create("deal", {"customer": mine["id"], "amount": 5}, CLERK)
    for path in ({"var": "customer.code"}, {"val": ["customer", "code"]}):
        with pytest.raises(BadQuery) as refused:
            guarded.list("deal", CLERK, filter={"==": [path, "R-1"]})
        assert "customer.code" in str(refused.value)


@pytest.mark.parametrize(
    "rule",
    [
        {"==": [{"var": "phone"}, "+8613812345678"]},
        {"starts_with": [{"val": "phone"}, "+86138"]},
        {"ends_with": [{"var": "phone"}, "5678"]},
        {"<": [{"var": "phone"}, "+8614"]},
        {"!!": {"var": "phone"}},
    ],
)
def test_personal_data_is_not_a_filter_for_who_sees_it_masked(guarded, rule):
    guarded.create("customer", {"name": "Mine", "phone": "13812345678"}, CLERK)
    with pytest.raises(BadQuery) as refused:
        guarded.list("customer", CLERK, filter=rule)
    assert "customer.phone" in str(refused.value)


def test_personal_data_is_not_a_sort_key_for_who_sees_it_masked(guarded):
    with pytest.raises(BadQuery):
        guarded.list("customer", CLERK, sort=["phone"])
    with pytest.raises(BadQuery):
        guarded.list("customer", CASHIER, sort=["-phone"])  # theirs only: no order of all
    assert guarded.list("customer", REP, sort=["phone"]).records == []


def test_filtering_on_personal_data_is_audited_like_a_reveal(guarded):
    known = guarded.create("customer", {"name": "Known", "phone": "13812345678"}, REP)
    guarded.create("customer", {"name": "Other", "phone": "13900000000"}, REP)
    rule = {"starts_with": [{"var": "phone"}, "+86138"]}
    found = guarded.list("customer", REP, filter=rule, sort=["phone"]).records
    assert [r["id"] for r in found] == [known["id"]]
    assert found[0]["phone"] == "138****5678"  # a filter is no reveal of the value
    assert _audit(guarded, "reveal") == [
        (REP.user_id, "customer", None, {"field": "phone", "via": "list"})
    ]
    guarded.list("customer", REP, filter=rule)  # the same rule again: audited again
    assert len(_audit(guarded, "reveal")) == 2
    guarded.list("customer", REP, filter={"==": [{"var": "name"}, "Known"]})
    assert len(_audit(guarded, "reveal")) == 2  # nothing personal read


def test_own_personal_data_filters_only_ones_own_records(guarded):
    mine = guarded.create("customer", {"name": "Mine", "phone": "13812345678"}, CASHIER)
    theirs = guarded.create("customer", {"name": "Theirs", "phone": "13812345678"}, REP)
    rule = {"==": [{"var": "phone"}, "+8613812345678"]}
    assert {r["id"] for r in guarded.list("customer", REP, filter=rule).records} == {
        mine["id"], theirs["id"],
    }  # fmt: skip
    assert [r["id"] for r in guarded.list("customer", CASHIER, filter=rule).records] == [
        mine["id"]
    ]
    # An empty test does not tell them whose phone is filled either: theirs reads empty.
    empty = {"!": {"var": "phone"}}
    assert [r["id"] for r in guarded.list("customer", CASHIER, filter=empty).records] == [
        theirs["id"]
    ]
    assert [(a[0], a[3]) for a in _audit(guarded, "reveal")] == [
        (reader.user_id, {"field": "phone", "via": "list"}) for reader in (REP, CASHIER, CASHIER)
    ]


def test_own_personal_data_is_revealed_on_ones_own_records_only(guarded):
    mine = guarded.create("customer", {"name": "Mine", "phone": "13812345678"}, CASHIER)
    theirs = guarded.create("customer", {"name": "Theirs", "phone": "13912345678"}, REP)
    assert guarded.reveal("customer", mine["id"], "phone", CASHIER) == "+8613812345678"
    with pytest.raises(Forbidden):
        guarded.reveal("customer", theirs["id"], "phone", CASHIER)


@pytest.mark.parametrize("secret", ["Secret A", "Secret Z"])
def test_a_lookup_reads_nothing_of_a_record_the_reader_cannot_open(guarded, secret):
    """A deal of the clerk's points at a customer the clerk may not read: any test on the
    customer's fields answers as if the customer had none, whatever their values are."""
    hidden = guarded.create("customer", {"name": secret}, OTHER_CLERK)
    mine = guarded.create("customer", {"name": "Mine"}, CLERK)
    deal = guarded.create("deal", {"customer": mine["id"], "amount": 5}, CLERK)
    guarded.update("deal", deal["id"], {"customer": hidden["id"]}, SYSTEM)
    probes = [
        {"==": [{"var": "customer.name"}, secret]},
        {"starts_with": [{"var": "customer.name"}, "Secret"]},
        {"<": [{"var": "customer.name"}, "Secret M"]},
        {"!!": {"var": "customer.name"}},
        {"==": [{"val": ["customer", "tier"]}, "silver"]},
    ]
    for probe in probes:
        assert guarded.list("deal", CLERK, filter=probe).records == []
    assert len(guarded.list("deal", CLERK, filter={"!": {"var": "customer.name"}}).records) == 1
    # The rep may open the customer: the same filter finds the deal.
    found = guarded.list("deal", REP, filter={"==": [{"var": "customer.name"}, secret]})
    assert [r["id"] for r in found.records] == [deal["id"]]


def test_the_same_filter_is_decided_per_reader(guarded):
    """A kept (cached) filter is never reused across roles."""
    rule = {"==": [{"var": "code"}, "R-1"]}
    guarded.create("customer", {"name": "Rep Co", "code": "R-1"}, REP)
    assert len(guarded.list("customer", REP, filter=rule).records) == 1
    with pytest.raises(BadQuery):
        guarded.list("customer", CLERK, filter=rule)
    assert len(guarded.list("customer", REP, filter=rule).records) == 1
