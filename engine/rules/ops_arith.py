"""Arithmetic operators: +, -, *, /, %, max, min.

Numbers follow JavaScript's double semantics where it matters for safety: a product that
leaves the safe integer range becomes a float (so a hostile rule cannot grow a
million-digit integer), and a result that is not a number raises ``NaN``.
"""

from __future__ import annotations

import math
from typing import Any

from .registry import Kind, Operator
from .values import MAX_SAFE_INT, invalid, nan, to_number

__all__ = ["OPERATORS"]


def _checked(value: Any) -> Any:
    if value.__class__ is float and value != value:
        nan()
    return value


def add(*args: Any) -> Any:
    """Sum; ``+`` of one argument casts it to a number."""
    total: Any = 0
    for arg in args:
        total += to_number(arg)
    if total.__class__ is int and abs(total) > MAX_SAFE_INT:
        total = float(total)
    return _checked(total)


def mul(*args: Any) -> Any:
    """Product (1 for no arguments)."""
    total: Any = 1
    for arg in args:
        total *= to_number(arg)
        if total.__class__ is int and abs(total) > MAX_SAFE_INT:
            total = float(total)
    return _checked(total)


def sub(*args: Any) -> Any:
    """Difference, left to right; one argument negates."""
    if not args:
        invalid("'-' needs an argument")
    if len(args) == 1:
        return _checked(-to_number(args[0]))
    total = to_number(args[0])
    for arg in args[1:]:
        total -= to_number(arg)
    if total.__class__ is int and abs(total) > MAX_SAFE_INT:
        total = float(total)
    return _checked(total)


def div(*args: Any) -> Any:
    """Quotient, left to right; one argument gives its reciprocal. Dividing by 0 is NaN."""
    if not args:
        invalid("'/' needs an argument")
    values = [to_number(a) for a in args]
    if len(values) == 1:
        values.insert(0, 1)
    total: Any = values[0]
    for value in values[1:]:
        if value == 0:
            nan()
        total = total / value
    return _checked(total)


def mod(*args: Any) -> Any:
    """Remainder with the dividend's sign (JavaScript ``%``), left to right."""
    if len(args) < 2:
        invalid("'%' needs two arguments")
    total: Any = to_number(args[0])
    for arg in args[1:]:
        value = to_number(arg)
        if value == 0:
            nan()
        if total.__class__ is int and value.__class__ is int:
            rem = abs(total) % abs(value)
            total = -rem if total < 0 else rem
        else:
            total = math.fmod(total, value)
    return _checked(total)


def max_(*args: Any) -> Any:
    """Largest argument as a number; null for none."""
    return max((to_number(a) for a in args), default=None)


def min_(*args: Any) -> Any:
    """Smallest argument as a number; null for none."""
    return min((to_number(a) for a in args), default=None)


OPERATORS = [
    Operator.eager("+", add, result=Kind.NUMBER, doc="sum"),
    Operator.eager("*", mul, result=Kind.NUMBER, doc="product"),
    Operator.eager("-", sub, min_args=1, result=Kind.NUMBER, doc="difference or negation"),
    Operator.eager("/", div, min_args=1, result=Kind.NUMBER, doc="quotient or reciprocal"),
    Operator.eager("%", mod, min_args=2, result=Kind.NUMBER, doc="remainder"),
    Operator.eager("max", max_, result=Kind.NUMBER, doc="largest number"),
    Operator.eager("min", min_, result=Kind.NUMBER, doc="smallest number"),
]
