"""The UI's forms refuse posts that did not come from its own pages (no browser needed)."""

from __future__ import annotations

import re

import httpx

from .conftest import PASSWORD, Live


def _signed_in(live: Live) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=live.url, follow_redirects=False)
    page = client.get("/ui/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    done = client.post("/ui/login", data={"csrf_token": token, "username": "pudong.sales",
                                          "password": PASSWORD})  # fmt: skip
    assert done.status_code == 302 and done.headers["location"] == "/ui"
    form = client.get("/ui/o/lead/new")
    return client, re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)


def test_pages_send_strangers_to_sign_in(live):
    with httpx.Client(base_url=live.url, follow_redirects=False) as client:
        answer = client.get("/ui/o/lead")
    assert answer.status_code == 302 and answer.headers["location"] == "/ui/login"


def test_a_sign_in_post_from_elsewhere_is_refused(live):
    with httpx.Client(base_url=live.url, follow_redirects=False) as client:
        answer = client.post(
            "/ui/login",
            data={"csrf_token": "guessed", "username": "pudong.sales", "password": PASSWORD},
        )
    assert answer.status_code == 403 and "metacrm_session" not in answer.headers.get(
        "set-cookie", ""
    )


def test_a_form_post_without_the_sessions_token_changes_nothing(live):
    client, token = _signed_in(live)
    before = len(live.service.list("lead", live.users.actor_for(
        live.users.by_username("pudong.sales")), limit=500).records)  # fmt: skip
    for sent in ({}, {"csrf_token": "forged"}):
        answer = client.post("/ui/o/lead/new", data={"name": "伪造", "phone": "13800000000",
                                                     **sent})  # fmt: skip
        assert answer.status_code == 403
    ok = client.post("/ui/o/lead/new", data={"name": "真实客户", "phone": "13800000001",
                                             "csrf_token": token})  # fmt: skip
    assert ok.status_code == 302
    after = live.service.list("lead", live.users.actor_for(
        live.users.by_username("pudong.sales")), limit=500).records  # fmt: skip
    assert len(after) == before + 1
    client.close()


def test_an_address_is_typed_in_parts_and_money_shows_its_currency(live):
    client, token = _signed_in(live)
    made = client.post("/ui/o/lead/new", data={
        "name": "地址客户", "phone": "13800000002", "address.province": "浙江省",
        "address.city": "杭州市", "address.street": "", "budget": "300000", "csrf_token": token,
    })  # fmt: skip
    assert made.status_code == 302, made.text
    record_id = made.headers["location"].rsplit("/", 1)[1]
    stored = live.service.get("lead", record_id, live.users.actor_for(
        live.users.by_username("pudong.sales")))  # fmt: skip
    assert stored["address"] == {"province": "浙江省", "city": "杭州市"}
    page = client.get(f"/ui/o/lead/{record_id}").text
    assert "浙江省杭州市" in page and "¥300,000.00" in page
    form = client.get(f"/ui/o/lead/{record_id}/edit").text
    assert 'name="address.city"' in form
    assert '<span class="symbol" aria-hidden="true">¥</span>' in form
    client.close()


def test_a_filter_bound_that_is_not_a_number_is_reported_not_run(live):
    client, _ = _signed_in(live)
    page = client.get("/ui/o/lead", params={"view": "hot_leads", "f.budget.from": "abc"})
    assert page.status_code == 200
    assert "预算必须是数字" in page.text
    client.close()
