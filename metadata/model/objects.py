"""Object declarations: a business entity becomes a table, a form and an API resource."""

from __future__ import annotations

from typing import Annotated

import msgspec

from metadata.model.common import Label, Name, Operation, Rule, Spec
from metadata.model.fields import Field

__all__ = ["Index", "ObjectDef", "ValidationRule"]


class ValidationRule(Spec, kw_only=True):
    """A condition every saved record must satisfy; ``message`` is shown when it does not.

    ``rule`` states what must hold (truthy = valid). ``fields`` are the fields the message
    is shown beside; ``on`` limits it to creates or updates.
    """

    name: Name
    rule: Rule
    message: Label
    fields: list[Name] = msgspec.field(default_factory=list)
    active: bool = True
    on: list[Operation] = msgspec.field(
        default_factory=lambda: [Operation.CREATE, Operation.UPDATE]
    )


class Index(Spec, kw_only=True):
    """An index (or unique constraint) over one or more fields, in order."""

    fields: Annotated[list[Name], msgspec.Meta(min_length=1)]
    unique: bool = False
    name: Name | None = None


class ObjectDef(Spec, kw_only=True):
    """One file under ``objects/``: a new object (``name``) or an extension (``extends``).

    An extension adds fields, validations and indexes to an object that another pack
    declares; it may not redefine what is already there.
    """

    name: Name | None = None
    extends: Name | None = None
    label: Label | None = None
    plural_label: Label | None = None
    description: Label | None = None
    icon: str | None = None
    title_field: Name | None = None
    track_history: bool | None = None
    renamed_from: Name | None = None
    fields: list[Field] = msgspec.field(default_factory=list)
    validations: list[ValidationRule] = msgspec.field(default_factory=list)
    indexes: list[Index] = msgspec.field(default_factory=list)
