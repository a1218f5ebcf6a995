"""The value a rule node becomes in SQL (shared by the SQL builders)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .context import DATE_TYPES, NUMBER_TYPES, TEXT_TYPES, FieldRef
from .values import MISSING

__all__ = ["SqlValue", "const", "field_value", "kind_of_field", "pred"]

_ID_TYPES = frozenset({"lookup", "master_detail", "user"})


@dataclass(frozen=True, slots=True)
class SqlValue:
    """A rule node in SQL.

    Attributes:
        expr: The SQL expression (None for a constant, whose value is ``const``).
        kind: ``bool``, ``number``, ``text``, ``date``, ``datetime``, ``list`` or ``any``.
        const: The Python value when the node is a constant; ``MISSING`` otherwise.
        predicate: ``expr`` is a never-NULL boolean condition (not a column value).
    """

    expr: Any
    kind: str
    const: Any = MISSING
    predicate: bool = False
    #: An id (a lookup's or user field's value): text that is never empty, and on
    #: PostgreSQL a uuid column that cannot even be compared with ''.
    identifier: bool = False

    @property
    def is_const(self) -> bool:
        return self.const is not MISSING


def kind_of_field(ref: FieldRef) -> str:
    t = ref.value_type
    if t in NUMBER_TYPES:
        return "number"
    if t in TEXT_TYPES or t in _ID_TYPES:
        return "text"  # a lookup's value is the referenced record's id, a string
    if t == "boolean":
        return "bool"
    if t in DATE_TYPES:
        return t
    return "any"


def field_value(expr: Any, ref: FieldRef) -> SqlValue:
    """The SQL value of a field's column (or a subquery reaching it through lookups); a
    record's own ``id`` is an id like a lookup's value."""
    identifier = ref.value_type in _ID_TYPES or (ref.name == "id" and ref.type == "text")
    return SqlValue(expr, kind_of_field(ref), identifier=identifier)


def const(value: Any) -> SqlValue:
    return SqlValue(None, "any", value)


def pred(expr: Any) -> SqlValue:
    return SqlValue(expr, "bool", predicate=True)
