"""Request ids, one structured access-log line per request, and 500s that say which request.

Every response carries ``X-Request-ID`` (the caller's, when it sent a sane one, so a
request can be followed through a proxy; else a new one). The access log and any error
log name the same id, and a 500's problem body quotes it, so a user's report ("it said
request 3f2a…") leads straight to the log line and its stack trace.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from engine.api.problems import problem, request_locale

__all__ = [
    "REQUEST_ID_HEADER",
    "JsonLogFormatter",
    "RequestIdMiddleware",
    "internal_error_handler",
    "request_id",
]

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
access_log = logging.getLogger("metacrm.access")
error_log = logging.getLogger("metacrm.error")
#: LogRecord attributes that are plumbing, not context worth a JSON key.
_PLUMBING = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


def request_id(scope: Scope | Request[Any, Any, Any]) -> str:
    """The id of the request this scope belongs to ("" outside a request)."""
    raw = scope.scope if isinstance(scope, Request) else scope
    return str(raw.get("state", {}).get("request_id", ""))


class RequestIdMiddleware:
    """Pure ASGI middleware, outermost, so it times and names everything inside it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        rid = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            user = scope.get("user")
            access_log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "request_id": rid,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "user": getattr(user, "user_id", None),
                    "client": (scope.get("client") or (None,))[0],  # as trusted proxies say
                },
            )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Anything unexpected: log it with the request id, answer a problem that quotes it."""
    rid = request_id(request)
    error_log.error("unhandled error", exc_info=exc, extra={"request_id": rid})
    return problem(
        500,
        "internal_error",
        request_locale(request),
        detail=f"quote request id {rid} when you report this",
        request_id=rid,
    )


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's context."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update((k, v) for k, v in vars(record).items() if k not in _PLUMBING)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return msgspec.json.encode(entry, enc_hook=str).decode()
