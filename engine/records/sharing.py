"""Sharing one record with a user or an org unit, beyond what their roles reach.

A share grants ``read`` or ``edit`` (which includes read) on a single record to one user
or to the members of one unit. Shares never open an object a role keeps closed, and
never allow deleting: they widen the scope of an operation the role already has. Who
may share a record, and with whom, is the authorizer's ``check_share``: whoever may
change it by their roles, with users and units within their reach, so a share is never
passed on by its holder. Every share and unshare is audited.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

import sqlalchemy as sa

__all__ = ["ShareAccess", "add_share", "remove_share", "shared_ids", "shares_of"]


class ShareAccess(enum.StrEnum):
    READ = "read"
    EDIT = "edit"


def shared_ids(
    shares: sa.Table, object_name: str, user_id: Any, org_unit: Any, edit: bool
) -> sa.Select[Any]:
    """Ids of ``object_name`` records shared with the user or their unit (a SELECT to use
    in ``IN``); with ``edit``, only the shares that allow changing."""
    whom = [shares.c.user_id == user_id]
    if org_unit is not None:
        whom.append(shares.c.org_unit == org_unit)
    access = [ShareAccess.EDIT.value] if edit else [a.value for a in ShareAccess]
    return sa.select(shares.c.record_id).where(
        shares.c.object == object_name, sa.or_(*whom), shares.c.access.in_(access)
    )


def add_share(
    conn: sa.Connection,
    shares: sa.Table,
    object_name: str,
    record_id: str,
    *,
    user_id: str | None,
    org_unit: str | None,
    access: ShareAccess,
    by: str | None,
    at: dt.datetime,
) -> dict[str, Any]:
    """Share (or re-share with another access); one share per record and grantee."""
    grantee = shares.c.user_id == user_id if user_id else shares.c.org_unit == org_unit
    mine = sa.and_(shares.c.object == object_name, shares.c.record_id == record_id, grantee)
    conn.execute(sa.delete(shares).where(mine))
    row = {
        "id": str(uuid.uuid4()),
        "object": object_name,
        "record_id": record_id,
        "user_id": user_id,
        "org_unit": org_unit,
        "access": access.value,
        "created_at": at,
        "created_by": by,
    }
    conn.execute(sa.insert(shares), row)
    return row


def remove_share(
    conn: sa.Connection, shares: sa.Table, object_name: str, record_id: str, share_id: str
) -> dict[str, Any] | None:
    """Remove one share of the record; the removed share, or None if there was none."""
    where = sa.and_(
        shares.c.id == share_id, shares.c.object == object_name, shares.c.record_id == record_id
    )
    try:
        row = conn.execute(sa.select(shares).where(where)).mappings().first()
    except sa.exc.StatementError:  # not an id at all
        return None
    if row is not None:
        conn.execute(sa.delete(shares).where(where))
    return dict(row) if row is not None else None


def shares_of(
    conn: sa.Connection, shares: sa.Table, object_name: str, record_id: str
) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(shares)
        .where(shares.c.object == object_name, shares.c.record_id == record_id)
        .order_by(shares.c.created_at, shares.c.id)
    )
    return [dict(r._mapping) for r in rows]
