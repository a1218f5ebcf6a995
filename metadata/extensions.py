"""What an extending pack may change in a pack it requires, beyond adding its own parts.

Two things, both by name and both checked by ``metacrm validate``: more values for a
picklist or value set (``add_values`` on an ``extends`` object file, ``extends`` on a
value set file), and switching off a validation, automation or list view (``disable``).
Values are only ever added: records written under the base may hold every base value, so
a removal would strand them. A value added twice is fine when it means the same thing
(every key the addition writes matches); otherwise it is a conflict naming both files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from metadata.model.common import LOCALES
from metadata.model.fields import PicklistValue
from metadata.schema import Origin

__all__ = ["DISABLE_KINDS", "Disabling", "Placed", "label_meaning", "merge_values"]

#: What ``disable`` may name, as the keys of ``disable:`` in an extension.
DISABLE_KINDS = ("validations", "automations", "list_views")


@dataclass(frozen=True)
class Placed:
    """A picklist value and where it was written."""

    value: PicklistValue
    origin: Origin


@dataclass(frozen=True)
class Disabling:
    """One name under ``disable.<kind>`` of an extension of ``object``."""

    kind: str
    object: str
    name: str
    origin: Origin


def merge_values(
    base: Sequence[Placed],
    additions: Iterable[Placed],
    same: Callable[[PicklistValue, PicklistValue], bool],
) -> tuple[list[Placed], list[tuple[Placed, Placed]]]:
    """``base`` with ``additions`` appended in the order given, then sorted by ``order``.

    An addition without ``order`` goes after every value so far. An addition whose code is
    already there is dropped when ``same`` says it matches; otherwise it is returned as a
    conflict ``(the value there, the addition)``.

    Returns:
        The merged values and the conflicts.
    """
    merged = list(base)
    by_code = {p.value.value: p for p in merged}
    conflicts: list[tuple[Placed, Placed]] = []
    for added in additions:
        there = by_code.get(added.value.value)
        if there is not None:
            if not same(there.value, added.value):
                conflicts.append((there, added))
            continue
        value = added.value
        if value.order is None:
            last = max((p.value.order or 0 for p in merged), default=-1)
            value = msgspec.structs.replace(value, order=last + 1)
        placed = Placed(value, added.origin)
        merged.append(placed)
        by_code[value.value] = placed
    merged.sort(key=lambda p: p.value.order or 0)
    return merged, conflicts


def label_meaning(label: Any, catalogs: Mapping[str, Mapping[str, str]]) -> dict[str, str] | None:
    """The text a label stands for in every locale, so an inline label and a catalog key
    that say the same thing compare equal."""
    if label is None:
        return None
    if isinstance(label, dict):
        return {loc: label[loc] for loc in LOCALES if loc in label}
    return {loc: catalogs[loc][label] for loc in LOCALES if label in catalogs.get(loc, {})}
