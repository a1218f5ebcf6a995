"""Metadata changes over HTTP: what the packs on disk would change, applying them, and
the record of every version applied — for users whose roles manage metadata.

Changing metadata is a permission of its own (``manage_metadata`` on a role: the
administrator and the consultant in the base pack), independent of access to records: a
consultant applies a new layout without reading one customer. Every applied version keeps
who applied it and the plan it ran, in the same transaction as the migration, and the
audit log gets a ``metadata_apply`` entry.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import PermissionDeniedException

from engine.api.auth import require_scope
from engine.api.problems import problem, request_locale
from engine.api.record_routes import request_actor
from engine.api.runtime import Runtime
from engine.auth import Scope
from engine.records import Actor
from engine.records.effects import jsonable
from engine.storage.migrate import MigrationFailed, MigrationRefused
from metadata import MetadataError

__all__ = ["MetadataController"]


class MetadataController(Controller):
    path = "/api/v1/metadata"

    @get("/versions", sync_to_thread=True, guards=[require_scope(Scope.METADATA_READ)])
    def versions(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Every version applied, newest first: when, by whom, and the plan it ran."""
        runtime = _manager_runtime(request)
        table = runtime.snapshot.compiled.tables.system["schema_versions"]
        with runtime.db.read() as conn:
            rows = conn.execute(
                sa.select(table.c.id, table.c.content_hash, table.c.applied_at,
                          table.c.applied_by, table.c.plan)
                .order_by(table.c.id.desc())
                .limit(100)
            )  # fmt: skip
            return {"versions": jsonable([dict(r._mapping) for r in rows])}

    @get("/plan", sync_to_thread=True, guards=[require_scope(Scope.METADATA_READ)])
    def plan(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """What applying the packs on disk would do, and what would stop it."""
        runtime = _manager_runtime(request)
        try:
            plan = runtime.pending()
        except MetadataError as exc:
            return _invalid(request, exc)
        return Response(
            {
                "serving": runtime.snapshot.content_hash,
                "content_hash": plan.content_hash,
                "changes": plan.changes_schema,
                **plan.to_builtins(),
                "refusals": [r.render() for r in plan.refusals],
            }
        )

    @post("/apply", sync_to_thread=True, guards=[require_scope(Scope.ADMIN)], status_code=200)
    def apply(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Apply the packs on disk: validate, migrate (refused when data would be lost),
        serve the new schema."""
        runtime = _manager_runtime(request)
        actor = request_actor(request)
        try:
            version = runtime.apply(_applied_by(actor))
        except MetadataError as exc:
            return _invalid(request, exc)
        except MigrationRefused as exc:
            refusals = [r.render() for r in exc.refusals]
            return problem(409, "migration_refused", request_locale(request), str(exc),
                           refusals=refusals)  # fmt: skip
        except MigrationFailed as exc:
            return problem(409, "migration_failed", request_locale(request), str(exc))
        service = runtime.snapshot.service
        with runtime.db.engine.begin() as conn:
            detail = {"version": version.id, "content_hash": version.content_hash,
                      "operations": list(version.operations)}  # fmt: skip
            service.effects.audit(
                conn, "metadata_apply", "_schema", None, actor.user_id, service.clock(), detail
            )
        return Response(jsonable({
            "id": version.id, "content_hash": version.content_hash,
            "applied_at": version.applied_at, "applied_by": version.applied_by,
            "operations": list(version.operations),
        }))  # fmt: skip


def _manager_runtime(request: Request[Any, Any, Any]) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    if not runtime.snapshot.service.authorizer.may_manage_metadata(request_actor(request)):
        raise PermissionDeniedException("your roles do not allow managing metadata")
    return runtime


def _applied_by(actor: Actor) -> str:
    return f"{actor.name or 'user'} ({actor.user_id}) over the API"


def _invalid(request: Request[Any, Any, Any], exc: MetadataError) -> Response[Any]:
    problems = [p.render() for p in exc.problems]
    return problem(422, "invalid_metadata", request_locale(request), problems[0] if problems
                   else "", problems=problems)  # fmt: skip
