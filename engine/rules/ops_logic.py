"""Control flow and error operators: and, or, !, !!, if, ?:, ??, try, throw, preserve."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from ._codegen import Emitter, gen_eager
from .errors import RuleRuntimeError
from .nodes import OpNode
from .registry import ArgMode, Kind, Operator
from .values import truthy

__all__ = ["OPERATORS"]

#: Longer argument lists are evaluated by a helper over compiled functions rather than one
#: nested expression (keeps generated code within Python's nesting limits).
_INLINE_ARGS = 24


def _lazy_fns(em: Emitter, node: OpNode) -> str:
    names = [em.function(a, record_scope=em.record_scope)[0] for a in node.args]
    return "(" + "".join(n + ", " for n in names) + ")"


def _and_all(fns: tuple[Callable[..., Any], ...], d: Any, s: Any, e: Any) -> Any:
    value: Any = False
    for fn in fns:
        value = fn(d, s, e)
        if not truthy(value):
            return value
    return value


def _or_all(fns: tuple[Callable[..., Any], ...], d: Any, s: Any, e: Any) -> Any:
    value: Any = False
    for fn in fns:
        value = fn(d, s, e)
        if truthy(value):
            return value
    return value


def gen_and(em: Emitter, node: OpNode) -> str:
    args = node.args
    if not args:
        return "False"
    if len(args) > _INLINE_ARGS:
        return f"{em.helper(_and_all)}({_lazy_fns(em, node)}, d, {em.scope()}, {em.env()})"
    if all(em.kind(a) is Kind.BOOL for a in args):
        return "(" + " and ".join(em.expr(a) for a in args) + ")"
    src = em.expr(args[-1])
    for arg in reversed(args[:-1]):
        t = em.tmp()
        src = f"({t} if not {_truth_of(em, arg, t)} else {src})"
    return src


def gen_or(em: Emitter, node: OpNode) -> str:
    args = node.args
    if not args:
        return "False"
    if len(args) > _INLINE_ARGS:
        return f"{em.helper(_or_all)}({_lazy_fns(em, node)}, d, {em.scope()}, {em.env()})"
    if all(em.kind(a) is Kind.BOOL for a in args):
        return "(" + " or ".join(em.expr(a) for a in args) + ")"
    src = em.expr(args[-1])
    for arg in reversed(args[:-1]):
        t = em.tmp()
        src = f"({t} if {_truth_of(em, arg, t)} else {src})"
    return src


def _truth_of(em: Emitter, arg: Any, t: str) -> str:
    """Assign ``arg``'s value to ``t`` and test its truthiness."""
    assign = f"({t} := {em.expr(arg)})"
    if em.kind(arg) is Kind.BOOL:
        return assign
    return f"{em.helper(truthy)}{assign}"


def gen_not(em: Emitter, node: OpNode) -> str:
    if not node.args:
        return "True"
    return f"(not {em.truth(node.args[0])})"


def gen_not_not(em: Emitter, node: OpNode) -> str:
    if not node.args:
        return "False"
    arg = node.args[0]
    if em.kind(arg) is Kind.BOOL:
        return f"(not not {em.expr(arg)})"
    return f"{em.helper(truthy)}({em.expr(arg)})"


def _if_all(fns: tuple[Callable[..., Any], ...], d: Any, s: Any, e: Any) -> Any:
    n = len(fns)
    i = 0
    while i + 1 < n:
        if truthy(fns[i](d, s, e)):
            return fns[i + 1](d, s, e)
        i += 2
    return fns[i](d, s, e) if i < n else None


def gen_if(em: Emitter, node: OpNode) -> str:
    args = node.args
    n = len(args)
    if n == 0:
        return "None"
    if n > _INLINE_ARGS:
        return f"{em.helper(_if_all)}({_lazy_fns(em, node)}, d, {em.scope()}, {em.env()})"

    def branch(i: int) -> str:
        if i >= n:
            return "None"
        if i == n - 1:
            return em.expr(args[i])
        return f"({em.expr(args[i + 1])} if {em.truth(args[i])} else {branch(i + 2)})"

    return branch(0)


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None:
            return value
    return None


def gen_coalesce(em: Emitter, node: OpNode) -> str:
    if node.dynamic is not None or len(node.args) > _INLINE_ARGS:
        return gen_eager(em, node)
    src = "None"
    for arg in reversed(node.args):
        t = em.tmp()
        src = f"({t} if ({t} := {em.expr(arg)}) is not None else {src})"
    return src


def throw(value: Any) -> Any:
    """Raise ``value`` as a rule error; an object's ``type`` names the error."""
    if isinstance(value, Mapping) and "type" in value:
        raise RuleRuntimeError(value["type"], value)
    raise RuleRuntimeError(value, {"type": value})


def _try(fns: tuple[Callable[..., Any], ...], d: Any, s: tuple[Any, ...], e: Any) -> Any:
    try:
        return fns[0](d, s, e)
    except RuleRuntimeError as err:
        error = err
    for fn in fns[1:]:
        payload = error.value
        try:
            return fn(payload, (*s, d, payload), e)
        except RuleRuntimeError as err:
            error = err
    raise error


def gen_try(em: Emitter, node: OpNode) -> str:
    first, _ = em.function(node.args[0], record_scope=em.record_scope)
    rest = [em.function(a, record_scope=False)[0] for a in node.args[1:]]
    fns = "(" + "".join(n + ", " for n in [first, *rest]) + ")"
    return f"{em.helper(_try)}({fns}, d, {em.scope()}, {em.env()})"


def gen_preserve(em: Emitter, node: OpNode) -> str:
    value = node.raw
    if isinstance(value, dict | list):
        return f"{em.helper(copy.deepcopy)}({em.const(value)})"
    return em.literal(value)


def _gen_throw(em: Emitter, node: OpNode) -> str:
    return f"{em.helper(throw)}({em.expr(node.args[0])})"


OPERATORS = [
    Operator("and", gen_and, ArgMode.LIST, lazy=True, doc="first falsy argument, else the last"),
    Operator("or", gen_or, ArgMode.LIST, lazy=True, doc="first truthy argument, else the last"),
    Operator("!", gen_not, ArgMode.SINGLE, result=Kind.BOOL, doc="negated truthiness"),
    Operator("!!", gen_not_not, ArgMode.SINGLE, result=Kind.BOOL, doc="truthiness"),
    Operator("if", gen_if, ArgMode.LIST, lazy=True, doc="if/then/elif/then/else"),
    Operator("?:", gen_if, ArgMode.LIST, lazy=True, doc="ternary (alias of if)"),
    Operator("??", gen_coalesce, ArgMode.SPREAD, lazy=True, eager_fn=_coalesce,
             doc="first non-null argument"),
    Operator("try", gen_try, ArgMode.SINGLE, min_args=1, lazy=True,
             doc="first argument that does not raise; later ones see the error as data"),
    Operator("throw", _gen_throw, ArgMode.SINGLE, min_args=1, max_args=1,
             doc="raise an error of the given type"),
    Operator("preserve", gen_preserve, ArgMode.RAW, doc="the argument, unevaluated"),
]  # fmt: skip
