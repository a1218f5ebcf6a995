"""The generated record API over real HTTP semantics (Litestar's test client)."""

from __future__ import annotations

import json

import pytest

from engine.auth import TokenStore


def create(api, obj, body, **headers):
    return api.client.post(f"/api/v1/objects/{obj}/records", json=body, headers=api.auth(**headers))


def test_crud_round_trip_with_etags(api):
    created = create(api, "customer", {"name": "Acme", "phone": "13812345678"})
    assert created.status_code == 201
    record = created.json()
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"].endswith(record["id"])
    assert record["phone"] == "138****5678"  # personal data is masked in every read
    url = f"/api/v1/objects/customer/records/{record['id']}"
    revealed = api.client.post(f"{url}/reveal/phone", headers=api.auth())
    assert revealed.json() == {"field": "phone", "value": "+8613812345678"}
    fetched = api.client.get(url, headers=api.auth())
    assert fetched.json()["name"] == "Acme" and fetched.headers["etag"] == '"1"'
    patched = api.client.patch(url, json={"tier": "gold"}, headers=api.auth(**{"If-Match": '"1"'}))
    assert patched.status_code == 200 and patched.json()["version"] == 2
    assert api.client.delete(url, headers=api.auth()).status_code == 204
    assert api.client.get(url, headers=api.auth()).status_code == 404


def test_validation_errors_are_localized_problem_details(api):
    customer = create(api, "customer", {"name": "Acme"}).json()
    response = create(
        api,
        "deal",
        {"customer": customer["id"], "amount": "1.234", "discount": 90},
        **{"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["title"] == "记录未通过校验"
    assert {(e["field"], e["message"]) for e in body["errors"]} == {
        ("amount", "金额最多18位数字、2位小数"),
        ("discount", "折扣须在0到50%之间"),
    }
    english = create(api, "deal", {"customer": customer["id"], "discount": 90})
    assert english.json()["errors"][0]["message"] == "Discount must be between 0 and 50%"


def test_conflicts_409_and_stale_if_match_412(api):
    record = create(api, "customer", {"name": "Acme"}).json()
    url = f"/api/v1/objects/customer/records/{record['id']}"
    assert (
        api.client.patch(url, json={"name": "A1", "version": 1}, headers=api.auth()).status_code
        == 200
    )
    conflict = api.client.patch(url, json={"name": "A2", "version": 1}, headers=api.auth())
    assert conflict.status_code == 409
    assert conflict.json()["current_version"] == 2
    assert conflict.json()["changed_fields"] == ["name"]
    stale = api.client.patch(url, json={"name": "A3"}, headers=api.auth(**{"If-Match": '"1"'}))
    assert stale.status_code == 412 and stale.json()["current_version"] == 2
    assert api.client.get(url, headers=api.auth()).json()["name"] == "A1"


def test_list_filters_sort_pages_and_counts(api):
    for i, tier in enumerate(["gold", "silver", "gold", "silver", "gold"]):
        create(api, "customer", {"name": f"C{i}", "tier": tier, "code": f"K{i}"})
    base = "/api/v1/objects/customer/records"
    page = api.client.get(
        f"{base}?tier=gold&sort=-name&limit=2&count=true", headers=api.auth()
    ).json()
    assert [r["name"] for r in page["records"]] == ["C4", "C2"] and page["total"] == 3
    rest = api.client.get(
        f"{base}?tier=gold&sort=-name&limit=2&cursor={page['next_cursor']}", headers=api.auth()
    ).json()
    assert [r["name"] for r in rest["records"]] == ["C0"] and rest["next_cursor"] is None
    rule = json.dumps({"in": [{"var": "code"}, ["K1", "K3"]]})
    found = api.client.get(f"{base}?filter={rule}&fields=code", headers=api.auth()).json()
    assert sorted(r["code"] for r in found["records"]) == ["K1", "K3"]
    assert set(found["records"][0]) == {"id", "version", "code"}


@pytest.mark.parametrize(
    "query", ["colour=red", "sort=colour", "name__like=x", "limit=x", "filter={nope"]
)
def test_bad_list_queries_are_400(api, query):
    response = api.client.get(f"/api/v1/objects/customer/records?{query}", headers=api.auth())
    assert response.status_code == 400
    assert response.json()["code"] == "bad_query"


def test_related_list_history_and_bulk(api):
    customer = create(api, "customer", {"name": "Acme"}).json()
    deal = create(api, "deal", {"customer": customer["id"], "amount": 10}).json()
    related = api.client.get(
        f"/api/v1/objects/customer/records/{customer['id']}/related/deal", headers=api.auth()
    )
    assert [r["id"] for r in related.json()["records"]] == [deal["id"]]
    api.client.patch(
        f"/api/v1/objects/deal/records/{deal['id']}", json={"stage": "lost"}, headers=api.auth()
    )
    history = api.client.get(
        f"/api/v1/objects/deal/records/{deal['id']}/history", headers=api.auth()
    ).json()["history"]
    assert [(h["field"], h["old_value"], h["new_value"]) for h in history] == [
        ("stage", "open", "lost")
    ]
    bulk = api.client.post(
        "/api/v1/objects/customer/records/bulk",
        headers=api.auth(),
        json={
            "operation": "upsert",
            "records": [{"code": "B1", "name": "One"}, {"code": "B2", "name": "Two"}],
        },
    ).json()
    assert bulk["ok"] and [r["created"] for r in bulk["results"]] == [True, True]
    failed = api.client.post(
        "/api/v1/objects/customer/records/bulk",
        headers=api.auth(),
        json={"records": [{"name": "Three"}, {"name": ""}]},
    ).json()
    assert not failed["ok"]
    assert failed["results"][1]["errors"][0]["code"] == "required"


def test_bulk_update_by_id_with_versions(api):
    one = create(api, "customer", {"name": "One"}).json()
    two = create(api, "customer", {"name": "Two"}).json()
    url = "/api/v1/objects/customer/records/bulk"
    rows = [
        {"id": one["id"], "version": 1, "tier": "gold"},
        {"id": two["id"], "version": 7, "tier": "gold"},
    ]
    refused = api.client.post(
        url,
        headers=api.auth(**{"Accept-Language": "zh-CN"}),
        json={"operation": "update", "records": rows},
    )
    assert refused.status_code == 200
    body = refused.json()
    assert not body["ok"] and [r["ok"] for r in body["results"]] == [True, False]
    [error] = body["results"][1]["errors"]
    assert (error["field"], error["code"]) == ("version", "version_conflict")
    assert "版本" in error["message"]
    record_url = f"/api/v1/objects/customer/records/{one['id']}"
    assert api.client.get(record_url, headers=api.auth()).json()["tier"] == "silver"
    partial = api.client.post(
        url, headers=api.auth(), json={"operation": "update", "records": rows, "all_or_none": False}
    ).json()
    assert partial["results"][0]["record"]["version"] == 2
    assert api.client.get(record_url, headers=api.auth()).json()["tier"] == "gold"
    wrong = api.client.post(
        url, headers=api.auth(), json={"operation": "update", "records": rows, "all_or_none": "yes"}
    )
    assert wrong.status_code == 422


def test_unknown_object_and_record_are_404(api):
    assert api.client.get("/api/v1/objects/nope/records", headers=api.auth()).status_code == 404
    missing = "/api/v1/objects/customer/records/00000000-0000-4000-8000-000000000000"
    assert api.client.get(missing, headers=api.auth()).status_code == 404
    assert (
        api.client.get("/api/v1/objects/customer/records/not-an-id", headers=api.auth()).status_code
        == 404
    )


def test_malformed_and_oversized_bodies(api):
    url = "/api/v1/objects/customer/records"
    bad = api.client.post(
        url, content=b"{not json", headers=api.auth(**{"Content-Type": "application/json"})
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    huge = api.client.post(
        url,
        content=b"x" * (11 * 1024 * 1024),
        headers=api.auth(**{"Content-Type": "application/json"}),
    )
    assert huge.status_code == 413


def test_a_nul_character_is_a_field_error_on_every_database(api):
    response = create(api, "customer", {"name": "A\u0000b"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "control_character"


def test_stage_transitions_are_offered_taken_and_refused_with_reasons(api):
    customer = create(api, "customer", {"name": "Acme"}).json()
    deal = create(api, "deal", {"customer": customer["id"], "amount": 10}).json()
    url = f"/api/v1/objects/deal/records/{deal['id']}"
    offered = api.client.get(f"{url}/transitions", headers=api.auth()).json()
    assert [t["name"] for t in offered["available"]] == ["win", "lose"]
    assert offered["history"] == []
    jump = api.client.patch(
        url, json={"stage": "won"}, headers=api.auth(**{"Accept-Language": "zh-CN"})
    )
    assert jump.status_code == 422
    assert {(e["field"], e["code"]) for e in jump.json()["errors"]} >= {
        ("close_date", "required_for_stage")
    }
    won = api.client.post(
        f"{url}/transitions/win",
        headers=api.auth(),
        json={"values": {"close_date": "2026-11-30"}, "version": 1, "comment": "signed"},
    )
    assert won.status_code == 200, won.text
    assert won.json()["stage"] == "won" and won.headers["etag"] == '"2"'
    api.client.patch(url, json={"note": "final"}, headers=api.auth())
    refused = api.client.post(f"{url}/transitions/reopen", headers=api.auth(), json={})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["message"] == "A final deal stays closed"
    history = api.client.get(f"{url}/transitions", headers=api.auth()).json()["history"]
    assert [(h["transition"], h["comment"]) for h in history] == [("win", "signed")]


def test_approvals_over_http(api):
    bob = api.users.create_user("bob", None, "Bob", roles=["sales_rep"], locale="zh-CN")
    bobs = api.auth(TokenStore(api.users).create(bob, "bob", ["records:write"])[0])
    customer = create(api, "customer", {"name": "Acme"}).json()
    deal = create(api, "deal", {"customer": customer["id"], "amount": 100, "discount": 25}).json()
    url = f"/api/v1/objects/deal/records/{deal['id']}"
    submitted = api.client.post(
        f"{url}/approvals",
        headers=api.auth(),
        json={"process": "deal_discount", "comment": "big client"},
    )
    assert submitted.status_code == 201, submitted.text
    assert submitted.json()["status"] == "pending"
    locked = api.client.patch(url, json={"amount": 1}, headers=api.auth())
    assert locked.status_code == 403
    [waiting] = api.client.get("/api/v1/approvals/inbox", headers=bobs).json()["approvals"]
    assert api.client.get("/api/v1/approvals/inbox", headers=api.auth()).json()["approvals"] == []
    approval = f"/api/v1/approvals/{waiting['id']}"
    assert api.client.post(f"{approval}/approve", headers=api.auth(), json={}).status_code == 404
    decided = api.client.post(f"{approval}/approve", headers=bobs, json={"comment": "ok"})
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    assert api.client.get(url, headers=api.auth()).json()["note"] == "approved"
    again = api.client.post(f"{url}/approvals", headers=api.auth(), json={"process": "nope"})
    assert again.status_code == 404


def test_a_lookup_is_truthy_when_it_is_set_on_every_database(api):
    """``{"!!": [{"var": "customer"}]}`` is ``customer IS NOT NULL``; compared with '' it
    broke on PostgreSQL, where the column is a uuid."""
    customer = create(api, "customer", {"name": "Acme"}).json()
    deal = create(api, "deal", {"customer": customer["id"]}).json()
    found = api.client.get(
        "/api/v1/objects/deal/records",
        params={"filter": '{"!!": [{"var": "customer"}]}'},
        headers=api.auth(),
    )
    assert found.status_code == 200, found.text
    assert [r["id"] for r in found.json()["records"]] == [deal["id"]]


@pytest.mark.parametrize(("field", "value"), [("note", "call back"), ("amount", 0)])
def test_null_conditions_mean_no_value_on_every_type(api, field, value):
    """``__null=true`` finds records without a value: not an empty-looking one (0 is a
    value, though JsonLogic's loose ``==`` would equal it to null)."""
    customer = create(api, "customer", {"name": "Acme"}).json()
    holding = create(api, "deal", {"customer": customer["id"], field: value}).json()
    bare = create(api, "deal", {"customer": customer["id"]}).json()
    url = "/api/v1/objects/deal/records"
    found = {}
    for asked in ("true", "false"):
        answer = api.client.get(url, params={f"{field}__null": asked}, headers=api.auth())
        assert answer.status_code == 200, answer.text
        found[asked] = {r["id"] for r in answer.json()["records"]}
    assert found == {"true": {bare["id"]}, "false": {holding["id"]}}


def test_a_create_in_a_state_records_do_not_start_in_is_a_422_on_the_stage_field(api):
    customer = create(api, "customer", {"name": "Acme"}).json()
    refused = create(api, "deal", {"customer": customer["id"], "stage": "lost"},
                     **{"Accept-Language": "zh-CN"})  # fmt: skip
    assert refused.status_code == 422
    assert [(e["field"], e["code"], e["message"]) for e in refused.json()["errors"]] == [
        ("stage", "not_initial_state", "新记录不能直接为“输单”：阶段只能从进行中、赢单开始")
    ]
    bulk = api.client.post(
        "/api/v1/objects/deal/records/bulk",
        headers=api.auth(),
        json={"records": [{"customer": customer["id"]},
                          {"customer": customer["id"], "stage": "lost"}]},
    ).json()  # fmt: skip
    assert not bulk["ok"]
    assert [(e["field"], e["code"]) for e in bulk["results"][1]["errors"]] == [
        ("stage", "not_initial_state")
    ]
    listed = api.client.get("/api/v1/objects/deal/records", headers=api.auth()).json()
    assert listed["records"] == []  # all or none: the good row was not written either
