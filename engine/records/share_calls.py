"""The record service's sharing calls: share a record, withdraw a share, list shares.

A feature of ``RecordService``; what a share grants is in ``engine.records.sharing`` and
how it widens access in the authorizer's row filter.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from engine.records.actor import Actor, WriteOptions
from engine.records.authorize import Operation
from engine.records.errors import FieldError, NotFound, ValidationFailed
from engine.records.messages import message
from engine.records.parts import Feature
from engine.records.sharing import ShareAccess, add_share, remove_share, shares_of
from engine.storage.tables import ORG_UNIT_OBJECT

__all__ = ["ShareCalls"]

Record = dict[str, Any]
_DEFAULT = WriteOptions()


class ShareCalls(Feature):
    def share(
        self,
        object_name: str,
        record_id: str,
        actor: Actor,
        *,
        user: str | None = None,
        org_unit: str | None = None,
        access: str = "read",
    ) -> Record:
        """Share one record with a user or the members of a unit (``read`` or ``edit``).

        Whoever may change the record by their roles (not through a share) may share it,
        with users and units within their ``share`` scope; the share is audited. Sharing
        again with the same grantee replaces the earlier access, under the same rule.

        Raises:
            NotFound / Forbidden: The actor may not see / share the record.
            ValidationFailed: Not exactly one grantee, an unknown one, one outside the
                actor's reach, or a bad access.
        """
        cobj = self.object_named(object_name)
        with self.transactions.begin(actor, _DEFAULT) as ctx:
            conn = ctx.conn
            record = self.writer.fetch(conn, cobj, record_id, actor, Operation.UPDATE, lock=True)
            level = self._share_request(conn, user, org_unit, access, actor)
            self.authorizer.check_share(conn, actor, cobj, record, user=user, org_unit=org_unit)
            row = add_share(
                conn, self.effects.shares, object_name, record_id, user_id=user,
                org_unit=org_unit, access=level, by=actor.user_id, at=self.clock(),
            )  # fmt: skip
            detail = {"share": row["id"], "user": user, "org_unit": org_unit, "access": access}
            self.effects.audit(
                conn, "share", object_name, record_id, actor.user_id, row["created_at"], detail
            )
        return row

    def unshare(
        self, object_name: str, record_id: str, share_id: str, actor: Actor
    ) -> None:
        """Withdraw a share (audited), for whoever may share the record; NotFound when
        the record has no such share."""
        cobj = self.object_named(object_name)
        with self.transactions.begin(actor, _DEFAULT) as ctx:
            conn = ctx.conn
            record = self.writer.fetch(conn, cobj, record_id, actor, Operation.UPDATE, lock=True)
            self.authorizer.check_share(conn, actor, cobj, record)
            removed = remove_share(conn, self.effects.shares, object_name, record_id, share_id)
            if removed is None:
                raise NotFound(f"{object_name} share", share_id)
            detail = {
                "share": share_id,
                "user": removed["user_id"],
                "org_unit": removed["org_unit"],
            }
            self.effects.audit(
                conn, "unshare", object_name, record_id, actor.user_id, self.clock(), detail
            )

    def shares(self, object_name: str, record_id: str, actor: Actor) -> list[Record]:
        """Who a record is shared with, for anyone who may read it."""
        cobj = self.object_named(object_name)
        with self.db.read() as conn:
            self.writer.fetch(conn, cobj, record_id, actor, Operation.READ)
            return shares_of(conn, self.effects.shares, object_name, record_id)

    def _share_request(
        self,
        conn: sa.Connection,
        user: str | None,
        org_unit: str | None,
        access: str,
        actor: Actor,
    ) -> ShareAccess:
        """The requested access, after checking the grantee is one that exists."""
        errors = []
        if (user is None) == (org_unit is None):
            errors.append(_share_error("user", "share_grantee"))
        elif user is not None:
            users = self.compiled.tables.system["users"]
            found = _exists(conn, users, user, users.c.disabled.is_(False))
            if not found:
                errors.append(_share_error("user", "bad_reference"))
        else:
            units = self.compiled.tables.objects.get(ORG_UNIT_OBJECT)
            if units is None or not _exists(conn, units, org_unit, units.c.archived.is_(False)):
                errors.append(_share_error("org_unit", "bad_reference"))
        if access not in {a.value for a in ShareAccess}:
            errors.append(_share_error("access", "not_a_choice", value=access))
        if errors:
            raise ValidationFailed(errors, actor.locale)
        return ShareAccess(access)


def _share_error(name: str, code: str, **values: Any) -> FieldError:
    label = {"en": name.replace("_", " "), "zh-CN": _SHARE_LABELS[name]}
    text = message(code, label=label, **values)
    return FieldError(field=name, rule="share", code=code, message=text)


_SHARE_LABELS = {"user": "用户", "org_unit": "组织单元", "access": "权限"}


def _exists(conn: sa.Connection, table: sa.Table, key: Any, live: Any) -> bool:
    try:
        query = sa.select(table.c.id).where(table.c.id == key, live)
        return conn.execute(query).first() is not None
    except sa.exc.StatementError:  # not an id of the column's type
        return False
