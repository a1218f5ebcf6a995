"""``Idempotency-Key`` on POST: a retried request gets the first answer, never a second record.

The key is claimed in the database before the work runs (so a second server sees it),
and the answer is stored when the work succeeds. A retry while the first attempt runs
gets 409; the same key with a different request gets 422; a failed attempt releases the
key so the client can retry. Keys are per user and kept for a day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

import msgspec
import sqlalchemy as sa
from litestar import Request, Response

from engine.api.problems import problem, request_locale
from engine.records.effects import jsonable
from engine.storage.database import Database

__all__ = ["HEADER", "run_once"]

HEADER = "idempotency-key"
KEEP = dt.timedelta(days=1)


def run_once(
    request: Request[Any, Any, Any],
    db: Database,
    table: sa.Table,
    body: Any,
    work: Callable[[], Response[Any]],
) -> Response[Any]:
    """Run ``work`` unless this user already sent this ``Idempotency-Key``.

    ``body`` is the decoded request body; it is compared in canonical JSON form, so the
    same request sent with keys in another order is the same request.
    """
    key = request.headers.get(HEADER)
    if not key:
        return work()
    user = str(getattr(request.user, "user_id", None) or "")
    canonical = msgspec.json.encode(jsonable(body), order="sorted")
    digest = hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + canonical
    ).hexdigest()
    where = sa.and_(table.c.user_id == user, table.c.key == key[:200])
    now = dt.datetime.now(dt.UTC)
    try:
        with db.engine.begin() as conn:
            conn.execute(sa.delete(table).where(where, table.c.created_at < now - KEEP))
            row = conn.execute(sa.select(table).where(where)).mappings().first()
            if row is None:
                conn.execute(
                    sa.insert(table).values(
                        user_id=user, key=key[:200], request_hash=digest, created_at=now
                    )
                )
    except sa.exc.IntegrityError:
        # Another server claimed the key between our read and our insert.
        row = {"request_hash": digest, "status_code": None}
    locale = request_locale(request)
    if row is not None:
        if row["request_hash"] != digest:
            return problem(
                422,
                "idempotency_key_reused",
                locale,
                detail="this Idempotency-Key was used for a different request",
            )
        if row["status_code"] is None:
            return problem(
                409,
                "request_in_progress",
                locale,
                detail="a request with this Idempotency-Key is still running",
            )
        headers = dict(row["headers"] or {})
        headers["Idempotent-Replayed"] = "true"
        return Response(row["response"], status_code=row["status_code"], headers=headers)
    try:
        response = work()
    except BaseException:
        with db.engine.begin() as conn:
            conn.execute(sa.delete(table).where(where))
        raise
    kept = {k: v for k, v in response.headers.items() if k.lower() in ("etag", "location")}
    with db.engine.begin() as conn:
        conn.execute(
            sa.update(table)
            .where(where)
            .values(
                status_code=response.status_code, response=jsonable(response.content), headers=kept
            )
        )
    return response
