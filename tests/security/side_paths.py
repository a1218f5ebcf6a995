"""The read paths beside lists and records: search and type-ahead, the UI's pages,
notifications and approvals, captured for one case as the other probes are.

Each is a representative few (one search per secret title, one list page and its CSV
export, one record page and its edit form, the inbox of each approval step the role
decides) so that the whole suite stays quick; all run on both databases;
the UI's pages are reduced to what a user reads on them: the page's main part, without
the form tokens, versions and times that change with every write.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from engine.records import ValidationFailed
from engine.rules import evaluate
from metadata.model.automations import SendNotification

from . import probes
from .builder import SYSTEM, Unbuildable
from .secrets_of import COMPUTED, grant, roles
from .server import server

#: What changes on a page with every write or sign-in, and says nothing of a value.
_VOLATILE = [
    (re.compile(r'(name="(?:csrf_token|version)" value=")[^"]*"'), r'\1"'),
    (re.compile(r"<time>[^<]*</time>"), "<time></time>"),
    (re.compile(r'(<dd data-field="(?:updated_at|version)">).*?</dd>', re.S), r"\1</dd>"),
]
#: A field a template reads: ``{{ record.name }}``.
_READS = re.compile(r"record\.(\w+)")
_MAIN = re.compile(r'<main id="main">(.*)</main>', re.S)
_TIMELINE = re.compile(r'(<ol class="timeline">).*?(</ol>)', re.S)


def page_text(html: str) -> str:
    """The main part of a page as its reader reads it, volatile parts blanked. A record
    page's timeline is left out: it is the record's history, moves and children, which
    the history and related probes compare, and it shows only the newest fifty events,
    so older ones fall off as the cases write."""
    found = _MAIN.search(html)
    text = found.group(1) if found else html
    for pattern, blank in _VOLATILE:
        text = pattern.sub(blank, text)
    return _TIMELINE.sub(r"\1\2", text)


def capture(case: Any, fields: list[str], opened: bool, bodies_only: bool) -> dict[str, Any]:
    """Every side path's answer for the case's role (``Case.capture`` adds them to its
    own); searches only with the filters, since ``bodies_only`` leaves those out."""
    got = approved(case, fields, opened)  # first: it makes (and shares) a record of its own
    got.update({**pages(case, opened), **notified(case)})
    if not bodies_only:
        got.update(searched(case, fields))
    return got


def _page(case: Any, path: str, **params: str) -> Any:
    status, body = server(case.world).page(case.cid.role, path, **params)
    return [status, page_text(body) if isinstance(body, str) else body]


def searched(case: Any, fields: list[str]) -> dict[str, Any]:
    """The UI's search box (a query on every object) and a lookup's type-ahead (that of
    X1's first child), typed what X1 holds in its title, when the title is probed: a
    prefix match on it finds X1 in run A and nothing in run B for whoever may search it."""
    title = case.schema.objects[case.obj].title_field
    a = case.literals[title][0] if title in fields else None
    if not isinstance(a, str) or not a:
        return {}
    got = {f"UI search {title}": _page(case, "/ui/search", q=a)}
    for child, link in list(case.children)[:1]:
        got[f"UI type-ahead {child}.{link}"] = _page(case, f"/ui/o/{child}/lookup/{link}", q=a)
    return got


def pages(case: Any, opened: bool) -> dict[str, Any]:
    """On a record the role may open: the object's list page and its CSV export (the
    view that shows every record), X1's record page and its edit form (what the form
    pre-fills and offers); on one it may not, the record page of X1's first child
    (which names X1 by its title only where it may open X1)."""
    obj, first = case.obj, case.ids[0]
    if not opened:
        for (child, _), kids in list(case.children.items())[:1]:
            return {f"UI record {child} {kids[0]}": _page(case, f"/ui/o/{child}/{kids[0]}")}
        return {}
    view = _whole_view(case.schema, obj)
    listed = _page(case, f"/ui/o/{obj}", **view)
    if first not in str(listed[1]):
        _note(case, f"UI list of {obj}: X1 is not on its first page")
    status, exported = server(case.world).page(case.cid.role, f"/ui/o/{obj}/export.csv", **view)
    return {
        f"UI list {obj}": listed,
        f"UI export {obj}": [status, csv_cells(case.schema, obj, exported)],
        f"UI record {obj} X1": _page(case, f"/ui/o/{obj}/{first}"),
        f"UI edit {obj} X1": _page(case, f"/ui/o/{obj}/{first}/edit"),
    }


def csv_cells(schema: Any, obj: str, text: Any) -> Any:
    """A CSV download's rows, the columns that change with every write left out (by
    their name or English label, as the header names them); a refusal's text as it is."""
    rows = list(csv.reader(io.StringIO(text))) if isinstance(text, str) else []
    if not rows or text.lstrip().startswith("<"):
        return page_text(text) if isinstance(text, str) else text
    volatile = set(probes.VOLATILE)
    for name in probes.VOLATILE:
        fdef = schema.objects[obj].field(name)
        if fdef is not None and fdef.label:
            volatile.add(fdef.label.get("en", name))
    kept = [i for i, head in enumerate(rows[0]) if head not in volatile]
    return [[row[i] for i in kept if i < len(row)] for row in rows]


def notified(case: Any) -> dict[str, Any]:
    """What each notification the packs send about the object would tell the role's
    user about X1, were they its recipient (the packs name owners and role holders of
    other units: the engine renders every recipient's copy this way)."""
    got = {}
    for automation in case.schema.automations.values():
        notifies = any(isinstance(a, SendNotification) for a in automation.actions)
        if automation.object != case.obj or not automation.active or not notifies:
            continue
        got[f"notification {automation.name}"] = probes.outcome(
            lambda n=automation.name: case.service.notification_preview(n, case.ids[0],
                                                                        case.actor)
        )  # fmt: skip
    return got


def approved(case: Any, fields: list[str], opened: bool) -> dict[str, Any]:
    """For each approval process on the object and each of its steps, where the role
    decides that step: the role's inbox entry and the approval as it sees them, and the
    UI's inbox. The approval is of a record Y of its own, pending at that step for the
    whole session, holding what X1 holds in the probed fields; Y is shared with the role
    when X1 is."""
    got: dict[str, Any] = {}
    service, actor = case.service, case.actor
    for process, step in approval_steps(case.schema):
        if process.object != case.obj:
            continue
        name = process.name if step == 0 else f"{process.name} step {step}"
        pending = pending_approval(case.world, process, step)
        if isinstance(pending, str):
            _note(case, f"approval {name}: {pending}")
            continue
        record_id, approval_id = pending
        if not any(r["id"] == approval_id for r in service.inbox(actor)):
            continue  # the role does not decide its current step
        now = service.get(case.obj, case.ids[0], SYSTEM)
        copied = {n: now.get(n) for n in fields if case.schema.objects[case.obj].field(n).kind
                  not in COMPUTED}  # fmt: skip
        try:
            service.update(case.obj, record_id, copied, SYSTEM)
        except ValidationFailed as exc:
            _note(case, f"approval {name}: Y refused X1's values ({exc.errors[0].rule})")
        if opened:
            case.share(case.obj, [record_id])
        got[f"approval {name} inbox"] = probes.outcome(
            lambda a=approval_id: [r for r in service.inbox(actor) if r["id"] == a]
        )
        got[f"approval {name}"] = probes.outcome(lambda a=approval_id: service.approval(a, actor))
    if got:  # the whole inbox, once every request is shared as it will stay
        got["UI approvals"] = _page(case, "/ui/approvals")
    return got


def approval_steps(schema: Any) -> list[tuple[Any, int]]:
    """Every step of every approval process of the stack."""
    return [(p, i) for p in schema.approvals.values() for i in range(len(p.steps))]


def pending_approval(world: Any, process: Any, step: int = 0) -> tuple[str, str] | str:
    """(Y, its approval) for ``process``, pending at ``step``, made once per world: a
    record of the object moved towards the entry criteria (the process's and those of
    the steps up to ``step``) until a submission (by the system, from no unit, so a role
    step falls to that role's user) is accepted, then each step before approved by the
    role's user who has it; or why none could be."""
    key = ("approval", process.name, step)
    if key not in world.kept:
        world.kept[key] = _submitted(world, process, step)
    return world.kept[key]


def _submitted(world: Any, process: Any, step: int) -> tuple[str, str] | str:
    """Submitted as the system, from no unit: a role step falls to that role's user, a
    step for the owner's manager or a user in a field to the user of the role the step
    escalates to (``_decider``)."""
    from .cases import shown  # the values a shared record of the object is shown with

    obj, service, builder = process.object, world.service, world.builder
    try:
        values = builder.build(obj, shown(world.schema, obj))
    except Unbuildable as exc:
        return f"no record to submit: {exc}"
    _decided_by_a_role(world, process, values["id"], step)
    later = [s.entry_criteria for s in process.steps[1 : step + 1] if s.entry_criteria]
    if later and not _met(world, obj, values, {"and": later}):
        return f"the entry criteria of step {step} cannot be met from the metadata"
    submitted = _submit(world, process, values)
    if isinstance(submitted, str) or step == 0:
        return submitted
    for _ in range(step):
        deciders = [a for r, a in world.actors.items() if r != "administrator"
                    and any(e["id"] == submitted[1] for e in service.inbox(a))]  # fmt: skip
        if not deciders:
            return "a step before it has no decider among the roles' users"
        service.approve(submitted[1], deciders[0])
    now = service.approval(submitted[1], SYSTEM)
    if (now["status"], now["step"]) != ("pending", step):
        return f"the request ended {now['status']} at step {now['step']}"
    return submitted


def _met(world: Any, obj: str, values: dict[str, Any], rule: Any) -> bool:
    """Move the record ``values`` until ``rule`` holds on it (20 tries)."""
    tried: dict[Any, Any] = {}
    for _ in range(20):
        if evaluate(rule, world.service.get(obj, values["id"], SYSTEM)):
            return True
        before = dict(values)
        if not world.builder.satisfy(obj, rule, values, tried, values["id"]):
            return False
        changed = {k: v for k, v in values.items() if before.get(k) != v}
        try:
            values.update(world.builder.update(obj, values["id"], changed))
        except Unbuildable:  # the record keeps what it had; the next candidate then
            values.clear()
            values.update(before)
    return False


def _submit(world: Any, process: Any, values: dict[str, Any]) -> tuple[str, str] | str:
    """(Y, its approval) once submitted through a transition that names the process
    when there is one (its move is what submits), else directly, the record moved
    towards the entry criteria until they hold; or why it was not."""
    obj, service, builder = process.object, world.service, world.builder
    moves = [t for w in world.schema.workflows.values() if w.object == obj
             for t in w.transitions if t.approval == process.name]  # fmt: skip
    for move in moves:
        try:
            builder.through(obj, values["id"], move)
        except Unbuildable as exc:
            return f"not submitted: {exc}"
        waiting = service.approvals_of(obj, values["id"], SYSTEM)
        return values["id"], waiting[0]["id"]
    tried: dict[Any, Any] = {}
    for _ in range(20):
        try:
            return values["id"], service.submit(obj, values["id"], process.name, SYSTEM)["id"]
        except ValidationFailed as exc:
            refusal = exc.errors[0]
            if refusal.code != "approval_not_applicable":
                return f"not submitted ({refusal.code})"
        before = dict(values)
        if not builder.satisfy(obj, process.entry_criteria, values, tried, values["id"]):
            return "its entry criteria cannot be met from the metadata"
        changed = {k: v for k, v in values.items() if before.get(k) != v}
        try:
            service.update(obj, values["id"], changed, SYSTEM)
        except ValidationFailed:  # the record keeps what it had; the next candidate then
            values = before
    return "its entry criteria were not met in 20 tries"


def _decider(world: Any, process: Any, approver: Any) -> str:
    """The role whose user decides a step for the owner's manager or a user in a field:
    the role the step escalates to, else the first role that reads the object."""
    step = next(s for s in process.steps if approver in s.approvers)
    escalation = getattr(step, "escalate_to", None)
    if escalation is not None and escalation.kind.value == "role" and escalation.role:
        return escalation.role
    return next(r for r in roles(world.schema) if grant(world.schema, r, process.object).reads)


def _decided_by_a_role(world: Any, process: Any, record_id: str, step: int) -> None:
    """Point the approvers that are no role, of the steps up to ``step``, at a role's
    user: the record's owner becomes a user of a unit of its own managed by that user,
    a user field holds that user."""
    service, changes = world.service, {}
    for approver in [a for s in process.steps[: step + 1] for a in s.approvers]:
        decider = world.actors[_decider(world, process, approver)].user_id
        if approver.kind.value == "field" and approver.field:
            changes[approver.field] = decider
        elif approver.kind.value == "manager":
            unit = world.builder.build(
                "org_unit", {"parent": world.units["brand"], "manager": decider}
            )["id"]  # fmt: skip
            owner = world.users.create_user(f"owner.{process.name}.{step}", None, process.name,
                                            roles=[], org_unit=unit)  # fmt: skip
            changes["owner"] = owner.id
    if changes:
        service.update(process.object, record_id, changes, SYSTEM)


def _note(case: Any, note: str) -> None:
    if note not in case.notes:
        case.notes.append(note)


def _whole_view(schema: Any, obj: str) -> dict[str, str]:
    """The list view that shows every record the user reads (no filter of its own),
    the default one first; none asks for the default."""
    layouts = schema.layouts.get(obj)
    views = sorted(layouts.list_views if layouts else [], key=lambda v: not v.default)
    whole = next((v for v in views if v.filter is None), None)
    return {"view": whole.name} if whole is not None else {}


def blind_side_paths(world: Any, stack: str, obj: str) -> list[str]:
    """The side-path probes that cannot tell run A from run B for someone who may read
    every secret of ``obj`` (the stranger, an administrator), where the metadata says
    they show one: the record page and its edit form (a field on its form, not
    personal), the list page (a column of the view, X1 on its first page) and its CSV
    export (a column of the view), the search (the title) and each notification (a
    field its templates read, not personal)."""
    from .cases import Case, CaseId, _everyone_secret  # the suite's records and values

    case = Case(world, CaseId(stack, obj, "administrator"))
    fours = case.writable(_everyone_secret(case.schema, obj))
    case.write(fours, "A")
    case.read_literals(list(fours))
    first = capture(case, list(fours), opened=True, bodies_only=False)
    case.write(fours, "B")
    second = capture(case, list(fours), opened=True, bodies_only=False)
    cobj = case.schema.objects[obj]
    shown = {n for n in fours if not cobj.field(n).pii}
    expected = {}
    if cobj.title_field in fours:
        for child, link in list(case.children)[:1]:
            expected[f"UI type-ahead {child}.{link}"] = cobj.title_field
    if cobj.title_field in fours:
        expected[f"UI search {cobj.title_field}"] = cobj.title_field
    on_form = shown & _on_form(case.schema, obj)
    if on_form:
        expected[f"UI record {obj} X1"] = ", ".join(sorted(on_form))
        expected[f"UI edit {obj} X1"] = ", ".join(sorted(on_form))
    on_list = shown & _listed(case.schema, obj)
    if on_list:
        expected[f"UI export {obj}"] = ", ".join(sorted(on_list))
        if case.ids[0] in str(first[f"UI list {obj}"]):
            expected[f"UI list {obj}"] = ", ".join(sorted(on_list))
    for automation in case.schema.automations.values():
        read = {n for a in automation.actions if isinstance(a, SendNotification)
                for text in (*a.subject.values(), *a.body.values())
                for n in _READS.findall(text)} & shown  # fmt: skip
        if f"notification {automation.name}" in first and read:
            expected[f"notification {automation.name}"] = ", ".join(sorted(read))
    return [f"{probe} ({why})" for probe, why in expected.items() if first[probe] == second[probe]]


def _on_form(schema: Any, obj: str) -> set[str]:
    """The fields a record page shows: its default form's (else the first form's), or
    every field without one."""
    layouts = schema.layouts.get(obj)
    forms = layouts.forms if layouts else []
    form = next((f for f in forms if f.default), forms[0] if forms else None)
    if form is None:
        return {f.name for f in schema.objects[obj].fields}
    return {i if isinstance(i, str) else i.field for s in form.sections for i in s.fields}


def _listed(schema: Any, obj: str) -> set[str]:
    """The columns of the list view the list probe opens."""
    layouts = schema.layouts.get(obj)
    views = sorted(layouts.list_views if layouts else [], key=lambda v: not v.default)
    chosen = _whole_view(schema, obj).get("view")
    view = next((v for v in views if v.name == chosen), views[0] if views else None)
    return set(view.columns) if view else {f.name for f in schema.objects[obj].fields[:6]}
