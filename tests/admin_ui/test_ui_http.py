"""The UI's forms refuse posts that did not come from its own pages (no browser needed)."""

from __future__ import annotations

import re
from pathlib import Path

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


def test_a_form_post_naming_what_the_form_does_not_offer_is_refused_whole(live):
    """A read-only field (metadata's or the layout's), a computed one or a system column:
    a forged post naming one writes nothing, and says so beside the field or at the top
    of the form."""
    client, token = _signed_in(live)
    actor = live.users.actor_for(live.users.by_username("pudong.sales"))
    before = len(live.service.list("lead", actor, limit=500).records)
    typed = {"name": "伪造字段", "phone": "13800000003", "csrf_token": token}
    forged = [("converted_at", "2024-01-02T08:00", "转化时间不可修改"),
              ("score", "99", "评分不可修改"), ("lead_number", "L-1", "线索编号不可修改"),
              ("owner", actor.user_id, "负责人不可修改")]  # fmt: skip
    for name, value, text in forged:
        answer = client.post("/ui/o/lead/new", data={**typed, name: value})
        assert answer.status_code == 422 and text in answer.text, name
    assert len(live.service.list("lead", actor, limit=500).records) == before
    made = client.post("/ui/o/lead/new", data=typed)
    assert made.status_code == 302
    record_id = made.headers["location"].rsplit("/", 1)[1]
    version = str(live.service.get("lead", record_id, actor)["version"])
    edited = client.post(f"/ui/o/lead/{record_id}/edit",
                         data={**typed, "version": version, "name": "改名", "converted_at":
                               "2024-01-02T08:00"})  # fmt: skip
    assert edited.status_code == 422 and "转化时间不可修改" in edited.text
    stored = live.service.get("lead", record_id, actor)
    assert str(stored["version"]) == version and stored["converted_at"] is None
    forged_move = {"csrf_token": token, "version": version, "status": "converted"}
    moved = client.post(f"/ui/o/lead/{record_id}/move/log_contact", data=forged_move)
    assert moved.status_code == 422 and "状态不可修改" in moved.text
    assert live.service.get("lead", record_id, actor)["status"] == "new"
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


def _sign_in_form(client: httpx.Client) -> dict[str, str]:
    page = client.get("/ui/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return {"csrf_token": token, "username": "pudong.sales", "password": PASSWORD}


def test_a_sign_in_from_another_sites_page_is_refused_even_with_a_good_token(live):
    """A page elsewhere that somehow holds a valid form token and its cookie (set on a
    sibling subdomain, say) still cannot sign the browser in: its Origin is not ours."""
    with httpx.Client(base_url=live.url, follow_redirects=False) as client:
        form = _sign_in_form(client)
        for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                        {"Referer": "http://evil.example/win"}):  # fmt: skip
            answer = client.post("/ui/login", data=form, headers=headers)
            assert answer.status_code == 403, headers
            assert "metacrm_session" not in answer.headers.get("set-cookie", "")
            assert "请在本站的登录页面登录" in answer.text
        ours = client.post("/ui/login", data=form, headers={"Origin": live.url})
    assert ours.status_code == 302 and ours.headers["location"] == "/ui"


def test_the_ui_session_cookie_lasts_as_long_as_the_session(live):
    with httpx.Client(base_url=live.url, follow_redirects=False) as client:
        answer = client.post("/ui/login", data=_sign_in_form(client))
    cookie = next(h for h in answer.headers.get_list("set-cookie")
                  if h.startswith("metacrm_session="))  # fmt: skip
    attributes = {k.strip().lower(): v for k, _, v in
                  (part.partition("=") for part in cookie.split(";")[1:])}  # fmt: skip
    assert abs(int(attributes["max-age"]) - 12 * 3600) <= 2
    assert "httponly" in attributes and attributes["samesite"].lower() == "lax"


def test_ui_pages_load_only_our_own_files_and_cannot_be_framed(live):
    client, _ = _signed_in(live)
    for path in ("/ui/login", "/ui", "/ui/o/lead", "/ui-static/ui.css", "/ui/o/lead/missing"):
        headers = client.get(path).headers
        policy = headers["content-security-policy"]
        for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'",
                          "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"):
            assert directive in policy, (path, directive)
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
    client.close()


def test_the_templates_hold_no_inline_script_or_style():
    """What the policy forbids must not be in the pages: scripts and styles are files."""
    templates = Path(__file__).resolve().parents[2] / "admin_ui" / "templates"
    for template in templates.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", text), template.name
