"""Health, readiness, the metadata API, and the OpenAPI document with an offline docs page."""

from __future__ import annotations

import base64
import hashlib
import html
from typing import Any

import msgspec
import sqlalchemy as sa
from litestar import Request, Response, get
from litestar.status_codes import HTTP_304_NOT_MODIFIED, HTTP_503_SERVICE_UNAVAILABLE

from engine.api.auth import require_scope
from engine.api.openapi import openapi_document
from engine.api.problems import request_locale
from engine.api.runtime import Runtime
from engine.auth import Scope

__all__ = ["SYSTEM_ROUTES"]


def _runtime(request: Request[Any, Any, Any]) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@get("/readyz", sync_to_thread=True)
def readyz(request: Request[Any, Any, Any]) -> Response[Any]:
    """The database answers and holds the schema this server serves."""
    runtime = _runtime(request)
    snapshot = runtime.snapshot
    versions = snapshot.compiled.tables.system["schema_versions"]
    try:
        with runtime.db.read() as conn:
            applied = conn.execute(
                sa.select(versions.c.content_hash).order_by(versions.c.id.desc()).limit(1)
            ).scalar()
    except sa.exc.SQLAlchemyError as exc:
        return Response(
            {"status": "database unreachable", "detail": str(exc.__class__.__name__)},
            status_code=HTTP_503_SERVICE_UNAVAILABLE,
        )
    if applied != snapshot.content_hash:
        return Response(
            {"status": "schema out of sync", "serving": snapshot.content_hash, "database": applied},
            status_code=HTTP_503_SERVICE_UNAVAILABLE,
        )
    return Response({"status": "ready", "schema": snapshot.content_hash})


@get("/api/v1/metadata", sync_to_thread=False, guards=[require_scope(Scope.METADATA_READ)])
def metadata(request: Request[Any, Any, Any]) -> Response[Any]:
    """The resolved schema for client apps; ``ETag`` is its content hash."""
    snapshot = _runtime(request).snapshot
    etag = f'"{snapshot.content_hash}"'
    if request.headers.get("if-none-match") == etag:
        return Response(None, status_code=HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    body = msgspec.to_builtins(snapshot.compiled.schema)
    return Response(body, headers={"ETag": etag, "Cache-Control": "no-cache"})


@get("/api/v1/openapi.json", sync_to_thread=False)
def openapi(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return openapi_document(_runtime(request).snapshot.compiled, request_locale(request))


_DOCS_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}"
    "td{padding:.2rem .6rem;border-bottom:1px solid #ddd}"
)
#: The page's one inline style is allowed by its hash; nothing else may run or load.
_DOCS_POLICY = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(_DOCS_STYLE.encode()).digest()).decode()
    + "'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@get("/api/v1/docs", sync_to_thread=False, media_type="text/html")
def docs(request: Request[Any, Any, Any]) -> Response[str]:
    """A plain page of every operation and schema: works with no internet access."""
    document = openapi_document(_runtime(request).snapshot.compiled, request_locale(request))
    esc = html.escape
    rows = []
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            rows.append(
                f"<tr><td><code>{esc(method.upper())}</code></td>"
                f"<td><code>{esc(path)}</code></td><td>{esc(op['summary'])}</td></tr>"
            )
    schemas = []
    for name, schema in document["components"]["schemas"].items():
        props = "".join(
            f"<li><code>{esc(k)}</code> {esc(str(v.get('type', 'any')))}"
            f"{' — ' + esc(v['title']) if 'title' in v else ''}</li>"
            for k, v in schema.get("properties", {}).items()
        )
        schemas.append(f"<section><h3 id='{esc(name)}'>{esc(name)}</h3><ul>{props}</ul></section>")
    page = (
        "<!doctype html><html lang='en'><meta charset='utf-8'>"
        f"<title>{esc(document['info']['title'])}</title><style>{_DOCS_STYLE}</style>"
        f"<h1>{esc(document['info']['title'])}</h1>"
        f"<p>{esc(document['info']['description'])}. Machine-readable: "
        "<a href='/api/v1/openapi.json'>openapi.json</a>.</p>"
        f"<table>{''.join(rows)}</table><h2>Schemas</h2>{''.join(schemas)}</html>"
    )
    return Response(page, media_type="text/html", headers={"Content-Security-Policy": _DOCS_POLICY})


SYSTEM_ROUTES = [healthz, readyz, metadata, openapi, docs]
