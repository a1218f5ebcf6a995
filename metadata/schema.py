"""The resolved schema: every pack merged into one immutable value with a content hash.

This is what the engine compiles. Labels are resolved to ``{locale: text}``, picklists
carry their values (shared value sets expanded), and ``origins`` remember which pack and
file contributed each piece, so ``metacrm inspect`` and error messages can point there.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from metadata.model.automations import Automation
from metadata.model.common import Text
from metadata.model.fields import Field
from metadata.model.layouts import FormLayout, ListView
from metadata.model.objects import DuplicateRule, Index, ValidationRule
from metadata.model.pack import Layer
from metadata.model.security import Role
from metadata.model.value_sets import ValueSet
from metadata.model.workflows import ApprovalProcess, Workflow

__all__ = ["Origin", "PackInfo", "ResolvedObject", "ResolvedSchema", "content_hash"]


class Origin(msgspec.Struct, frozen=True, kw_only=True):
    """Where a piece of metadata was written: pack, file inside the pack, path in the file."""

    pack: str
    file: str
    path: tuple[str | int, ...] = ()


class PackInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: str
    layer: Layer
    label: Text
    requires: dict[str, str] = msgspec.field(default_factory=dict)


class ResolvedObject(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    label: Text
    plural_label: Text
    description: Text | None = None
    icon: str | None = None
    title_field: str | None = None
    track_history: bool = False
    #: The object's previous name, so a migration renames its table instead of archiving it.
    renamed_from: str | None = None
    fields: tuple[Field, ...] = ()
    validations: tuple[ValidationRule, ...] = ()
    indexes: tuple[Index, ...] = ()
    duplicate_rules: tuple[DuplicateRule, ...] = ()
    packs: tuple[str, ...] = ()
    origins: dict[str, Origin] = msgspec.field(default_factory=dict)

    def field(self, name: str) -> Field | None:
        """The field called ``name``, or None."""
        for field in self.fields:
            if field.name == name:
                return field
        return None

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


class ObjectLayouts(msgspec.Struct, frozen=True, kw_only=True):
    list_views: tuple[ListView, ...] = ()
    forms: tuple[FormLayout, ...] = ()


class ResolvedSchema(msgspec.Struct, frozen=True, kw_only=True):
    packs: tuple[PackInfo, ...] = ()
    objects: dict[str, ResolvedObject] = msgspec.field(default_factory=dict)
    value_sets: dict[str, ValueSet] = msgspec.field(default_factory=dict)
    layouts: dict[str, ObjectLayouts] = msgspec.field(default_factory=dict)
    workflows: dict[str, Workflow] = msgspec.field(default_factory=dict)
    approvals: dict[str, ApprovalProcess] = msgspec.field(default_factory=dict)
    automations: dict[str, Automation] = msgspec.field(default_factory=dict)
    roles: dict[str, Role] = msgspec.field(default_factory=dict)
    messages: dict[str, Text] = msgspec.field(default_factory=dict)
    origins: dict[str, Origin] = msgspec.field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        return content_hash(self)

    def rollup_result(self, field: Any) -> str:
        """The type of value a rollup field holds: ``integer`` for a count, the type of
        the field it aggregates for ``min``/``max`` (``date``, ``datetime``, or a number:
        ``decimal``), ``decimal`` for ``sum`` and ``avg``."""
        if field.function == "count":
            return "integer"
        if field.function in ("min", "max"):
            child = self.objects.get(field.of)
            target = child.field(field.field) if child is not None and field.field else None
            kind = str(getattr(target, "result_type", None) or getattr(target, "kind", ""))
            if kind in ("date", "datetime"):
                return kind
        return "decimal"


def content_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON form (mapping keys sorted), so equal schemas hash equal."""
    return hashlib.sha256(msgspec.json.encode(value, order="sorted")).hexdigest()
