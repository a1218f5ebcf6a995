"""Approvals over HTTP: submit a record, the approver's inbox, decisions and recall.

All through the record service; an approval that is not yours to decide answers 404,
as a record you may not see does.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import ValidationException
from litestar.params import FromPath, JSONBody

from engine.api.auth import require_scope
from engine.api.record_routes import object_snapshot, request_actor
from engine.api.runtime import Runtime
from engine.auth import Scope
from engine.records.effects import jsonable

__all__ = ["APPROVAL_ROUTES"]

_DECISIONS = ("approve", "reject", "recall")
READ = require_scope(Scope.RECORDS_READ)
WRITE = require_scope(Scope.RECORDS_WRITE)


def _comment(data: dict[str, Any] | None) -> str | None:
    comment = (data or {}).get("comment")
    if comment is not None and not isinstance(comment, str):
        raise ValidationException("comment must be text")
    return comment[:2000] if comment else None


class ApprovalController(Controller):
    path = "/api/v1/approvals"

    @get("/inbox", sync_to_thread=True, guards=[READ])
    def inbox(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        """What awaits the caller's decision, oldest first."""
        runtime: Runtime = request.app.state.runtime
        return {"approvals": jsonable(runtime.snapshot.service.inbox(request_actor(request)))}

    @get("/{approval_id:str}", sync_to_thread=True, guards=[READ])
    def approval(
        self, request: Request[Any, Any, Any], approval_id: FromPath[str]
    ) -> dict[str, Any]:
        runtime: Runtime = request.app.state.runtime
        found = runtime.snapshot.service.approval(approval_id, request_actor(request))
        return jsonable(found)  # type: ignore[no-any-return]

    @post("/{approval_id:str}/{decision:str}", sync_to_thread=True, guards=[WRITE],
          status_code=200)  # fmt: skip
    def decide(
        self,
        request: Request[Any, Any, Any],
        approval_id: FromPath[str],
        decision: FromPath[str],
        data: JSONBody[dict[str, Any] | None] = None,
    ) -> dict[str, Any]:
        """``approve`` or ``reject`` (approvers, with an optional comment), or ``recall``
        (the submitter)."""
        if decision not in _DECISIONS:
            raise ValidationException("decision must be approve, reject or recall")
        service = request.app.state.runtime.snapshot.service
        actor = request_actor(request)
        if decision == "recall":
            return jsonable(service.recall(approval_id, actor))  # type: ignore[no-any-return]
        decide = service.approve if decision == "approve" else service.reject
        return jsonable(decide(approval_id, actor, _comment(data)))  # type: ignore[no-any-return]


@post("/api/v1/objects/{object_name:str}/records/{record_id:str}/approvals",
      sync_to_thread=True, guards=[WRITE], status_code=201)  # fmt: skip
def submit_for_approval(
    request: Request[Any, Any, Any],
    object_name: FromPath[str],
    record_id: FromPath[str],
    data: JSONBody[dict[str, Any]],
) -> dict[str, Any]:
    """``{"process": name, "comment": "…"}``: submit the record to an approval process."""
    snapshot = object_snapshot(request, object_name)
    process = data.get("process")
    if not isinstance(process, str):
        raise ValidationException("process must name an approval process")
    approval = snapshot.service.submit(
        object_name, record_id, process, request_actor(request), _comment(data)
    )
    return jsonable(approval)  # type: ignore[no-any-return]


APPROVAL_ROUTES = [ApprovalController, submit_for_approval]
