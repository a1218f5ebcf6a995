"""OpenAPI 3.1 built from the compiled schema, so it changes the moment metadata does.

Each object gets a record schema (types and formats per field type, enums from
picklists, titles from field labels), an input schema (what a client may send: no system
or computed fields; required fields required) and the generic paths instantiated for it
(its records, and its CSV import and export).

An object's own label is the ``description`` of its schemas, not their ``title``: client
generators name classes after titles, and labels are translated, renamed by consultants
and not unique, whereas the component names (``customer_input``) are none of these.
"""

from __future__ import annotations

from typing import Any

from engine.api.limits import MAX_BULK_ROWS
from engine.compiled import CompiledSchema
from metadata import ResolvedSchema
from metadata.model.fields import FieldType, FormulaResult

__all__ = ["openapi_document"]

_STRING = {"type": "string"}
_DECIMAL = {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}
#: A request body carrying one file as the ``file`` part of a multipart form.
_FILE_PART = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"}},
        }
    }
}
_BY_TYPE: dict[FieldType, dict[str, Any]] = {
    FieldType.TEXT: _STRING,
    FieldType.LONG_TEXT: _STRING,
    FieldType.RICH_TEXT: _STRING,
    FieldType.INTEGER: {"type": "integer"},
    FieldType.DECIMAL: _DECIMAL,
    FieldType.CURRENCY: _DECIMAL,
    FieldType.PERCENT: _DECIMAL,
    FieldType.BOOLEAN: {"type": "boolean"},
    FieldType.DATE: {"type": "string", "format": "date"},
    FieldType.DATETIME: {"type": "string", "format": "date-time"},
    # Not format "time": RFC 3339 times carry an offset, and these are wall-clock times.
    FieldType.TIME: {
        "type": "string",
        "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$",
        "examples": ["09:30"],
    },
    FieldType.EMAIL: {"type": "string", "format": "email"},
    FieldType.PHONE: {"type": "string", "description": "stored in E.164, e.g. +8613812345678"},
    FieldType.URL: {"type": "string", "format": "uri"},
    FieldType.LOOKUP: {"type": "string", "format": "uuid"},
    FieldType.MASTER_DETAIL: {"type": "string", "format": "uuid"},
    FieldType.USER: {"type": "string", "format": "uuid"},
    FieldType.AUTONUMBER: _STRING,
    FieldType.JSON: {},
    FieldType.ATTACHMENT: {
        "type": "array",
        "description": "uploaded files (POST /api/v1/files); send their ids, read them back "
        "with name, type and size",
        "items": {
            "anyOf": [
                {"type": "string", "description": "a file id"},
                {
                    "type": "object",
                    "required": ["id"],
                    "properties": {
                        "id": {"type": "string"},
                        "name": {"type": "string"},
                        "content_type": {"type": "string"},
                        "size": {"type": "integer"},
                    },
                },
            ]
        },
    },
    FieldType.GEOLOCATION: {
        "type": "object",
        "properties": {"lat": {"type": "number"}, "lng": {"type": "number"}},
        "required": ["lat", "lng"],
    },
    FieldType.ROLLUP: _DECIMAL,
}
_RESULT = {
    FormulaResult.TEXT: _STRING,
    FormulaResult.INTEGER: {"type": "integer"},
    FormulaResult.DECIMAL: _DECIMAL,
    FormulaResult.CURRENCY: _DECIMAL,
    FormulaResult.PERCENT: _DECIMAL,
    FormulaResult.BOOLEAN: {"type": "boolean"},
    FormulaResult.DATE: {"type": "string", "format": "date"},
    FormulaResult.DATETIME: {"type": "string", "format": "date-time"},
}
_SYSTEM = {
    "id": {"type": "string", "format": "uuid"},
    "version": {"type": "integer", "minimum": 1},
    "owner": {"type": ["string", "null"], "format": "uuid"},
    "org_unit": {"type": ["string", "null"], "format": "uuid"},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"},
    "created_by": {"type": ["string", "null"], "format": "uuid"},
    "updated_by": {"type": ["string", "null"], "format": "uuid"},
    "archived": {"type": "boolean"},
}
_COMPUTED = (FieldType.FORMULA, FieldType.ROLLUP, FieldType.AUTONUMBER)


def _field_schema(field: Any, locale: str, schema: ResolvedSchema) -> dict[str, Any]:
    if field.kind is FieldType.FORMULA:
        base = dict(_RESULT[FormulaResult(field.result_type)])
    elif field.kind is FieldType.ROLLUP:
        base = dict(_RESULT[FormulaResult(schema.rollup_result(field))])
    elif field.kind in (FieldType.PICKLIST, FieldType.MULTI_PICKLIST):
        values = [v.value for v in field.values if v.active]
        item = {"type": "string", "enum": values}
        base = item if field.kind is FieldType.PICKLIST else {"type": "array", "items": item}
    elif field.kind is FieldType.ADDRESS:
        base = {
            "type": "object",
            "additionalProperties": False,
            "properties": {c: _STRING for c in field.components},
        }
    else:
        base = dict(_BY_TYPE[field.kind])
    max_length = getattr(field, "max_length", None)
    if max_length and base.get("type") == "string":
        base["maxLength"] = max_length
    label = field.label or {}
    title = label.get(locale) or label.get("en")
    if title:
        base["title"] = title
    notes = [field.help.get(locale) or field.help.get("en", "")] if field.help else []
    if getattr(field, "pii", False):
        notes.append("Personal data: masked in every response (138****5678); unmask one value "
                     "with POST .../records/{id}/reveal/" + field.name)  # fmt: skip
    if notes:
        base["description"] = " ".join(notes)
    return base


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if not schema or "type" not in schema:
        return schema
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    out = dict(schema, type=[*kinds, "null"])
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def _object_schemas(compiled: CompiledSchema, name: str, locale: str) -> dict[str, Any]:
    cobj = compiled.object(name)
    props = dict(_SYSTEM)
    inputs: dict[str, Any] = {"owner": _SYSTEM["owner"], "org_unit": _SYSTEM["org_unit"]}
    required = []
    for field in cobj.obj.fields:
        schema = _field_schema(field, locale, compiled.schema)
        props[field.name] = _nullable(schema)
        if field.kind in _COMPUTED:
            continue
        inputs[field.name] = _nullable(schema)
        must = getattr(field, "required", False) or field.kind is FieldType.MASTER_DETAIL
        if must and getattr(field, "default", None) is None:
            required.append(field.name)
    title = cobj.obj.label.get(locale) or cobj.obj.label["en"]
    return {
        f"{name}": {
            "type": "object",
            "description": title,
            "properties": {
                **props,
                "_merged": {"type": "boolean", "description": "a duplicate rule merged "
                            "the create into this existing record"},
                "_warnings": _DUPLICATE_WARNINGS,
            },
            "required": list(_SYSTEM),
        },
        f"{name}_input": {
            "type": "object",
            "description": f"{title} (new)",
            "properties": inputs,
            "required": required,
            "additionalProperties": False,
        },
        f"{name}_patch": {
            "type": "object",
            "description": f"{title} (changes)",
            "properties": {**inputs, "version": _SYSTEM["version"]},
            "additionalProperties": False,
        },
        f"{name}_change": {
            "type": "object",
            "description": f"{title} (changes by id)",
            "properties": {
                **inputs,
                "id": _SYSTEM["id"],
                "version": _SYSTEM["version"],
            },
            "required": ["id"],
            "additionalProperties": False,
        },
        f"{name}_page": {
            "type": "object",
            "required": ["records", "next_cursor"],
            "properties": {
                "records": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}},
                "next_cursor": {"type": ["string", "null"]},
                "total": {"type": "integer"},
            },
        },
    }


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


_PROBLEM = {
    "description": "problem details (RFC 9457)",
    "content": {"application/problem+json": {"schema": _ref("problem")}},
}


def _paths(name: str, title: str) -> dict[str, Any]:
    base = f"/api/v1/objects/{name}/records"
    record_id = {
        "name": "record_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
    errors = {"400": _PROBLEM, "401": _PROBLEM, "404": _PROBLEM, "422": _PROBLEM}
    return {
        base: {
            "get": {
                "operationId": f"list_{name}",
                "summary": f"List {title}",
                "tags": [name],
                "parameters": _LIST_PARAMETERS,
                "responses": {
                    "200": {"description": "a page", **_json(_ref(f"{name}_page"))},
                    **errors,
                },
            },
            "post": {
                "operationId": f"create_{name}",
                "summary": f"Create {title}",
                "tags": [name],
                "parameters": [_IDEMPOTENCY_KEY],
                "requestBody": {"required": True, **_json(_ref(f"{name}_input"))},
                "responses": {
                    "201": {"description": "created", **_json(_ref(name))},
                    "200": {
                        "description": "merged by a duplicate rule into the record it "
                        "matched (that record, with _merged: true)",
                        **_json(_ref(name)),
                    },
                    "409": _PROBLEM,
                    "413": _PROBLEM,
                    **errors,
                },
            },
        },
        base + "/{record_id}": {
            "parameters": [record_id],
            "get": {
                "operationId": f"get_{name}",
                "summary": f"Get {title}",
                "tags": [name],
                "responses": {"200": {"description": "the record", **_json(_ref(name))}, **errors},
            },
            "patch": {
                "operationId": f"update_{name}",
                "summary": f"Update {title}",
                "tags": [name],
                "parameters": [{"name": "If-Match", "in": "header", "schema": {"type": "string"}}],
                "requestBody": {"required": True, **_json(_ref(f"{name}_patch"))},
                "responses": {
                    "200": {"description": "updated", **_json(_ref(name))},
                    "409": _PROBLEM,
                    "412": _PROBLEM,
                    "413": _PROBLEM,
                    **errors,
                },
            },
            "delete": {
                "operationId": f"delete_{name}",
                "summary": f"Delete {title}",
                "description": "Archives the record (it can be restored); with hard=true it "
                "is removed for good, which needs the purge permission besides delete.",
                "tags": [name],
                "parameters": [
                    {
                        "name": "hard",
                        "in": "query",
                        "schema": {"type": "boolean", "default": False},
                        "description": "remove for good instead of archiving (needs purge)",
                    }
                ],
                "responses": {
                    "204": {"description": "deleted"},
                    "403": {
                        "description": "the role may not delete this record, or hard=true "
                        "without purge",
                        "content": _PROBLEM["content"],
                    },
                    "409": _PROBLEM,
                    **errors,
                },
            },
        },
    }


def _more_record_paths(compiled: CompiledSchema, name: str, title: str) -> dict[str, Any]:
    """Bulk writes, field history, and one related list per child object linking here."""
    base = f"/api/v1/objects/{name}/records"
    record_id = {
        "name": "record_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
    errors = {"400": _PROBLEM, "401": _PROBLEM, "403": _PROBLEM, "404": _PROBLEM}
    bulk_body = {
        "type": "object",
        "required": ["records"],
        "properties": {
            "operation": {"enum": ["create", "update", "upsert"], "default": "create"},
            "records": {
                "type": "array",
                "maxItems": MAX_BULK_ROWS,
                "items": {"anyOf": [_ref(f"{name}_input"), _ref(f"{name}_change")]},
                "description": "new records for create and upsert; for update, each names "
                "its record by id (and version, to refuse a stale row)",
            },
            "all_or_none": {"type": "boolean", "default": True},
            "key": {"type": "string", "description": "upsert on this field (default: the "
                    "external id)"},
        },
    }  # fmt: skip
    paths: dict[str, Any] = {
        base + "/bulk": {
            "post": {
                "operationId": f"bulk_{name}",
                "summary": f"Create, update or upsert many {title}",
                "tags": [name],
                "parameters": [_IDEMPOTENCY_KEY],
                "requestBody": {"required": True, **_json(bulk_body)},
                "responses": {
                    "200": {"description": "one result per row", **_json(_ref("bulk_result"))},
                    "409": _PROBLEM,
                    "413": _PROBLEM,
                    "422": _PROBLEM,
                    **errors,
                },
            }
        },
        base + "/{record_id}/history": {
            "parameters": [record_id],
            "get": {
                "operationId": f"history_{name}",
                "summary": f"Field history of a {title}",
                "tags": [name],
                "responses": {
                    "200": {"description": "changes, oldest first", **_json(_ref("history"))},
                    **errors,
                },
            },
        },
    }
    attachments = [f.name for f in compiled.objects[name].obj.fields
                   if f.kind is FieldType.ATTACHMENT]  # fmt: skip
    if attachments:
        paths[f"{base}/{{record_id}}/files/{{field}}/{{file_id}}"] = {
            "parameters": [
                record_id,
                {"name": "field", "in": "path", "required": True, "schema": {"enum": attachments}},
                {"name": "file_id", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "get": {
                "operationId": f"file_{name}",
                "summary": f"Download a file attached to a {title}",
                "tags": [name],
                "responses": {
                    "200": {
                        "description": "the file, as an attachment",
                        "content": {
                            "application/octet-stream": {
                                "schema": {"type": "string", "format": "binary"}
                            }
                        },
                    },
                    **errors,
                },
            },
        }
    paths.update(_sharing_paths(compiled, name, title, record_id, errors))
    paths.update(_workflow_paths(compiled, name, title, record_id, errors))
    for child, cobj in compiled.objects.items():
        links = [f.name for f in cobj.obj.fields if getattr(f, "to", None) == name]
        if not links:
            continue
        via: dict[str, Any] = {
            "name": "via",
            "in": "query",
            "required": len(links) > 1,
            "schema": {"enum": links},
            "description": "the link field, when the child links here more than once",
        }
        paths[f"{base}/{{record_id}}/related/{child}"] = {
            "parameters": [record_id],
            "get": {
                "operationId": f"related_{name}_{child}",
                "summary": f"{child} records linked to a {title}",
                "tags": [name],
                "parameters": [via, *_LIST_PARAMETERS],
                "responses": {
                    "200": {"description": "a page", **_json(_ref(f"{child}_page"))},
                    **errors,
                },
            },
        }
    return paths


def _sharing_paths(
    compiled: CompiledSchema,
    name: str,
    title: str,
    record_id: dict[str, Any],
    errors: dict[str, Any],
) -> dict[str, Any]:
    """Shares of one record, and revealing a masked personal value (objects with PII)."""
    base = f"/api/v1/objects/{name}/records/{{record_id}}"
    share_id = {"name": "share_id", "in": "path", "required": True, "schema": {"type": "string"}}
    paths: dict[str, Any] = {
        base + "/shares": {
            "parameters": [record_id],
            "get": {
                "operationId": f"shares_{name}",
                "summary": f"Who a {title} is shared with",
                "tags": [name],
                "responses": {"200": {"description": "shares", **_json(_ref("shares"))}, **errors},
            },
            "post": {
                "operationId": f"share_{name}",
                "summary": f"Share a {title} with a user or an org unit",
                "tags": [name],
                "requestBody": {"required": True, **_json(_ref("share_input"))},
                "responses": {
                    "201": {"description": "the share", **_json(_ref("share"))},
                    "409": _PROBLEM,
                    "413": _PROBLEM,
                    "422": _PROBLEM,
                    **errors,
                },
            },
        },
        base + "/shares/{share_id}": {
            "parameters": [record_id, share_id],
            "delete": {
                "operationId": f"unshare_{name}",
                "summary": f"Withdraw a share of a {title}",
                "tags": [name],
                "responses": {"204": {"description": "withdrawn"}, "409": _PROBLEM, **errors},
            },
        },
    }
    personal = [f.name for f in compiled.objects[name].obj.fields if getattr(f, "pii", False)]
    if personal:
        field = {"name": "field", "in": "path", "required": True, "schema": {"enum": personal}}
        paths[base + "/reveal/{field}"] = {
            "parameters": [record_id, field],
            "post": {
                "operationId": f"reveal_{name}",
                "summary": f"One personal value of a {title}, unmasked (audited)",
                "tags": [name],
                "responses": {
                    "200": {"description": "the value", **_json(_ref("revealed"))},
                    **errors,
                },
            },
        }
    return paths


def _workflow_paths(
    compiled: CompiledSchema,
    name: str,
    title: str,
    record_id: dict[str, Any],
    errors: dict[str, Any],
) -> dict[str, Any]:
    """The stage transitions of an object with a workflow: offered, and taken."""
    names = [
        t.name
        for workflow in compiled.schema.workflows.values()
        if workflow.object == name
        for t in workflow.transitions
    ]
    if not names:
        return {}
    base = f"/api/v1/objects/{name}/records/{{record_id}}/transitions"
    transition = {"name": "name", "in": "path", "required": True, "schema": {"enum": names}}
    body = {
        "type": "object",
        "properties": {
            "values": _ref(f"{name}_patch"),
            "version": {"type": "integer", "minimum": 1},
            "comment": {"type": "string", "maxLength": 2000},
        },
        "additionalProperties": False,
    }
    return {
        base: {
            "parameters": [record_id],
            "get": {
                "operationId": f"transitions_{name}",
                "summary": f"Stage transitions of a {title}: those you may take, and the log",
                "tags": [name],
                "responses": {
                    "200": {"description": "offered and taken", **_json(_ref("transitions"))},
                    **errors,
                },
            },
        },
        base + "/{name}": {
            "parameters": [record_id, transition],
            "post": {
                "operationId": f"transition_{name}",
                "summary": f"Move a {title} to another stage",
                "tags": [name],
                "requestBody": {"required": True, **_json(body)},
                "responses": {
                    "200": {"description": "the record, moved", **_json(_ref(name))},
                    "409": _PROBLEM,
                    "413": _PROBLEM,
                    "422": _PROBLEM,
                    **errors,
                },
            },
        },
    }


_LIST_PARAMETERS = [
    {
        "name": "filter",
        "in": "query",
        "schema": {"type": "string"},
        "description": "a JsonLogic rule as JSON; or field=value, field__gte=value, ...",
    },
    {
        "name": "sort",
        "in": "query",
        "schema": {"type": "string"},
        "description": "comma-separated fields, -field for descending",
    },
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
    {"name": "fields", "in": "query", "schema": {"type": "string"}},
    {"name": "expand", "in": "query", "schema": {"type": "string"}},
    {"name": "count", "in": "query", "schema": {"type": "boolean"}},
]


def _transfer_paths(name: str, title: str) -> dict[str, Any]:
    """CSV import and export of one object (``engine.api.transfer_routes``)."""
    base = f"/api/v1/objects/{name}"
    errors = {"400": _PROBLEM, "401": _PROBLEM, "403": _PROBLEM, "404": _PROBLEM}
    return {
        base + "/import": {
            "post": {
                "operationId": f"import_{name}",
                "summary": f"Import {title} from CSV",
                "description": "UTF-8 or GBK; columns by field name or label. Good rows are "
                "written, bad ones come back with their row number and reasons.",
                "tags": [name],
                "parameters": [
                    {
                        "name": "upsert_key",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "update records matched on this field (default: the "
                        "external id, when the file has that column)",
                    },
                    {
                        "name": "dry_run",
                        "in": "query",
                        "schema": {"type": "boolean"},
                        "description": "check every row, write nothing",
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "text/csv": {"schema": {"type": "string"}},
                        **_FILE_PART,
                    },
                },
                "responses": {
                    "200": {"description": "what was imported", **_json(_ref("import_report"))},
                    "413": _PROBLEM,
                    "422": _PROBLEM,
                    **errors,
                },
            },
        },
        base + "/export": {
            "get": {
                "operationId": f"export_{name}",
                "summary": f"Export {title} to CSV",
                "description": "What the list with the same filters shows; the file imports "
                "back. Field conditions (field=value, field__gte=value, ...) as for the list. "
                "Needs the export permission on the object (403 without it); personal data "
                "is unmasked only with view_pii too.",
                "tags": [name],
                "parameters": [
                    {
                        "name": "filter",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "a JsonLogic rule as JSON",
                    },
                    {
                        "name": "sort",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "comma-separated fields, -field for descending",
                    },
                    {
                        "name": "fields",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "columns in order (default: every readable field)",
                    },
                    {
                        "name": "header",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["label", "name"]},
                        "description": "field labels (in the Accept-Language language) or names",
                    },
                ],
                "responses": {
                    "200": {
                        "description": "the records as CSV (UTF-8 with a BOM)",
                        "headers": {
                            "Content-Disposition": {
                                "schema": {"type": "string"},
                                "description": f'attachment; filename="{name}.csv"',
                            }
                        },
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    **errors,
                },
            },
        },
    }


_IMPORT_REPORT_SCHEMA = {
    "type": "object",
    "required": [
        "object",
        "dry_run",
        "rows",
        "created",
        "updated",
        "rejected",
        "rejects",
        "reject_csv",
    ],
    "properties": {
        "object": {"type": "string"},
        "dry_run": {"type": "boolean"},
        "rows": {"type": "integer", "description": "data rows read"},
        "created": {"type": "integer"},
        "updated": {"type": "integer"},
        "rejected": {"type": "integer"},
        "merged": {"type": "integer", "description": "rows merged into existing records"},
        "warnings": {
            "type": "array",
            "description": "rows written that a duplicate rule warned of",
            "items": {
                "type": "object",
                "properties": {
                    "row": {"type": "integer"},
                    "rule": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
        "encoding": {"type": "string", "description": "utf-8-sig or gb18030"},
        "ignored_columns": {
            "type": "array",
            "items": {"type": "string"},
            "description": "columns read but not written (system or computed fields)",
        },
        "rejects": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["row", "errors"],
                "properties": {
                    "row": {"type": "integer", "description": "row number; the header is 1"},
                    "errors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "column": {"type": ["string", "null"]},
                                "field": {"type": ["string", "null"]},
                                "rule": {"type": "string"},
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
        "reject_csv": {
            "type": ["string", "null"],
            "description": "the rejected rows as CSV (_row, the columns, _errors) to fix and "
            "import again; null when none was rejected",
        },
    },
}

_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "description": "a retry with the same key and body replays the first answer",
    "schema": {"type": "string", "maxLength": 200},
}

_FIELD_ERRORS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["field", "rule", "code", "message"],
        "properties": {
            "field": {"type": ["string", "null"]},
            "rule": {"type": "string"},
            "code": {"type": "string"},
            "message": {"type": "string"},
        },
    },
}
_DUPLICATE_WARNINGS = {
    "type": "array",
    "description": "duplicate rules that matched and let the write through; record_id "
    "only for an existing record the writer may read",
    "items": {
        "type": "object",
        "required": ["rule", "code", "fields", "message"],
        "properties": {
            "rule": {"type": "string"},
            "code": {"type": "string"},
            "fields": {"type": "array", "items": {"type": "string"}},
            "message": {"type": "string"},
            "record_id": {"type": "string"},
        },
    },
}
_BULK_RESULT_SCHEMA = {
    "type": "object",
    "required": ["ok", "results"],
    "properties": {
        "ok": {"type": "boolean", "description": "every row succeeded"},
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "ok"],
                "properties": {
                    "index": {"type": "integer"},
                    "ok": {"type": "boolean"},
                    "record": {"type": "object"},
                    "created": {"type": "boolean"},
                    "merged": {"type": "boolean"},
                    "warnings": _DUPLICATE_WARNINGS,
                    "errors": _FIELD_ERRORS,
                },
            },
        },
    },
}
_HISTORY_SCHEMA = {
    "type": "object",
    "required": ["history"],
    "properties": {
        "history": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "changed_at"],
                "properties": {
                    "field": {"type": "string"},
                    "old_value": {},
                    "new_value": {},
                    "changed_at": {"type": "string", "format": "date-time"},
                    "changed_by": {"type": ["string", "null"]},
                },
            },
        },
    },
}

_TRANSITIONS_SCHEMA = {
    "type": "object",
    "required": ["available", "history"],
    "properties": {
        "available": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "to", "required_fields", "guard_met"],
                "properties": {
                    "name": {"type": "string"},
                    "label": {"type": "object", "additionalProperties": {"type": "string"}},
                    "workflow": {"type": "string"},
                    "field": {"type": "string"},
                    "from": {},
                    "to": {"type": "string"},
                    "required_fields": {"type": "array", "items": {"type": "string"}},
                    "guard_met": {"type": "boolean"},
                    "guard_message": {},
                    "approval": {"type": ["string", "null"]},
                },
            },
        },
        "history": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["to_state", "at"],
                "properties": {
                    "workflow": {"type": "string"},
                    "transition": {"type": ["string", "null"]},
                    "from_state": {"type": ["string", "null"]},
                    "to_state": {"type": "string"},
                    "comment": {"type": ["string", "null"]},
                    "at": {"type": "string", "format": "date-time"},
                    "actor": {"type": ["string", "null"]},
                },
            },
        },
    },
}
_SHARE_SCHEMA = {
    "type": "object",
    "required": ["id", "record_id", "access", "created_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "object": {"type": "string"},
        "record_id": {"type": "string", "format": "uuid"},
        "user_id": {"type": ["string", "null"], "format": "uuid"},
        "org_unit": {"type": ["string", "null"], "format": "uuid"},
        "access": {"enum": ["read", "edit"]},
        "created_at": {"type": "string", "format": "date-time"},
        "created_by": {"type": ["string", "null"], "format": "uuid"},
    },
}
_SHARE_INPUT_SCHEMA = {
    "type": "object",
    "description": "exactly one of user and org_unit",
    "properties": {
        "user": {"type": "string", "format": "uuid"},
        "org_unit": {"type": "string", "format": "uuid"},
        "access": {"enum": ["read", "edit"], "default": "read"},
    },
    "additionalProperties": False,
}

_PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "rule": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "value": {},
                },
            },
        },
        "current_version": {"type": "integer"},
        "changed_fields": {"type": "array", "items": {"type": "string"}},
        "reason": {"type": "string", "description": "why a file cannot be imported"},
    },
}


_APPROVAL_SCHEMAS: dict[str, Any] = {
    "approval": {
        "type": "object",
        "required": ["id", "process", "object", "record_id", "status", "step"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "process": {"type": "string"},
            "object": {"type": "string"},
            "record_id": {"type": "string", "format": "uuid"},
            "status": {"enum": ["pending", "approved", "rejected", "recalled"]},
            "step": {"type": "integer"},
            "from_state": {"type": ["string", "null"]},
            "submitted_by": {"type": ["string", "null"]},
            "submitted_at": {"type": "string", "format": "date-time"},
            "comment": {"type": ["string", "null"]},
            "decided_at": {"type": ["string", "null"], "format": "date-time"},
            "record": {
                "type": ["object", "null"],
                "description": "the record as you may read it; null for an approver who may "
                "not open it (then from_state is null too)",
            },
            "tasks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["step", "approver", "status"],
                    "properties": {
                        "step": {"type": "integer"},
                        "approver": {"type": ["string", "null"]},
                        "status": {"enum": ["pending", "approved", "rejected", "skipped"]},
                        "comment": {"type": ["string", "null"]},
                    },
                },
            },
        },
    },
    "approval_inbox": {
        "type": "object",
        "required": ["approvals"],
        "properties": {"approvals": {"type": "array", "items": {"type": "object"}}},
    },
}
_COMMENT_BODY = {
    "type": "object",
    "properties": {"comment": {"type": "string", "maxLength": 2000}},
    "additionalProperties": False,
}


_OPERATION_LIST = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["kind", "table", "description"],
        "properties": {
            "kind": {"type": "string"}, "table": {"type": "string"},
            "description": {"type": "string"},
        },
    },
}  # fmt: skip
_METADATA_ERRORS = {"401": _PROBLEM, "403": _PROBLEM, "422": _PROBLEM}
#: Managing metadata: for users whose roles have ``manage_metadata``.
_METADATA_PATHS: dict[str, Any] = {
    "/api/v1/metadata/versions": {
        "get": {
            "operationId": "metadata_versions",
            "summary": "Every metadata version applied: when, by whom, the plan it ran",
            "tags": ["metadata"],
            "responses": {
                "200": {"description": "newest first", **_json({
                    "type": "object", "required": ["versions"],
                    "properties": {"versions": {"type": "array", "items": {
                        "type": "object",
                        "required": ["id", "content_hash", "applied_at", "applied_by", "plan"],
                        "properties": {
                            "id": {"type": "integer"}, "content_hash": {"type": "string"},
                            "applied_at": {"type": "string", "format": "date-time"},
                            "applied_by": {"type": "string"}, "plan": {"type": "object"},
                        },
                    }}},
                })},
                **_METADATA_ERRORS,
            },
        }
    },
    "/api/v1/metadata/plan": {
        "get": {
            "operationId": "metadata_plan",
            "summary": "What applying the packs on disk would change, and what would stop it",
            "tags": ["metadata"],
            "responses": {
                "200": {"description": "the pending plan", **_json({
                    "type": "object",
                    "required": ["serving", "content_hash", "changes", "operations", "refusals"],
                    "properties": {
                        "serving": {"type": "string"}, "content_hash": {"type": "string"},
                        "changes": {"type": "boolean"}, "operations": _OPERATION_LIST,
                        "refusals": {"type": "array", "items": {"type": "string"}},
                    },
                })},
                **_METADATA_ERRORS,
            },
        }
    },
    "/api/v1/metadata/apply": {
        "post": {
            "operationId": "apply_metadata",
            "summary": "Apply the packs on disk: validate, migrate, serve (audited)",
            "tags": ["metadata"],
            "responses": {
                "200": {"description": "the version applied", **_json({
                    "type": "object",
                    "required": ["id", "content_hash", "applied_at", "applied_by", "operations"],
                    "properties": {
                        "id": {"type": "integer"}, "content_hash": {"type": "string"},
                        "applied_at": {"type": "string", "format": "date-time"},
                        "applied_by": {"type": "string"},
                        "operations": {"type": "array", "items": {"type": "string"}},
                    },
                })},
                "409": _PROBLEM,
                **_METADATA_ERRORS,
            },
        }
    },
}  # fmt: skip


def _approval_paths(compiled: CompiledSchema) -> dict[str, Any]:
    """The approver's inbox and decisions, and submitting records of objects that have an
    approval process."""
    errors = {"400": _PROBLEM, "401": _PROBLEM, "403": _PROBLEM, "404": _PROBLEM}
    approval_id = {
        "name": "approval_id", "in": "path", "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }  # fmt: skip
    decision = {
        "name": "decision", "in": "path", "required": True,
        "schema": {"enum": ["approve", "reject", "recall"]},
    }  # fmt: skip
    approval = {"description": "the approval and its tasks", **_json(_ref("approval"))}
    paths: dict[str, Any] = {
        "/api/v1/approvals/inbox": {
            "get": {
                "operationId": "approval_inbox",
                "summary": "Approvals awaiting your decision",
                "tags": ["approvals"],
                "responses": {
                    "200": {"description": "oldest first", **_json(_ref("approval_inbox"))},
                    **errors,
                },
            }
        },
        "/api/v1/approvals/{approval_id}": {
            "parameters": [approval_id],
            "get": {
                "operationId": "get_approval",
                "summary": "An approval with its tasks",
                "tags": ["approvals"],
                "responses": {"200": approval, **errors},
            },
        },
        "/api/v1/approvals/{approval_id}/{decision}": {
            "parameters": [approval_id, decision],
            "post": {
                "operationId": "decide_approval",
                "summary": "Approve or reject (approvers), or recall (the submitter)",
                "tags": ["approvals"],
                "requestBody": {"required": False, **_json(_COMMENT_BODY)},
                "responses": {
                    "200": approval, "409": _PROBLEM, "413": _PROBLEM, "422": _PROBLEM, **errors,
                },
            },
        },
    }  # fmt: skip
    paths["/api/v1/notifications"] = {
        "get": {
            "operationId": "notifications",
            "summary": "Your in-app notifications, unread first",
            "tags": ["notifications"],
            "responses": {
                "200": {
                    "description": "notifications",
                    **_json(
                        {
                            "type": "object",
                            "required": ["notifications"],
                            "properties": {
                                "notifications": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["id", "subject", "body", "created_at"],
                                        "properties": {
                                            "id": {"type": "string", "format": "uuid"},
                                            "subject": {"type": "string"},
                                            "body": {"type": "string"},
                                            "object": {"type": ["string", "null"]},
                                            "record_id": {"type": ["string", "null"]},
                                            "source": {"type": ["string", "null"]},
                                            "created_at": {"type": "string", "format": "date-time"},
                                            "read_at": {
                                                "type": ["string", "null"],
                                                "format": "date-time",
                                            },
                                        },
                                    },
                                }
                            },
                        }
                    ),
                },
                **errors,
            },
        }
    }
    paths["/api/v1/notifications/{notification_id}/read"] = {
        "parameters": [
            {
                "name": "notification_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "format": "uuid"},
            }
        ],
        "post": {
            "operationId": "read_notification",
            "summary": "Mark one of your notifications read",
            "tags": ["notifications"],
            "responses": {"204": {"description": "marked read"}, **errors},
        },
    }
    for name in sorted({p.object for p in compiled.schema.approvals.values()}):
        processes = [p.name for p in compiled.schema.approvals.values() if p.object == name]
        paths[f"/api/v1/objects/{name}/records/{{record_id}}/approvals"] = {
            "parameters": [{
                "name": "record_id", "in": "path", "required": True,
                "schema": {"type": "string", "format": "uuid"},
            }],
            "post": {
                "operationId": f"submit_{name}",
                "summary": f"Submit a {name} record for approval",
                "tags": [name],
                "requestBody": {"required": True, **_json({
                    "type": "object", "required": ["process"],
                    "properties": {
                        "process": {"enum": processes},
                        "comment": {"type": "string", "maxLength": 2000},
                    },
                    "additionalProperties": False,
                })},
                "responses": {
                    "201": {"description": "the approval", **_json(_ref("approval"))},
                    "409": _PROBLEM, "413": _PROBLEM, "422": _PROBLEM, **errors,
                },
            },
        }  # fmt: skip
    return paths


_FILE_PATHS = {
    "/api/v1/files": {
        "post": {
            "operationId": "upload_file",
            "summary": "Upload a file, to attach by id in a create or update",
            "tags": ["files"],
            "requestBody": {
                "required": True,
                "content": _FILE_PART,
            },
            "responses": {
                "201": {
                    "description": "the kept file",
                    **_json(
                        {
                            "type": "object",
                            "required": ["id", "name", "content_type", "size"],
                            "properties": {
                                "id": {"type": "string"},
                                "name": {"type": "string"},
                                "content_type": {"type": "string"},
                                "size": {"type": "integer"},
                            },
                        }
                    ),
                },
                "400": _PROBLEM,
                "401": _PROBLEM,
                "403": _PROBLEM,
                "413": _PROBLEM,
                "422": _PROBLEM,
            },
        }
    }
}


def openapi_document(compiled: CompiledSchema, locale: str = "en") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every object of ``compiled``."""
    schemas: dict[str, Any] = {
        "problem": _PROBLEM_SCHEMA,
        "import_report": _IMPORT_REPORT_SCHEMA,
        "bulk_result": _BULK_RESULT_SCHEMA,
        "history": _HISTORY_SCHEMA,
        "share": _SHARE_SCHEMA,
        "share_input": _SHARE_INPUT_SCHEMA,
        "shares": {
            "type": "object",
            "required": ["shares"],
            "properties": {"shares": {"type": "array", "items": _ref("share")}},
        },
        "transitions": _TRANSITIONS_SCHEMA,
        "revealed": {
            "type": "object",
            "required": ["field", "value"],
            "properties": {"field": {"type": "string"}, "value": {}},
        },
    }
    schemas.update(_APPROVAL_SCHEMAS)
    paths: dict[str, Any] = _approval_paths(compiled)
    paths.update(_METADATA_PATHS)
    paths.update(_FILE_PATHS)
    for name, cobj in compiled.objects.items():
        schemas.update(_object_schemas(compiled, name, locale))
        title = cobj.obj.label.get(locale) or cobj.obj.label["en"]
        paths.update(_paths(name, title))
        paths.update(_more_record_paths(compiled, name, title))
        paths.update(_transfer_paths(name, title))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "metacrm API",
            "version": compiled.content_hash[:12],
            "description": "Generated from the installed packs: "
            + ", ".join(f"{p.name} {p.version}" for p in compiled.schema.packs),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "metacrm_session"},
            },
        },
        "security": [{"token": []}, {"session": []}],
    }
