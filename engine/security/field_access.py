"""The one field-access decision for rules a user writes: filters, sorts, searches.

Every path such a rule reads passes ``FieldAccessResolver`` one field at a time (the rule compiler
asks it; see ``engine.rules.reader``): a field the reader may not read is refused, naming
it; personal data (``pii: true``) is usable only by a reader who may reveal it, and each
use is counted so the caller audits it like a reveal; a reader who may reveal only the
personal data of their own records reads it on those rows and reads empty on the others;
and a lookup reaches only the target records the reader may open. A rule therefore tells
its reader nothing that the records they may see do not already show them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.records.authorize import Operation, row_filter
from engine.rules import FieldHidden, FieldRef
from engine.storage.tables import SYSTEM_COLUMNS

if TYPE_CHECKING:
    from engine.compiled import CompiledSchema
    from engine.records.actor import Actor
    from engine.security.authorizer import RoleAuthorizer

__all__ = ["FieldAccessResolver"]

_HIDDEN = "no such field you may read"
_MASKED = "personal data you may see only masked cannot be filtered, sorted or searched"
_MASKED_SORT = "personal data you may see only on your own records cannot be sorted on"


class FieldAccessResolver:
    """One user's reading of rules, for one list request (an ``authorize.RuleReader``).

    Attributes:
        personal: ``(object, field)`` of each personal field the rules read, in order of
            first use: what the caller writes to the audit log.
        per_user: The SQL built depends on who the user is (their rows, their own
            records), not only on their roles: it may not be reused for anyone else.
        timely: The SQL built depends on when it was built: the rows of a lookup's target
            are decided by a record rule compiled with the time (or not known to be
            kept), so it may not be reused at all.
    """

    def __init__(self, authorizer: RoleAuthorizer, actor: Actor, compiled: CompiledSchema):
        self.authorizer = authorizer
        self.actor = actor
        self.compiled = compiled
        self.personal: list[tuple[str, str]] = []
        self.per_user = False
        self.timely = False

    def column(self, object_name: str, ref: FieldRef, row: sa.FromClause) -> Any:
        column = row.c[ref.name]
        if object_name not in self.compiled.objects:
            return column  # a user through a user field: only ``USER_FIELDS`` resolve
        if not self._personal(object_name, ref.name):
            return column
        if self._reveals_all(object_name, ref.name):
            return column
        self.per_user = True  # theirs only: empty on every record they do not own
        return sa.case((row.c.owner == self.actor.user_id, column), else_=sa.null())

    def sort_column(self, object_name: str, name: str, table: sa.Table) -> Any:
        """``name`` as a sort key: a personal field only for who may see it on every row."""
        if self._personal(object_name, name) and not self._reveals_all(object_name, name):
            raise FieldHidden(object_name, name, _MASKED_SORT)
        return table.c[name]

    def rows(self, object_name: str) -> sa.ColumnElement[bool] | None:
        cobj = self.compiled.objects.get(object_name)
        if cobj is None:
            return None  # users: whoever reads a record may read who owns it
        opens = row_filter(self.authorizer, self.actor, cobj, Operation.READ, self.compiled)
        if opens is not None:
            self.per_user = True
            self.timely |= not self.authorizer.rules_kept(self.actor, cobj)
        return opens

    def _personal(self, object_name: str, name: str) -> bool:
        """Whether ``name`` is personal data (raising when it may not be read at all);
        a personal field is counted as used."""
        if name in SYSTEM_COLUMNS:
            return False
        cobj = self.compiled.objects[object_name]
        fdef = cobj.fields.get(name)
        access = self.authorizer.access(self.actor, cobj)
        if fdef is None or not access.can_read(name):
            raise FieldHidden(object_name, name, _HIDDEN)
        if not getattr(fdef, "pii", False):
            return False
        if not access.view_own_pii:
            raise FieldHidden(object_name, name, _MASKED)
        if (object_name, name) not in self.personal:
            self.personal.append((object_name, name))
        return True

    def _reveals_all(self, object_name: str, name: str) -> bool:
        return self.authorizer.access(self.actor, self.compiled.objects[object_name]).view_pii
