"""Roles: what a user may do to which records and fields."""

from __future__ import annotations

import enum
from typing import Literal

import msgspec

from metadata.model.common import Label, Name, Rule, Spec

__all__ = [
    "Access",
    "FieldAccess",
    "ObjectPermission",
    "RecordRule",
    "RecordRuleEffect",
    "Role",
    "RoleFile",
    "Scope",
]


class Scope(enum.StrEnum):
    """How far a grant reaches, from nothing to every record."""

    NONE = "none"
    OWN = "own"
    ORG_UNIT = "org_unit"
    ORG_UNIT_AND_BELOW = "org_unit_and_below"
    ALL = "all"


class FieldAccess(enum.StrEnum):
    NONE = "none"
    READ = "read"
    EDIT = "edit"


class ObjectPermission(Spec, kw_only=True):
    """What one role may do to one object: a scope per operation, and beyond them:

    ``view_pii`` reveals personal data one value at a time; ``export`` allows exporting
    the object at all (unmasked personal data also needs ``view_pii``); ``purge`` allows
    deleting for good (``DELETE ?hard=true``), where ``delete`` only archives; ``share``
    is whom the role may share the records it may change with: users and units within
    that scope (default: its ``read`` scope; ``none``: no sharing).
    """

    create: Scope = Scope.NONE
    read: Scope = Scope.NONE
    update: Scope = Scope.NONE
    delete: Scope = Scope.NONE
    #: Reveal personal data: ``true`` on every record the role reads, ``own`` on the
    #: records the user owns (a consultant calling her own customer).
    view_pii: bool | Literal["own"] = False
    export: bool = False
    purge: bool = False
    share: Scope | None = None
    fields: dict[Name, FieldAccess] = msgspec.field(default_factory=dict)


class Access(enum.StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class RecordRuleEffect(enum.StrEnum):
    """``grant`` widens access to matching records; ``restrict`` narrows it to them."""

    GRANT = "grant"
    RESTRICT = "restrict"


class RecordRule(Spec, kw_only=True):
    name: Name
    object: Name
    effect: RecordRuleEffect
    operations: list[Access] = msgspec.field(default_factory=lambda: [Access.READ])
    rule: Rule


class Role(Spec, kw_only=True):
    name: Name
    label: Label | None = None
    description: Label | None = None
    system: bool = False
    manage_metadata: bool = False
    objects: dict[Name, ObjectPermission] = msgspec.field(default_factory=dict)
    record_rules: list[RecordRule] = msgspec.field(default_factory=list)


class RoleFile(Spec, kw_only=True):
    """One file under ``security/``."""

    roles: list[Role]
