"""Listing: filters in SQL, sorting with nulls, keyset pages, fields, expand, counts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.records import BadQuery

from .conftest import ALICE, BOB


@pytest.fixture
def deals(service, customer):
    amounts = [500, None, 1500, 1500, 50, 3000, None, 700]
    return [
        service.create(
            "deal",
            {
                "customer": customer["id"],
                "amount": a,
                "stage": "won" if i % 3 == 0 else "open",
                "close_date": "2026-11-01",
            },
            ALICE,
        )
        for i, a in enumerate(amounts)
    ]


def walk(service, **options):
    seen, cursor = [], None
    while True:
        page = service.list("deal", ALICE, cursor=cursor, **options)
        seen.extend(page.records)
        cursor = page.next_cursor
        if cursor is None:
            return seen


def test_filter_runs_in_sql_with_jsonlogic(service, deals):
    rule = {"and": [{"==": [{"var": "stage"}, "open"]}, {">=": [{"var": "amount"}, 600]}]}
    found = service.list("deal", ALICE, filter=rule, sort=["amount"]).records
    assert [r["amount"] for r in found] == [
        Decimal("700.00"),
        Decimal("1500.00"),
        Decimal("3000.00"),
    ]


def test_a_lookup_matches_by_the_start_of_its_id_as_in_python(service, deals, customer):
    """An id is text to a rule: ``starts_with`` on a lookup runs on PostgreSQL's uuid
    column too (the UI's search does it on objects titled by a lookup)."""
    other = service.create("customer", {"name": "Other", "code": "C-2"}, ALICE)
    service.create("deal", {"customer": other["id"], "amount": 1}, ALICE)
    prefix = customer["id"][:9]
    rule = {"starts_with": [{"var": "customer"}, prefix]}
    found = service.list("deal", ALICE, filter=rule, limit=100).records
    assert len(found) == len(deals) and {r["customer"] for r in found} == {customer["id"]}
    ends = {"ends_with": [{"var": "customer"}, other["id"][-6:]]}
    assert [r["customer"] for r in service.list("deal", ALICE, filter=ends).records] == [
        other["id"]
    ]


def test_a_filter_on_the_user_or_the_clock_is_never_reused_for_another(service, customer, clock):
    """Filters are compiled once and kept, except those that read ``$user`` or the clock:
    the same rule must still answer for whoever asks, whenever they ask."""
    for actor in (ALICE, BOB):
        service.create("deal", {"customer": customer["id"], "amount": 10}, actor)
    mine = {"==": [{"var": "owner"}, {"var": "$user.id"}]}
    for actor in (ALICE, BOB, ALICE):
        owners = {r["owner"] for r in service.list("deal", actor, filter=mine).records}
        assert owners == {actor.user_id}
    closing = {">=": [{"var": "close_date"}, {"today": []}]}
    service.create(
        "deal", {"customer": customer["id"], "stage": "won", "close_date": "2026-11-30"}, ALICE
    )
    assert len(service.list("deal", ALICE, filter=closing).records) == 1
    clock.advance(days=10)
    assert service.list("deal", ALICE, filter=closing).records == []


def test_a_kept_filter_answers_like_a_fresh_one(service, deals):
    rule = {">=": [{"var": "amount"}, 1000]}
    first = service.list("deal", ALICE, filter=rule).records
    service.create("deal", {"customer": deals[0]["customer"], "amount": 2000}, ALICE)
    again = service.list("deal", ALICE, filter=rule).records
    assert len(again) == len(first) + 1 == 4


def test_keyset_pages_cover_every_row_once_in_order(service, deals):
    for sort in (["amount"], ["-amount"], ["stage", "-amount"]):
        rows = walk(service, sort=sort, limit=3)
        assert sorted(r["id"] for r in rows) == sorted(d["id"] for d in deals), sort
        key = sort[-1].lstrip("-")
        values = [r[key] for r in rows if r[key] is not None]
        if len(sort) == 1:
            assert values == sorted(values, reverse=sort[0].startswith("-"))
            assert [r[key] for r in rows][-2:] == [None, None]  # nulls last either way


def test_pages_sorted_on_a_field_that_is_not_returned(service, deals):
    by_amount = [r["id"] for r in walk(service, sort=["-amount"], limit=3)]
    rows = walk(service, sort=["-amount"], limit=3, fields=["stage"])
    assert [r["id"] for r in rows] == by_amount
    assert all(set(r) == {"id", "version", "stage"} for r in rows)


def test_fields_expand_and_count(service, deals, customer):
    page = service.list(
        "deal", ALICE, fields=["number", "customer"], expand=["customer"], limit=2, count=True
    )
    assert set(page.records[0]) == {"id", "version", "number", "customer"}
    assert page.records[0]["customer"]["name"] == "Acme"
    assert page.total == len(deals)


@pytest.mark.parametrize(
    "options",
    [
        {"sort": ["colour"]},
        {"fields": ["colour"]},
        {"filter": {"==": [{"var": "colour"}, 1]}},
        {"filter": {"some": [{"var": "tags"}, {"==": [{"var": ""}, "a"]}]}},
        {"cursor": "not-a-cursor"},
        {"expand": ["stage"]},
    ],
)
def test_bad_list_requests_are_refused_clearly(service, deals, options):
    with pytest.raises(BadQuery):
        service.list("deal", ALICE, **options)
