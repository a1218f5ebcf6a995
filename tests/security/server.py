"""The world's app (API and UI) served by uvicorn on a thread, one API token and one UI
user per role: the HTTP probes go through the real stack (routing, problem bodies, CSV
streaming, server-rendered pages, the sign-in form)."""

from __future__ import annotations

import re
import socket
import threading
import time
from typing import Any

import httpx
import uvicorn

from admin_ui import with_ui
from engine.api.app import AppConfig, create_app
from engine.api.auth import Authenticator
from engine.auth import TokenStore

from .world import PASSWORD, username

__all__ = ["Server", "UiUser", "server"]

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class UiUser:
    """One role's user signed in to the UI with the sign-in form, as a browser would:
    the session cookie, the form's token and our own Origin on every post. The one way
    the suite signs a user in to the UI, for reading pages and posting forms alike."""

    def __init__(self, origin: str, role: str):
        self.origin = origin
        self.client = httpx.Client(base_url=origin, timeout=30)
        page = self.client.get("/ui/login")
        found = _TOKEN.search(page.text)
        assert found, "the sign-in page carries no form token"
        signed = self.client.post(
            "/ui/login",
            data={"username": username(role), "password": PASSWORD, "locale": "en",
                  "csrf_token": found.group(1)},
            headers={"Origin": origin},
        )  # fmt: skip
        assert signed.status_code == 302, f"{username(role)} cannot sign in: {signed.status_code}"
        self.csrf = ""

    def get(self, path: str, **params: str) -> httpx.Response:
        """A page; the form token it carries is the one the next post sends."""
        page = self.client.get(path, params=params)
        found = _TOKEN.search(page.text) if page.status_code == 200 else None
        if found:
            self.csrf = found.group(1)
        return page

    def post(self, path: str, body: list[tuple[str, str]]) -> httpx.Response:
        form: dict[str, list[str]] = {"csrf_token": [self.csrf]}
        for name, value in body:
            form.setdefault(name, []).append(value)
        return self.client.post(path, data=form, headers={"Origin": self.origin})

    def stop(self) -> None:
        self.client.close()


class Server:
    def __init__(self, world: Any):
        tables = world.runtime.snapshot.compiled.tables
        authenticator = Authenticator(world.db, tables)
        authenticator.users.hasher = world.users.hasher  # the world's cheap cost: no rehash
        app = create_app(with_ui(AppConfig(runtime=world.runtime, authenticator=authenticator)))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                access_log=False)  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(400):
            if self.server.started:
                break
            time.sleep(0.05)
        self.origin = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=f"{self.origin}/api/v1", timeout=30)
        self.tokens = TokenStore(world.users)
        self.world = world
        self._issued: dict[str, str] = {}
        self._ui: dict[str, UiUser] = {}

    def token(self, role: str) -> str:
        if role not in self._issued:
            user = self.world.users.by_username(username(role))
            self._issued[role], _ = self.tokens.create(user, "hostile", ["records:write"])
        return self._issued[role]

    def call(self, role: str, method: str, path: str, **kwargs: Any) -> Any:
        """Status and body (JSON, or text for a CSV) of one request as ``role``'s user."""
        headers = {"Authorization": f"Bearer {self.token(role)}", "Accept-Language": "en"}
        response = self.client.request(method, path, headers=headers, **kwargs)
        kind = response.headers.get("content-type", "")
        body = response.json() if kind.startswith(("application/json", "application/problem")) \
            else response.text  # fmt: skip
        return [response.status_code, body]

    def ui(self, role: str) -> UiUser:
        """``role``'s user signed in to the UI (once)."""
        if role not in self._ui:
            self._ui[role] = UiUser(self.origin, role)
        return self._ui[role]

    def page(self, role: str, path: str, **params: str) -> Any:
        """Status and body (JSON, or the text of a page or a CSV) of one UI request as
        ``role``'s user."""
        response = self.ui(role).get(path, **params)
        kind = response.headers.get("content-type", "")
        return [response.status_code, response.json() if kind.startswith("application/json")
                else response.text]  # fmt: skip

    def stop(self) -> None:
        for user in self._ui.values():
            user.stop()
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)


def server(world: Any) -> Server:
    if "server" not in world.kept:
        world.kept["server"] = Server(world)
    return world.kept["server"]
