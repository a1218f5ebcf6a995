"""Object declarations: a business entity becomes a table, a form and an API resource."""

from __future__ import annotations

from typing import Annotated

import msgspec

from metadata.model.common import Label, Name, Operation, Rule, Spec
from metadata.model.fields import Field, PicklistCode, PicklistValue

__all__ = ["Disable", "Index", "ObjectDef", "ValidationRule"]


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


class Disable(Spec, kw_only=True):
    """What an extension switches off on the object it extends, each by its name.

    The definitions stay in the pack that wrote them: a disabled validation no longer
    refuses, a disabled automation no longer fires (both resolve with ``active: false``),
    and a disabled list view is gone. Only a pack that requires the owner may do this.
    """

    validations: list[Name] = msgspec.field(default_factory=list)
    automations: list[Name] = msgspec.field(default_factory=list)
    list_views: list[Name] = msgspec.field(default_factory=list)


class ObjectDef(Spec, kw_only=True):
    """One file under ``objects/``: a new object (``name``) or an extension (``extends``).

    An extension adds fields, validations and indexes to an object that another pack
    declares; it may not redefine what is already there. It may also add values to that
    object's picklists (``add_values``, appended after the base's unless given an
    ``order``; a value is never removed, records may hold it) and switch off the base's
    validations, automations and list views by name (``disable``).
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
    add_values: dict[Name, list[PicklistCode | PicklistValue]] = msgspec.field(
        default_factory=dict
    )
    disable: Disable | None = None
