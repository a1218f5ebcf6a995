"""Permissions over HTTP: what a clerk (own records only, ``code`` hidden) gets back."""

from __future__ import annotations

import pytest

from engine.auth import TokenStore

URL = "/api/v1/objects/customer/records"


@pytest.fixture
def clerk(api):
    user = api.users.create_user("carl", None, "Carl", roles=["clerk"], locale="zh-CN")
    token, _ = TokenStore(api.users).create(user, "clerk", ["records:write"])
    return {"user": user, "headers": api.auth(token)}


@pytest.fixture
def alices(api):
    response = api.client.post(
        URL, json={"name": "Alice's", "code": "A-1", "phone": "13812345678"}, headers=api.auth()
    )
    assert response.status_code == 201
    return response.json()


def test_records_of_others_are_404_on_every_verb(api, clerk, alices):
    one = f"{URL}/{alices['id']}"
    assert api.client.get(URL, headers=clerk["headers"]).json()["records"] == []
    assert api.client.get(one, headers=clerk["headers"]).status_code == 404
    assert api.client.patch(one, json={"name": "x"}, headers=clerk["headers"]).status_code == 404
    assert api.client.delete(one, headers=clerk["headers"]).status_code == 404
    assert api.client.get(f"{one}/history", headers=clerk["headers"]).status_code == 404
    assert api.client.get(one, headers=api.auth()).json()["name"] == "Alice's"


@pytest.mark.parametrize(
    "query",
    ["code=A-1", "sort=code", "fields=name,code", 'filter={"==": [{"var": "code"}, "A-1"]}'],
)
def test_hidden_fields_cannot_be_queried(api, clerk, alices, query):
    response = api.client.get(f"{URL}?{query}", headers=clerk["headers"])
    assert response.status_code == 400
    assert "A-1" not in response.text


def test_sharing_and_revealing_over_http(api, clerk, alices):
    one = f"{URL}/{alices['id']}"
    shared = api.client.post(
        f"{one}/shares", headers=api.auth(), json={"user": clerk["user"].id, "access": "read"}
    )
    assert shared.status_code == 201, shared.text
    seen = api.client.get(one, headers=clerk["headers"]).json()
    assert seen["phone"] == "138****5678" and "code" not in seen
    forbidden = api.client.patch(one, json={"name": "x"}, headers=clerk["headers"])
    assert forbidden.status_code == 403
    assert forbidden.json()["detail"] == "您无权修改此客户"
    assert api.client.post(f"{one}/reveal/phone", headers=clerk["headers"]).status_code == 403
    listed = api.client.get(f"{one}/shares", headers=api.auth()).json()["shares"]
    assert [s["user_id"] for s in listed] == [clerk["user"].id]
    withdrawn = api.client.delete(f"{one}/shares/{listed[0]['id']}", headers=api.auth())
    assert withdrawn.status_code == 204
    assert api.client.get(one, headers=clerk["headers"]).status_code == 404


def test_a_restrict_rule_on_create_reads_the_new_record_through_its_lookup(api, clerk):
    """The clerk's role may not open deals for gold customers (``customer.tier``): such a
    create is refused and nothing is written; a deal for their own customer goes in."""
    gold = api.client.post(URL, json={"name": "Gold Co", "tier": "gold"}, headers=api.auth())
    mine = api.client.post(URL, json={"name": "Carl's"}, headers=clerk["headers"])
    deals = "/api/v1/objects/deal/records"
    refused = api.client.post(deals, json={"customer": gold.json()["id"], "amount": 500},
                              headers=clerk["headers"])  # fmt: skip
    assert refused.status_code == 403, refused.text
    assert api.client.get(deals, headers=api.auth()).json()["records"] == []
    made = api.client.post(deals, json={"customer": mine.json()["id"]}, headers=clerk["headers"])
    assert made.status_code == 201, made.text
