"""The schema a rule is checked and specialised against.

The engine builds a ``RuleContext`` from the resolved metadata; this module knows nothing
of metadata itself, so rules can be compiled in tests and tools without loading a pack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "DATE_TYPES",
    "FIELD_TYPES",
    "NUMBER_TYPES",
    "TEXT_TYPES",
    "FieldRef",
    "RuleContext",
]

FIELD_TYPES = frozenset(
    {
        "text", "long_text", "rich_text", "integer", "decimal", "currency", "percent",
        "boolean", "date", "datetime", "time", "email", "phone", "url", "picklist",
        "multi_picklist", "lookup", "master_detail", "formula", "rollup", "autonumber",
        "json", "attachment", "geolocation", "address", "user",
    }
)  # fmt: skip

#: Field types whose non-null values are Python ``str``.
TEXT_TYPES = frozenset(
    {"text", "long_text", "rich_text", "email", "phone", "url", "picklist", "autonumber"}
)
#: Field types whose non-null values are ``int``, ``float`` or ``Decimal`` (never bool).
NUMBER_TYPES = frozenset({"integer", "decimal", "currency", "percent"})
#: Field types whose values are dates or date-times.
DATE_TYPES = frozenset({"date", "datetime"})


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field as rules see it.

    Attributes:
        name: The field's API name.
        type: One of ``FIELD_TYPES``.
        target: For ``lookup``/``master_detail``/``user``: the object it points to.
        result_type: For ``formula``/``rollup``: the type of the computed value.
    """

    name: str
    type: str
    target: str | None = None
    result_type: str | None = None

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name!r}: unknown field type {self.type!r}")

    @property
    def value_type(self) -> str:
        """The type of the value a rule reads (a formula reads as its result type)."""
        if self.type in ("formula", "rollup") and self.result_type:
            return self.result_type
        return self.type


@dataclass(frozen=True, slots=True)
class RuleContext:
    """The object a rule runs against, and the objects its lookups reach.

    Attributes:
        object_name: The object whose records are the rule's data.
        fields: That object's fields by name.
        objects: Fields of other objects by object name, so ``account.region`` can be
            checked by walking the ``account`` lookup to ``objects[target]["region"]``.
    """

    object_name: str
    fields: Mapping[str, FieldRef]
    objects: Mapping[str, Mapping[str, FieldRef]] = field(default_factory=dict)

    def fields_of(self, object_name: str) -> Mapping[str, FieldRef] | None:
        """Fields of ``object_name``, or None when the context does not describe it."""
        if object_name == self.object_name:
            return self.fields
        return self.objects.get(object_name)

    def resolve(self, path: tuple[str, ...]) -> tuple[list[FieldRef], int | None]:
        """Walk a dotted path through lookups.

        Returns:
            The fields found along the path, and the index of the first segment that
            names no field (None when the whole path resolves).
        """
        fields: Mapping[str, FieldRef] | None = self.fields
        chain: list[FieldRef] = []
        for i, name in enumerate(path):
            ref = fields.get(name) if fields is not None else None
            if ref is None:
                return chain, i
            chain.append(ref)
            fields = self.fields_of(ref.target) if ref.target else None
        return chain, None
