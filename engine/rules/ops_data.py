"""Data access operators: var, val, exists, missing, missing_some.

``var`` reads a dotted path (``"account.region"``) with an optional default; ``val``
reads a list of path segments with no dot splitting and may climb out of iterator scopes
(``{"val": [[2], "name"]}``: two levels up). A ``var`` path starting with ``$user`` reads
the acting user from the evaluation environment instead of the record.
"""

from __future__ import annotations

from typing import Any

from ._codegen import Emitter, spread
from .env import EvalEnv
from .nodes import Literal, OpNode
from .registry import Kind, Operator
from .values import MISSING, dig, invalid, js_str

__all__ = ["OPERATORS", "RELATED_ROOT", "USER_ROOT", "var_path"]

USER_ROOT = "$user"
#: Where the record service puts records reached through lookups, by lookup field name.
RELATED_ROOT = "$related"
_LINKS = frozenset({"lookup", "master_detail", "user"})


def var_path(value: Any) -> tuple[str, ...] | None:
    """The key tuple of a ``var`` path; ``()`` is the whole data; None if not a path."""
    if value is None or value == "" or value == []:
        return ()
    if value.__class__ is bool or not isinstance(value, str | int | float):
        return None
    return tuple(js_str(value).split("."))


def _get1(d: Any, key: str) -> Any:
    if d.__class__ is dict:
        return d.get(key)
    value = dig(d, (key,))
    return None if value is MISSING else value


def _getn(d: Any, keys: tuple[Any, ...]) -> Any:
    value = dig(d, keys)
    return None if value is MISSING else value


def _user(e: EvalEnv, keys: tuple[str, ...]) -> Any:
    return _getn(e.user_data, keys)


def _var_dynamic(d: Any, e: EvalEnv, path: Any = None, default: Any = None, *_: Any) -> Any:
    keys = var_path(path)
    if keys is None:
        invalid("var path must be a string or number")
    value = _user(e, keys[1:]) if keys and keys[0] == USER_ROOT else _getn(d, keys)
    return default if value is None else value


def _through_lookup(em: Emitter, keys: tuple[str, ...]) -> tuple[str, ...]:
    """``contact.account`` reads ``$related.contact.account`` when ``contact`` is a lookup.

    In a record, a lookup field holds the referenced id; the record it points to is given
    beside the record under ``$related`` (as ``to_sql`` reaches it through a subquery).
    Only with a context, in the record's own scope: plain JsonLogic data is unchanged.
    """
    context = em.context
    if len(keys) < 2 or context is None or not em.record_scope:
        return keys
    ref = context.fields.get(keys[0])
    if ref is None or ref.type not in _LINKS:
        return keys
    return (RELATED_ROOT, *keys)


def _read(em: Emitter, keys: tuple[str, ...]) -> str:
    if keys and keys[0] == USER_ROOT:
        return f"{em.helper(_user)}({em.env()}, {em.const(keys[1:])})"
    keys = _through_lookup(em, keys)
    if not keys:
        return "d"
    if len(keys) == 1:
        if em.fast and em.record_scope:
            return f"d[{em.const(keys[0])}]"
        return f"{em.helper(_get1)}(d, {em.const(keys[0])})"
    return f"{em.helper(_getn)}(d, {em.const(keys)})"


def gen_var(em: Emitter, node: OpNode) -> str:
    args = node.args
    path = args[0] if args else Literal(node.path, None)
    keys = var_path(path.value) if isinstance(path, Literal) else None
    if node.dynamic is not None or keys is None:
        helper = em.helper(_var_dynamic)
        if node.dynamic is not None:
            inner = f"{em.helper(spread)}({em.const(_bind)}, {em.expr(node.dynamic)}, 0, None)"
            return f"{helper}(d, {em.env()}, *{inner})"
        rest = "".join(", " + em.expr(a) for a in args)
        return f"{helper}(d, {em.env()}{rest})"
    read = _read(em, keys)
    if len(args) < 2:
        return read
    t = em.tmp()
    return f"({em.expr(args[1])} if ({t} := {read}) is None else {t})"


def _bind(*args: Any) -> tuple[Any, ...]:
    return args


def _val(d: Any, s: tuple[Any, ...], *keys: Any) -> Any:
    target = d
    if keys and isinstance(keys[0], list):
        if len(keys[0]) != 1 or not isinstance(keys[0][0], int | float):
            invalid("val scope must be [number]")
        level = abs(int(keys[0][0]))
        keys = keys[1:]
        if level:
            target = s[-level] if level <= len(s) else None
    value = dig(target, keys)
    return None if value is MISSING else value


def gen_val(em: Emitter, node: OpNode) -> str:
    helper = em.helper(_val)
    if node.dynamic is not None:
        inner = f"{em.helper(spread)}({em.const(_bind)}, {em.expr(node.dynamic)}, 0, None)"
        return f"{helper}(d, {em.scope()}, *{inner})"
    ok, keys = em.constant_list(node.args)
    if ok and not (keys and isinstance(keys[0], list)):
        if not keys:
            return "d"
        if len(keys) == 1 and keys[0].__class__ is str:
            return _read_plain(em, keys[0])
        return f"{em.helper(_getn)}(d, {em.const(tuple(keys))})"
    rest = "".join(", " + em.expr(a) for a in node.args)
    return f"{helper}(d, {em.scope()}{rest})"


def _read_plain(em: Emitter, key: str) -> str:
    if em.fast and em.record_scope:
        return f"d[{em.const(key)}]"
    return f"{em.helper(_get1)}(d, {em.const(key)})"


def _exists(d: Any, *keys: Any) -> bool:
    return dig(d, keys) is not MISSING


def _missing(d: Any, *args: Any) -> list[Any]:
    keys = args[0] if args and isinstance(args[0], list) else args
    out = []
    for key in keys:
        path = var_path(key)
        value = _getn(d, path) if path is not None else None
        if value is None or value == "":
            out.append(key)
    return out


def _missing_some(d: Any, need: Any, keys: Any) -> list[Any]:
    if not isinstance(keys, list):
        invalid("missing_some takes [count, [keys]]")
    missing = _missing(d, keys)
    return [] if len(keys) - len(missing) >= need else missing


def _gen_with_data(fn: Any) -> Any:
    def gen(em: Emitter, node: OpNode) -> str:
        helper = em.helper(fn)
        if node.dynamic is not None:
            inner = f"{em.helper(spread)}({em.const(_bind)}, {em.expr(node.dynamic)}, 0, None)"
            return f"{helper}(d, *{inner})"
        return f"{helper}(d" + "".join(", " + em.expr(a) for a in node.args) + ")"

    return gen


OPERATORS = [
    Operator("var", gen_var, max_args=2, doc="value at a dotted path, with optional default"),
    Operator("val", gen_val, doc="value at a list of path segments; [[n], ...] climbs scopes"),
    Operator("exists", _gen_with_data(_exists), result=Kind.BOOL, doc="the path exists"),
    Operator("missing", _gen_with_data(_missing), result=Kind.LIST,
             doc="the listed paths whose value is null, empty or absent"),
    Operator("missing_some", _gen_with_data(_missing_some), min_args=2, max_args=2,
             result=Kind.LIST, doc="missing paths unless at least N are present"),
]  # fmt: skip
