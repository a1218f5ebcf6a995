"""Layering: merge loaded packs into one resolved schema.

Packs apply in dependency order (base -> industry -> plugin -> tenant). A pack may add
to what its dependencies declared (``extends`` on objects, new list views, new role
grants, more picklist and value set values) and may replace presentation and process
definitions of a pack it requires, or switch off its validations, automations and list
views by name (see ``metadata.extensions``); the shape of data (a field's definition) is
never redefined and a value is never taken away. Two packs that do not depend on each
other and define the same thing differently are a conflict naming both files.
This is one pure function over its inputs: nothing loaded is mutated.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from metadata.check import check_schema
from metadata.dependencies import ancestors, order_packs
from metadata.extensions import Extensions
from metadata.i18n import Translator, humanize
from metadata.load import Document, LoadedPack
from metadata.model.fields import MultiPicklistField, PicklistField, PicklistValue
from metadata.model.objects import ObjectDef
from metadata.model.security import Role
from metadata.model.value_sets import ValueSet
from metadata.problems import MetadataError, Problem, Severity, did_you_mean, format_path
from metadata.schema import ObjectLayouts, Origin, PackInfo, ResolvedObject, ResolvedSchema
from metadata.source import SourceDoc

__all__ = ["ENGINE_VERSION", "Resolution", "SourceIndex", "resolve"]


def _engine_version() -> str:
    try:
        return importlib.metadata.version("metacrm")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


ENGINE_VERSION = _engine_version()
_PRESENTATION = ("label", "plural_label", "description", "icon", "title_field", "track_history")


class SourceIndex:
    """Finds the file and line of an ``Origin`` path, for problems found after merging."""

    def __init__(self, packs: Sequence[LoadedPack]):
        self._docs: dict[tuple[str, str], SourceDoc] = {}
        for pack in packs:
            self._docs[(pack.name, "pack.yaml")] = pack.source
            for docs in pack.documents.values():
                for doc in docs:
                    self._docs[(pack.name, doc.file)] = doc.source

    def locate(self, origin: Origin, *sub: str | int) -> tuple[str | None, int | None]:
        doc = self._docs.get((origin.pack, origin.file))
        if doc is None:
            return origin.file, None
        return doc.display, doc.line_of((*origin.path, *sub))

    def problem(self, origin: Origin, sub: tuple[str | int, ...], **kwargs: Any) -> Problem:
        file, line = self.locate(origin, *sub)
        return Problem(file=file, line=line, path=format_path((*origin.path, *sub)), **kwargs)


@dataclass
class Resolution:
    """The outcome of resolving: the merged schema and every problem found.

    The schema is built even when there are errors, so later checks can still report on
    it; ``unwrap`` is the way to get a schema that is safe to use.
    """

    schema: ResolvedSchema
    problems: list[Problem]
    sources: SourceIndex

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    def unwrap(self) -> ResolvedSchema:
        """The schema, or MetadataError listing every error."""
        if self.errors:
            raise MetadataError(self.errors)
        return self.schema


def resolve(packs: Sequence[LoadedPack], *, engine_version: str = ENGINE_VERSION) -> Resolution:
    """Merge ``packs`` into one schema; report conflicts, broken references and cycles."""
    ordered, problems = order_packs(packs, engine_version)
    sources = SourceIndex(ordered)
    merger = _Merger(ordered, sources)
    merger.run()
    schema = merger.build()
    problems.extend(merger.problems)
    problems.extend(merger.translator.problems)
    problems.extend(check_schema(schema, sources))
    return Resolution(schema, problems, sources)


@dataclass
class _Entry:
    value: Any
    origin: Origin


@dataclass
class _ObjectDraft:
    definition: _Entry
    attrs: dict[str, _Entry] = field(default_factory=dict)
    fields: dict[str, _Entry] = field(default_factory=dict)
    validations: dict[str, _Entry] = field(default_factory=dict)
    indexes: list[_Entry] = field(default_factory=list)
    duplicate_rules: dict[str, _Entry] = field(default_factory=dict)
    packs: list[str] = field(default_factory=list)


class _Merger:
    def __init__(self, packs: list[LoadedPack], sources: SourceIndex):
        self.packs = packs
        self.sources = sources
        self.by_name = {p.name: p for p in packs}
        self.requires = {p.name: ancestors(p.name, self.by_name) for p in packs}
        self.problems: list[Problem] = []
        self.objects: dict[str, _ObjectDraft] = {}
        self.named: dict[str, dict[Any, _Entry]] = {
            kind: {}
            for kind in ("value_sets", "workflows", "approvals", "automations", "views", "roles")
        }
        self.translator = Translator(self._catalogs())
        self.extensions = Extensions(
            self.requires, self.translator.catalogs, self._error, self._conflict
        )

    def _catalogs(self) -> dict[str, dict[str, str]]:
        merged: dict[str, dict[str, str]] = {}
        for pack in self.packs:
            for locale, catalog in pack.catalogs.items():
                merged.setdefault(locale, {}).update(catalog)
        return merged

    # -- merging ---------------------------------------------------------------------

    def run(self) -> None:
        for pack in self.packs:
            objects = pack.of("objects")
            for doc in objects:
                self._declare_object(doc)
            for doc in objects:
                if doc.value.name is None:
                    self._extend_object(doc)
            value_sets = pack.of("value_sets")
            for doc in value_sets:
                if doc.value.extends is None:
                    self._declare_value_set(doc)
            for doc in value_sets:
                if doc.value.extends is not None:
                    where = _where(doc)
                    self.extensions.add_set_values(doc.value, where, self.named["value_sets"])
            for kind in ("workflows", "approvals", "automations"):
                for doc in pack.of(kind):
                    self._put(kind, doc.value.name, doc.value, _origin(doc))
            for doc in pack.of("layouts"):
                self._merge_layouts(doc)
            for doc in pack.of("security"):
                for i, role in enumerate(doc.value.roles):
                    self._merge_role(role, _origin(doc, "roles", i))

    def _declare_object(self, doc: Document[ObjectDef]) -> None:
        obj = doc.value
        origin = _origin(doc)
        if obj.name and obj.extends:
            self._error(
                origin,
                ("extends",),
                "both_name_and_extends",
                "an object file declares a new object (name) or extends one (extends), not both",
            )
            return
        if obj.name is not None:
            for key in ("add_values", "disable"):
                if getattr(obj, key):
                    self._error(
                        origin,
                        (key,),
                        "not_an_extension",
                        f"{key} changes an object another pack declares; "
                        f"object {obj.name!r} is declared here",
                        expected=f"{key} in a file with extends: <object>, or edit "
                        f"{obj.name!r} itself",
                    )
        if obj.name is None:
            if obj.extends is None:
                self._error(
                    origin,
                    (),
                    "missing_key",
                    "missing required key 'name'",
                    expected="name (a new object) or extends (an existing one)",
                )
            return
        existing = self.objects.get(obj.name)
        if existing is not None:
            self._conflict(
                existing.definition.origin, origin, f"object {obj.name!r} is declared twice"
            )
            return
        draft = _ObjectDraft(definition=_Entry(obj, origin))
        self.objects[obj.name] = draft
        self._add_parts(draft, doc)

    def _extend_object(self, doc: Document[ObjectDef]) -> None:
        obj = doc.value
        origin = _origin(doc)
        target = obj.extends or ""
        draft = self.objects.get(target)
        if draft is None:
            self._error(
                origin,
                ("extends",),
                "unknown_object",
                f"extends {target!r}, but no pack declares that object",
                suggestion=did_you_mean(target, self.objects),
            )
            return
        owner = draft.definition.origin.pack
        if owner != origin.pack and owner not in self.requires[origin.pack]:
            self._error(
                origin,
                ("extends",),
                "missing_requirement",
                f"extends {target!r} from pack {owner!r}, which pack "
                f"{origin.pack!r} does not require",
                expected=f"requires.packs.{owner} in pack.yaml",
            )
            return
        self._add_parts(draft, doc)
        for name, values in obj.add_values.items():
            self.extensions.add_field_values(target, draft.fields, name, values, _where(doc))
        if obj.disable is not None:
            self.extensions.disable(target, obj.disable, _where(doc))

    def _declare_value_set(self, doc: Document[ValueSet]) -> None:
        value_set = doc.value
        if value_set.name is None:
            self._error(
                _origin(doc),
                (),
                "missing_key",
                "missing required key 'name'",
                expected="name (a new value set) or extends (more values for one)",
            )
            return
        origin = _origin(doc)
        current = self.named["value_sets"].get(value_set.name)
        if current is not None and self._may_replace(current.origin, origin):
            kept = {_code(v) for v in value_set.values}
            dropped = [_code(v) for v in current.value.values if _code(v) not in kept]
            if dropped:  # records written under the replaced set may hold them
                self._error(
                    origin,
                    ("values",),
                    "value_removed",
                    f"replaces value set {value_set.name!r} without its values "
                    f"{', '.join(dropped)}",
                    expected="every value of the replaced set (active: false retires one), "
                    f"or extends: {value_set.name} to add values only",
                )
        self._put("value_sets", value_set.name, value_set, origin)

    def _add_parts(self, draft: _ObjectDraft, doc: Document[ObjectDef]) -> None:
        obj = doc.value
        origin = _origin(doc)
        if origin.pack not in draft.packs:
            draft.packs.append(origin.pack)
        for attr in _PRESENTATION:
            value = getattr(obj, attr)
            if value is not None:
                self._layer(
                    draft.attrs, attr, _Entry(value, origin), f"{attr} of {obj.name or obj.extends}"
                )
        for i, fdef in enumerate(obj.fields):
            entry = _Entry(fdef, _origin(doc, "fields", i))
            current = draft.fields.get(fdef.name)
            if current is None:
                draft.fields[fdef.name] = entry
            elif current.value != fdef:
                what = f"field {fdef.name!r} of {draft.definition.value.name!r}"
                self._conflict(
                    current.origin, entry.origin, f"{what} is defined twice, differently"
                )
            elif _same_file(current.origin, entry.origin):
                self._error(
                    entry.origin,
                    ("name",),
                    "duplicate_name",
                    f"field {fdef.name!r} appears twice in this object",
                )
        for i, rule in enumerate(obj.validations):
            entry = _Entry(rule, _origin(doc, "validations", i))
            current = draft.validations.get(rule.name)
            if current is None:
                draft.validations[rule.name] = entry
            elif current.value != rule or _same_file(current.origin, entry.origin):
                self._conflict(
                    current.origin, entry.origin, f"validation {rule.name!r} is defined twice"
                )
        for i, index in enumerate(obj.indexes):
            if all(e.value != index for e in draft.indexes):
                draft.indexes.append(_Entry(index, _origin(doc, "indexes", i)))
        for i, dup in enumerate(obj.duplicate_rules):
            entry = _Entry(dup, _origin(doc, "duplicate_rules", i))
            current = draft.duplicate_rules.get(dup.name)
            if current is None:
                draft.duplicate_rules[dup.name] = entry
            elif current.value != dup or _same_file(current.origin, entry.origin):
                self._conflict(
                    current.origin, entry.origin, f"duplicate rule {dup.name!r} is defined twice"
                )

    def _merge_layouts(self, doc: Document[Any]) -> None:
        layout = doc.value
        for kind in ("list_views", "forms"):
            for i, view in enumerate(getattr(layout, kind)):
                key = (layout.object, kind, view.name)
                what = f"{kind[:-1].replace('_', ' ')} {view.name!r} of {layout.object!r}"
                self._layer(self.named["views"], key, _Entry(view, _origin(doc, kind, i)), what)

    def _merge_role(self, role: Role, origin: Origin) -> None:
        roles = self.named["roles"]
        current = roles.get(role.name)
        if current is None:
            roles[role.name] = _Entry(role, origin)
            return
        base: Role = current.value
        grants = dict(base.objects)
        for obj, grant in role.objects.items():
            if (
                obj in grants
                and grants[obj] != grant
                and not self._may_replace(current.origin, origin)
            ):
                self._conflict(
                    current.origin, origin, f"role {role.name!r} grants {obj!r} differently"
                )
                continue
            grants[obj] = grant
        rules = {r.name: r for r in base.record_rules}
        rules.update({r.name: r for r in role.record_rules})
        merged = msgspec.structs.replace(
            base,
            objects=grants,
            record_rules=list(rules.values()),
            label=role.label or base.label,
            description=role.description or base.description,
            manage_metadata=base.manage_metadata or role.manage_metadata,
        )
        roles[role.name] = _Entry(merged, current.origin)

    # -- rules for what a later pack may do ------------------------------------------

    def _may_replace(self, old: Origin, new: Origin) -> bool:
        return old.pack != new.pack and old.pack in self.requires.get(new.pack, set())

    def _put(self, kind: str, key: Any, value: Any, origin: Origin) -> None:
        self._layer(
            self.named[kind], key, _Entry(value, origin), f"{kind[:-1].replace('_', ' ')} {key!r}"
        )

    def _layer(self, table: dict[Any, _Entry], key: Any, entry: _Entry, what: str) -> None:
        current = table.get(key)
        if current is None or self._may_replace(current.origin, entry.origin):
            table[key] = entry
        elif current.value != entry.value or _same_file(current.origin, entry.origin):
            self._conflict(current.origin, entry.origin, f"{what} is defined twice")

    def _conflict(self, first: Origin, second: Origin, message: str) -> None:
        first_file, first_line = self.sources.locate(first)
        where = f"{first_file}:{first_line}" if first_line else str(first_file)
        self._error(second, (), "conflict", f"{message}; first defined at {where}")

    def _error(
        self, origin: Origin, sub: tuple[str | int, ...], code: str, message: str, **extra: Any
    ) -> None:
        self.problems.append(self.sources.problem(origin, sub, code=code, message=message, **extra))

    # -- building the result ---------------------------------------------------------

    def build(self) -> ResolvedSchema:
        tr = self.translator
        ext = self.extensions
        ext.apply_disables(
            {name: d.validations for name, d in self.objects.items()},
            self.named["automations"],
            self.named["views"],
        )
        value_sets = {
            name: ext.with_values(
                _normalize_values(e.value), e.origin, ext.set_values.get(name, []), self._translate
            )
            for name, e in self.named["value_sets"].items()
        }
        objects = {name: self._build_object(d, value_sets) for name, d in self.objects.items()}
        layouts: dict[str, dict[str, list[Any]]] = {}
        origins: dict[str, Origin] = {}
        for (obj, kind, name), e in self.named["views"].items():
            view = tr.translate(e.value, e.origin.path, self._locator(e.origin))
            layouts.setdefault(obj, {"list_views": [], "forms": []})[kind].append(view)
            origins[f"layouts.{obj}.{kind}.{name}"] = e.origin
        named: dict[str, dict[str, Any]] = {}
        for kind in ("workflows", "approvals", "automations", "roles"):
            named[kind] = {}
            for name, e in self.named[kind].items():
                named[kind][name] = tr.translate(e.value, e.origin.path, self._locator(e.origin))
                origins[f"{kind}.{name}"] = e.origin
        for name, e in self.named["value_sets"].items():
            origins[f"value_sets.{name}"] = e.origin
        return ResolvedSchema(
            packs=tuple(self._pack_info(p) for p in self.packs),
            objects=objects,
            value_sets=value_sets,
            layouts={
                obj: ObjectLayouts(list_views=tuple(v["list_views"]), forms=tuple(v["forms"]))
                for obj, v in layouts.items()
            },
            workflows=named["workflows"],
            approvals=named["approvals"],
            automations=named["automations"],
            roles=named["roles"],
            messages=self._messages(),
            origins=origins,
        )

    def _build_object(self, draft: _ObjectDraft, value_sets: dict[str, Any]) -> ResolvedObject:
        tr = self.translator
        name = draft.definition.value.name
        attrs = {k: e.value for k, e in draft.attrs.items()}

        def text(attr: str, default: str | None) -> Any:
            entry = draft.attrs.get(attr) or draft.definition
            return tr.text(
                attrs.get(attr), (*entry.origin.path, attr), self._locator(entry.origin), default
            )

        fields = []
        for fname, e in draft.fields.items():
            fdef = _expand_picklist(e.value, value_sets)
            added = self.extensions.field_values.get((name, fname), [])
            fields.append(self.extensions.with_values(fdef, e.origin, added, self._translate))
        validations = [
            tr.translate(e.value, e.origin.path, self._locator(e.origin))
            for e in draft.validations.values()
        ]
        duplicate_rules = [
            tr.translate(e.value, e.origin.path, self._locator(e.origin))
            for e in draft.duplicate_rules.values()
        ]
        origins = {"object": draft.definition.origin}
        origins.update({f"fields.{k}": e.origin for k, e in draft.fields.items()})
        origins.update({f"validations.{k}": e.origin for k, e in draft.validations.items()})
        origins.update({f"indexes.{i}": e.origin for i, e in enumerate(draft.indexes)})
        origins.update({f"duplicate_rules.{k}": e.origin for k, e in draft.duplicate_rules.items()})
        origins.update({f"attrs.{k}": e.origin for k, e in draft.attrs.items()})
        label = text("label", humanize(name))
        return ResolvedObject(
            name=name,
            label=label,
            plural_label=text("plural_label", None) or label,
            description=text("description", None),
            icon=attrs.get("icon"),
            title_field=attrs.get("title_field"),
            track_history=bool(attrs.get("track_history", False)),
            # Only the declaring pack knows what its object used to be called.
            renamed_from=draft.definition.value.renamed_from,
            fields=tuple(fields),
            validations=tuple(validations),
            indexes=tuple(e.value for e in draft.indexes),
            duplicate_rules=tuple(duplicate_rules),
            packs=tuple(draft.packs),
            origins=origins,
        )

    def _pack_info(self, pack: LoadedPack) -> PackInfo:
        origin = Origin(pack=pack.name, file="pack.yaml")
        manifest = pack.manifest
        label = self.translator.text(
            manifest.label, ("label",), self._locator(origin), humanize(manifest.name)
        )
        if isinstance(manifest.label, str):  # a pack names itself in its own catalogs first,
            own = {  # whatever a pack above it says under the same key
                locale: catalog[manifest.label]
                for locale, catalog in pack.catalogs.items()
                if manifest.label in catalog
            }
            label = {**(label or {}), **own}
        return PackInfo(
            name=manifest.name,
            version=manifest.version,
            layer=manifest.layer,
            label=label or {},
            requires=dict(manifest.requires.packs),
        )

    def _messages(self) -> dict[str, dict[str, str]]:
        merged: dict[str, dict[str, str]] = {}
        for locale, catalog in self.translator.catalogs.items():
            for key, text in catalog.items():
                merged.setdefault(key, {})[locale] = text
        return merged

    def _translate(self, value: Any, origin: Origin) -> Any:
        return self.translator.translate(value, origin.path, self._locator(origin))

    def _locator(self, origin: Origin):
        def locate(path: tuple[str | int, ...]) -> tuple[str | None, int | None]:
            return self.sources.locate(Origin(pack=origin.pack, file=origin.file), *path)

        return locate


def _same_file(a: Origin, b: Origin) -> bool:
    return (a.pack, a.file) == (b.pack, b.file)


def _origin(doc: Document[Any], *path: str | int) -> Origin:
    """Where ``path`` of a decoded document was written (faulty elements left out)."""
    return Origin(pack=doc.pack, file=doc.file, path=doc.source.original(tuple(path)))


def _where(doc: Document[Any]) -> Callable[..., Origin]:
    """``_origin`` of ``doc`` for any path, for the extensions to place what they find."""
    return lambda *path: _origin(doc, *path)


def _code(value: str | PicklistValue) -> str:
    return value if isinstance(value, str) else value.value


def _normalize_values(value: Any) -> Any:
    """Plain picklist codes become ``PicklistValue`` with their position as order."""
    values = [v if isinstance(v, PicklistValue) else PicklistValue(value=v) for v in value.values]
    values = [
        v if v.order is not None else msgspec.structs.replace(v, order=i)
        for i, v in enumerate(values)
    ]
    return msgspec.structs.replace(value, values=values)


def _expand_picklist(fdef: Any, value_sets: dict[str, Any]) -> Any:
    if not isinstance(fdef, PicklistField | MultiPicklistField):
        return fdef
    if fdef.value_set and fdef.value_set in value_sets:
        return msgspec.structs.replace(fdef, values=list(value_sets[fdef.value_set].values))
    return _normalize_values(fdef)
