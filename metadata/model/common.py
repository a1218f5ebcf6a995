"""Building blocks shared by every kind of metadata document."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import msgspec

__all__ = [
    "LOCALES",
    "Label",
    "Name",
    "Operation",
    "Rule",
    "Spec",
    "Text",
]

#: Locales every shipped pack is translated into; ``en`` is the fallback.
LOCALES: tuple[str, ...] = ("en", "zh-CN")

Name = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[a-z][a-z0-9_]*$",
        max_length=63,
        description="An identifier: lower-case letters, digits and underscores, "
        "starting with a letter (it becomes a table or column name).",
        examples=["test_drive"],
    ),
]

Text = dict[str, str]
"""Resolved text: locale -> string, always holding ``en``."""

Label = Annotated[
    str | dict[str, str],
    msgspec.Meta(
        description="Inline translations such as {en: Lead, zh-CN: 线索}, "
        "or a key into the pack's i18n/<locale>.yaml files.",
        examples=[{"en": "Test drive", "zh-CN": "试驾"}, "objects.test_drive.label"],
    ),
]

Rule = Annotated[
    Any,
    msgspec.Meta(
        description="A JsonLogic expression, e.g. {'>': [{'var': 'amount'}, 0]}.",
        examples=[{">": [{"var": "amount"}, 0]}],
    ),
]


class Spec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every metadata Struct: immutable, strict about unknown keys."""


class Operation(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
