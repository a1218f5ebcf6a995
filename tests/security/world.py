"""One database per pack stack: a brand with two units, a user in every role, and a builder.

Every user sits in the ``near`` unit; the suite's records sit in ``far`` and belong to a
stranger (an administrator), so a user reaches one only where it is shared with them or
their scope is ``all``: what they learn of it is exactly what the packs let them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.api.runtime import Runtime
from engine.auth import PasswordHasher, UserStore
from engine.records import Actor
from engine.storage.database import Database

from .builder import Builder
from .packs import Stack
from .secrets_of import roles

PASSWORD = "correct horse battery"


def username(role: str) -> str:
    """The user of ``role`` (the administrator's is the stranger)."""
    return "stranger" if role == "administrator" else f"r.{role}"


@dataclass
class World:
    stack: Stack
    db: Database
    runtime: Runtime
    users: UserStore
    units: dict[str, str]
    actors: dict[str, Actor]
    stranger: Actor
    builder: Builder
    #: Cache of what cases set up once per world (keyed by the case).
    kept: dict[Any, Any] = field(default_factory=dict)

    def close(self) -> None:
        """Stop what the world started (its HTTP server and clients, once a case asked)."""
        server = self.kept.pop("server", None)
        for kept in self.kept.values():
            if hasattr(kept, "stop"):
                kept.stop()
        if server is not None:
            server.stop()

    @property
    def service(self) -> Any:
        return self.runtime.snapshot.service

    @property
    def schema(self) -> Any:
        return self.runtime.snapshot.compiled.schema


def make_world(stack: Stack, db: Database) -> World:
    runtime = Runtime(db, list(stack.paths), auto_apply=False)
    service = runtime.snapshot.service
    compiled = runtime.snapshot.compiled
    users = UserStore(db, compiled.tables, hasher=PasswordHasher(n=2**4))
    admin = users.create_user(username("administrator"), PASSWORD, "Stranger",
                              roles=["administrator"])  # fmt: skip
    stranger = users.actor_for(admin)
    builder = Builder(service, admin.id, unit=None)
    brand = builder.build("org_unit")["id"]
    units = {"brand": brand}
    for name in ("near", "far"):
        units[name] = builder.build("org_unit", {"parent": brand})["id"]
    builder.unit = units["far"]
    builder.parents.clear()
    actors = {}
    for role in roles(compiled.schema):
        user = users.create_user(username(role), PASSWORD, role, roles=[role],
                                 org_unit=units["near"], locale="en")  # fmt: skip
        actors[role] = users.actor_for(user)
    actors["administrator"] = stranger  # the stranger sees all: what the probes must tell
    return World(stack, db, runtime, users, units, actors, stranger, builder)
