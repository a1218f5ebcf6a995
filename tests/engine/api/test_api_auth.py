"""Authentication: tokens with scopes, session cookies with CSRF, throttled sign-in."""

from __future__ import annotations

URL = "/api/v1/objects/customer/records"


def test_requests_without_credentials_are_401_problems(api):
    response = api.client.get(URL)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert api.client.get(URL, headers={"Authorization": "Bearer mcrm_forged"}).status_code == 401


def test_read_scope_cannot_write(api):
    assert api.client.get(URL, headers=api.auth(api.reader)).status_code == 200
    denied = api.client.post(URL, json={"name": "X"}, headers=api.auth(api.reader))
    assert denied.status_code == 403
    assert api.client.get(URL, headers=api.auth()).json()["records"] == []


def test_session_cookie_needs_csrf_on_writes(api):
    login = api.client.post(
        "/api/v1/auth/login", json={"username": "Alice", "password": "correct horse"}
    )
    assert login.status_code == 200
    assert "httponly" in login.headers["set-cookie"].lower()
    csrf = login.json()["csrf_token"]
    assert api.client.get("/api/v1/auth/me").json()["via"] == "session"
    assert api.client.post(URL, json={"name": "No csrf"}).status_code == 403
    made = api.client.post(URL, json={"name": "With csrf"}, headers={"X-CSRF-Token": csrf})
    assert (
        made.status_code == 201
        and made.json()["created_by"] == api.client.get("/api/v1/auth/me").json()["id"]
    )
    api.client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert api.client.get(URL).status_code == 401


def test_wrong_password_and_unknown_user_look_the_same_and_are_throttled(api):
    wrong = api.client.post(
        "/api/v1/auth/login",
        json={"username": "alice", "password": "nope"},
        headers={"Accept-Language": "zh-CN"},
    )
    unknown = api.client.post(
        "/api/v1/auth/login",
        json={"username": "bob", "password": "nope"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"] == "用户名或密码错误"
    for _ in range(4):
        api.client.post("/api/v1/auth/login", json={"username": "alice", "password": "nope"})
    throttled = api.client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": "correct horse"}
    )
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0


def test_disabled_user_tokens_stop_working(api):
    assert api.client.get(URL, headers=api.auth()).status_code == 200
    api.users.disable("alice")
    assert api.client.get(URL, headers=api.auth()).status_code == 401
