"""Object declarations: a business entity becomes a table, a form and an API resource."""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec

from metadata.model.common import Label, Name, Operation, Rule, Spec
from metadata.model.fields import Field, PicklistCode, PicklistValue

__all__ = [
    "Disable",
    "DuplicateAction",
    "DuplicateRule",
    "Index",
    "MatchField",
    "Normaliser",
    "ObjectDef",
    "ValidationRule",
]


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
class Normaliser(enum.StrEnum):
    """How a value is reduced before two records are compared."""

    #: E.164 (``+8613900001111``), read in the field's default region (or ``region``).
    PHONE = "phone"
    #: Trimmed and lower-cased.
    EMAIL = "email"
    #: Trimmed, case-folded, runs of white space made one space.
    TEXT = "text"
    #: The stored value as it is (a lookup, a picklist value, a number).
    EXACT = "exact"


class DuplicateAction(enum.StrEnum):
    """What a write that matches an existing record does."""

    #: Refused, with the rule's message beside the matched fields.
    BLOCK = "block"
    #: Saved; the response carries the rule's message as a warning.
    WARN = "warn"
    #: A create becomes an update of the existing record (an update only warns).
    MERGE = "merge"


class MatchField(Spec, kw_only=True):
    """One field two records must agree on, after ``normalise``."""

    field: Name
    normalise: Normaliser = Normaliser.EXACT
    #: The region a phone number without a country code is read in (phone normaliser on
    #: a text field; a phone field's own ``default_region`` wins otherwise).
    region: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] | None = None


class DuplicateRule(Spec, kw_only=True):
    """Records that match on ``fields`` (normalised) within ``scope`` are duplicates.

    ``scope`` fields must hold the same stored value (``org_unit``: the same dealer);
    ``condition`` limits which existing records count (only open leads). ``message`` may
    name the existing record with ``{existing}``: its title, shown only to a writer who
    may read it.
    """

    name: Name
    fields: Annotated[list[MatchField], msgspec.Meta(min_length=1)]
    action: DuplicateAction
    message: Label
    scope: list[Name] = msgspec.field(default_factory=list)
    condition: Rule = None
    active: bool = True


class ObjectDef(Spec, kw_only=True):
    """One file under ``objects/``: a new object (``name``) or an extension (``extends``).

    An extension adds fields, validations, indexes and duplicate rules to an object that
    another pack declares; it may not redefine what is already there. It may also add
    values to that object's picklists (``add_values``, appended after the base's unless
    given an ``order``; a value is never removed, records may hold it) and switch off the
    base's validations, automations and list views by name (``disable``).
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
    duplicate_rules: list[DuplicateRule] = msgspec.field(default_factory=list)
