"""A record's activity timeline: what happened to it, newest first, from the stores that
already keep it — field changes (grouped by write), stage moves, approvals and their
decisions, and the child records the layout marks ``timeline: true`` (calls, visits,
tasks). Only what the user may read is shown: field history comes masked and filtered
through the record service, children through its list."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from admin_ui.fields import display, label, object_label
from admin_ui.session import authenticator
from admin_ui.texts import TEXTS
from admin_ui.views import Related, Req, service_of, text_of, title_of
from engine.compiled import CompiledObject
from engine.records import Actor

__all__ = ["timeline"]

_LIMIT = 50
_APPROVAL = {
    "en": {"submitted": "submitted for", "approved": "approved", "rejected": "rejected",
           "recalled": "recalled", "pending": "pending"},
    "zh-CN": {"submitted": "提交审批", "approved": "同意", "rejected": "驳回",
              "recalled": "撤回", "pending": "待审批"},
}  # fmt: skip


def timeline(
    request: Req, cobj: CompiledObject, record: dict[str, Any], actor: Actor,
    approvals: list[dict[str, Any]], related: list[Related],
) -> list[dict[str, Any]]:  # fmt: skip
    """Entries (``at``, ``when``, ``who``, ``kind``, ``text``, ``lines``, ``link``), newest
    first, at most fifty; ``approvals`` are the record's (``RecordService.approvals_of``),
    ``related`` its reachable related lists (``related_of``)."""
    entries = [*_changes(request, cobj, record, actor), *_moves(request, cobj, record, actor),
               *_approvals(request, approvals, actor),
               *_children(request, related, record, actor)]  # fmt: skip
    entries.sort(key=lambda e: e["at"], reverse=True)
    names = _names(request, {e["who"] for e in entries if e["who"]})
    for entry in entries[:_LIMIT]:
        entry["who"] = names.get(entry["who"], "") if entry["who"] else ""
        entry["when"] = display(cobj, "updated_at", entry["at"], actor.locale, actor.tz)
    return entries[:_LIMIT]


def _changes(request: Req, cobj: CompiledObject, record: dict[str, Any], actor: Actor) -> list:
    rows = service_of(request).history(cobj.name, record["id"], actor)
    found = []
    for (at, who), group in groupby(rows, key=lambda r: (r["changed_at"], r.get("changed_by"))):
        lines = [
            f"{label(cobj, r['field'], actor.locale)}: "
            f"{display(cobj, r['field'], r.get('old_value'), actor.locale, actor.tz) or '—'} → "
            f"{display(cobj, r['field'], r.get('new_value'), actor.locale, actor.tz) or '—'}"
            for r in group
        ]
        found.append({"at": at, "who": who, "kind": "change", "lines": lines, "link": "",
                      "text": TEXTS[actor.locale]["changed"]})  # fmt: skip
    return found


def _moves(request: Req, cobj: CompiledObject, record: dict[str, Any], actor: Actor) -> list:
    service = service_of(request)
    states = {
        st.value: text_of(st.label, actor.locale, st.value)
        for machine in service.stages.get(cobj.name, ())
        for st in machine.workflow.states
    }
    return [
        {"at": m["at"], "who": m.get("actor"), "kind": "stage", "link": "",
         "text": f"{TEXTS[actor.locale]['moved']} {states.get(m['to_state'], m['to_state'])}",
         "lines": [m["comment"]] if m.get("comment") else []}
        for m in service.moves(cobj.name, record["id"], actor)
    ]  # fmt: skip


def _approvals(request: Req, approvals: list[dict[str, Any]], actor: Actor) -> list:
    service = service_of(request)
    words = _APPROVAL.get(actor.locale, _APPROVAL["en"])
    found = []
    for approval in approvals:
        process = service.compiled.schema.approvals.get(approval["process"])
        name = text_of(process.label, actor.locale, approval["process"]) if process else ""
        found.append({"at": approval["submitted_at"], "who": approval.get("submitted_by"),
                      "kind": "approval", "text": f"{words['submitted']} {name}",
                      "lines": [approval["comment"]] if approval.get("comment") else [],
                      "link": ""})  # fmt: skip
        for task in approval["tasks"]:
            if task.get("decided_at") is None or task["status"] not in words:
                continue
            found.append({"at": task["decided_at"], "who": task.get("approver"),
                          "kind": "approval", "text": f"{name}: {words[task['status']]}",
                          "lines": [task["comment"]] if task.get("comment") else [],
                          "link": ""})  # fmt: skip
        if approval["status"] == "recalled" and approval.get("decided_at"):
            found.append({"at": approval["decided_at"], "who": approval.get("submitted_by"),
                          "kind": "approval", "text": f"{name}: {words['recalled']}",
                          "lines": [], "link": ""})  # fmt: skip
    return found


def _children(request: Req, reachable: list[Related], record: dict[str, Any],
              actor: Actor) -> list:  # fmt: skip
    found = []
    for related in reachable:
        if not related.spec.timeline:
            continue
        child, details = related.child, related.columns[1:]
        kind = object_label(child, actor.locale)
        for row in related.children(request, record, actor, limit=_LIMIT).records:
            shown = related.cells(request, row, actor, details)
            found.append({"at": row["created_at"], "who": row.get("owner"), "kind": "child",
                          "text": f"{kind}: {title_of(child, row)}",
                          "lines": [" · ".join(s for s in shown if s)],
                          "link": f"/ui/o/{child.name}/{row['id']}"})  # fmt: skip
    return found


def _names(request: Req, ids: set[Any]) -> dict[Any, str]:
    users = authenticator(request).users
    found = {}
    for user_id in ids:
        user = users.get(str(user_id))
        if user is not None:
            found[user_id] = user.display_name or user.username
    return found
