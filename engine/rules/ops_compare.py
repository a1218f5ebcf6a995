"""Comparison operators: ==, !=, ===, !==, <, <=, >, >=, in.

Comparisons chain (``{"<": [1, 2, 3]}`` is 1 < 2 < 3) and stop at the first false pair
without evaluating further arguments. In the fast body, a comparison against a numeric or
string constant uses Python's operator directly: Python raises ``TypeError`` for exactly
the operand types that need JsonLogic coercion, which sends evaluation to the generic body.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ._codegen import Emitter
from .nodes import Node, OpNode
from .registry import ArgMode, Kind, Operator
from .values import is_number, loose_eq, op_ge, op_gt, op_le, op_lt, strict_eq

__all__ = ["OPERATORS", "op_in"]


def _ne(a: Any, b: Any) -> bool:
    return not loose_eq(a, b)


def _strict_ne(a: Any, b: Any) -> bool:
    return not strict_eq(a, b)


_HELPER: dict[str, Callable[[Any, Any], bool]] = {
    "<": op_lt, "<=": op_le, ">": op_gt, ">=": op_ge,
    "==": loose_eq, "!=": _ne, "===": strict_eq, "!==": _strict_ne,
}  # fmt: skip
_NATIVE = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!="}
_MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_PY_OP = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _plain_number(ok: bool, value: Any) -> bool:
    """A constant Python may compare natively with any number, Decimal included.

    Non-integral floats are left to the helper: ``Decimal("0.1") < 0.1`` is exact in
    Python but the generic path compares Decimals as floats.
    """
    if not (ok and is_number(value)) or isinstance(value, Decimal):
        return False
    return not isinstance(value, float) or (math.isfinite(value) and value.is_integer())


def _fast_pair(em: Emitter, op: str, a: Node, b: Node) -> str | None:
    """Native comparison source for ``a op b`` in the fast body, if one is exact."""
    a_const, a_val = em.constant(a)
    b_const, b_val = em.constant(b)
    if a_const == b_const:
        return None
    if a_const:  # constant on the left: mirror so the constant is on the right
        a, b, a_val, b_val, op = b, a, b_val, a_val, _MIRROR[op]
    if op in ("==", "!="):
        return _fast_equality(em, op, a, b_val)
    if _plain_number(True, b_val):
        k = em.const(b_val)
        if em.is_number_field(a):
            # Declared numeric: the value is a number or None; None reads as 0.
            t = em.tmp()
            null_result = _PY_OP[op](0, b_val)
            value = em.expr(a)
            return f"(({t} {_NATIVE[op]} {k}) if ({t} := {value}) is not None else {null_result})"
        return f"({em.expr(a)} {_NATIVE[op]} {k})"
    if b_val.__class__ is str:
        return f"({em.expr(a)} {_NATIVE[op]} {em.const(b_val)})"
    return None


def _fast_equality(em: Emitter, op: str, a: Node, b_val: Any) -> str | None:
    t = em.tmp()
    helper = em.helper(_HELPER[op])
    k = em.const(b_val)
    if b_val.__class__ is str:
        guard = f"({t} := {em.expr(a)}).__class__ is {em.helper(str)}"
    elif _plain_number(True, b_val):
        guard = (
            f"({t} := {em.expr(a)}).__class__ is {em.helper(int)} "
            f"or {t}.__class__ is {em.helper(float)}"
        )
    else:
        return None
    return f"(({t} {_NATIVE[op]} {k}) if {guard} else {helper}({t}, {k}))"


def gen_compare(em: Emitter, node: OpNode) -> str:
    op = node.op
    args = node.args
    if len(args) == 2:
        if em.fast and op in _NATIVE:
            fast = _fast_pair(em, op, args[0], args[1])
            if fast is not None:
                return fast
        return f"{em.helper(_HELPER[op])}({em.expr(args[0])}, {em.expr(args[1])})"
    helper = em.helper(_HELPER[op])
    prev = em.tmp()
    pieces = []
    left = f"({prev} := {em.expr(args[0])})"
    for arg in args[1:]:
        t = em.tmp()
        pieces.append(f"{helper}({left}, ({t} := {em.expr(arg)}))")
        left = t
    return "(" + " and ".join(pieces) + ")"


def op_in(needle: Any, haystack: Any) -> bool:
    """JsonLogic ``in``: substring of a string, or strict membership in an array."""
    if haystack.__class__ is str:
        return needle.__class__ is str and needle in haystack
    if isinstance(haystack, list | tuple):
        if needle.__class__ is str or needle is None:
            return needle in haystack
        return any(strict_eq(needle, item) for item in haystack)
    return False


def gen_in(em: Emitter, node: OpNode) -> str:
    if node.dynamic is None and len(node.args) == 2:
        needle, haystack = node.args
        ok, values = em.constant(haystack)
        needle_const, _ = em.constant(needle)
        if (
            em.fast
            and ok
            and not needle_const
            and isinstance(values, list)
            and all(v.__class__ is str for v in values)
        ):
            # A set of strings: membership equals strict equality for any hashable value;
            # an unhashable one (list, dict) raises TypeError and takes the generic path.
            return f"({em.expr(needle)} in {em.const(frozenset(values))})"
        if ok and isinstance(values, list):
            return f"{em.helper(op_in)}({em.expr(needle)}, {em.const(tuple(values))})"
    from ._codegen import gen_eager

    return gen_eager(em, node)


OPERATORS = [
    *(
        Operator(name, gen_compare, ArgMode.LIST, min_args=2, result=Kind.BOOL,
                 doc=f"chained {name}")
        for name in ("==", "!=", "===", "!==", "<", "<=", ">", ">=")
    ),
    Operator("in", gen_in, ArgMode.SPREAD, min_args=2, max_args=2, result=Kind.BOOL,
             eager_fn=op_in, doc="substring, or membership in an array"),
]  # fmt: skip
