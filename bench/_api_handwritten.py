"""The baseline for bench/api.py: what a developer would write by hand for the ``deal`` table.

Litestar + SQLAlchemy Core on the very table and database file the generated API uses,
with the same uvicorn settings, the same thread-pool handlers (``sync_to_thread``), and the
same authentication work (a bearer token looked up by its SHA-256 in ``api_tokens`` joined
to ``users``), so the comparison measures what the metadata engine adds, not a different
server stack. Reads go through ``Database.read`` (a plain deferred transaction, as
SQLite's own driver reads; the engine reads so too), writes through ``engine.begin``. It
does the minimum an honest endpoint does: parse the JSON, check the required lookup and
the picklist, insert a row with id, owner, timestamps and version, and return it; read by
id; update with ``If-Match`` (412 when stale), the version bumped in the same guarded
UPDATE; and a filtered page in id order with a next cursor. It does not do what the
engine does on top (autonumber, formulas, validation rules, lookup existence
checks, field history, audit, outbox, row permissions) — that is the cost being measured.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from litestar import Litestar, Request, Response, get, patch, post
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    ValidationException,
)

from engine.storage.database import Database
from engine.storage.tables import CompiledTables

__all__ = ["handwritten_app"]

_STAGES = frozenset({"open", "won", "lost"})


def handwritten_app(db: Database, tables: CompiledTables) -> Litestar:
    """The three deal endpoints, bound to ``db`` and the compiled ``deal`` table."""
    deals = tables["deal"]
    tokens = tables.system["api_tokens"]
    users = tables.system["users"]
    engine = db.engine

    def authenticate(request: Request[Any, Any, Any]) -> str:
        """The caller's user id: the same indexed digest lookup the engine makes."""
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            raise NotAuthorizedException("send a bearer token")
        digest = hashlib.sha256(header[7:].strip().encode()).hexdigest()
        now = dt.datetime.now(dt.UTC)
        query = (
            sa.select(users.c.id)
            .join(tokens, tokens.c.user_id == users.c.id)
            .where(
                tokens.c.token_hash == digest,
                tokens.c.revoked_at.is_(None),
                sa.or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now),
                users.c.disabled.is_(False),
            )
        )
        with db.read() as conn:
            user_id = conn.execute(query).scalar()
        if user_id is None:
            raise NotAuthorizedException("unknown token")
        return str(user_id)

    @get("/deals/{record_id:str}", sync_to_thread=True)
    def get_deal(request: Request[Any, Any, Any], record_id: str) -> dict[str, Any]:
        authenticate(request)
        with db.read() as conn:
            row = conn.execute(
                sa.select(deals).where(deals.c.id == record_id, deals.c.archived.is_(False))
            ).first()
        if row is None:
            raise NotFoundException(f"no deal {record_id}")
        return dict(row._mapping)

    @post("/deals", sync_to_thread=True, status_code=201)
    def create_deal(request: Request[Any, Any, Any], data: dict[str, Any]) -> dict[str, Any]:
        user_id = authenticate(request)
        if not isinstance(data.get("customer"), str):
            raise ValidationException("customer is required")
        stage = data.get("stage", "open")
        if stage not in _STAGES:
            raise ValidationException("stage must be open, won or lost")
        try:
            amount = None if data.get("amount") is None else Decimal(str(data["amount"]))
        except InvalidOperation as exc:
            raise ValidationException("amount must be a number") from exc
        now = dt.datetime.now(dt.UTC)
        row = {
            "id": str(uuid.uuid4()),
            "owner": user_id,
            "created_at": now,
            "created_by": user_id,
            "updated_at": now,
            "updated_by": user_id,
            "version": 1,
            "archived": False,
            "customer": data["customer"],
            "stage": stage,
            "amount": amount,
            "note": data.get("note"),
        }
        with engine.begin() as conn:
            conn.execute(deals.insert().values(row))
        return row

    @patch("/deals/{record_id:str}", sync_to_thread=True)
    def update_deal(
        request: Request[Any, Any, Any], record_id: str, data: dict[str, Any]
    ) -> Response[Any]:
        user_id = authenticate(request)
        changes: dict[str, Any] = {}
        if "stage" in data:
            if data["stage"] not in _STAGES:
                raise ValidationException("stage must be open, won or lost")
            changes["stage"] = data["stage"]
        if "amount" in data:
            try:
                changes["amount"] = Decimal(str(data["amount"]))
            except InvalidOperation as exc:
                raise ValidationException("amount must be a number") from exc
        if "note" in data:
            changes["note"] = data["note"]
        if_match = request.headers.get("if-match")
        with engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE, the row cannot move under us
            row = conn.execute(
                sa.select(deals).where(deals.c.id == record_id, deals.c.archived.is_(False))
            ).first()
            if row is None:
                raise NotFoundException(f"no deal {record_id}")
            version = row.version
            if if_match and if_match.strip('W/"') != str(version):
                raise HTTPException(status_code=412, detail=f"the deal is at version {version}")
            changes.update(
                version=version + 1, updated_at=dt.datetime.now(dt.UTC), updated_by=user_id
            )
            done = conn.execute(
                sa.update(deals)
                .where(deals.c.id == record_id, deals.c.version == version)
                .values(changes)
            ).rowcount
            if done != 1:  # PostgreSQL: another writer got in since the read
                raise HTTPException(status_code=409, detail="the deal changed meanwhile")
        record = dict(row._mapping) | changes
        return Response(record, headers={"ETag": f'"{record["version"]}"'})

    @get("/deals", sync_to_thread=True)
    def list_deals(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """``?stage=open&amount__gte=100&limit=20``: equality and ``__gte`` filters."""
        authenticate(request)
        params = dict(request.query_params)
        limit = min(int(params.pop("limit", 50)), 500)
        cursor = params.pop("cursor", None)
        query = sa.select(deals).where(deals.c.archived.is_(False))
        for key, raw in params.items():
            name, _, op = key.partition("__")
            if name not in deals.c:
                raise ValidationException(f"unknown field {name}")
            column = deals.c[name]
            value: Any = Decimal(raw) if name == "amount" else raw
            query = query.where(column >= value if op == "gte" else column == value)
        if cursor:
            query = query.where(deals.c.id > cursor)
        with db.read() as conn:
            rows = conn.execute(query.order_by(deals.c.id).limit(limit)).all()
        records = [dict(r._mapping) for r in rows]
        next_cursor = records[-1]["id"] if len(records) == limit else None
        return {"records": records, "next_cursor": next_cursor}

    @get("/healthz", sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    def server_error(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        return Response({"detail": repr(exc)}, status_code=500)

    return Litestar(
        route_handlers=[get_deal, create_deal, update_deal, list_deals, healthz],
        exception_handlers={sa.exc.SQLAlchemyError: server_error},
        openapi_config=None,
    )
