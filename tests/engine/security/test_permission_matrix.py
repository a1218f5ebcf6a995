"""The base pack's roles, enforced: who can list, read, update and delete which records.

A three-level organisation (brand → two regions → three dealers) holds one record of each
matrix object in every unit, owned by a user of that unit. For every base-pack role there
is a user in a dealer and one in a region. The expected answer for each user, object and
operation is worked out here from ``roles.yaml`` as written and the tree as built (the
scope rules of the README), independently of the engine's policy code; the engine must
give exactly that through the RecordService and, for reads, through the HTTP API.

Pairs of role and object with record rules are left to ``test_record_rules.py``: their
expected sets depend on the rule, not just the scope.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar.testing import TestClient

from engine.api.app import AppConfig, create_app
from engine.api.auth import Authenticator
from engine.api.runtime import Runtime
from engine.auth import PasswordHasher, TokenStore, UserStore
from engine.records import Actor, Forbidden, NotFound, WriteOptions
from engine.storage.database import Database

BASE = Path(__file__).resolve().parents[3] / "industry_packs" / "base"
ROLES = yaml.safe_load((BASE / "security" / "roles.yaml").read_text())["roles"]
OBJECTS = ("account", "contact", "lead", "service_case", "member")
TREE = {  # unit -> parent
    "brand": None,
    "east": "brand",
    "south": "brand",
    "pudong": "east",
    "xihu": "east",
    "tianhe": "south",
}
#: What validation rules ask beyond the required fields (each record a person of its own:
#: duplicate rules refuse a second contact with one e-mail at an account).
EXTRA = {
    "contact": {"email": "someone{n}@example.cn"},
    "lead": {"email": "lead@example.cn"},
    "service_case": {"caller_phone": "13812345678"},
    "member": {"phone": "139{n:08d}"},
}
SYSTEM = Actor(user_id=None, name="matrix setup")
DRY = WriteOptions(dry_run=True)


def below(unit: str) -> set[str]:
    """``unit`` and every unit under it, from the tree as declared above."""
    found = {unit}
    for child, parent in TREE.items():
        if parent == unit:
            found |= below(child)
    return found


def expected_scope(role: dict[str, Any], obj: str, operation: str) -> str:
    return role.get("objects", {}).get(obj, {}).get(operation, "none")


def reaches(scope: str, user: User, record: Placed) -> bool:
    """The README's scope rule: scopes nest, and each includes the user's own records."""
    if scope == "all":
        return True
    if scope == "none":
        return False
    if record.owner == user.key:
        return True
    if scope == "org_unit":
        return record.unit == user.unit
    if scope == "org_unit_and_below":
        return record.unit in below(user.unit)
    return False


@dataclass
class User:
    key: str
    role: dict[str, Any]
    unit: str
    actor: Actor | None = None
    token: str = ""


@dataclass
class Placed:
    obj: str
    unit: str
    owner: str
    id: str = ""


@dataclass
class World:
    runtime: Runtime
    client: TestClient[Any]
    users: list[User]
    records: list[Placed]
    unit_ids: dict[str, str] = field(default_factory=dict)


def _minimal(compiled: Any, obj: str, n: int) -> dict[str, Any]:
    """A valid record with only the required fields, each from its declared type."""
    values: dict[str, Any] = {}
    for fdef in compiled.objects[obj].obj.fields:
        if not getattr(fdef, "required", False) or getattr(fdef, "default", None) is not None:
            continue
        kind = str(fdef.kind)
        if kind == "picklist":
            values[fdef.name] = next(v.value for v in fdef.values if v.active)
        elif kind == "date":
            values[fdef.name] = dt.date(2026, 11, 1).isoformat()
        else:
            values[fdef.name] = f"{obj} {n}"
    return values | {k: v.format(n=n) for k, v in EXTRA.get(obj, {}).items()}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("matrix") / "matrix.sqlite3"
        db = Database(f"sqlite:///{path}")
        schema = None
    else:
        import uuid

        url = request.getfixturevalue("pg_server_url")
        schema = f"m_{uuid.uuid4().hex[:10]}"
        db = Database(url, schema=schema)
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    runtime = Runtime(db, [BASE])
    service = runtime.snapshot.service
    compiled = runtime.snapshot.compiled
    unit_ids: dict[str, str] = {}
    for key, parent in TREE.items():
        unit = service.create(
            "org_unit",
            {
                "name": key,
                "code": key.upper(),
                "kind": "brand" if parent is None else "region" if parent == "brand" else "dealer",
                "parent": unit_ids.get(parent) if parent else None,
            },
            SYSTEM,
        )
        unit_ids[key] = unit["id"]
    store = UserStore(db, compiled.tables, hasher=PasswordHasher(n=2**4))
    tokens = TokenStore(store)
    users: list[User] = []
    owners: dict[str, str] = {}
    for unit in TREE:  # one plain owner per unit, whose records the others try to reach
        made = store.create_user(f"owner.{unit}", None, unit, roles=[], org_unit=unit_ids[unit])
        owners[unit] = made.id
    for role in ROLES:
        for unit in ("pudong", "east"):
            made = store.create_user(
                f"{role['name']}.{unit}", None, role["name"], roles=[role["name"]],
                org_unit=unit_ids[unit],
            )  # fmt: skip
            token, _ = tokens.create(made, "matrix", ["records:write"])
            user = User(made.id, role, unit, store.actor_for(made), token)
            users.append(user)
    records = []
    for n, (obj, unit) in enumerate((o, u) for o in OBJECTS for u in TREE):
        values = _minimal(compiled, obj, n) | {"owner": owners[unit], "org_unit": unit_ids[unit]}
        created = service.create(obj, values, SYSTEM)
        records.append(Placed(obj, unit, owners[unit], created["id"]))
    # one record in each object owned by each matrix user, in a unit that is not theirs
    pairs = ((u, o) for u in users for o in OBJECTS)
    for n, (user, obj) in enumerate(pairs, start=1000):
        values = _minimal(compiled, obj, n) | {"owner": user.key, "org_unit": unit_ids["tianhe"]}
        created = service.create(obj, values, SYSTEM)
        records.append(Placed(obj, "tianhe", user.key, created["id"]))
    app = create_app(AppConfig(runtime=runtime, authenticator=Authenticator(db, compiled.tables)))
    with TestClient(app) as client:
        yield World(runtime, client, users, records, unit_ids)
    if schema is not None:
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    db.dispose()


def _paged(service: Any, obj: str, actor: Actor, sort: list[str]) -> list[str]:
    """Every id, two per page, following the cursors."""
    ids: list[str] = []
    cursor = None
    while True:
        page = service.list(obj, actor, limit=2, sort=sort, cursor=cursor)
        ids += [r["id"] for r in page.records]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def _ruled(role: dict[str, Any], obj: str) -> bool:
    return any(rule["object"] == obj for rule in role.get("record_rules", []))


CASES = [
    (role["name"], unit, obj)
    for role in ROLES
    for unit in ("pudong", "east")
    for obj in OBJECTS
    if not _ruled(role, obj)
]


@pytest.mark.parametrize(("role_name", "unit", "obj"), CASES)
def test_each_role_reaches_exactly_its_scope(world: World, role_name: str, unit: str, obj: str):
    user = next(u for u in world.users if u.role["name"] == role_name and u.unit == unit)
    service = world.runtime.snapshot.service
    mine = [r for r in world.records if r.obj == obj]
    readable = {r.id for r in mine if reaches(expected_scope(user.role, obj, "read"), user, r)}

    listed = {r["id"] for r in service.list(obj, user.actor, limit=500).records}
    assert listed == readable, "list through the record service"
    for sort in ([], ["-created_at"], ["owner", "-updated_at"]):
        whole = [r["id"] for r in service.list(obj, user.actor, limit=500, sort=sort).records]
        assert _paged(service, obj, user.actor, sort) == whole, f"pages of 2 sorted {sort}"
    response = world.client.get(
        f"/api/v1/objects/{obj}/records?limit=500",
        headers={"Authorization": f"Bearer {user.token}"},
    )
    if readable or response.status_code == 200:
        assert {r["id"] for r in response.json()["records"]} == readable, "list over HTTP"

    for record in mine:
        outcome = {}
        for operation in ("read", "update", "delete"):
            try:
                if operation == "read":
                    service.get(obj, record.id, user.actor)
                elif operation == "update":
                    service.update(obj, record.id, {}, user.actor)
                else:
                    service.delete(obj, record.id, user.actor, options=DRY)
                outcome[operation] = "ok"
            except NotFound:
                outcome[operation] = "not found"
            except Forbidden:
                outcome[operation] = "forbidden"
        visible = record.id in readable
        expected = {"read": "ok" if visible else "not found"}
        for operation in ("update", "delete"):
            if reaches(expected_scope(user.role, obj, operation), user, record):
                expected[operation] = "ok"
            else:
                expected[operation] = "forbidden" if visible else "not found"
        assert outcome == expected, f"{record.obj} in {record.unit} owned by {record.owner}"
        status = world.client.get(
            f"/api/v1/objects/{obj}/records/{record.id}",
            headers={"Authorization": f"Bearer {user.token}"},
        ).status_code
        assert status == (200 if visible else 404), "get over HTTP"
