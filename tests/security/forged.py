"""What the process keeps from users, read from the packs, and writes that forge it through
each surface: the HTTP API, a CSV file, the UI's forms.

A workflow's reserved states are all but ``initial`` and its ``initial_states``; from a
state, the states no transition leads to are out of reach of an update. Read-only,
formula, rollup and autonumber fields are the engine's. None of it comes from the
engine's code.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

from metadata.check import SYSTEM_FIELDS

from .builder import SYSTEM
from .secrets_of import COMPUTED, LINKS, grant, roles
from .server import UiUser, server
from .values import filler

__all__ = [
    "cells",
    "created_by",
    "csv_text",
    "engine_columns",
    "form_body",
    "refused_fields",
    "reserved_fields",
    "reserved_states",
    "some_value",
    "surface_role",
    "ui",
    "unreachable",
]


def reserved_fields(obj: Any) -> list[Any]:
    return [f for f in obj.fields if f.kind in COMPUTED or getattr(f, "read_only", False)]


def engine_columns(actor: Any) -> dict[str, Any]:
    """The system columns every object has (the metadata's list) that only the engine
    sets, with a value a user might forge; ``owner`` and ``org_unit`` are the caller's
    to assign (README), so they are not among them."""
    forged = {"id": str(uuid.uuid4()), "created_at": "2020-01-02T08:00:00+00:00",
              "updated_at": "2020-01-02T08:00:00+00:00", "created_by": actor.user_id,
              "updated_by": actor.user_id, "version": 7, "archived": True}  # fmt: skip
    return {name: forged.get(name, "1") for name in SYSTEM_FIELDS
            if name not in ("owner", "org_unit")}  # fmt: skip


def reserved_states(workflow: Any) -> list[str]:
    starts = {workflow.initial, *workflow.initial_states}
    return [s.value for s in workflow.states if s.value not in starts]


def unreachable(workflow: Any, now: Any) -> list[str]:
    """The states no transition from ``now`` leads to (``now`` itself left out)."""
    reached = {t.to for t in workflow.transitions if now in t.from_ or "*" in t.from_}
    return [s.value for s in workflow.states if s.value not in reached | {now}]


def surface_role(schema: Any, obj: str) -> str | None:
    """The role a surface's forged writes are made as: one that may create and update
    ``obj`` and edit most of what the process reserves, so that what refuses a forged
    write is the process, not the field's access (None when no role may create it)."""
    stages = [w.field for w in schema.workflows.values() if w.object == obj]
    reserved = [f.name for f in reserved_fields(schema.objects[obj])]

    def fit(role: str) -> tuple[int, int, int]:
        g = grant(schema, role, obj)
        editable = [n for n in [*stages, *reserved] if g.access(n) == "edit"]
        staged = all(g.access(n) == "edit" for n in stages)
        return (int(staged), int(g.update != "none"), len(editable))

    able = [r for r in roles(schema) if grant(schema, r, obj).create != "none"]
    return max(able, key=fit) if able else None


def some_value(world: Any, fdef: Any, actor: Any) -> Any:
    """A value the field would hold if it were the user's to set."""
    if fdef.kind in COMPUTED:
        return "1"
    if fdef.kind in LINKS:
        parent = world.builder.parent(fdef.to)
        world.service.share(fdef.to, parent, SYSTEM, user=actor.user_id)
        return parent
    if fdef.kind.value == "user":
        return actor.user_id
    return (filler(world.schema, fdef, 99) or ["1"])[0]


def created_by(world: Any, obj: str, actor: Any) -> int:
    """How many live records of ``obj`` ``actor``'s user created."""
    rule = {"==": [{"var": "created_by"}, actor.user_id]}
    return world.service.list(obj, SYSTEM, filter=rule, limit=1, count=True).total


def refused_fields(errors: list[dict[str, Any]]) -> set[str]:
    return {e.get("field") for e in errors or []}


def cells(values: dict[str, Any]) -> dict[str, str]:
    """Values as a spreadsheet holds them: booleans true/false, several choices ``a;b``,
    structured values as JSON, lookups by id."""
    out = {}
    for name, value in values.items():
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, list):
            out[name] = ";".join(str(v) for v in value)
        elif isinstance(value, dict):
            out[name] = json.dumps(value, ensure_ascii=False)
        else:
            out[name] = "" if value is None else str(value)
    return out


def csv_text(rows: list[dict[str, str]]) -> str:
    header = list(dict.fromkeys(name for row in rows for name in row))
    stream = io.StringIO()
    writer = csv.writer(stream)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(name, "") for name in header])
    return stream.getvalue()


def form_body(schema: Any, obj: str, values: dict[str, Any]) -> list[tuple[str, str]]:
    """Values as a browser posts the record form: a ticked box ``on`` (an unticked one
    absent), an address by its parts, each chosen option on its own."""
    body = []
    for name, value in values.items():
        fdef = schema.objects[obj].field(name)
        if value is None or value is False:
            continue
        if value is True:
            body.append((name, "on"))
        elif fdef is not None and fdef.kind.value == "address" and isinstance(value, dict):
            body += [(f"{name}.{part}", str(text)) for part, text in value.items()]
        elif isinstance(value, list):
            body += [(name, str(v)) for v in value]
        elif isinstance(value, dict):
            body.append((name, json.dumps(value, ensure_ascii=False)))
        else:
            body.append((name, str(value)))
    return body


def ui(world: Any, role: str) -> UiUser:
    """``role``'s user signed in to the world's UI (the server's one sign-in)."""
    return server(world).ui(role)
