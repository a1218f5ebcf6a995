"""What the UI's pages show, worked out from the schema, the layouts and the record
service for the signed-in user: the menu, a form's sections and fields, related lists,
stage bars, lookup choices, and errors by field. The routes (``admin_ui.pages``) only put
these in templates.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from litestar import Request

from admin_ui.fields import (
    FieldView,
    address_parts,
    currency_symbol,
    display,
    file_size,
    input_value,
    label,
    object_label,
    rich_text,
)
from admin_ui.fields import options as choices
from admin_ui.fields import widget as widget_of
from admin_ui.form_rules import FormState, form_state, typed_values
from engine.compiled import CompiledObject
from engine.records import Actor, BadQuery, NotFound, ValidationFailed
from engine.records.authorize import Operation
from engine.records.messages import message
from engine.rules import EvalEnv
from engine.storage.tables import SYSTEM_COLUMNS
from metadata.model.fields import FieldType
from metadata.model.layouts import FormField, FormLayout, RelatedList

__all__ = [
    "Related",
    "Req",
    "bulk_actions",
    "field_errors",
    "form_layout",
    "form_sections",
    "is_lookup",
    "list_view",
    "lookup_targets",
    "lookup_titles",
    "may_list",
    "missing_required",
    "next_sort",
    "not_offered",
    "object_menu",
    "object_of",
    "offered_transition",
    "pending_approvals",
    "related_lists",
    "related_of",
    "rule_state",
    "service_of",
    "stage_bars",
    "text_of",
    "title_of",
    "titled",
]

Req = Request[Any, Any, Any]


def service_of(request: Req) -> Any:
    return request.app.state.runtime.snapshot.service


def object_of(request: Req, name: str) -> CompiledObject:
    cobj = request.app.state.runtime.snapshot.compiled.objects.get(name)
    if cobj is None:
        raise NotFound("object", name)
    return cobj


def object_menu(request: Req, actor: Actor) -> list[dict[str, Any]]:
    """The objects of each installed pack the user may read, as a menu."""
    compiled = request.app.state.runtime.snapshot.compiled
    service = service_of(request)
    menu = []
    for pack in compiled.schema.packs:
        items = []
        for name in sorted(compiled.objects):
            cobj = compiled.objects[name]
            if cobj.obj.packs[:1] != (pack.name,) or not may_list(service, actor, cobj):
                continue
            items.append({"name": name, "label": object_label(cobj, actor.locale, plural=True)})
        if items:
            menu.append({"pack": text_of(pack.label, actor.locale, pack.name), "items": items})
    return menu


def may_list(service: Any, actor: Actor, cobj: CompiledObject) -> bool:
    """Whether the user reaches any of the object's records at all (their read scope is
    not none, or a rule or share may open some)."""
    if actor.user_id is None:
        return True
    access = service.authorizer.row_access(actor, cobj, Operation.READ, service.compiled)
    return access is None or bool(access.paths) or access.units is not None


def form_layout(request: Req, cobj: CompiledObject) -> FormLayout | None:
    layouts = request.app.state.runtime.snapshot.compiled.schema.layouts.get(cobj.name)
    forms = layouts.forms if layouts is not None else []
    return next((f for f in forms if f.default), forms[0] if forms else None)


def form_sections(
    request: Req,
    cobj: CompiledObject,
    actor: Actor,
    record: dict[str, Any],
    *,
    typed: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    conflicts: Collection[str] = (),
    editing: bool = False,
    titles: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The form layout's sections with the fields the user may read, each with its value
    (what they typed, after a failed save), its error and whether they may change it.
    Only a form being shown for ``editing`` reads the records its lookups may offer;
    ``titles`` are lookups shown by their records' titles (``lookup_titles``)."""
    service = service_of(request)
    readable = service.authorizer.readable(actor, cobj)
    layout = form_layout(request, cobj)
    if layout is not None:
        placed = [(s.name, s.label, s.columns, s.fields) for s in layout.sections]
    else:  # no layout: every field, in declared order
        placed = [("main", None, 2, [f.name for f in cobj.obj.fields])]
    access = service.authorizer.access(actor, cobj) if actor.user_id else None
    state = rule_state(request, cobj, actor, layout, {**record, **(typed or {})})
    sections = []
    for name, title, columns, items in placed:
        views = []
        for item in items:
            field = item.field if isinstance(item, FormField) else item
            fdef = cobj.fields.get(field)
            if fdef is None or (readable is not None and field not in readable):
                continue
            value = record.get(field)
            lookup = getattr(fdef, "to", None)
            view = FieldView(
                name=field,
                label=label(cobj, field, actor.locale),
                widget="select" if lookup else widget_of(cobj, field),
                required=bool(getattr(fdef, "required", False)),
                read_only=not cobj.writable(field)
                or (access is not None and not access.can_edit(field)),
                options=(lookup_targets(request, lookup, actor) if editing else [])
                if lookup
                else choices(fdef, actor.locale),
                shown=display(cobj, field, (titles or {}).get(field, value), actor.locale,
                              actor.tz),
                error=(errors or {}).get(field, ""),
            )
            if lookup and editing and value and str(value) not in dict(view.options):
                view.options.insert(0, (str(value), _title_or_id(request, lookup, value, actor)))
            visible, required, read_only = state.fields.get(field, (True, False, False))
            view.hidden = not visible
            view.required = view.required or required
            view.required_now = required
            view.read_only = view.read_only or read_only
            if fdef.kind is FieldType.ATTACHMENT:
                view.files = [{**ref, "size": file_size(int(ref.get("size") or 0))}
                              for ref in value or [] if isinstance(ref, dict)]  # fmt: skip
                view.accept, view.multiple = ",".join(fdef.accept), fdef.multiple
            elif fdef.kind is FieldType.RICH_TEXT:
                view.html, view.rich = rich_text(value), True
            view.lookup = lookup or ""
            if lookup and field in (titles or {}):
                view.link = f"/ui/o/{lookup}/{value}"
            view.symbol = currency_symbol(fdef)
            view.personal = bool(getattr(fdef, "pii", False)) and bool(record.get("id"))
            if fdef.kind is FieldType.ADDRESS:
                source = (typed or {}).get(field, value) if typed is not None else value
                view.parts = address_parts(fdef, source, actor.locale,
                                           view.personal and source is value)  # fmt: skip
            if view.personal:
                view.value = str((typed or {}).get(field) or "")
            elif typed is not None and field in typed:
                raw = typed[field]
                view.value = "" if raw is None else raw if isinstance(raw, str) else str(raw)
                view.values = raw if isinstance(raw, list) else []
                if field in conflicts:  # the other person's value, to take or leave
                    view.theirs = view.shown
                    view.theirs_value = input_value(cobj, field, value, actor.tz)
            else:
                view.value = input_value(cobj, field, value, actor.tz)
                view.values = value if isinstance(value, list) else []
            views.append(view)
        if views:
            text = title.get(actor.locale) or title.get("en") if title else ""
            sections.append({"name": name, "label": text, "columns": columns, "fields": views,
                             "hidden": not state.sections.get(name, True)})  # fmt: skip
    return sections


def lookup_titles(
    request: Req, cobj: CompiledObject, actor: Actor, record_id: str
) -> dict[str, Any]:
    """The record's lookups the user may follow, as ``{"id", "title"}`` of their targets
    (one query, through the list's expansion, which shows only records they may read)."""
    readable = service_of(request).authorizer.readable(actor, cobj)
    names = [f.name for f in cobj.obj.fields if getattr(f, "to", None)
             and (readable is None or f.name in readable)]  # fmt: skip
    if not names:
        return {}
    page = service_of(request).list(
        cobj.name, actor, filter={"==": [{"var": "id"}, record_id]}, expand=names,
        fields=["id", *names], limit=1,
    )  # fmt: skip
    row = page.records[0] if page.records else {}
    return {n: titled(request, cobj, n, row[n]) for n in names if isinstance(row.get(n), dict)}


def lookup_targets(
    request: Req, object_name: str, actor: Actor, query: str = "", limit: int = 50
) -> list[tuple[str, str]]:
    """The records a lookup may point to, as (id, title): only those the user may read,
    through the same list the API serves; with ``query``, those whose title starts with
    it (the title's index serves the prefix)."""
    compiled = request.app.state.runtime.snapshot.compiled
    target = compiled.objects.get(object_name)
    if target is None or not may_list(service_of(request), actor, target):
        return []
    title = target.obj.title_field
    authorizer = service_of(request).authorizer
    readable = authorizer.readable(actor, target)
    if title is not None and readable is not None and title not in readable:
        title = None
    # The resolver decides what typing may match (a masked title: only on the user's own
    # records, or not at all); ordering by it needs it unmasked on every record.
    wanted = {"starts_with": [{"var": title}, query]} if query and title else None
    ordered = title if title and authorizer.may_search(actor, target, title) else None
    try:
        page = service_of(request).list(
            object_name, actor, limit=limit, sort=[ordered] if ordered else [], filter=wanted,
            fields=["id", title] if title else ["id"],
        )  # fmt: skip
    except BadQuery:  # a title the user sees masked everywhere: nothing to match it with
        return []
    return [(str(r["id"]), str(r.get(title) or r["id"]) if title else str(r["id"]))
            for r in page.records]  # fmt: skip


def _title_or_id(request: Req, object_name: str, record_id: Any, actor: Actor) -> str:
    """A lookup's current record by its title (beyond the first choices a form lists)."""
    target = request.app.state.runtime.snapshot.compiled.objects[object_name]
    try:
        return title_of(target, service_of(request).get(object_name, str(record_id), actor))
    except NotFound:
        return str(record_id)


def rule_state(
    request: Req,
    cobj: CompiledObject,
    actor: Actor,
    layout: FormLayout | None,
    values: dict[str, Any],
) -> FormState:
    """The layout's rules on ``values`` (as typed), for ``actor``."""
    service = service_of(request)
    env = EvalEnv(user=actor.as_user(), clock=service.clock, timezone=actor.timezone)
    typed = typed_values(cobj, values, actor.tz)
    return form_state(service.compiled.content_hash, cobj, layout, typed, env)


def missing_required(
    sections: list[dict[str, Any]], values: dict[str, Any], locale: str
) -> dict[str, str]:
    """Fields the layout requires right now (``required_when``) that are empty; the record
    service checks the object's own required fields itself."""
    found = {}
    for section in sections:
        for f in section["fields"]:
            if f.required_now and not f.hidden and not f.read_only and values.get(f.name) in (
                None, "", []
            ) and not (f.personal and f.value == ""):  # fmt: skip
                found[f.name] = message("required", label=f.label)[locale]
    return found


@dataclass(frozen=True)
class Related:
    """One of the layout's related lists the user may see: the child object, the child's
    link to this record, and the columns the user may read."""

    spec: RelatedList
    child: CompiledObject
    via: str
    columns: list[str]

    def children(self, request: Req, record: dict[str, Any], actor: Actor, limit: int) -> Any:
        """The newest children of ``record`` the user may read (a page)."""
        return service_of(request).list(
            self.child.name, actor, filter={"==": [{"var": self.via}, record["id"]]},
            limit=limit, sort=["-created_at"],
            expand=[c for c in self.columns if is_lookup(self.child, c) and c != self.via],
        )  # fmt: skip

    def cells(self, request: Req, row: dict[str, Any], actor: Actor,
              columns: list[str] | None = None) -> list[str]:  # fmt: skip
        """The row's ``columns`` (default all) as the user reads them: lookups by title."""
        return [
            display(self.child, c, titled(request, self.child, c, row.get(c)), actor.locale,
                    actor.tz)
            for c in (self.columns if columns is None else columns)
        ]


def related_of(request: Req, cobj: CompiledObject, actor: Actor) -> list[Related]:
    """The layout's related lists whose children the user may reach."""
    layout = form_layout(request, cobj)
    compiled = request.app.state.runtime.snapshot.compiled
    service = service_of(request)
    found = []
    for spec in layout.related if layout is not None else []:
        child = compiled.objects.get(spec.object)
        if child is None or not may_list(service, actor, child):
            continue
        links = [f.name for f in child.obj.fields if getattr(f, "to", None) == cobj.name]
        via = spec.via or (links[0] if len(links) == 1 else None)
        if via not in links:
            continue
        readable = service.authorizer.readable(actor, child)
        columns = [c for c in (spec.columns or [child.obj.title_field or "id"])
                   if readable is None or c in readable]  # fmt: skip
        found.append(Related(spec, child, via, columns))
    return found


def related_lists(
    request: Req, reachable: list[Related], record: dict[str, Any], actor: Actor
) -> list[dict[str, Any]]:
    """The ``reachable`` related lists (``related_of``): the first children the user may
    read, with a "new" link that fills in the link to this record."""
    lists = []
    for related in reachable:
        child, columns = related.child, related.columns
        page = related.children(request, record, actor, limit=10)
        lists.append({
            "object": child.name, "via": related.via,
            "label": text_of(related.spec.label, actor.locale,
                             object_label(child, actor.locale, True)),
            "columns": [label(child, c, actor.locale) for c in columns],
            "rows": [{"id": r["id"], "cells": related.cells(request, r, actor)}
                     for r in page.records],
            "more": page.next_cursor is not None,
        })  # fmt: skip
    return lists


def offered_transition(
    service: Any, object_name: str, record_id: str, actor: Actor, name: str
) -> dict[str, Any] | None:
    return next(
        (t for t in service.transitions(object_name, record_id, actor) if t["name"] == name),
        None,
    )


def stage_bars(
    request: Req, cobj: CompiledObject, record: dict[str, Any], actor: Actor
) -> list[dict[str, Any]]:
    """Per workflow of the object: its states in order (the current one marked) and the
    transitions this user may take now, each saying whether it asks for fields first."""
    service = service_of(request)
    offered = service.transitions(cobj.name, record["id"], actor)
    bars = []
    for machine in service.stages.get(cobj.name, ()):
        workflow = machine.workflow
        current = record.get(workflow.field)
        states = [{"value": st.value, "label": text_of(st.label, actor.locale, st.value),
                   "current": st.value == current} for st in workflow.states]  # fmt: skip
        moves = [
            {"name": t["name"], "label": text_of(t["label"], actor.locale, t["name"]),
             "asks": bool(t["required_fields"]), "blocked": not t["guard_met"],
             "why": text_of(t["guard_message"], actor.locale, "") if t["guard_message"] else ""}
            for t in offered if t["workflow"] == workflow.name
        ]  # fmt: skip
        bars.append({"label": text_of(workflow.label, actor.locale, workflow.name),
                     "states": states, "moves": moves})  # fmt: skip
    return bars


#: What a record form posts besides its fields.
_FORM_KEYS = frozenset({"csrf_token", "version", "base", "record_id"})


def not_offered(
    cobj: CompiledObject, offered: Collection[str], form: Any, locale: str
) -> dict[str, str]:
    """The fields a posted form names that it did not offer for editing (read-only,
    computed, the system's, not on the form), each with its refusal. A form writes what
    it shows: a forged one is refused whole, rather than saved without what it asked."""
    found = {}
    for key in form:
        name = key.partition(".")[0]  # an address arrives by its parts
        if key in _FORM_KEYS or name in offered:
            continue
        if name in cobj.fields or name in SYSTEM_COLUMNS:
            found[name] = message("read_only", label=label(cobj, name, locale))[locale]
    return found


def field_errors(exc: ValidationFailed, actor: Actor) -> dict[str, str]:
    """Each field's messages in the user's language ('' for the record as a whole)."""
    found: dict[str, str] = {}
    for error in exc.errors:
        text = error.message.get(actor.locale) or error.message.get("en", "")
        key = error.field or ""
        found[key] = f"{found[key]} {text}".strip() if key in found else text
    return found


def is_lookup(cobj: CompiledObject, name: str) -> bool:
    fdef = cobj.fields.get(name)
    return fdef is not None and getattr(fdef, "to", None) is not None


def titled(request: Req, cobj: CompiledObject, name: str, value: Any) -> Any:
    """An expanded lookup shown by its target's title field."""
    if not isinstance(value, dict):
        return value
    target = request.app.state.runtime.snapshot.compiled.objects.get(cobj.fields[name].to)
    title = target.obj.title_field if target is not None else None
    return {"id": value.get("id"), "title": value.get(title) if title else None}


def title_of(cobj: CompiledObject, record: dict[str, Any]) -> str:
    field = cobj.obj.title_field
    value = record.get(field) if field else None
    return str(value) if value not in (None, "") else str(record.get("id", ""))


def text_of(labels: Any, locale: str, fallback: str) -> str:
    return (labels.get(locale) or labels.get("en")) if labels else fallback


def next_sort(column: str, sort: list[str]) -> str:
    """What clicking a column header sorts by: ascending, or descending when it already is."""
    return f"-{column}" if sort[:1] == [column] else column


def list_view(
    request: Req, cobj: CompiledObject, actor: Actor
) -> tuple[list[Any], Any, list[str], list[str]]:
    """The object's list views, the one asked for (``?view=``, else the default), its
    columns the user may read, and the sort (``?sort=`` overrides the view's)."""
    layouts = request.app.state.runtime.snapshot.compiled.schema.layouts.get(cobj.name)
    views = list(layouts.list_views) if layouts is not None else []
    chosen = request.query_params.get("view")
    view = next((v for v in views if v.name == chosen), None) or next(
        (v for v in views if v.default), views[0] if views else None
    )
    readable = service_of(request).authorizer.readable(actor, cobj)
    columns = list(view.columns) if view else [f.name for f in cobj.obj.fields][:6]
    columns = [c for c in columns if readable is None or c in readable]
    sort = [s for s in request.query_params.getall("sort", []) if s]
    if not sort and view is not None:
        sort = [("-" if k.order == "desc" else "") + k.field for k in view.sort]
    return views, view, columns, sort


def pending_approvals(
    request: Req, approvals: list[dict[str, Any]], actor: Actor
) -> list[dict[str, Any]]:
    """Of the record's ``approvals``, those still waiting, each saying whether this user
    may recall it (they submitted it and the process allows recalling)."""
    service = service_of(request)
    waiting = []
    for approval in approvals:
        if approval["status"] != "pending":
            continue
        process = service.compiled.schema.approvals.get(approval["process"])
        mine = str(approval.get("submitted_by")) == str(actor.user_id)
        waiting.append({
            "id": approval["id"],
            "label": text_of(process.label, actor.locale, approval["process"]) if process
            else approval["process"],
            "recall": bool(mine and process is not None and process.allow_recall),
        })  # fmt: skip
    return waiting


def bulk_actions(request: Req, cobj: CompiledObject, actor: Actor) -> list[tuple[str, str]]:
    """What a list offers for the selected rows, as (action, label): each workflow's
    transitions, changing the owner, setting a field the user may edit, deleting. Each row
    is still checked on its own when the action runs."""
    texts = {"en": ("Change owner to", "Set", "Delete"), "zh-CN": ("更换负责人为", "设置", "删除")}
    owner, set_, delete = texts.get(actor.locale, texts["en"])
    actions = []
    for machine in service_of(request).stages.get(cobj.name, ()):
        for t in machine.workflow.transitions:
            actions.append((f"transition:{t.name}", text_of(t.label, actor.locale, t.name)))
    actions.append(("owner", f"{owner} …"))
    access = service_of(request).authorizer.access(actor, cobj) if actor.user_id else None
    for fdef in cobj.obj.fields:
        if cobj.writable(fdef.name) and (access is None or access.can_edit(fdef.name)):
            actions.append((f"set:{fdef.name}", f"{set_} {label(cobj, fdef.name, actor.locale)} …"))
    actions.append(("delete", delete))
    return actions
