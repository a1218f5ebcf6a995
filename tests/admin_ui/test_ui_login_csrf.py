"""Login CSRF and framing in a real browser (Debian's headless Chromium): a page served
from another origin (a second HTTP server on another 127.0.0.1 port) that submits a form
or a fetch to our sign-in leaves the victim's browser signed out; no page of ours can be
framed by it; and our own pages run under their Content-Security-Policy without a single
violation."""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .conftest import PASSWORD, Live

ATTACKER_ACCOUNT = "pudong.other"  # the attacker's own account, to sign the victim into


def _attack_pages(target: str) -> dict[str, str]:
    """What the attacker's site serves, each page acting as soon as it loads."""
    login_json = json.dumps({"username": ATTACKER_ACCOUNT, "password": PASSWORD})
    # a text/plain form whose one field, name + "=" + value, reads as that JSON
    name, value = login_json[:-1] + ', "x": "', '"}'
    api = f"{target}/api/v1/auth/login"
    submit = "<script>document.forms[0].submit()</script>"
    return {
        "/ui-form": (
            f'<form method="post" action="{target}/ui/login">'
            '<input name="csrf_token" value="guessed">'
            f'<input name="username" value="{ATTACKER_ACCOUNT}">'
            f'<input name="password" value="{PASSWORD}"></form>{submit}'
        ),
        "/api-form": (
            f'<form method="post" enctype="text/plain" action="{api}">'
            f'<input name="{html.escape(name)}" value="{html.escape(value)}"></form>{submit}'
        ),
        "/api-fetch": (
            "<script>"
            f"fetch({json.dumps(api)}, {{method: 'POST', mode: 'no-cors', "
            f"credentials: 'include', headers: {{'Content-Type': 'text/plain'}}, "
            f"body: {json.dumps(login_json)}}}).finally(() => document.title = 'sent');"
            f"fetch({json.dumps(api)}, {{method: 'POST', credentials: 'include', "
            f"headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(login_json)}}})"
            ".catch(() => null).finally(() => document.body.dataset.done = '1');"
            "</script>"
        ),
        "/frame": f'<iframe src="{target}/ui/login" width="600" height="400"></iframe>',
    }


@pytest.fixture
def attacker(live: Live) -> Iterator[str]:
    """The attacker's site: another origin on this machine (same host, another port)."""
    pages = _attack_pages(live.url)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"<!doctype html><html><body>{pages.get(self.path, '')}</body></html>"
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(10)


def _signed_in_as_someone(live: Live, page: Any) -> bool:
    page.goto(f"{live.url}/ui")
    return page.url != f"{live.url}/ui/login"


@pytest.mark.parametrize("attack", ["/ui-form", "/api-form", "/api-fetch"])
def test_a_foreign_page_cannot_sign_the_victims_browser_in(live, browser, attacker, attack):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live.url}/ui/login")  # the victim has our sign-in page open (its cookie)
    answered: list[int] = []
    page.on("response", lambda r: answered.append(r.status) if "/login" in r.url else None)
    page.goto(attacker + attack)
    if attack == "/api-fetch":
        page.wait_for_function("document.body.dataset.done === '1'")
    else:
        page.wait_for_url(f"{live.url}/**")
    assert 403 in answered  # the attack reached us and was refused, not lost on the way
    names = {c["name"] for c in context.cookies(live.url)}
    assert "metacrm_session" not in names
    assert not _signed_in_as_someone(live, page)
    context.close()


def test_a_foreign_page_cannot_frame_ours(live, browser, attacker):
    context = browser.new_context()
    page = context.new_page()
    page.goto(attacker + "/frame")
    page.wait_for_load_state("load")
    frame = page.frames[1]
    assert frame.url.startswith("chrome-error://") or frame.locator("#username").count() == 0
    context.close()


def test_our_pages_run_under_their_policy_without_a_violation(live, sign_in):
    page = sign_in("pudong.sales")
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)  # fmt: skip
    page.context.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "(window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI))"
    )
    for path in ("/ui", "/ui/o/lead", "/ui/o/lead/new", "/ui/o/activity/new", "/ui/approvals",
                 "/ui/search?q=a"):
        response = page.goto(live.url + path)
        assert response is not None and response.status == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__csp || []") == [], path
    assert violations == []
    page.goto(live.url + "/ui/o/activity/new")  # the form's own script ran: a lookup search
    assert page.locator("#f-lead-search").is_visible()
