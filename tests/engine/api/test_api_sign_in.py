"""Signing in over real HTTP (uvicorn on a port, as `metacrm serve` runs it): JSON only,
from our own pages only, a cookie that lives as long as its session, forwarded headers
believed only from trusted proxies, limits that cannot lock out a whole office, stored
hashes upgraded, and the security headers of API responses."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from engine.api.app import AppConfig, create_app
from engine.api.auth import Authenticator
from engine.api.clients import TrustedProxies
from engine.api.runtime import Runtime
from engine.auth import PasswordHasher, UserStore

SHOP = Path(__file__).resolve().parents[2] / "fixtures" / "shop_pack"
PASSWORD = "correct horse"
LOGIN = "/api/v1/auth/login"
CHEAP = PasswordHasher(n=2**4, r=1, p=1)


@dataclass
class Served:
    start: Callable[..., str]
    users: UserStore
    attempts: sa.Table
    sessions: sa.Table
    db: object

    def clients_recorded(self) -> list[str]:
        with self.db.engine.connect() as conn:  # type: ignore[attr-defined]
            query = sa.select(self.attempts.c.client).order_by(self.attempts.c.id)
            return list(conn.execute(query).scalars())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(database) -> Iterator[Served]:
    runtime = Runtime(database, [SHOP])
    tables = runtime.snapshot.compiled.tables
    users = UserStore(database, tables, hasher=CHEAP)
    for name in ("alice", "bob"):
        users.create_user(name, PASSWORD, name.title(), roles=["sales_rep"], locale="en")
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(proxies: str = "", **auth_options: object) -> str:
        auth = Authenticator(database, tables, **auth_options)  # type: ignore[arg-type]
        app = create_app(AppConfig(runtime=runtime, authenticator=auth,
                                   trusted_proxies=TrustedProxies.parse(proxies)))  # fmt: skip
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                               access_log=False, proxy_headers=False))  # fmt: skip
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread))
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    system = tables.system
    yield Served(start, users, system["login_attempts"], system["sessions"], database)
    for server, thread in running:
        server.should_exit = True
        thread.join(10)


def _login(base: str, username: str = "alice", password: str = PASSWORD, **headers: str):
    return httpx.post(base + LOGIN, json={"username": username, "password": password},
                      headers=headers)  # fmt: skip


def _cookie_attributes(response: httpx.Response) -> dict[str, str]:
    """The session cookie's attributes, names lower-cased (``httponly`` → "")."""
    header = next(h for h in response.headers.get_list("set-cookie")
                  if h.startswith("metacrm_session="))  # fmt: skip
    attributes = {}
    for part in header.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        attributes[name.lower()] = value
    return attributes


# -- login CSRF ---------------------------------------------------------------------------


def test_sign_in_takes_json_only(served):
    base = served.start()
    body = '{"username": "alice", "password": "correct horse"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        answer = httpx.post(base + LOGIN, content=body, headers=headers)
        assert answer.status_code == 415, content_type
        assert answer.json()["code"] == "json_required"
        assert "metacrm_session" not in answer.headers.get("set-cookie", "")
    assert _login(base).status_code == 200


def test_a_page_of_another_site_cannot_sign_a_browser_in(served):
    base = served.start()
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:1"},  # same host, another port: another origin
        {"Origin": "null"},  # a sandboxed frame or a file: page
        {"Referer": "http://evil.example/prize.html"},  # a browser that sent no Origin
    ):
        answer = _login(base, **headers)
        assert answer.status_code == 403, headers
        assert answer.json()["code"] == "foreign_origin"
        assert "metacrm_session" not in answer.headers.get("set-cookie", "")
    zh = _login(base, Origin="http://evil.example", **{"Accept-Language": "zh-CN"})
    assert zh.json()["detail"] == "请在本站的登录页面登录"
    assert _login(base, Origin=base).status_code == 200  # our own page
    assert _login(base, Referer=base + "/ui/login").status_code == 200
    assert _login(base).status_code == 200  # no page at all: a script, curl


def test_a_configured_origin_may_sign_users_in(served):
    base = served.start(allowed_origins=("https://portal.example.cn",))
    assert _login(base, Origin="https://portal.example.cn").status_code == 200
    assert _login(base, Origin="https://other.example.cn").status_code == 403


# -- the cookie ---------------------------------------------------------------------------


def test_the_cookie_expires_with_its_session(served):
    base = served.start()
    before = dt.datetime.now(dt.UTC)
    answer = _login(base)
    cookie = _cookie_attributes(answer)
    assert abs(int(cookie["max-age"]) - 12 * 3600) <= 2  # seconds the request took
    expires = parsedate_to_datetime(cookie["expires"])
    assert abs(expires - (before + dt.timedelta(hours=12))) < dt.timedelta(seconds=30)
    with served.db.engine.connect() as conn:
        stored = conn.execute(sa.select(served.sessions.c.expires_at)).scalar_one()
    stored = stored if stored.tzinfo else stored.replace(tzinfo=dt.UTC)
    assert abs(expires - stored) < dt.timedelta(seconds=2)  # the server's session, not 2083
    assert "httponly" in cookie and cookie["samesite"].lower() == "lax"
    assert "secure" not in cookie  # plain http, nobody said otherwise


def test_the_session_lifetime_is_a_setting(served):
    base = served.start(session_ttl=dt.timedelta(hours=1))
    assert abs(int(_cookie_attributes(_login(base))["max-age"]) - 3600) <= 2
    told = served.start(secure_cookies=True)
    assert "secure" in _cookie_attributes(_login(told))


# -- forwarded headers --------------------------------------------------------------------

SPOOFED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
}


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(served):
    base = served.start()  # METACRM_TRUSTED_PROXIES unset: nobody is a proxy
    _login(base, password="wrong password", **SPOOFED)
    _login(base, password="wrong password", Forwarded="for=198.51.100.7;proto=https")
    assert served.clients_recorded() == ["127.0.0.1", "127.0.0.1"]
    answer = _login(base, **SPOOFED)
    assert "secure" not in _cookie_attributes(answer)
    assert "strict-transport-security" not in answer.headers


def test_forwarded_headers_from_a_trusted_proxy_name_the_client(served):
    base = served.start(proxies="127.0.0.1, 10.0.0.0/8")
    _login(base, password="wrong password", **SPOOFED)
    # the left part of a chain is whatever the client wrote; the right-most hop that is
    # not one of our proxies is the client
    _login(base, password="wrong password", **{"X-Forwarded-For": "6.6.6.6, 203.0.113.9, 10.1.2.3"})
    _login(base, password="wrong password", Forwarded='for="[2001:db8:cafe::17]:4711";proto=https')
    _login(base, password="wrong password", **{"X-Forwarded-For": "garbage"})
    assert served.clients_recorded() == ["203.0.113.9", "203.0.113.9", "2001:db8:cafe::/64",
                                         "127.0.0.1"]  # fmt: skip
    behind_tls = _login(base, username="bob", Origin="https://127.0.0.1:" + base.rsplit(":")[-1],
                        **SPOOFED)  # fmt: skip
    assert behind_tls.status_code == 200  # the browser's origin is the proxy's https one
    assert "secure" in _cookie_attributes(behind_tls)
    assert behind_tls.headers["strict-transport-security"].startswith("max-age=")


# -- throttling ---------------------------------------------------------------------------


def test_bad_tries_on_one_account_do_not_lock_out_another_behind_the_same_address(served):
    base = served.start()
    answers = [_login(base, password=f"guess {i}").status_code for i in range(20)]
    assert answers == [401] * 5 + [429] * 15  # alice's account is held, for a while
    held = _login(base)  # even with her right password: the guesser may have found it
    assert held.status_code == 429 and int(held.headers["retry-after"]) <= 15 * 60
    assert _login(base, username="bob").status_code == 200  # same address, other account


# -- password hashing ---------------------------------------------------------------------


def test_an_older_hash_is_upgraded_when_its_user_signs_in(served):
    base = served.start()
    users = served.users.tables.users
    with served.db.engine.connect() as conn:
        old = conn.execute(sa.select(users.c.password_hash).where(users.c.username == "alice"))
        old = old.scalar_one()
    assert old.startswith("scrypt$16$1$1$")  # made with the cheap cost of this test
    assert _login(base).status_code == 200
    with served.db.engine.connect() as conn:
        new = conn.execute(sa.select(users.c.password_hash).where(users.c.username == "alice"))
        new = new.scalar_one()
    algorithm, n, r, p, salt, digest = new.split("$")
    assert (algorithm, n, r, p) == ("scrypt", "131072", "8", "1")
    expected = hashlib.scrypt(PASSWORD.encode(), salt=base64.b64decode(salt), n=2**17, r=8, p=1,
                              maxmem=2**28, dklen=32)  # fmt: skip
    assert base64.b64decode(digest) == expected
    assert _login(base, password="wrong password").status_code == 401


# -- security headers ---------------------------------------------------------------------


def test_api_responses_forbid_framing_sniffing_and_loading_anything(served):
    base = served.start()
    for answer in (httpx.get(base + "/healthz"), httpx.get(base + "/api/v1/objects/x/records"),
                   _login(base, Origin="http://evil.example")):  # fmt: skip
        headers = answer.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy


def test_the_docs_page_allows_exactly_its_own_style(served):
    base = served.start()
    answer = httpx.get(base + "/api/v1/docs")
    assert answer.status_code == 200
    style = re.search(r"<style>(.*?)</style>", answer.text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = answer.headers["content-security-policy"]
    assert f"style-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "<script" not in answer.text


def test_settings_that_do_not_parse_stop_the_start_with_their_name():
    from engine.api.origins import allowed_origins_from_env
    from engine.auth import session_ttl_from_env

    with pytest.raises(ValueError, match=r"METACRM_TRUSTED_PROXIES: '10\.0\.0\.300'"):
        TrustedProxies.from_env({"METACRM_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.300"})
    with pytest.raises(ValueError, match="METACRM_ALLOWED_ORIGINS"):
        allowed_origins_from_env({"METACRM_ALLOWED_ORIGINS": "crm.example.com"})
    with pytest.raises(ValueError, match="METACRM_SESSION_HOURS"):
        session_ttl_from_env({"METACRM_SESSION_HOURS": "forever"})
    assert session_ttl_from_env({}) == dt.timedelta(hours=12)
    assert session_ttl_from_env({"METACRM_SESSION_HOURS": "8"}) == dt.timedelta(hours=8)
    spelled = {"METACRM_ALLOWED_ORIGINS": "HTTPS://Portal.example.cn:443/"}
    assert allowed_origins_from_env(spelled) == ("https://portal.example.cn",)
