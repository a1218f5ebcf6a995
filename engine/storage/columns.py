"""Which database column each field type becomes, on SQLite and PostgreSQL alike.

One registry entry per field type; PostgreSQL gets its native types through variants
(``jsonb``, ``text[]``, ``timestamptz`` via ``DateTime(timezone=True)``), so the same
metadata yields the same table shape on both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from metadata.model.fields import FieldType, FormulaResult, RollupFunction

__all__ = ["ID_TYPE", "JSON_TYPE", "UTCDateTime", "column_type", "rollup_type"]


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """A timestamp with time zone that always comes back aware, in UTC.

    PostgreSQL's ``timestamptz`` does this itself; SQLite stores text, so values are
    normalised to UTC on the way in and marked UTC on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; give a time zone")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_LIST_TYPE = sa.JSON().with_variant(postgresql.ARRAY(sa.String(63)), "postgresql")
#: Record ids: text with dashes on SQLite (what Python and rules see), native uuid on PostgreSQL.
ID_TYPE = sa.String(36).with_variant(sa.Uuid(as_uuid=False), "postgresql")


def _numeric(field: Any) -> sa.types.TypeEngine[Any]:
    return sa.Numeric(field.precision, field.scale, asdecimal=True)


def _formula(field: Any) -> sa.types.TypeEngine[Any]:
    result = FormulaResult(field.result_type)
    if result in (FormulaResult.DECIMAL, FormulaResult.CURRENCY, FormulaResult.PERCENT):
        return sa.Numeric(38, field.scale if field.scale is not None else 6, asdecimal=True)
    simple: dict[FormulaResult, sa.types.TypeEngine[Any]] = {
        FormulaResult.TEXT: sa.Text(),
        FormulaResult.INTEGER: sa.BigInteger(),
        FormulaResult.BOOLEAN: sa.Boolean(),
        FormulaResult.DATE: sa.Date(),
        FormulaResult.DATETIME: UTCDateTime(),
    }
    return simple[result]


def rollup_type(result: str) -> sa.types.TypeEngine[Any]:
    """The column of a rollup holding values of type ``result``
    (``ResolvedSchema.rollup_result``)."""
    if result == "integer":
        return sa.BigInteger()
    if result == "date":
        return sa.Date()
    if result == "datetime":
        return UTCDateTime()
    return sa.Numeric(38, 6, asdecimal=True)


def _rollup(field: Any) -> sa.types.TypeEngine[Any]:
    """A rollup's column where its aggregated field is not known: a count or a number."""
    return rollup_type("integer" if field.function == RollupFunction.COUNT else "decimal")


_TYPES: dict[FieldType, Callable[[Any], sa.types.TypeEngine[Any]]] = {
    FieldType.TEXT: lambda f: sa.String(f.max_length),
    FieldType.LONG_TEXT: lambda f: sa.Text(),
    FieldType.RICH_TEXT: lambda f: sa.Text(),
    FieldType.INTEGER: lambda f: sa.BigInteger(),
    FieldType.DECIMAL: _numeric,
    FieldType.CURRENCY: _numeric,
    FieldType.PERCENT: _numeric,
    FieldType.BOOLEAN: lambda f: sa.Boolean(),
    FieldType.DATE: lambda f: sa.Date(),
    FieldType.DATETIME: lambda f: UTCDateTime(),
    FieldType.TIME: lambda f: sa.Time(),
    FieldType.EMAIL: lambda f: sa.String(320),
    FieldType.PHONE: lambda f: sa.String(32),
    FieldType.URL: lambda f: sa.String(2048),
    FieldType.PICKLIST: lambda f: sa.String(63),
    FieldType.MULTI_PICKLIST: lambda f: _LIST_TYPE,
    FieldType.LOOKUP: lambda f: ID_TYPE,
    FieldType.MASTER_DETAIL: lambda f: ID_TYPE,
    FieldType.USER: lambda f: ID_TYPE,
    FieldType.FORMULA: _formula,
    FieldType.ROLLUP: _rollup,
    FieldType.AUTONUMBER: lambda f: sa.String(64),
    FieldType.JSON: lambda f: JSON_TYPE,
    FieldType.ATTACHMENT: lambda f: JSON_TYPE,
    FieldType.GEOLOCATION: lambda f: JSON_TYPE,
    FieldType.ADDRESS: lambda f: JSON_TYPE,
}


def column_type(field: Any) -> sa.types.TypeEngine[Any]:
    """The column type of ``field``."""
    return _TYPES[field.kind](field)
