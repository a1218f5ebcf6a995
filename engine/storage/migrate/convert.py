"""Can a stored value become the new column type without losing anything? And what does it become.

A type change is allowed only when every stored value converts exactly. One converter per
kind of target column (text, integer, decimal, …) in a registry; each takes the old value
and returns the new one, or raises ``Unconvertible`` with the reason. Targets without a
converter refuse every non-null value, so an unknown change is refused, never guessed.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

__all__ = ["TypeFamily", "Unconvertible", "convert_value", "family_of"]

_BIGINT = 2**63


class TypeFamily(enum.StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    TIME = "time"
    UUID = "uuid"
    JSON = "json"
    LIST = "list"
    OTHER = "other"


class Unconvertible(ValueError):
    """The value cannot become the new type exactly; the message says why."""


# Order matters: Boolean and Integer before Numeric's wider net, DateTime before Date.
_FAMILIES: tuple[tuple[type[sa.types.TypeEngine[Any]], TypeFamily], ...] = (
    (sa.Boolean, TypeFamily.BOOLEAN),
    (sa.Integer, TypeFamily.INTEGER),
    (sa.Numeric, TypeFamily.DECIMAL),
    (sa.Uuid, TypeFamily.UUID),
    (sa.String, TypeFamily.TEXT),
    (sa.DateTime, TypeFamily.DATETIME),
    (sa.Date, TypeFamily.DATE),
    (sa.Time, TypeFamily.TIME),
    (sa.ARRAY, TypeFamily.LIST),
    (sa.JSON, TypeFamily.JSON),
)


def family_of(type_: sa.types.TypeEngine[Any]) -> TypeFamily:
    """The family of a (dialect-resolved) column type; decorated types by what they store."""
    if isinstance(type_, sa.TypeDecorator):
        type_ = type_.impl_instance
    for cls, family in _FAMILIES:
        if isinstance(type_, cls):
            return family
    return TypeFamily.OTHER


def _text(value: Any, target: Any) -> Any:
    if isinstance(value, (dict, list)):
        raise Unconvertible("a structured value is not text")
    text = value if isinstance(value, str) else str(value)
    length = getattr(target, "length", None)
    if length is not None and len(text) > length:
        raise Unconvertible(f"{len(text)} characters, longer than {length}")
    return text


_INTEGER_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")


def _integer(value: Any, target: Any) -> Any:
    if isinstance(value, bool):
        raise Unconvertible("a yes/no value is not a number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, (Decimal, float)):
        if value != int(value):
            raise Unconvertible("has a fractional part")
        number = int(value)
    elif isinstance(value, str) and _INTEGER_TEXT.match(value):
        number = int(value)
    else:
        raise Unconvertible("not a whole number")
    if not -_BIGINT <= number < _BIGINT:
        raise Unconvertible("out of range for an integer")
    return number


def _decimal(value: Any, target: Any) -> Any:
    if isinstance(value, (bool, dict, list)):
        raise Unconvertible("not a number")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise Unconvertible("not a number") from None
    if not number.is_finite():
        raise Unconvertible("not a finite number")
    scale = target.scale or 0
    if number != number.quantize(Decimal(1).scaleb(-scale)):
        raise Unconvertible(f"has more than {scale} decimal place(s)")
    if target.precision is not None:
        digits = len(str(abs(int(number)))) if int(number) else 0
        if digits > target.precision - scale:
            raise Unconvertible(f"more than {target.precision - scale} digit(s) before the point")
    return number.quantize(Decimal(1).scaleb(-scale))


_TRUE = {"true", "t", "yes", "y", "on", "1"}
_FALSE = {"false", "f", "no", "n", "off", "0"}


def _boolean(value: Any, target: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise Unconvertible("not a yes/no value")


def _date(value: Any, target: Any) -> Any:
    if isinstance(value, datetime):
        if value.time() != time(0):
            raise Unconvertible("has a time of day that a date would drop")
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Unconvertible("not a date (YYYY-MM-DD)")


def _datetime(value: Any, target: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Unconvertible("not a date and time (ISO 8601)")


def _time(value: Any, target: Any) -> Any:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Unconvertible("not a time of day (HH:MM[:SS])")


_CONVERTERS: dict[TypeFamily, Callable[[Any, Any], Any]] = {
    TypeFamily.TEXT: _text,
    TypeFamily.INTEGER: _integer,
    TypeFamily.DECIMAL: _decimal,
    TypeFamily.BOOLEAN: _boolean,
    TypeFamily.DATE: _date,
    TypeFamily.DATETIME: _datetime,
    TypeFamily.TIME: _time,
}


def convert_value(value: Any, target: sa.types.TypeEngine[Any]) -> Any:
    """``value`` as the ``target`` type would store it.

    Raises:
        Unconvertible: the value would change or be lost; the message says how.
    """
    converter = _CONVERTERS.get(family_of(target))
    if converter is None:
        raise Unconvertible(f"no automatic conversion to {family_of(target)}")
    return converter(value, target)
