"""In-app notifications from automations: who gets them, and what they read.

Recipients are named in the automation: ``owner`` (or any user field of the record),
``role:NAME`` (active users holding the role in the record's unit or a unit above it),
``user:USERNAME``. Subject and body are Jinja2 templates, one per locale, rendered in the
sandbox for each recipient in their own language, with the record as that recipient may
see it (hidden fields absent, personal data masked).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.compiled import CompiledObject, CompiledSchema
from engine.records.org_tree import unit_and_above
from engine.storage.tables import ORG_UNIT_OBJECT

__all__ = ["recipients", "render", "store"]

_SANDBOX = ImmutableSandboxedEnvironment(autoescape=False)


def render(template: Mapping[str, str], locale: str, **context: Any) -> str:
    """The template in ``locale`` (else English), rendered in the sandbox."""
    text = template.get(locale) or template.get("en") or next(iter(template.values()), "")
    return _SANDBOX.from_string(text).render(**context)


def recipients(
    conn: sa.Connection,
    compiled: CompiledSchema,
    cobj: CompiledObject,
    record: Mapping[str, Any],
    to: list[str],
) -> list[Any]:
    """The active user rows the ``to`` entries name (each once)."""
    users = compiled.tables.system["users"]
    active = users.c.disabled.is_(False)
    found: dict[str, Any] = {}
    for entry in to:
        kind, _, name = entry.partition(":")
        if kind == "role":
            table = compiled.tables.objects.get(ORG_UNIT_OBJECT)
            units = unit_and_above(conn, table, record.get("org_unit"))
            query = sa.select(users).where(active)
            if units:
                query = query.where(users.c.org_unit.in_(units))
            rows = [r for r in conn.execute(query) if name in (r.roles or [])]
        elif kind == "user":
            rows = list(conn.execute(sa.select(users).where(users.c.username == name, active)))
        else:  # a user field of the record (``owner`` included)
            value = record.get(entry)
            rows = (
                list(conn.execute(sa.select(users).where(users.c.id == value, active)))
                if value
                else []
            )
        for row in rows:
            found.setdefault(str(row.id), row)
    return list(found.values())


def store(
    conn: sa.Connection,
    table: sa.Table,
    user_id: Any,
    subject: str,
    body: str,
    cobj: CompiledObject,
    record_id: Any,
    source: str,
    at: dt.datetime,
) -> None:
    conn.execute(
        sa.insert(table),
        {
            "id": str(uuid.uuid4()), "user_id": user_id, "subject": subject[:500], "body": body,
            "object": cobj.name, "record_id": record_id, "source": source, "created_at": at,
            "read_at": None,
        },
    )  # fmt: skip
