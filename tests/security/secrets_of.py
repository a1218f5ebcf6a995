"""What one role may not learn, read from the packs' roles, not from the authorizer.

The README's rule, applied to a user holding one role: a role that does not read an object
reads none of its fields; a field the role lists as ``none`` is hidden; an unlisted field
is ``edit`` when the role creates or updates the object, else ``read``. Personal data
(``pii: true``) of a record is a secret for a role whose ``view_pii`` is ``false``, and for
one with ``own`` on every record the user does not own. The suite's records are owned by
someone else, so both count as secret here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metadata import ResolvedSchema
from metadata.model.fields import FieldType

#: Roles that may see everything the packs declare: nothing to keep from them.
_EVERYTHING = "administrator"
COMPUTED = (FieldType.FORMULA, FieldType.ROLLUP, FieldType.AUTONUMBER)
LINKS = (FieldType.LOOKUP, FieldType.MASTER_DETAIL)


@dataclass(frozen=True)
class Grant:
    """One role's grant on one object, as the role file says it."""

    read: str
    create: str
    update: str
    view_pii: Any
    fields: dict[str, str]

    @property
    def reads(self) -> bool:
        return self.read != "none"

    def access(self, field: str) -> str:
        if not self.reads:
            return "none"
        writes = self.create != "none" or self.update != "none"
        default = "edit" if writes else "read"
        return self.fields.get(field, default)


def grant(schema: ResolvedSchema, role: str, obj: str) -> Grant:
    found = schema.roles[role].objects.get(obj)
    if found is None:
        return Grant("none", "none", "none", False, {})
    return Grant(
        read=str(found.read),
        create=str(found.create),
        update=str(found.update),
        view_pii=found.view_pii,
        fields={name: str(access) for name, access in found.fields.items()},
    )


def secret_fields(schema: ResolvedSchema, role: str, obj: str) -> dict[str, str]:
    """Field -> ``hidden`` or ``masked``: the fields of ``obj`` a user with ``role`` may not
    learn on a record someone else owns (empty when the role does not read ``obj``)."""
    g = grant(schema, role, obj)
    if not g.reads:
        return {}
    out = {}
    for fdef in schema.objects[obj].fields:
        if g.access(fdef.name) == "none":
            out[fdef.name] = "hidden"
        elif fdef.pii and g.view_pii is not True:
            out[fdef.name] = "masked"
    return out


def roles(schema: ResolvedSchema) -> list[str]:
    return [name for name in schema.roles if name != _EVERYTHING]


def links_to(schema: ResolvedSchema, target: str) -> list[tuple[str, str]]:
    """(child object, link field) of every lookup that reaches ``target``."""
    return [
        (name, fdef.name)
        for name, obj in schema.objects.items()
        for fdef in obj.fields
        if fdef.kind in LINKS and fdef.to == target
    ]
