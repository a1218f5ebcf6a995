"""How objects look to end users: list views and form layouts."""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec

from metadata.model.common import Label, Name, Rule, Spec

__all__ = [
    "FormField",
    "FormLayout",
    "LayoutFile",
    "ListView",
    "RelatedList",
    "Section",
    "SortKey",
    "SortOrder",
]


class SortOrder(enum.StrEnum):
    ASC = "asc"
    DESC = "desc"


class SortKey(Spec, kw_only=True):
    field: Name
    order: SortOrder = SortOrder.ASC


class ListView(Spec, kw_only=True):
    """A saved list: the columns shown, the default sort and a JsonLogic filter."""

    name: Name
    label: Label | None = None
    columns: Annotated[list[Name], msgspec.Meta(min_length=1)]
    sort: list[SortKey] = msgspec.field(default_factory=list)
    filter: Rule = None
    default: bool = False
    page_size: Annotated[int, msgspec.Meta(ge=1, le=500)] = 50


class FormField(Spec, kw_only=True):
    """A field placed on a form, with rules re-evaluated as the user edits."""

    field: Name
    visible_when: Rule = None
    required_when: Rule = None
    read_only_when: Rule = None


class Section(Spec, kw_only=True):
    name: Name
    label: Label | None = None
    columns: Annotated[int, msgspec.Meta(ge=1, le=4)] = 2
    fields: list[Name | FormField]
    visible_when: Rule = None
    collapsed: bool = False


class RelatedList(Spec, kw_only=True):
    """Child records shown under the form; ``via`` is the child's lookup to this object.
    With ``timeline``, the children (calls, visits, tasks) also appear in the record's
    activity timeline, by when they were created."""

    object: Name
    via: Name | None = None
    label: Label | None = None
    columns: list[Name] = msgspec.field(default_factory=list)
    timeline: bool = False


class FormLayout(Spec, kw_only=True):
    name: Name
    label: Label | None = None
    default: bool = False
    sections: Annotated[list[Section], msgspec.Meta(min_length=1)]
    related: list[RelatedList] = msgspec.field(default_factory=list)


class LayoutFile(Spec, kw_only=True):
    """One file under ``layouts/``: the list views and forms of one object."""

    object: Name
    list_views: list[ListView] = msgspec.field(default_factory=list)
    forms: list[FormLayout] = msgspec.field(default_factory=list)
