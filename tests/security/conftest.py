"""One world per pack stack and database kind, shared by every case of the session.

Building a stack's schema and users costs seconds; the cases only add records of their
own and shares to their own users, so they share the world and stay independent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from engine.storage.database import Database

from .packs import Stack
from .world import World, make_world

KINDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def world_for(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[Stack, str], World]]:
    made: dict[tuple[str, str], World] = {}

    def world(stack: Stack, kind: str) -> World:
        key = (stack.name, kind)
        if key not in made:
            if kind == "sqlite":
                folder = tmp_path_factory.mktemp(f"hostile-{stack.name}")
                db = Database(f"sqlite:///{folder / 'crm.sqlite3'}")
            else:
                url = request.getfixturevalue("pg_server_url")
                schema = f"h_{uuid.uuid4().hex[:10]}"
                db = Database(url, schema=schema)
                with db.engine.begin() as conn:
                    conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            made[key] = make_world(stack, db)
        return made[key]

    yield world
    for found in made.values():  # PostgreSQL schemas go with the session's database
        found.close()
        found.db.dispose()
