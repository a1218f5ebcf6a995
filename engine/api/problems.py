"""Errors as RFC 9457 problem details (``application/problem+json``), in the caller's language.

Record errors become problems here and nowhere else: 422 with every field error for a
failed validation, 404 for a record that does not exist or may not be seen (the two are
never told apart), 409 with the current version on a conflict, 412 when ``If-Match``
does not match, 400 for a list request that cannot run. What they carry was made safe
for the caller before it got here: a field error's ``value`` is the caller's own input,
a conflict's fields are those the caller may read.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from engine.records import (
    BadQuery,
    Forbidden,
    NotFound,
    RecordError,
    ValidationFailed,
    VersionConflict,
    WriteCollision,
)
from engine.records.effects import jsonable
from metadata.model.common import LOCALES

__all__ = [
    "PROBLEM_JSON",
    "PreconditionFailed",
    "http_error_handler",
    "problem",
    "record_error_handler",
    "request_locale",
]

PROBLEM_JSON = "application/problem+json"
_TYPE = "https://metacrm.dev/problems/"
_TITLES = {
    "validation_failed": {"en": "The record is not valid", "zh-CN": "记录未通过校验"},
    "not_found": {"en": "Not found", "zh-CN": "未找到"},
    "version_conflict": {
        "en": "Someone else changed this record",
        "zh-CN": "该记录已被他人修改",
    },
    "precondition_failed": {
        "en": "The record changed since you read it",
        "zh-CN": "记录在读取后已被修改",
    },
    "bad_query": {"en": "The request cannot be run", "zh-CN": "请求无法执行"},
    "internal_error": {"en": "Something went wrong on our side", "zh-CN": "服务器内部错误"},
    "write_collision": {
        "en": "Another change happened at the same moment; try again",
        "zh-CN": "有其他修改同时发生，请重试",
    },
    "unimportable_file": {"en": "The file cannot be imported", "zh-CN": "文件无法导入"},
    "invalid_metadata": {"en": "The packs have errors", "zh-CN": "元数据包存在错误"},
    "migration_refused": {
        "en": "The change would lose data and was not applied",
        "zh-CN": "该变更会丢失数据，未予应用",
    },
    "migration_failed": {"en": "The database refused the change", "zh-CN": "数据库拒绝了该变更"},
}


class PreconditionFailed(RecordError):
    """``If-Match`` named a version that is not the current one."""

    code = "precondition_failed"

    def __init__(self, current: int):
        self.current = current
        super().__init__(f"current version is {current}")


def request_locale(request: Request[Any, Any, Any]) -> str:
    """The best shipped locale for ``Accept-Language`` (``zh``, ``zh-CN`` → zh-CN)."""
    header = request.headers.get("accept-language", "")
    ranked = []
    for part in header.split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((weight, tag.strip().lower()))
    for _, tag in sorted(ranked, key=lambda t: -t[0]):
        for locale in LOCALES:
            if tag == locale.lower() or tag.split("-")[0] == locale.lower().split("-")[0]:
                return locale
    actor = request.scope.get("user")
    return getattr(actor, "locale", "en") if actor is not None else "en"


def problem(status: int, code: str, locale: str, detail: str = "", **extra: Any) -> Response[Any]:
    title = _TITLES.get(code, {}).get(locale) or _TITLES.get(code, {}).get("en") or code
    body = {"type": _TYPE + code, "title": title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON)


_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "malformed",
    429: "too_many_requests",
}
_TITLES.update(
    {
        "not_authenticated": {
            "en": "Sign in or send a valid API token",
            "zh-CN": "请登录或提供有效的API令牌",
        },
        "forbidden": {"en": "Not allowed", "zh-CN": "无权执行此操作"},
        "too_large": {"en": "The request body is too large", "zh-CN": "请求内容过大"},
        "malformed": {"en": "The request body is malformed", "zh-CN": "请求内容格式错误"},
        "bad_request": {"en": "Bad request", "zh-CN": "请求无效"},
        "uri_too_long": {"en": "The URL is too long", "zh-CN": "请求地址过长"},
        "too_deep": {"en": "The JSON nests too deep", "zh-CN": "JSON嵌套层级过深"},
        "too_many_rows": {"en": "Too many records in one request", "zh-CN": "单次请求的记录过多"},
        "idempotency_key_reused": {
            "en": "Idempotency-Key reused for another request",
            "zh-CN": "幂等键已用于其他请求",
        },
        "request_in_progress": {
            "en": "The same request is still running",
            "zh-CN": "相同请求仍在处理中",
        },
    }
)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Framework errors (authentication, body size, malformed JSON) as problem details too.

    Litestar reports a body that does not decode as 400; it is a malformed body, so 422.
    """
    status = exc.status_code
    malformed = any(word in str(exc.detail) for word in ("malformed", "decode"))
    if isinstance(exc, ValidationException) or (status == 400 and malformed):
        status = 422
    code = _HTTP_CODES.get(status, "error")
    extra = {"errors": exc.extra} if isinstance(exc.extra, list) and exc.extra else {}
    if status == 413:  # the route's own body limit, so the caller knows what fits
        extra["limit"] = request.route_handler.resolve_request_max_body_size()
    response = problem(status, code, request_locale(request), detail=str(exc.detail), **extra)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def record_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Map the record service's errors to problem details."""
    locale = request_locale(request)
    if isinstance(exc, ValidationFailed):
        errors = [
            {
                "field": e.field,
                "rule": e.rule,
                "code": e.code,
                "message": e.text(locale),
                "value": jsonable(e.value),
            }
            for e in exc.errors
        ]
        return problem(422, exc.code, locale, errors=errors)
    if isinstance(exc, NotFound):
        return problem(404, exc.code, locale)
    if isinstance(exc, Forbidden):
        return problem(403, exc.code, locale, detail=exc.text(locale))
    if isinstance(exc, VersionConflict):
        return problem(
            409, exc.code, locale, current_version=exc.current, changed_fields=exc.changed_fields
        )
    if isinstance(exc, PreconditionFailed):
        return problem(412, exc.code, locale, current_version=exc.current)
    if isinstance(exc, WriteCollision):
        return problem(409, exc.code, locale, detail="a concurrent change collided; retry")
    if isinstance(exc, BadQuery):
        return problem(400, exc.code, locale, detail=str(exc))
    return problem(400, getattr(exc, "code", "bad_request"), locale, detail=str(exc))
