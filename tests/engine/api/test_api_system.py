"""Health, readiness, metadata with ETag, and an OpenAPI document that changes with metadata."""

from __future__ import annotations

import time

from openapi_spec_validator import validate


def test_health_and_readiness(api):
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["schema"] == api.runtime.snapshot.content_hash


def test_metadata_has_an_etag_and_honours_if_none_match(api):
    first = api.client.get("/api/v1/metadata", headers=api.auth())
    assert first.status_code == 200
    assert "deal" in first.json()["objects"]
    again = api.client.get(
        "/api/v1/metadata", headers=api.auth(**{"If-None-Match": first.headers["etag"]})
    )
    assert again.status_code == 304
    assert api.client.get("/api/v1/metadata", headers=api.auth(api.reader)).status_code == 403


def test_openapi_is_valid_and_describes_each_object(api):
    document = api.client.get("/api/v1/openapi.json").json()
    validate(document)
    customer = document["components"]["schemas"]["customer_input"]
    assert customer["required"] == ["name"]
    assert customer["properties"]["tier"]["enum"] == ["silver", "gold", None]
    assert "/api/v1/objects/deal/records/{record_id}" in document["paths"]
    page = api.client.get("/api/v1/docs")
    assert page.status_code == 200 and "create_customer" not in page.text
    assert "/api/v1/objects/deal/records" in page.text


def test_new_metadata_is_served_without_restart(api, tmp_path):
    runtime = api.runtime
    pack = tmp_path / "shop"
    import shutil

    shutil.copytree(runtime.pack_paths[0], pack)
    runtime.pack_paths = [pack]
    (pack / "objects" / "visit.yaml").write_text(
        "name: visit\nlabel: {en: Visit, zh-CN: 拜访}\n"
        "fields: [{name: subject, type: text, required: true}]\n"
    )
    roles = pack / "security" / "roles.yaml"  # a new object is closed until a role opens it
    roles.write_text(
        roles.read_text().replace(
            "      deal_line:", "      visit: {create: all, read: all}\n      deal_line:", 1
        )
    )
    runtime.check_interval = 0
    time.sleep(0.01)
    created = api.client.post(
        "/api/v1/objects/visit/records", json={"subject": "Hello"}, headers=api.auth()
    )
    assert created.status_code == 201
    document = api.client.get("/api/v1/openapi.json").json()
    assert "visit_input" in document["components"]["schemas"]
    assert api.client.get("/readyz").json()["status"] == "ready"


def test_unexpected_errors_are_problems_that_quote_the_request_id(api, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(api.runtime.snapshot.service, "get", broken)
    response = api.client.get("/api/v1/objects/customer/records/x", headers=api.auth())
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    rid = response.headers["x-request-id"]
    assert body["request_id"] == rid and "disk on fire" not in response.text
    [logged] = [r for r in caplog.records if r.name == "metacrm.error"]
    assert logged.request_id == rid and "disk on fire" in str(logged.exc_info[1])


def test_a_sent_request_id_is_kept_and_a_hostile_one_replaced(api):
    kept = api.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    replaced = api.client.get("/healthz", headers={"X-Request-ID": "a\\nb c" * 20})
    assert replaced.headers["x-request-id"] != "a\\nb c" * 20
