"""The world's app (API and UI) served by uvicorn on a thread, one API token and one UI
session per role: the HTTP probes go through the real stack (routing, problem bodies, CSV
streaming, server-rendered pages)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import uvicorn

from admin_ui import with_ui
from engine.api.app import AppConfig, create_app
from engine.api.auth import SESSION_COOKIE, Authenticator
from engine.auth import TokenStore
from engine.auth.sessions import SessionStore

from .world import PASSWORD


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
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30)
        self.ui = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        self.tokens = TokenStore(world.users)
        self.sessions = SessionStore(world.users)
        self.world = world
        self._issued: dict[str, str] = {}
        self._signed_in: dict[str, str] = {}

    def token(self, role: str) -> str:
        if role not in self._issued:
            user = self.world.users.by_username(f"r.{role}")
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

    def page(self, role: str, path: str, **params: str) -> Any:
        """Status and body of one UI request as ``role``'s user, signed in once (a
        session of their own, as the sign-in page opens)."""
        if role not in self._signed_in:
            username = "stranger" if role == "administrator" else f"r.{role}"  # world.py's
            session = self.sessions.login(username, PASSWORD, "hostile suite")
            self._signed_in[role] = session.token
        cookie = {"Cookie": f"{SESSION_COOKIE}={self._signed_in[role]}"}
        response = self.ui.get(path, params=params, headers=cookie)
        kind = response.headers.get("content-type", "")
        return [response.status_code, response.json() if kind.startswith("application/json")
                else response.text]  # fmt: skip

    def stop(self) -> None:
        self.client.close()
        self.ui.close()
        self.server.should_exit = True
        self.thread.join(10)


def server(world: Any) -> Server:
    if "server" not in world.kept:
        world.kept["server"] = Server(world)
    return world.kept["server"]
