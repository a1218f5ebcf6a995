"""What an extending pack may change in a pack it requires, beyond adding its own parts.

Two things, both by name and both checked by ``metacrm validate``: more values for a
picklist or value set (``add_values`` on an ``extends`` object file, ``extends`` on a
value set file), and switching off a validation, automation or list view (``disable``).
Values are only ever added: records written under the base may hold every base value, so
a removal would strand them. A value added twice is fine when it means the same thing
(every key the addition writes matches); otherwise it is a conflict naming both files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from metadata.model.common import LOCALES
from metadata.model.fields import MultiPicklistField, PicklistField, PicklistValue
from metadata.model.objects import Disable
from metadata.model.value_sets import ValueSet
from metadata.problems import did_you_mean
from metadata.schema import Origin

__all__ = ["DISABLE_KINDS", "Extensions"]

#: What ``disable`` may name, as the keys of ``disable:`` in an extension.
DISABLE_KINDS = ("validations", "automations", "list_views")


Where = Callable[..., Origin]
"""Where a path of the document being merged was written: ``where("disable", kind, 0)``."""


class _Entry(Protocol):
    """A merged definition and where it was written (the resolver's table entries)."""

    value: Any
    origin: Origin


@dataclass(frozen=True)
class Placed:
    """A picklist value and where it was written."""

    value: PicklistValue
    origin: Origin


@dataclass(frozen=True)
class _Disabling:
    """One name under ``disable.<kind>`` of an extension of ``object``."""

    kind: str
    object: str
    name: str
    origin: Origin


@dataclass
class Extensions:
    """Collects what extensions ask for while packs merge, and applies it once all are in,
    to the definitions as every pack left them (a value set that a later pack replaces
    still gets the values added to it).

    ``requires`` maps a pack to every pack it requires, directly or not; ``error`` and
    ``conflict`` report as the resolver does, ``catalogs`` are the merged translations.
    """

    requires: Mapping[str, set[str]]
    catalogs: Mapping[str, Mapping[str, str]]
    error: Callable[..., None]
    conflict: Callable[[Origin, Origin, str], None]
    #: (object, field) -> values added to it, in pack order
    field_values: dict[tuple[str, str], list[Placed]] = field(default_factory=dict)
    #: value set -> values added to it, in pack order
    set_values: dict[str, list[Placed]] = field(default_factory=dict)
    disablings: list[_Disabling] = field(default_factory=list)

    # -- collecting, while packs merge ---------------------------------------------

    def add_field_values(
        self, obj: str, fields: Mapping[str, _Entry], name: str, values: list[Any], where: Where
    ) -> None:
        """``add_values.<name>`` of an extension of ``obj``."""
        at = where("add_values", name)
        current = fields.get(name)
        if current is None:
            self.error(
                at,
                (),
                "unknown_field",
                f"{obj!r} has no field {name!r} to add values to",
                suggestion=did_you_mean(name, fields),
            )
            return
        fdef = current.value
        if not isinstance(fdef, PicklistField | MultiPicklistField):
            self.error(
                at,
                (),
                "not_a_picklist",
                f"{obj}.{name} is a {fdef.kind} field; only picklists take values",
                expected="a picklist or multi_picklist field",
            )
            return
        if fdef.value_set is not None:
            self.error(
                at,
                (),
                "values_of_a_value_set",
                f"{obj}.{name} takes its values from value set {fdef.value_set!r}",
                expected=f"a file under value_sets/ with extends: {fdef.value_set}",
            )
            return
        added = _placed(values, lambda i: where("add_values", name, i))
        self.field_values.setdefault((obj, name), []).extend(added)

    def add_set_values(
        self, value_set: ValueSet, where: Where, value_sets: Mapping[str, _Entry]
    ) -> None:
        """A value set file with ``extends``."""
        at = where()
        target = value_set.extends or ""
        for key, message, expected in (
            (
                "name",
                "a value set file declares a set (name) or adds to one (extends), not both",
                "name or extends",
            ),
            (
                "label",
                "an extension adds values; the set keeps the label of its owner",
                f"only values, or a replacement (name: {target}) to relabel it",
            ),
        ):
            if getattr(value_set, key) is not None:
                self.error(at, (key,), f"{key}_in_extension", message, expected=expected)
                return
        current = value_sets.get(target)
        if current is None:
            self.error(
                at,
                ("extends",),
                "unknown_value_set",
                f"extends {target!r}, but no pack declares that value set",
                suggestion=did_you_mean(target, value_sets),
            )
            return
        if self._requires_owner(current.origin, at, ("extends",), f"value set {target!r}"):
            added = _placed(value_set.values, lambda i: where("values", i))
            self.set_values.setdefault(target, []).extend(added)

    def disable(self, obj: str, disable: Disable, where: Where) -> None:
        """``disable:`` of an extension of ``obj``."""
        for kind in DISABLE_KINDS:
            for i, name in enumerate(getattr(disable, kind)):
                self.disablings.append(_Disabling(kind, obj, name, where("disable", kind, i)))

    # -- applying, once every pack is in -------------------------------------------

    def apply_disables(
        self,
        validations: Mapping[str, dict[str, Any]],
        automations: dict[str, Any],
        views: dict[Any, Any],
    ) -> None:
        """Switch off what was named: validations (per object) and automations get
        ``active: false``, list views (keyed ``(object, "list_views", name)``) go."""
        for d in self.disablings:
            singular = d.kind[:-1].replace("_", " ")
            table: dict[Any, Any]
            if d.kind == "validations":
                table, key = validations[d.object], d.name
                candidates = list(table)
            elif d.kind == "automations":
                table, key = automations, d.name
                candidates = [k for k, e in table.items() if e.value.object == d.object]
                found = table.get(key)
                if found is not None and found.value.object != d.object:
                    self.error(
                        d.origin,
                        (),
                        "wrong_object",
                        f"automation {d.name!r} runs on {found.value.object!r}, "
                        f"not on {d.object!r}",
                        expected=f"disable it in an extension of {found.value.object!r}",
                    )
                    continue
            else:
                table, key = views, (d.object, "list_views", d.name)
                candidates = [k[2] for k in table if k[:2] == (d.object, "list_views")]
            current = table.get(key)
            if current is None:
                self.error(
                    d.origin,
                    (),
                    f"unknown_{singular.replace(' ', '_')}",
                    f"{d.object!r} has no {singular} {d.name!r} to disable",
                    expected=f"one of the {d.kind.replace('_', ' ')} on {d.object!r}",
                    suggestion=did_you_mean(d.name, candidates),
                )
            elif current.origin.pack == d.origin.pack:
                self.error(
                    d.origin,
                    (),
                    "disables_own",
                    f"{singular} {d.name!r} is declared by this pack itself",
                    expected=f"a {singular} of a required pack (remove this pack's own, "
                    "or set active: false on it)",
                )
            elif self._requires_owner(current.origin, d.origin, (), f"{singular} {d.name!r}"):
                if d.kind == "list_views":
                    del table[key]
                else:
                    off = msgspec.structs.replace(current.value, active=False)
                    table[key] = dataclasses.replace(current, value=off)

    def with_values(
        self,
        holder: Any,
        origin: Origin,
        added: Sequence[Placed],
        translate: Callable[[Any, Origin], Any],
    ) -> Any:
        """``holder`` (a picklist field or value set written at ``origin``, its values
        normalised) translated, with ``added`` merged into its values, each translated
        where it was written."""
        translated = translate(holder, origin)
        if not added:
            return translated
        base = [
            Placed(v, msgspec.structs.replace(origin, path=(*origin.path, "values", i)))
            for i, v in enumerate(holder.values)
        ]
        merged, conflicts = merge_values(base, added, self._same_value)
        for there, addition in conflicts:
            self.conflict(
                there.origin,
                addition.origin,
                f"value {addition.value.value!r} is already in the picklist with another "
                "meaning (label, order, colour or active)",
            )
        own = {id(p): t for p, t in zip(base, translated.values, strict=True)}
        values = [own.get(id(p)) or translate(p.value, p.origin) for p in merged]
        return msgspec.structs.replace(translated, values=values)

    # -- rules ---------------------------------------------------------------------

    def _requires_owner(
        self, owner: Origin, at: Origin, sub: tuple[str | int, ...], what: str
    ) -> bool:
        """Whether the pack at ``at`` may change ``what``, declared at ``owner``."""
        if owner.pack == at.pack or owner.pack in self.requires[at.pack]:
            return True
        self.error(
            at,
            sub,
            "missing_requirement",
            f"changes {what} from pack {owner.pack!r}, which pack {at.pack!r} "
            "does not require",
            expected=f"requires.packs.{owner.pack} in pack.yaml",
        )
        return False

    def _same_value(self, there: PicklistValue, added: PicklistValue) -> bool:
        """An addition repeats a value when every key it writes says what the value says."""
        meaning = _label_meaning(added.label, self.catalogs)
        if meaning not in (None, _label_meaning(there.label, self.catalogs)):
            return False
        given = (k for k in ("order", "color") if getattr(added, k) is not None)
        return added.active == there.active and all(
            getattr(added, k) == getattr(there, k) for k in given
        )


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


def _label_meaning(label: Any, catalogs: Mapping[str, Mapping[str, str]]) -> dict[str, str] | None:
    """The text a label stands for in every locale, so an inline label and a catalog key
    that say the same thing compare equal."""
    if label is None:
        return None
    if isinstance(label, dict):
        return {loc: label[loc] for loc in LOCALES if loc in label}
    return {loc: catalogs[loc][label] for loc in LOCALES if label in catalogs.get(loc, {})}


def _placed(values: list[Any], at: Callable[[int], Origin]) -> list[Placed]:
    """Values with where each was written, plain codes made ``PicklistValue``."""
    return [
        Placed(v if isinstance(v, PicklistValue) else PicklistValue(value=v), at(i))
        for i, v in enumerate(values)
    ]
