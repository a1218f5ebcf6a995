"""Who a rule is compiled for: the hook every field a rule reads in SQL passes through.

A rule a user writes (a list filter, a search, a view's condition) may read only what that
user may read. The rule compiler knows nothing of roles, so it asks a ``FieldReader`` for
each field a path reaches, one hop at a time: the reader refuses a field (``FieldHidden``),
or gives the column as the user may read it, and says which rows of a looked-up object the
user may open. ``var``, ``val`` and any operator that reads data reach fields through one
method of the compiler, so no operator can go around it.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import ColumnElement, FromClause

from .context import FieldRef
from .errors import RuleError

__all__ = ["FieldHidden", "FieldReader"]


class FieldHidden(RuleError):
    """A rule reads a field its reader may not use this way; names the field."""

    type = "Forbidden"

    def __init__(self, object_name: str, field: str, reason: str) -> None:
        self.object_name = object_name
        self.field = field
        self.reason = reason
        super().__init__(f"cannot use {object_name}.{field}: {reason}")


class FieldReader(Protocol):
    """The reader of a rule, as the SQL compiler consults it."""

    def column(self, object_name: str, ref: FieldRef, row: FromClause) -> ColumnElement[Any]:
        """``ref``'s column of ``row`` (the object's table or an alias of it) as the reader
        may read it.

        Raises:
            FieldHidden: The reader may not read the field, or not in a rule.
        """
        ...

    def rows(self, object_name: str) -> ColumnElement[bool] | None:
        """The condition on ``object_name``'s table selecting the rows the reader may
        open (None: all); a lookup to any other row reads as empty."""
        ...
