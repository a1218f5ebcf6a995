from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from litestar.testing import TestClient

from engine.api.app import AppConfig, create_app
from engine.api.auth import Authenticator
from engine.api.runtime import Runtime
from engine.auth import PasswordHasher, TokenStore, UserStore

SHOP = Path(__file__).resolve().parents[2] / "fixtures" / "shop_pack"


@dataclass
class Api:
    client: TestClient
    runtime: Runtime
    users: UserStore
    token: str  # records:write
    reader: str  # records:read only

    def auth(self, token: str | None = None, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}", **headers}


@pytest.fixture
def api(database):
    runtime = Runtime(database, [SHOP])
    tables = runtime.snapshot.compiled.tables
    users = UserStore(database, tables, hasher=PasswordHasher(n=2**4))
    alice = users.create_user("alice", "correct horse", "Alice", roles=["sales_rep"], locale="en")
    tokens = TokenStore(users)
    writer, _ = tokens.create(alice, "tests", ["records:write", "metadata:read"])
    reader, _ = tokens.create(alice, "read only", ["records:read"])
    app = create_app(AppConfig(runtime=runtime, authenticator=Authenticator(database, tables)))
    with TestClient(app) as client:
        yield Api(client, runtime, users, writer, reader)
