"""A live metacrm (API and UI) on a SQLite file, served by uvicorn on a thread, and
Debian's Chromium driven by Playwright (never a downloaded browser).

The packs are the base pack with one field label holding markup, so every page test
also shows that labels from metadata are escaped. Where /usr/bin/chromium is missing the
browser tests skip with the reason, except under CI, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from admin_ui import with_ui
from engine.api.app import AppConfig, create_app
from engine.api.auth import Authenticator
from engine.api.runtime import Runtime
from engine.auth import PasswordHasher, UserStore
from engine.records import Actor
from engine.storage.database import Database

BASE = Path(__file__).resolve().parents[2] / "industry_packs" / "base"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse"
#: A label with markup: it must show as text on every page.
EVIL_LABEL = '<script>window.__xss = "label"</script>"><img src=x onerror="window.__xss=1">'
SYSTEM = Actor(user_id=None, name="ui test setup")


@dataclass
class Live:
    url: str
    runtime: Runtime
    units: dict[str, str]
    users: UserStore

    @property
    def service(self) -> Any:
        return self.runtime.snapshot.service


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pack(tmp: Path) -> Path:
    pack = tmp / "base"
    shutil.copytree(BASE, pack)
    lead = pack / "objects" / "lead.yaml"
    text = lead.read_text(encoding="utf-8")
    marker = "  - name: company\n"
    at = text.index(marker)
    label_at = text.index("label:", at)
    end = text.index("\n", label_at)
    evil = EVIL_LABEL.replace('"', '\\"')
    text = text[:label_at] + f'label: {{en: "Company {evil}", zh-CN: "公司 {evil}"}}' + text[end:]
    lead.write_text(text, encoding="utf-8")
    return pack


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("ui")
    db = Database(f"sqlite:///{tmp / 'ui.sqlite3'}")
    runtime = Runtime(db, [_pack(tmp)])
    service = runtime.snapshot.service
    brand = service.create("org_unit", {"name": "品牌", "code": "HQ", "kind": "brand"}, SYSTEM)
    east = service.create("org_unit", {"name": "华东", "code": "E", "kind": "region",
                                       "parent": brand["id"]}, SYSTEM)  # fmt: skip
    units = {"brand": brand["id"], "east": east["id"]}
    for code in ("pudong", "xihu"):
        made = service.create("org_unit", {"name": code, "code": code.upper(), "kind": "dealer",
                                           "parent": east["id"]}, SYSTEM)  # fmt: skip
        units[code] = made["id"]
    users = UserStore(db, runtime.snapshot.compiled.tables, hasher=PasswordHasher(n=2**4))
    for name, unit, locale in (("pudong.sales", "pudong", "zh-CN"), ("xihu.sales", "xihu", "en"),
                               ("pudong.other", "pudong", "en")):  # fmt: skip
        users.create_user(name, PASSWORD, name, roles=["dealer_staff"], org_unit=units[unit],
                          locale=locale)  # fmt: skip
    manager = users.create_user("pudong.gm", PASSWORD, "浦东店总经理", roles=["dealer_manager"],
                                org_unit=units["pudong"])  # fmt: skip
    service.update("org_unit", units["pudong"], {"manager": manager.id}, SYSTEM)
    tables = runtime.snapshot.compiled.tables
    app = create_app(with_ui(AppConfig(runtime=runtime, authenticator=Authenticator(db, tables))))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, proxy_headers=False))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield Live(f"http://127.0.0.1:{port}", runtime, units, users)
    server.should_exit = True
    thread.join(10)
    db.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} is missing (scripts/ensure-chromium installs Debian's chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run the browser tests")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox"])  # fmt: skip
        yield chromium
        chromium.close()


@pytest.fixture
def sign_in(live: Live, browser: Any) -> Iterator[Any]:
    """``sign_in(username, width=1280)``: a signed-in page in a browser context of its own."""
    contexts = []

    def open_as(username: str, width: int = 1280) -> Any:
        context = browser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{live.url}/ui")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live.url}/ui")
        return page

    yield open_as
    for context in contexts:
        context.close()
