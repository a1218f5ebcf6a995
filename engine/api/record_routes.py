"""The generated REST API for records: generic routes that read the current schema.

``/api/v1/objects/{object}/records`` serves every object; what an object is comes from
the runtime's snapshot at request time, so new metadata needs no new route. Every write
goes through the RecordService; this module only translates HTTP to service calls.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.exceptions import ValidationException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from engine.api.auth import require_scope
from engine.api.idempotency import run_once
from engine.api.limits import MAX_BULK_BODY_BYTES, MAX_BULK_ROWS, LimitExceeded, check_json_depth
from engine.api.problems import PreconditionFailed, request_locale
from engine.api.runtime import Runtime, Snapshot
from engine.auth import Scope
from engine.compiled import CompiledObject
from engine.records import Actor, BadQuery, NotFound, RowResult
from engine.records.effects import jsonable
from engine.records.errors import localize
from engine.storage.tables import SYSTEM_COLUMNS

__all__ = [
    "RecordController",
    "comma_list",
    "list_rule",
    "object_snapshot",
    "request_actor",
    "simple_filter",
]

_LIST_PARAMS = {"filter", "sort", "limit", "cursor", "fields", "expand", "count"}
#: A related list takes the list's parameters and which link to follow.
_RELATED_PARAMS = _LIST_PARAMS | {"via"}
_OPERATORS = {"eq": "==", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def simple_filter(
    params: Mapping[str, str], known: set[str], reserved: Collection[str] = _LIST_PARAMS
) -> list[Any]:
    """``?stage=won&amount__gte=1000&tier__in=a,b`` as JsonLogic conditions.

    Args:
        reserved: Parameters of the route itself, not field conditions.
    """
    rules: list[Any] = []
    for key, raw in params.items():
        if key in reserved:
            continue
        name, _, op = key.partition("__")
        if name not in known:
            raise BadQuery(f"unknown field {name!r} in the query")
        if op == "in":
            rules.append({"in": [{"var": name}, raw.split(",")]})
        elif op == "null":  # strictly: loosely, 0 and "" would equal null too
            rules.append({"===" if raw.lower() == "true" else "!==": [{"var": name}, None]})
        elif op in ("", *_OPERATORS):
            rules.append({_OPERATORS.get(op or "eq"): [{"var": name}, _literal(raw)]})
        else:
            raise BadQuery(
                f"unknown operator {op!r}; use one of eq, ne, gt, gte, lt, lte, in, null"
            )
    return rules


def _literal(raw: str) -> Any:
    """Numbers and booleans as such, everything else as text."""
    if raw in ("true", "false"):
        return raw == "true"
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


def list_rule(
    params: Mapping[str, str], cobj: CompiledObject, reserved: Collection[str] = _LIST_PARAMS
) -> Any:
    """The JsonLogic rule of a list request: its field conditions and ``filter=``, and-ed.

    Args:
        reserved: Parameters of the route itself (``filter`` among them), not fields.

    Raises:
        BadQuery: An unknown field or operator, or a ``filter`` that is not JSON.
        LimitExceeded: A ``filter`` nested deeper than JSON may be here.
    """
    conditions = simple_filter(params, set(cobj.fields) | set(SYSTEM_COLUMNS), reserved)
    if params.get("filter"):
        check_json_depth(params["filter"], "the filter")
        try:
            conditions.append(json.loads(params["filter"]))
        except json.JSONDecodeError as exc:
            raise BadQuery(f"filter is not JSON: {exc.msg}") from exc
    if len(conditions) > 1:
        return {"and": conditions}
    return conditions[0] if conditions else None


def comma_list(value: str | None) -> list[str] | None:
    """``a, b,,c`` as ``["a", "b", "c"]``; None when there is nothing."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def object_snapshot(request: Request[Any, Any, Any], object_name: str) -> Snapshot:
    """The current snapshot, which has ``object_name`` (else NotFound, a 404)."""
    runtime: Runtime = request.app.state.runtime
    snapshot = runtime.snapshot
    if object_name not in snapshot.compiled.objects:
        raise NotFound(object_name, "*")
    return snapshot


def request_actor(request: Request[Any, Any, Any]) -> Actor:
    """Who the request acts for (set by the authentication middleware)."""
    actor: Actor = request.user
    return actor


def _limit(params: Mapping[str, str]) -> int:
    try:
        return int(params.get("limit", 50))
    except ValueError as exc:
        raise BadQuery("limit must be a whole number") from exc


def _etag(record: dict[str, Any]) -> str:
    return f'"{record["version"]}"'


def _with_etag(record: dict[str, Any], status: int = 200, **headers: str) -> Response[Any]:
    return Response(
        content=jsonable(record), status_code=status, headers={"ETag": _etag(record), **headers}
    )


def _once(
    request: Request[Any, Any, Any], snapshot: Snapshot, body: Any, work: Any
) -> Response[Any]:
    table = snapshot.compiled.tables.system["idempotency_keys"]
    return run_once(request, snapshot.service.db, table, body, work)


def _warnings(result: RowResult, locale: str) -> list[dict[str, Any]]:
    """Duplicate rules that matched and let the write through; the existing record's id
    and title only where the writer may read it."""
    out = []
    for w in result.warnings:
        item = {"rule": w.rule, "code": "duplicate", "fields": list(w.fields),
                "message": localize(w.message, locale)}  # fmt: skip
        if w.record_id is not None:
            item["record_id"] = w.record_id
        out.append(item)
    return out


def _flags(result: RowResult, locale: str) -> dict[str, Any]:
    """What a single create or update adds to the record it answers with: ``_merged`` when a
    duplicate rule merged the create into a match, ``_warnings`` when one warned (names no
    field can take: fields start with a letter)."""
    flags: dict[str, Any] = {}
    if result.merged:
        flags["_merged"] = True
    if result.warnings:
        flags["_warnings"] = _warnings(result, locale)
    return flags


def _row_result(result: RowResult, locale: str) -> dict[str, Any]:
    body: dict[str, Any] = {"index": result.index, "ok": result.ok}
    if result.record is not None:
        body["record"] = jsonable(result.record)
    if result.created:
        body["created"] = True
    if result.merged:
        body["merged"] = True
    if result.warnings:
        body["warnings"] = _warnings(result, locale)
    if result.errors:
        body["errors"] = [
            {"field": e.field, "rule": e.rule, "code": e.code, "message": e.text(locale)}
            for e in result.errors
        ]
    return body


READ = require_scope(Scope.RECORDS_READ)
WRITE = require_scope(Scope.RECORDS_WRITE)


class RecordController(Controller):
    path = "/api/v1/objects/{object_name:str}/records"
    _snapshot = staticmethod(object_snapshot)
    _actor = staticmethod(request_actor)

    @get("/", sync_to_thread=True, guards=[READ])
    def list_records(
        self, request: Request[Any, Any, Any], object_name: FromPath[str]
    ) -> dict[str, Any]:
        snapshot = self._snapshot(request, object_name)
        params = dict(request.query_params)
        rule = list_rule(params, snapshot.compiled.object(object_name))
        return self._page(snapshot, object_name, self._actor(request), params, rule)

    @post("/", sync_to_thread=True, guards=[WRITE], status_code=HTTP_201_CREATED)
    def create_record(
        self,
        request: Request[Any, Any, Any],
        object_name: FromPath[str],
        data: JSONBody[dict[str, Any]],
    ) -> Response[Any]:
        snapshot = self._snapshot(request, object_name)

        def work() -> Response[Any]:
            result = snapshot.service.create_row(object_name, data, self._actor(request))
            record = result.record or {}
            location = f"/api/v1/objects/{object_name}/records/{record['id']}"
            status = HTTP_201_CREATED if result.created else 200  # 200: merged into a match
            body = record | _flags(result, request_locale(request))
            return _with_etag(body, status, Location=location)

        return _once(request, snapshot, data, work)

    @post("/bulk", sync_to_thread=True, guards=[WRITE], status_code=200,
          request_max_body_size=MAX_BULK_BODY_BYTES)  # fmt: skip
    def bulk(
        self,
        request: Request[Any, Any, Any],
        object_name: FromPath[str],
        data: JSONBody[dict[str, Any]],
    ) -> Response[Any]:
        """``{"operation": "create" | "update" | "upsert", "records": [...],
        "all_or_none": true}``; updates name each record by ``id`` (and ``version``),
        upserts match on ``"key"`` (a field; the external id by default)."""
        snapshot = self._snapshot(request, object_name)
        rows = data.get("records")
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValidationException("records must be a list of objects")
        if len(rows) > MAX_BULK_ROWS:
            raise LimitExceeded(
                413, "too_many_rows",
                f"{len(rows)} records in one bulk write; at most {MAX_BULK_ROWS} are accepted",
                MAX_BULK_ROWS,
            )  # fmt: skip
        operation = data.get("operation", "create")
        if operation not in ("create", "update", "upsert"):
            raise ValidationException("operation must be create, update or upsert")
        all_or_none = data.get("all_or_none", True)
        if not isinstance(all_or_none, bool):
            raise ValidationException("all_or_none must be true or false")
        actor = self._actor(request)

        def work() -> Response[Any]:
            if operation == "create":
                results = snapshot.service.bulk_create(
                    object_name, rows, actor, all_or_none=all_or_none
                )
            elif operation == "update":
                results = snapshot.service.bulk_update(
                    object_name, rows, actor, all_or_none=all_or_none
                )
            else:
                key = data.get("key") or None
                if key is not None and not isinstance(key, str):
                    raise ValidationException("key must be the name of a field")
                results = snapshot.service.upsert(
                    object_name, rows, actor, key=key, all_or_none=all_or_none
                )
            locale = request_locale(request)
            body = {
                "ok": all(r.ok for r in results),
                "results": [_row_result(r, locale) for r in results],
            }
            return Response(body, status_code=200)

        return _once(request, snapshot, data, work)

    @get("/{record_id:str}", sync_to_thread=True, guards=[READ])
    def get_record(
        self, request: Request[Any, Any, Any], object_name: FromPath[str], record_id: FromPath[str]
    ) -> Response[Any]:
        snapshot = self._snapshot(request, object_name)
        return _with_etag(snapshot.service.get(object_name, record_id, self._actor(request)))

    @patch("/{record_id:str}", sync_to_thread=True, guards=[WRITE])
    def update_record(
        self,
        request: Request[Any, Any, Any],
        object_name: FromPath[str],
        record_id: FromPath[str],
        data: JSONBody[dict[str, Any]],
    ) -> Response[Any]:
        """Partial update. ``If-Match: "<version>"`` answers 412 when stale; a ``version``
        in the body answers 409 with the fields the other writer changed."""
        snapshot = self._snapshot(request, object_name)
        actor = self._actor(request)
        values = dict(data)
        expected = values.pop("version", None)
        if_match = request.headers.get("if-match")
        if if_match:
            current = snapshot.service.get(object_name, record_id, actor)["version"]
            if if_match.strip('W/"') != str(current):
                raise PreconditionFailed(current)
            expected = current
        try:
            expected_version = int(expected) if expected is not None else None
        except (TypeError, ValueError) as exc:
            raise BadQuery("version must be a whole number") from exc
        result = snapshot.service.update_row(
            object_name, record_id, values, actor, expected_version=expected_version
        )
        return _with_etag((result.record or {}) | _flags(result, request_locale(request)))

    @delete(
        "/{record_id:str}", sync_to_thread=True, guards=[WRITE], status_code=HTTP_204_NO_CONTENT
    )
    def delete_record(
        self, request: Request[Any, Any, Any], object_name: FromPath[str], record_id: FromPath[str]
    ) -> None:
        snapshot = self._snapshot(request, object_name)
        hard = request.query_params.get("hard") == "true"
        snapshot.service.delete(object_name, record_id, self._actor(request), hard=hard)

    @get("/{record_id:str}/history", sync_to_thread=True, guards=[READ])
    def history(
        self, request: Request[Any, Any, Any], object_name: FromPath[str], record_id: FromPath[str]
    ) -> dict[str, Any]:
        snapshot = self._snapshot(request, object_name)
        rows = snapshot.service.history(object_name, record_id, self._actor(request))
        return {"history": jsonable(rows)}

    @post(
        "/{record_id:str}/reveal/{field:str}", sync_to_thread=True, guards=[READ], status_code=200
    )
    def reveal(
        self,
        request: Request[Any, Any, Any],
        object_name: FromPath[str],
        record_id: FromPath[str],
        field: FromPath[str],
    ) -> dict[str, Any]:
        """One personal value unmasked (audited): POST, so no cache keeps it."""
        snapshot = self._snapshot(request, object_name)
        value = snapshot.service.reveal(object_name, record_id, field, self._actor(request))
        return {"field": field, "value": jsonable(value)}

    @get("/{record_id:str}/transitions", sync_to_thread=True, guards=[READ])
    def transitions(
        self, request: Request[Any, Any, Any], object_name: FromPath[str], record_id: FromPath[str]
    ) -> dict[str, Any]:
        """The stage transitions the caller may take now, and the record's stage moves."""
        snapshot = self._snapshot(request, object_name)
        actor = self._actor(request)
        return {
            "available": jsonable(snapshot.service.transitions(object_name, record_id, actor)),
            "history": jsonable(snapshot.service.moves(object_name, record_id, actor)),
        }

    @post("/{record_id:str}/transitions/{name:str}", sync_to_thread=True, guards=[WRITE],
          status_code=200)  # fmt: skip
    def take_transition(
        self,
        request: Request[Any, Any, Any],
        object_name: FromPath[str],
        record_id: FromPath[str],
        name: FromPath[str],
        data: JSONBody[dict[str, Any]],
    ) -> Response[Any]:
        """``{"values": {...}, "version": n, "comment": "..."}``, all optional."""
        snapshot = self._snapshot(request, object_name)
        values = data.get("values") or {}
        version = data.get("version")
        comment = data.get("comment")
        if not isinstance(values, dict):
            raise ValidationException("values must be an object")
        if version is not None and type(version) is not int:
            raise ValidationException("version must be a whole number")
        if comment is not None and not isinstance(comment, str):
            raise ValidationException("comment must be text")
        record = snapshot.service.transition(
            object_name, record_id, name, self._actor(request), values,
            expected_version=version, comment=comment[:2000] if comment else None,
        )  # fmt: skip
        return _with_etag(record)

    @get("/{record_id:str}/shares", sync_to_thread=True, guards=[READ])
    def list_shares(
        self, request: Request[Any, Any, Any], object_name: FromPath[str], record_id: FromPath[str]
    ) -> dict[str, Any]:
        snapshot = self._snapshot(request, object_name)
        rows = snapshot.service.shares(object_name, record_id, self._actor(request))
        return {"shares": jsonable(rows)}

    @post("/{record_id:str}/shares", sync_to_thread=True, guards=[WRITE], status_code=201)
    def share(
        self,
        request: Request[Any, Any, Any],
        object_name: FromPath[str],
        record_id: FromPath[str],
        data: JSONBody[dict[str, Any]],
    ) -> dict[str, Any]:
        """``{"user": id}`` or ``{"org_unit": id}``, with ``"access": "read" | "edit"``."""
        snapshot = self._snapshot(request, object_name)
        grantee = {k: data.get(k) for k in ("user", "org_unit")}
        if not all(v is None or isinstance(v, str) for v in grantee.values()):
            raise ValidationException("user and org_unit are ids")
        row = snapshot.service.share(
            object_name,
            record_id,
            self._actor(request),
            access=str(data.get("access", "read")),
            **grantee,
        )
        return jsonable(row)  # type: ignore[no-any-return]

    @delete("/{record_id:str}/shares/{share_id:str}", sync_to_thread=True, guards=[WRITE])
    def unshare(
        self,
        request: Request[Any, Any, Any],
        object_name: FromPath[str],
        record_id: FromPath[str],
        share_id: FromPath[str],
    ) -> None:
        snapshot = self._snapshot(request, object_name)
        snapshot.service.unshare(object_name, record_id, share_id, self._actor(request))

    @get("/{record_id:str}/related/{child_object:str}", sync_to_thread=True, guards=[READ])
    def related(
        self,
        request: Request[Any, Any, Any],
        object_name: FromPath[str],
        record_id: FromPath[str],
        child_object: FromPath[str],
    ) -> dict[str, Any]:
        """Children pointing at this record (``?via=field`` when there are several links),
        with the list's own parameters (filters, sort, fields, …); unknown ones are 400."""
        snapshot = self._snapshot(request, object_name)
        actor = self._actor(request)
        snapshot.service.get(object_name, record_id, actor)  # 404 when unseen
        child = snapshot.compiled.objects.get(child_object)
        if child is None:
            raise NotFound(child_object, "*")
        links = [f.name for f in child.obj.fields if getattr(f, "to", None) == object_name]
        params = dict(request.query_params)
        via = params.get("via") or (links[0] if len(links) == 1 else None)
        if via not in links:
            raise BadQuery(f"say which link with ?via=; {child_object} links by {links}")
        asked = list_rule(params, child, _RELATED_PARAMS)
        link = {"==": [{"var": via}, record_id]}
        return self._page(snapshot, child_object, actor, params, link, asked)

    @staticmethod
    def _page(
        snapshot: Snapshot, object_name: str, actor: Actor, params: Mapping[str, str],
        *rules: Any,
    ) -> dict[str, Any]:  # fmt: skip
        """One page of a list (or a related list) as the API answers it."""
        present = [r for r in rules if r is not None]
        page = snapshot.service.list(
            object_name,
            actor,
            filter={"and": present} if len(present) > 1 else (present[0] if present else None),
            sort=comma_list(params.get("sort")),
            limit=_limit(params),
            cursor=params.get("cursor"),
            fields=comma_list(params.get("fields")),
            expand=comma_list(params.get("expand")),
            count=params.get("count") == "true",
        )
        body: dict[str, Any] = {"records": jsonable(page.records), "next_cursor": page.next_cursor}
        if page.total is not None:
            body["total"] = page.total
        return body
