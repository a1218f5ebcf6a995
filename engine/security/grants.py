"""What a set of roles may do on one object: the union of the roles' grants.

The combination rule (also in the README):

- Scopes nest: ``own`` < ``org_unit`` < ``org_unit_and_below`` < ``all``; each includes the
  records of the narrower ones (a record you own is in your ``org_unit`` scope even when
  it sits in another unit). Per operation a user gets the widest scope any role grants.
- ``view_pii``, ``export`` and ``purge`` hold when any role grants them; ``view_pii: own``
  (personal data of the records the user owns) when a role grants that and none grants
  more.
- How far a user may share is the widest ``share`` scope of their roles, a role without
  one sharing as far as it reads.
- Field access is the most open any role that may read the object gives the field:
  ``edit`` > ``read`` > ``none``. A field a role does not list is ``edit`` when the role
  may create or update the object, else ``read``.
- Record rules with ``effect: grant`` add the records they match to the scope's records;
  rules with ``effect: restrict`` narrow the result to the records they match, whichever
  role declared them. Shares add single records.

``administrator`` is always a role: when no pack declares it, it grants everything.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from metadata.model.security import (
    Access,
    FieldAccess,
    ObjectPermission,
    RecordRule,
    RecordRuleEffect,
    Role,
    Scope,
)

__all__ = ["ADMINISTRATOR", "ObjectAccess", "Policy", "widest"]

ADMINISTRATOR = "administrator"
_SCOPE_RANK = {s: i for i, s in enumerate(Scope)}  # declaration order: none .. all
_FIELD_RANK = {FieldAccess.NONE: 0, FieldAccess.READ: 1, FieldAccess.EDIT: 2}


def widest(scopes: Iterable[Scope]) -> Scope:
    return max(scopes, key=_SCOPE_RANK.__getitem__, default=Scope.NONE)


@dataclass(frozen=True)
class ObjectAccess:
    """One user's effective permissions on one object."""

    scopes: Mapping[Access, Scope]
    #: Personal data may be revealed on every record the user reads ...
    view_pii: bool = False
    #: ... or on the records they own (implied by ``view_pii``).
    view_own_pii: bool = False
    export: bool = False
    purge: bool = False
    #: Who records may be shared with: users and units within this scope's reach.
    share: Scope = Scope.NONE
    #: Field -> access, for fields that are not plain ``edit``.
    fields: Mapping[str, FieldAccess] = field(default_factory=dict)
    default_field: FieldAccess = FieldAccess.NONE
    grants: tuple[RecordRule, ...] = ()
    restricts: tuple[RecordRule, ...] = ()

    def scope(self, operation: Access) -> Scope:
        return self.scopes.get(operation, Scope.NONE)

    def field(self, name: str) -> FieldAccess:
        return self.fields.get(name, self.default_field)

    def can_read(self, name: str) -> bool:
        return self.field(name) is not FieldAccess.NONE

    def can_edit(self, name: str) -> bool:
        return self.field(name) is FieldAccess.EDIT

    def rules(self, operation: Access) -> tuple[list[RecordRule], list[RecordRule]]:
        """(grant rules, restrict rules) that apply to ``operation``."""
        return (
            [r for r in self.grants if operation in r.operations],
            [r for r in self.restricts if operation in r.operations],
        )


_EVERYTHING = ObjectPermission(
    create=Scope.ALL,
    read=Scope.ALL,
    update=Scope.ALL,
    delete=Scope.ALL,
    view_pii=True,
    export=True,
    purge=True,
)


class Policy:
    """The roles of one schema, and each role set's access per object (memoised: role
    sets are few, and the answer is needed on every call)."""

    def __init__(self, roles: Mapping[str, Role], objects: Iterable[str]):
        self.roles = dict(roles)
        self.objects = frozenset(objects)
        if ADMINISTRATOR not in self.roles:
            self.roles[ADMINISTRATOR] = Role(
                name=ADMINISTRATOR,
                system=True,
                manage_metadata=True,
                objects=dict.fromkeys(self.objects, _EVERYTHING),
            )
        self.access = functools.lru_cache(maxsize=1024)(self._access)

    def manages_metadata(self, role_names: Iterable[str]) -> bool:
        return any(self.roles[r].manage_metadata for r in role_names if r in self.roles)

    def _access(self, role_names: tuple[str, ...], object_name: str) -> ObjectAccess:
        grants = [
            (role, role.objects[object_name])
            for role in (self.roles[n] for n in role_names if n in self.roles)
            if object_name in role.objects
        ]
        rules = [
            rule
            for role in (self.roles[n] for n in role_names if n in self.roles)
            for rule in role.record_rules
            if rule.object == object_name
        ]
        scopes = {op: widest(getattr(g, op.value) for _, g in grants) for op in Access}
        readers = [g for _, g in grants if g.read is not Scope.NONE]
        names = {name for g in readers for name in g.fields}
        default = max(
            (_unlisted(g) for g in readers), key=_FIELD_RANK.__getitem__, default=FieldAccess.NONE
        )
        fields = {
            name: max(
                (g.fields.get(name, _unlisted(g)) for g in readers), key=_FIELD_RANK.__getitem__
            )
            for name in names
        }
        return ObjectAccess(
            scopes=scopes,
            view_pii=any(g.view_pii is True for _, g in grants),
            view_own_pii=any(g.view_pii is True or g.view_pii == "own" for _, g in grants),
            export=any(g.export for _, g in grants),
            purge=any(g.purge for _, g in grants),
            share=widest(g.read if g.share is None else g.share for _, g in grants),
            fields={n: a for n, a in fields.items() if a is not default},
            default_field=default,
            grants=tuple(r for r in rules if r.effect is RecordRuleEffect.GRANT),
            restricts=tuple(r for r in rules if r.effect is RecordRuleEffect.RESTRICT),
        )


def _unlisted(grant: ObjectPermission) -> FieldAccess:
    """The access a role gives the fields it does not list."""
    writes = grant.create is not Scope.NONE or grant.update is not Scope.NONE
    return FieldAccess.EDIT if writes else FieldAccess.READ
