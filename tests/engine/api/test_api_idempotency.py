"""``Idempotency-Key``: a client that retries a POST after a lost answer gets one record."""

from __future__ import annotations

URL = "/api/v1/objects/customer/records"


def count_customers(api) -> int:
    listed = api.client.get(URL + "?count=true", headers=api.auth())
    return listed.json()["total"]


def test_a_retried_create_replays_the_first_answer(api):
    key = {"Idempotency-Key": "create-acme-1"}
    first = api.client.post(URL, json={"name": "Acme"}, headers=api.auth(**key))
    again = api.client.post(URL, json={"name": "Acme"}, headers=api.auth(**key))
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert count_customers(api) == 1


def test_key_order_in_the_body_does_not_make_a_new_request(api):
    key = {"Idempotency-Key": "k"}
    first = api.client.post(URL, json={"name": "Acme", "tier": "gold"}, headers=api.auth(**key))
    again = api.client.post(URL, json={"tier": "gold", "name": "Acme"}, headers=api.auth(**key))
    assert again.json()["id"] == first.json()["id"]


def test_the_same_key_with_another_body_is_refused(api):
    key = {"Idempotency-Key": "k"}
    api.client.post(URL, json={"name": "Acme"}, headers=api.auth(**key))
    reused = api.client.post(URL, json={"name": "Globex"}, headers=api.auth(**key))
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert count_customers(api) == 1


def test_a_failed_attempt_releases_the_key(api):
    key = {"Idempotency-Key": "k"}
    failed = api.client.post(URL, json={"name": ""}, headers=api.auth(**key))
    assert failed.status_code == 422
    retried = api.client.post(URL, json={"name": ""}, headers=api.auth(**key))
    assert retried.status_code == 422 and "idempotent-replayed" not in retried.headers
    fixed = api.client.post(URL, json={"name": "Acme"}, headers=api.auth(**key))
    assert fixed.status_code == 201


def test_keys_belong_to_one_user(api):
    bob = api.users.create_user("bob", "battery staple", "Bob", roles=["sales_rep"])
    from engine.auth import TokenStore

    bob_token, _ = TokenStore(api.users).create(bob, "bob", ["records:write"])
    key = {"Idempotency-Key": "shared"}
    mine = api.client.post(URL, json={"name": "Acme"}, headers=api.auth(**key))
    theirs = api.client.post(URL, json={"name": "Acme"}, headers=api.auth(bob_token, **key))
    assert theirs.status_code == 201 and theirs.json()["id"] != mine.json()["id"]


def test_bulk_is_idempotent_too(api):
    key = {"Idempotency-Key": "bulk-1"}
    body = {"records": [{"name": "A"}, {"name": "B"}]}
    first = api.client.post(URL + "/bulk", json=body, headers=api.auth(**key))
    again = api.client.post(URL + "/bulk", json=body, headers=api.auth(**key))
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert count_customers(api) == 2


def test_without_a_key_every_post_creates(api):
    api.client.post(URL, json={"name": "Acme"}, headers=api.auth())
    api.client.post(URL, json={"name": "Acme"}, headers=api.auth())
    assert count_customers(api) == 2
