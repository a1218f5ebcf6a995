"""Array operators: map, filter, reduce, all, some, none, merge.

Iterator bodies are compiled as functions of their own. Inside a body the data is the
item (for ``reduce``: ``{"current": item, "accumulator": acc}``); ``val`` may climb out:
one level up is ``{"index": i}``, two levels up the data outside the iterator, and so on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._codegen import Emitter
from .errors import ProblemCode, RuleProblem
from .nodes import Literal, OpNode
from .registry import ArgMode, Kind, Operator
from .values import invalid, truthy

__all__ = ["MAX_ITEMS", "OPERATORS"]

#: Longest array an iterator accepts; evaluation stays linear and bounded.
MAX_ITEMS = 1_000_000

Body = Callable[[Any, tuple[Any, ...], Any], Any]


def _items(value: Any, *, strict: bool) -> list[Any] | tuple[Any, ...]:
    if isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            invalid(f"array longer than {MAX_ITEMS} items")
        return value
    if strict:
        invalid("expected an array")
    return ()


def _map(value: Any, fn: Body, scoped: bool, d: Any, s: tuple[Any, ...], e: Any) -> list[Any]:
    items = _items(value, strict=False)
    if scoped:
        return [fn(x, (*s, d, {"index": i}), e) for i, x in enumerate(items)]
    return [fn(x, s, e) for x in items]


def _filter(value: Any, fn: Body, scoped: bool, d: Any, s: tuple[Any, ...], e: Any) -> list[Any]:
    items = _items(value, strict=False)
    if scoped:
        return [x for i, x in enumerate(items) if truthy(fn(x, (*s, d, {"index": i}), e))]
    return [x for x in items if truthy(fn(x, s, e))]


def _some(value: Any, fn: Body, scoped: bool, d: Any, s: tuple[Any, ...], e: Any) -> bool:
    items = _items(value, strict=True)
    for i, x in enumerate(items):
        if truthy(fn(x, (*s, d, {"index": i}) if scoped else s, e)):
            return True
    return False


def _all(value: Any, fn: Body, scoped: bool, d: Any, s: tuple[Any, ...], e: Any) -> bool:
    items = _items(value, strict=True)
    if not items:
        return False
    for i, x in enumerate(items):
        if not truthy(fn(x, (*s, d, {"index": i}) if scoped else s, e)):
            return False
    return True


def _none(value: Any, fn: Body, scoped: bool, d: Any, s: tuple[Any, ...], e: Any) -> bool:
    return not _some(value, fn, scoped, d, s, e)


def _reduce(
    value: Any, fn: Body, scoped: bool, d: Any, s: tuple[Any, ...], e: Any, initial: Any = None
) -> Any:
    acc = initial
    for i, x in enumerate(_items(value, strict=False)):
        ctx = {"current": x, "accumulator": acc}
        acc = fn(ctx, (*s, d, {"index": i}) if scoped else s, e)
    return acc


_HELPERS: dict[str, Callable[..., Any]] = {
    "map": _map, "filter": _filter, "some": _some, "all": _all, "none": _none,
    "reduce": _reduce,
}  # fmt: skip


def gen_iterator(em: Emitter, node: OpNode) -> str:
    items = em.expr(node.args[0])
    fn, scoped = em.function(node.args[1], record_scope=False)
    helper = em.helper(_HELPERS[node.op])
    extra = f", {em.expr(node.args[2])}" if len(node.args) > 2 else ""
    return f"{helper}({items}, {fn}, {scoped}, d, {em.scope()}, {em.env()}{extra})"


def check_iterator(node: OpNode, context: Any) -> list[RuleProblem]:
    """A literal that is not an array cannot be iterated; a null body maps nothing."""
    problems = []
    first = node.args[0] if node.args else None
    if isinstance(first, Literal):
        problems.append(
            RuleProblem(first.path, ProblemCode.INVALID_ARGUMENTS,
                        f"{node.op!r} iterates an array; got a literal {first.value!r}")
        )  # fmt: skip
    body = node.args[1] if len(node.args) > 1 else None
    if node.op in ("map", "filter", "reduce") and isinstance(body, Literal) and body.value is None:
        problems.append(
            RuleProblem(body.path, ProblemCode.INVALID_ARGUMENTS, f"{node.op!r} needs a body")
        )
    return problems


def merge(*args: Any) -> list[Any]:
    """Concatenate arrays; non-array arguments are single items."""
    out: list[Any] = []
    for arg in args:
        if isinstance(arg, list | tuple):
            out.extend(arg)
        else:
            out.append(arg)
        if len(out) > MAX_ITEMS:
            invalid(f"array longer than {MAX_ITEMS} items")
    return out


def _iterator(name: str, result: Kind, max_args: int = 2) -> Operator:
    return Operator(
        name, gen_iterator, ArgMode.LIST, min_args=2, max_args=max_args, result=result,
        check=check_iterator, lazy=True, doc=f"{name} over an array",
    )  # fmt: skip


OPERATORS = [
    _iterator("map", Kind.LIST),
    _iterator("filter", Kind.LIST),
    _iterator("reduce", Kind.ANY, max_args=3),
    _iterator("all", Kind.BOOL),
    _iterator("some", Kind.BOOL),
    _iterator("none", Kind.BOOL),
    Operator.eager("merge", merge, result=Kind.LIST, doc="concatenate arrays"),
]
