"""What the API accepts before it does any work: URL length, body size, JSON nesting, rows.

Each limit is checked before the input is parsed, so a hostile request costs a scan and
gets a 4xx problem that names the limit (``limit`` in the body), never a parser's crash:

- a URL (path and query string) longer than ``MAX_URL_BYTES`` is 414;
- a body longer than its route allows is 413: ``MAX_BODY_BYTES`` for JSON routes,
  ``MAX_BULK_BODY_BYTES`` for bulk writes and CSV imports, file uploads their own limit;
- JSON (a body, or the ``filter`` of a list) nested deeper than ``MAX_JSON_DEPTH`` is 400;
- a bulk write of more than ``MAX_BULK_ROWS`` records is 413.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Receive, Scope, Send

from engine.api.problems import problem, request_locale

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_BULK_BODY_BYTES",
    "MAX_BULK_ROWS",
    "MAX_JSON_DEPTH",
    "MAX_URL_BYTES",
    "LimitExceeded",
    "LimitedRequest",
    "UrlLimitMiddleware",
    "check_json_depth",
    "limit_error_handler",
]

#: Path and query string together. Proxies and uvicorn refuse request heads of 8-16 KiB
#: with a bare 400, so under this the caller gets a problem body naming the limit instead.
MAX_URL_BYTES = 8 * 1024
#: A JSON body: one record, a transition, a share, a sign-in. Room for the longest text a
#: field may declare (a million characters; of Chinese, 3 MB in UTF-8).
MAX_BODY_BYTES = 4 * 1024 * 1024
#: A bulk write's body, or a CSV file sent to an import.
MAX_BULK_BODY_BYTES = 10 * 1024 * 1024
#: Records in one bulk write (an import of more streams through in batches instead).
MAX_BULK_ROWS = 1000
#: Nesting of JSON arrays and objects. Records nest a few levels (a json field more); a
#: filter twice its rule depth. Decoders recurse per level, so the depth is bounded first.
MAX_JSON_DEPTH = 32

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
#: Opening brackets as +1 and closing ones as -1, once read as signed bytes.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


class LimitExceeded(HTTPException):
    """A request past one of this module's limits.

    Attributes:
        code: The problem code (``uri_too_long``, ``too_deep``, ``too_many_rows``).
        limit: The limit it went past, as the problem body's ``limit``.
    """

    def __init__(self, status: int, code: str, detail: str, limit: int) -> None:
        super().__init__(status_code=status, detail=detail)
        self.code = code
        self.limit = limit


def check_json_depth(text: bytes | str, what: str = "the JSON body") -> None:
    """Refuse JSON nested deeper than ``MAX_JSON_DEPTH`` without decoding it.

    Brackets inside strings do not count. Text that is not JSON passes through, for the
    decoder to refuse as malformed.

    Raises:
        LimitExceeded: 400 ``too_deep``, naming the limit.
    """
    raw = text.encode() if isinstance(text, str) else text
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return  # cannot nest deeper than it has brackets: most bodies stop here
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw)).translate(_STEPS)
    deepest = max(itertools.accumulate(memoryview(brackets).cast("b")), default=0)
    if deepest > MAX_JSON_DEPTH:
        raise LimitExceeded(
            400,
            "too_deep",
            f"{what} nests {deepest} levels deep; at most {MAX_JSON_DEPTH} are accepted",
            MAX_JSON_DEPTH,
        )


class LimitedRequest(Request[Any, Any, Any]):
    """The app's request class: its JSON body is checked for depth before it is decoded
    (the body's size is held to the route's limit as it is read)."""

    async def json(self) -> Any:
        check_json_depth(await self.body())
        return await super().json()


class UrlLimitMiddleware:
    """414 for a URL longer than ``MAX_URL_BYTES``, before authentication or routing work."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # the decoded path: some servers' raw_path carries the query string too
            size = len(scope["path"].encode()) + len(scope.get("query_string", b""))
            if size > MAX_URL_BYTES:
                raise LimitExceeded(
                    414,
                    "uri_too_long",
                    f"the URL is {size} bytes long; at most {MAX_URL_BYTES} are accepted",
                    MAX_URL_BYTES,
                )
        await self.app(scope, receive, send)


def limit_error_handler(request: Request[Any, Any, Any], exc: LimitExceeded) -> Response[Any]:
    """The problem of a request past a limit: its code, what was found, and the limit."""
    locale = request_locale(request)
    return problem(exc.status_code, exc.code, locale, detail=str(exc.detail), limit=exc.limit)
