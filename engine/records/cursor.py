"""Keyset cursors: the last row's sort values and id, as an opaque URL-safe token.

A cursor comes back from the client, so it is input like any other. Decoding checks that
it holds one value per sort key, each of its column's type (null only where the column
allows it), and refuses anything else, so the database never meets a forged value of
the wrong type (PostgreSQL would fail the query on a text where a uuid or a date goes).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
import re
from typing import Any

import sqlalchemy as sa

from engine.storage.columns import ID_TYPE, UTCDateTime

__all__ = ["InvalidCursor", "decode_cursor", "encode_cursor"]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_INT_BITS = {sa.SmallInteger: 15, sa.BigInteger: 63, sa.Integer: 31}


class InvalidCursor(ValueError):
    """The cursor is not one this list gave out; the message says what is wrong."""


def encode_cursor(values: list[Any]) -> str:
    """The token for a row's sort values (dates, times, decimals and JSON tagged by type)."""

    def plain(v: Any) -> Any:
        if isinstance(v, dict | list):
            return {"j": v}
        if isinstance(v, decimal.Decimal):
            return {"d": str(v)}
        if isinstance(v, dt.datetime):
            return {"t": v.isoformat()}
        if isinstance(v, dt.date):
            return {"D": v.isoformat()}
        if isinstance(v, dt.time):
            return {"T": v.isoformat()}
        return v

    raw = json.dumps([plain(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, columns: list[sa.Column[Any]]) -> list[Any]:
    """The values of a cursor for a list sorted on ``columns`` (the id last).

    Raises:
        InvalidCursor: Not a cursor, one for another sort order, or a value that does
            not fit its column.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, binascii.Error, RecursionError):
        raise InvalidCursor("the cursor is not valid; use the next_cursor of a page") from None
    if not isinstance(values, list):
        raise InvalidCursor("the cursor is not valid; use the next_cursor of a page")
    if len(values) != len(columns):
        raise InvalidCursor("the cursor belongs to another sort order")
    typed = []
    for column, value in zip(columns, values, strict=True):
        try:
            typed.append(_typed(column, value))
        except (ValueError, TypeError, ArithmeticError):
            raise InvalidCursor(
                f"the cursor's value for {column.name} is not valid; use the next_cursor of a page"
            ) from None
    return typed


def _typed(column: sa.Column[Any], value: Any) -> Any:
    """``value`` as ``column`` holds it; ValueError when it cannot hold it."""
    if value is None:
        if not column.nullable:
            raise ValueError(column.name)
        return None
    kind = column.type
    if isinstance(value, dict) and len(value) == 1:
        ((tag, text),) = value.items()
        if tag == "j" and isinstance(kind, sa.JSON) and isinstance(text, dict | list):
            return text  # a json, address, geolocation or multi-picklist column's value
        if not isinstance(text, str):
            raise ValueError(column.name)
        if tag == "d" and isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
            number = decimal.Decimal(text)
            if not number.is_finite():
                raise ValueError(column.name)
            return number
        if tag == "t" and isinstance(kind, UTCDateTime | sa.DateTime):
            moment = dt.datetime.fromisoformat(text)
            if isinstance(kind, UTCDateTime) and moment.tzinfo is None:
                raise ValueError(column.name)
            return moment
        if tag == "D" and isinstance(kind, sa.Date):
            return dt.date.fromisoformat(text)
        if tag == "T" and isinstance(kind, sa.Time):
            return dt.time.fromisoformat(text)
        raise ValueError(column.name)
    if kind is ID_TYPE:
        if isinstance(value, str) and _UUID.fullmatch(value):
            return value
    elif isinstance(kind, sa.Boolean):
        if isinstance(value, bool):
            return value
    elif isinstance(kind, sa.Integer):
        bits = next(b for t, b in _INT_BITS.items() if isinstance(kind, t))
        if type(value) is int and -(2**bits) <= value < 2**bits:
            return value
    elif isinstance(kind, sa.Float):
        if type(value) in (int, float) and abs(value) != float("inf") and value == value:
            return value
    elif isinstance(kind, sa.String) and isinstance(value, str) and "\x00" not in value:
        return value
    raise ValueError(column.name)
