"""Writing one chunk of import rows through the record service, row by row outcomes.

New records go through ``bulk_create`` without all-or-none, so good rows land and bad
ones come back with their errors. With an upsert key, rows whose key already exists
(or repeats inside the chunk) go through ``upsert`` instead, which updates, likewise
without all-or-none.
A failure the service raises for a whole call rather than per row (a unique constraint,
a refusal by the authorizer) is narrowed down by retrying that call's rows one by one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import sqlalchemy.exc

from engine.records import (
    Actor,
    FieldError,
    RecordError,
    RecordService,
    ValidationFailed,
    WriteOptions,
)
from engine.transfer.errors import row_error

__all__ = ["Outcome", "write_chunk"]

Row = dict[str, Any]
#: What a whole call can fail with; IntegrityError is a unique constraint the service
#: does not check itself (two rows of one file, or a concurrent writer).
_CALL_FAILURES = (RecordError, sqlalchemy.exc.IntegrityError)
_DEFAULT = WriteOptions()


@dataclass(frozen=True)
class Outcome:
    ok: bool
    created: bool = False
    errors: tuple[FieldError, ...] = ()
    #: A duplicate rule merged the row into an existing record.
    merged: bool = False
    #: Duplicate rules that warned of the row (``engine.records.duplicates.Duplicate``).
    warnings: tuple[Any, ...] = ()


def write_chunk(
    service: RecordService,
    object_name: str,
    rows: list[Row],
    actor: Actor,
    key: str | None,
    options: WriteOptions = _DEFAULT,
) -> list[Outcome]:
    """Write ``rows`` with ``options`` on every call; one outcome per row, in order."""
    outcomes: list[Outcome | None] = [None] * len(rows)
    if key is None:
        fresh, known = list(range(len(rows))), []
    else:
        fresh, known = _split(service, object_name, rows, actor, key)
    created = _create(service, object_name, [rows[i] for i in fresh], actor, key, options)
    upserted = _upsert(service, object_name, [rows[i] for i in known], actor, key, options)
    for i, outcome in [*zip(fresh, created, strict=True), *zip(known, upserted, strict=True)]:
        outcomes[i] = outcome
    return [o or Outcome(False) for o in outcomes]


def _split(
    service: RecordService, object_name: str, rows: list[Row], actor: Actor, key: str
) -> tuple[list[int], list[int]]:
    """Rows that surely create (key absent from the table and once in the chunk), and the rest."""
    for row in rows:
        if isinstance(row.get(key), str):
            row[key] = row[key].strip()
    values = sorted({row[key] for row in rows if row.get(key)})
    seen = Counter(row.get(key) for row in rows if row.get(key))
    existing: set[str] = set()
    cursor = None
    while values:
        page = service.list(
            object_name,
            actor,
            filter={"in": [{"var": key}, values]},
            fields=[key],
            limit=500,
            cursor=cursor,
        )
        existing.update(str(r[key]) for r in page.records)
        cursor = page.next_cursor
        if cursor is None:
            break
    fresh, known = [], []
    for i, row in enumerate(rows):
        value = row.get(key)
        (known if value and (value in existing or seen[value] > 1) else fresh).append(i)
    return fresh, known


def _create(
    service: RecordService,
    object_name: str,
    rows: list[Row],
    actor: Actor,
    key: str | None,
    options: WriteOptions,
) -> list[Outcome]:
    if not rows:
        return []
    try:
        results = service.bulk_create(
            object_name,
            rows,
            actor,
            options,
            all_or_none=False,
            keep_records=False,
            chunk_size=len(rows),
        )
    except _CALL_FAILURES:
        if key is not None:
            return _upsert(service, object_name, rows, actor, key, options)
        return [
            _one(lambda row: service.create_row(object_name, row, actor, options), row)
            for row in rows
        ]
    return [Outcome(r.ok, r.created, r.errors, r.merged, r.warnings) for r in results]


def _upsert(
    service: RecordService,
    object_name: str,
    rows: list[Row],
    actor: Actor,
    key: str | None,
    options: WriteOptions,
) -> list[Outcome]:
    if not rows:
        return []
    if len(rows) == 1:
        return [
            _one(
                lambda row: service.upsert(
                    object_name, [row], actor, key=key, options=options, all_or_none=False
                ),
                rows[0],
            )
        ]
    try:
        results = service.upsert(
            object_name, rows, actor, key=key, options=options, all_or_none=False
        )
    except _CALL_FAILURES:
        return [
            o for row in rows for o in _upsert(service, object_name, [row], actor, key, options)
        ]
    return [Outcome(r.ok, r.created, r.errors, r.merged, r.warnings) for r in results]


def _one(write: Any, row: Row) -> Outcome:
    """One row on its own: whatever the call raises becomes that row's error."""
    try:
        result = write(row)
    except ValidationFailed as exc:
        return Outcome(False, errors=tuple(exc.errors))
    except _CALL_FAILURES as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return Outcome(False, errors=(row_error("write_failed", detail=detail),))
    if isinstance(result, list):  # upsert's row results
        [r] = result
        return Outcome(r.ok, r.created, r.errors, r.merged, r.warnings)
    return Outcome(True, result.created, (), result.merged, result.warnings)
