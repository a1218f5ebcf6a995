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

from engine.compiled import CompiledObject, CompiledSchema
from engine.records.people import role_holders, user_in_field, users_named
from engine.records.templates import render_template

__all__ = ["recipients", "render", "store"]


def render(template: Mapping[str, str], locale: str, **context: Any) -> str:
    """The template in ``locale`` (else English), rendered in the sandbox."""
    text = template.get(locale) or template.get("en") or next(iter(template.values()), "")
    return render_template(text, **context)


def recipients(
    conn: sa.Connection,
    compiled: CompiledSchema,
    cobj: CompiledObject,
    record: Mapping[str, Any],
    to: list[str],
) -> list[Any]:
    """The active user rows the ``to`` entries name (each once)."""
    users = compiled.tables.system["users"]
    found: dict[str, Any] = {}
    for entry in to:
        kind, _, name = entry.partition(":")
        if kind == "role":
            rows = role_holders(conn, compiled, name, record.get("org_unit"))
        elif kind == "user":
            rows = users_named(conn, compiled, users.c.username == name)
        else:  # a user field of the record (``owner`` included)
            rows = user_in_field(conn, compiled, record, entry)
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
