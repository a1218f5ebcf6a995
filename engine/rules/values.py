"""JsonLogic value semantics: truthiness, coercion, equality, ordering, string forms.

Every compiled rule, generated or not, calls these helpers for anything beyond the fast
paths, so this module *is* the definition of how metacrm reads JsonLogic. It follows the
community conformance suites (``../shared/conformance/jsonlogic``): numbers coerce from
strictly decimal strings, ``null`` and booleans coerce to 0/1, arrays and objects never
coerce (``NaN``), ``[]`` is falsy and ``{}`` truthy. Dates and date-times (Python objects
or ISO strings compared against them) are an extension for CRM fields.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, NoReturn

from .errors import RuleRuntimeError

__all__ = [
    "MAX_SAFE_INT",
    "MISSING",
    "dig",
    "invalid",
    "is_number",
    "js_str",
    "loose_eq",
    "nan",
    "op_ge",
    "op_gt",
    "op_le",
    "op_lt",
    "strict_eq",
    "to_int",
    "to_number",
    "truthy",
]

MAX_SAFE_INT = 2**53
_NUMERIC = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_NUMBER_TYPES = (int, float, Decimal)


class _Missing:
    """Marks "no value" where None is a value (e.g. a path that does not exist)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def nan() -> NoReturn:
    """Raise the JsonLogic ``NaN`` error (a value that is not a number where one must be)."""
    raise RuleRuntimeError("NaN")


def invalid(message: str = "") -> NoReturn:
    """Raise the JsonLogic ``Invalid Arguments`` error."""
    raise RuleRuntimeError("Invalid Arguments", message=message or None)


def is_number(value: Any) -> bool:
    """True for int, float and Decimal, never for bool (a bool is not a number)."""
    return value.__class__ is not bool and isinstance(value, _NUMBER_TYPES)


def truthy(value: Any) -> bool:
    """JsonLogic truthiness: ``0``, ``""``, ``[]``, ``null``, ``false`` are falsy; ``{}`` and
    ``"0"`` are truthy."""
    if value.__class__ is dict or isinstance(value, Mapping):
        return True
    if value.__class__ is float and value != value:
        return False
    return bool(value)


def _parse_number(text: str) -> int | float:
    stripped = text
    if stripped == "":
        return 0
    if len(stripped) > 400 or not _NUMERIC.match(stripped):
        nan()
    number = float(stripped)
    if number.is_integer() and abs(number) < MAX_SAFE_INT:
        return int(number)
    return number


def to_number(value: Any) -> int | float:
    """Coerce for arithmetic and ordering; raise ``NaN`` when JsonLogic has no number."""
    cls = value.__class__
    if cls is float:
        return value
    if cls is int:
        return value if -MAX_SAFE_INT <= value <= MAX_SAFE_INT else safe_float(value)
    if cls is bool:
        return int(value)
    if value is None:
        return 0
    if cls is str:
        return _parse_number(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return float(value)
        if value == value.to_integral_value() and abs(value) <= MAX_SAFE_INT:
            return int(value)
        return float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return to_number(float(value) if isinstance(value, float) else int(value))
    nan()


def safe_float(value: int) -> float:
    """``float(value)``, saturating to infinity instead of raising on huge integers."""
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def to_int(value: Any) -> int:
    """An integer argument (a position, a count), saturating non-finite numbers."""
    number = to_number(value)
    if number.__class__ is float:
        if number != number:
            nan()
        if math.isinf(number):
            return MAX_SAFE_INT if number > 0 else -MAX_SAFE_INT
    return int(number)


def _is_numeric_string(value: str) -> bool:
    return value == "" or (len(value) <= 400 and _NUMERIC.match(value) is not None)


# --- dates ------------------------------------------------------------------------------


def _temporal(value: Any) -> bool:
    return isinstance(value, date | time)


def _as_temporal(value: Any, like: date | time) -> date | time:
    """Bring ``value`` to the kind of ``like`` (date, datetime or time of day) for
    comparison."""
    if isinstance(like, time):  # "09:00" and a time field's value compare as times
        if isinstance(value, str):
            try:
                value = time.fromisoformat(value)
            except ValueError:
                nan()
        if not isinstance(value, time):
            nan()
        return value
    if isinstance(value, str):
        try:
            value = (
                datetime.fromisoformat(value)
                if "T" in value or " " in value
                else (date.fromisoformat(value))
            )
        except ValueError:
            nan()
    if not isinstance(value, date):
        nan()
    like_dt = isinstance(like, datetime)
    value_dt = isinstance(value, datetime)
    if like_dt and value_dt:
        return _aware(value)
    if like_dt:  # value is a date: compare on the calendar date
        return value
    if value_dt:
        return value.date()
    return value


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _temporal_pair(a: Any, b: Any) -> tuple[Any, Any] | None:
    if a is None or b is None:
        return None
    if isinstance(a, datetime) and not isinstance(b, datetime) and isinstance(b, date):
        return a.date(), b
    if isinstance(b, datetime) and not isinstance(a, datetime) and isinstance(a, date):
        return a, b.date()
    if _temporal(a):
        left = _aware(a) if isinstance(a, datetime) else a
        return left, _as_temporal(b, a)
    right = _aware(b) if isinstance(b, datetime) else b
    return _as_temporal(a, b), right


# --- comparison -------------------------------------------------------------------------

_UNORDERED = object()


def _order_pair(a: Any, b: Any) -> tuple[Any, Any] | object:
    """Operands ready for ``<``; ``_UNORDERED`` when the comparison is simply false."""
    ca, cb = a.__class__, b.__class__
    if ca is str and cb is str:
        return a, b
    if _temporal(a) or _temporal(b):
        pair = _temporal_pair(a, b)
        return _UNORDERED if pair is None else pair
    if a is None and cb is str and not _is_numeric_string(b):
        return _UNORDERED
    if b is None and ca is str and not _is_numeric_string(a):
        return _UNORDERED
    x, y = to_number(a), to_number(b)
    if (x.__class__ is float and x != x) or (y.__class__ is float and y != y):
        return _UNORDERED
    return x, y


def op_lt(a: Any, b: Any) -> bool:
    """JsonLogic ``<`` on two values."""
    pair = _order_pair(a, b)
    return pair is not _UNORDERED and pair[0] < pair[1]  # type: ignore[index]


def op_le(a: Any, b: Any) -> bool:
    """JsonLogic ``<=`` on two values."""
    pair = _order_pair(a, b)
    return pair is not _UNORDERED and pair[0] <= pair[1]  # type: ignore[index]


def op_gt(a: Any, b: Any) -> bool:
    """JsonLogic ``>`` on two values."""
    pair = _order_pair(a, b)
    return pair is not _UNORDERED and pair[0] > pair[1]  # type: ignore[index]


def op_ge(a: Any, b: Any) -> bool:
    """JsonLogic ``>=`` on two values."""
    pair = _order_pair(a, b)
    return pair is not _UNORDERED and pair[0] >= pair[1]  # type: ignore[index]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    cls = value.__class__
    if cls is bool:
        return "bool"
    if cls is str:
        return "str"
    if is_number(value):
        return "num"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "obj"
    if isinstance(value, date | time):
        return "date"
    return "other"


def loose_eq(a: Any, b: Any) -> bool:
    """JsonLogic ``==``: same kinds compare directly; otherwise both sides become numbers
    (``null`` is 0), and a side that cannot (an array, an object, ``"abc"``) is ``NaN``.

    ``null`` against a non-numeric string is simply unequal rather than an error.
    """
    ka, kb = _kind(a), _kind(b)
    if ka == kb and ka in ("str", "bool", "num", "null"):
        return bool(a == b)
    if ka == "date" or kb == "date":
        pair = _temporal_pair(a, b)
        return pair is not None and pair[0] == pair[1]
    if ka == "null" and kb == "str" and not _is_numeric_string(b):
        return False
    if kb == "null" and ka == "str" and not _is_numeric_string(a):
        return False
    return bool(to_number(a) == to_number(b))


#: Deepest nesting of data that equality and string conversion walk into.
MAX_DATA_DEPTH = 100


def strict_eq(a: Any, b: Any, depth: int = 0) -> bool:
    """JsonLogic ``===``: same kind and same value (arrays and objects element-wise)."""
    ka, kb = _kind(a), _kind(b)
    if ka != kb:
        return False
    if ka in ("list", "obj") and depth > MAX_DATA_DEPTH:
        invalid(f"data nested deeper than {MAX_DATA_DEPTH} levels")
    if ka == "list":
        return len(a) == len(b) and all(
            strict_eq(x, y, depth + 1) for x, y in zip(a, b, strict=True)
        )
    if ka == "obj":
        return a.keys() == b.keys() and all(strict_eq(a[k], b[k], depth + 1) for k in a)
    if ka == "date":
        pair = _temporal_pair(a, b)
        return pair is not None and pair[0] == pair[1]
    return bool(a == b)


# --- strings ----------------------------------------------------------------------------


def js_str(value: Any, depth: int = 0) -> str:
    """The string form ``cat`` and ``substr`` use (JavaScript's, with null as ``""``)."""
    cls = value.__class__
    if cls is str:
        return value
    if value is None:
        return ""
    if cls is bool:
        return "true" if value else "false"
    if cls is int:
        return str(value) if abs(value) <= MAX_SAFE_INT else js_str(safe_float(value))
    if cls is float:
        if value != value:
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        text = repr(value)
        return re.sub(r"e([+-])0*(\d)", r"e\1\2", text)
    if isinstance(value, Decimal):
        return js_str(float(value)) if value != value.to_integral_value() else str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        if depth > MAX_DATA_DEPTH:
            invalid(f"data nested deeper than {MAX_DATA_DEPTH} levels")
        return ",".join(js_str(v, depth + 1) for v in value)
    if isinstance(value, Mapping):
        return "[object Object]"
    return str(value)


# --- data access ------------------------------------------------------------------------


def dig(value: Any, keys: tuple[Any, ...]) -> Any:
    """Follow ``keys`` into ``value``; ``MISSING`` when a step does not exist.

    Mappings are indexed by the key's string form, lists by a non-negative integer (or a
    string of digits). Anything else has no children.
    """
    for key in keys:
        if isinstance(value, Mapping):
            skey = key if key.__class__ is str else js_str(key)
            if skey not in value:
                return MISSING
            value = value[skey]
        elif isinstance(value, list | tuple):
            index = _index(key)
            if index is None or index >= len(value):
                return MISSING
            value = value[index]
        else:
            return MISSING
    return value


def _index(key: Any) -> int | None:
    if key.__class__ is int:
        return key if key >= 0 else None
    if key.__class__ is float and key.is_integer() and key >= 0:
        return int(key)
    if key.__class__ is str and key.isdigit() and key.isascii() and len(key) < 19:
        return int(key)
    return None
