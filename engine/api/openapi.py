"""OpenAPI 3.1 built from the compiled schema, so it changes the moment metadata does.

Each object gets a record schema (types and formats per field type, enums from
picklists, descriptions from labels), an input schema (what a client may send: no system
or computed fields; required fields required) and the generic paths instantiated for it.
"""

from __future__ import annotations

from typing import Any

from engine.compiled import CompiledSchema
from metadata.model.fields import FieldType, FormulaResult

__all__ = ["openapi_document"]

_STRING = {"type": "string"}
_DECIMAL = {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}
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
    FieldType.TIME: {"type": "string", "format": "time"},
    FieldType.EMAIL: {"type": "string", "format": "email"},
    FieldType.PHONE: {"type": "string", "description": "stored in E.164, e.g. +8613812345678"},
    FieldType.URL: {"type": "string", "format": "uri"},
    FieldType.LOOKUP: {"type": "string", "format": "uuid"},
    FieldType.MASTER_DETAIL: {"type": "string", "format": "uuid"},
    FieldType.USER: {"type": "string", "format": "uuid"},
    FieldType.AUTONUMBER: _STRING,
    FieldType.JSON: {},
    FieldType.ATTACHMENT: {},
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


def _field_schema(field: Any, locale: str) -> dict[str, Any]:
    if field.kind is FieldType.FORMULA:
        base = dict(_RESULT[FormulaResult(field.result_type)])
    elif field.kind is FieldType.ROLLUP and field.function == "count":
        base = {"type": "integer"}
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
    if field.help:
        base["description"] = field.help.get(locale) or field.help.get("en", "")
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
        schema = _field_schema(field, locale)
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
            "title": title,
            "properties": props,
            "required": list(_SYSTEM),
        },
        f"{name}_input": {
            "type": "object",
            "title": f"{title} (new)",
            "properties": inputs,
            "required": required,
            "additionalProperties": False,
        },
        f"{name}_patch": {
            "type": "object",
            "title": f"{title} (changes)",
            "properties": {**inputs, "version": _SYSTEM["version"]},
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
    query = [
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
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
        },
        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
        {"name": "fields", "in": "query", "schema": {"type": "string"}},
        {"name": "expand", "in": "query", "schema": {"type": "string"}},
        {"name": "count", "in": "query", "schema": {"type": "boolean"}},
    ]
    errors = {"400": _PROBLEM, "401": _PROBLEM, "404": _PROBLEM, "422": _PROBLEM}
    return {
        base: {
            "get": {
                "operationId": f"list_{name}",
                "summary": f"List {title}",
                "tags": [name],
                "parameters": query,
                "responses": {
                    "200": {"description": "a page", **_json(_ref(f"{name}_page"))},
                    **errors,
                },
            },
            "post": {
                "operationId": f"create_{name}",
                "summary": f"Create {title}",
                "tags": [name],
                "requestBody": {"required": True, **_json(_ref(f"{name}_input"))},
                "responses": {"201": {"description": "created", **_json(_ref(name))}, **errors},
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
                    **errors,
                },
            },
            "delete": {
                "operationId": f"delete_{name}",
                "summary": f"Delete {title}",
                "tags": [name],
                "responses": {"204": {"description": "deleted"}, **errors},
            },
        },
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
    },
}


def openapi_document(compiled: CompiledSchema, locale: str = "en") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every object of ``compiled``."""
    schemas: dict[str, Any] = {"problem": _PROBLEM_SCHEMA}
    paths: dict[str, Any] = {}
    for name, cobj in compiled.objects.items():
        schemas.update(_object_schemas(compiled, name, locale))
        paths.update(_paths(name, cobj.obj.label.get(locale) or cobj.obj.label["en"]))
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
