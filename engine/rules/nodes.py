"""The parsed form of a rule: literals, arrays and operator nodes, each with its path.

Parsing reads the JSON once, resolves every operator against the registry and records
every structural problem (unknown operator, wrong arity, too deep, too large) instead of
stopping at the first, so one compile reports them all.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from .errors import ProblemCode, RuleProblem
from .registry import ArgMode, Operator, OperatorRegistry
from .values import MAX_SAFE_INT

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "ArrayNode",
    "Literal",
    "Node",
    "OpNode",
    "child_path",
    "parse",
]

#: Deepest nesting accepted. Real CRM rules stay under ten; the limit keeps compilation
#: iterative-safe (no RecursionError) and generated code small.
MAX_DEPTH = 64
#: Most nodes (operators, literals, array items) accepted in one rule.
MAX_NODES = 20_000


@dataclass(slots=True, eq=False)
class Literal:
    """A constant value written in the rule."""

    path: str
    value: Any


@dataclass(slots=True, eq=False)
class ArrayNode:
    """A JSON array in the rule; its items are evaluated (they may hold operators)."""

    path: str
    items: list[Node]


@dataclass(slots=True, eq=False)
class OpNode:
    """An operator application.

    Attributes:
        op: The operator's name.
        spec: The registered operator.
        args: The parsed arguments (empty when ``dynamic`` or ``RAW``).
        dynamic: For ``SPREAD`` operators given an operator instead of an array: the node
            whose value supplies the arguments at run time.
        raw: The unparsed argument, for ``RAW`` operators and messages.
    """

    path: str
    op: str
    spec: Operator
    args: list[Node]
    dynamic: Node | None
    raw: Any


Node = Literal | ArrayNode | OpNode


def child_path(parent: str, op: str, index: int) -> str:
    """Path of argument ``index`` of operator ``op`` at ``parent``: ``and[1].in[0]``."""
    prefix = f"{parent}." if parent else ""
    return f"{prefix}{op}[{index}]"


_SCALARS = (str, bool, int, float, Decimal, date)


class _Parser:
    def __init__(self, registry: OperatorRegistry) -> None:
        self.registry = registry
        self.problems: list[RuleProblem] = []
        self.count = 0
        self.too_large = False

    def problem(self, path: str, code: str, message: str, suggestion: str | None = None) -> None:
        self.problems.append(RuleProblem(path, code, message, suggestion))

    def parse(self, value: Any, path: str, depth: int) -> Node:
        self.count += 1
        if self.count > MAX_NODES:
            if not self.too_large:
                self.too_large = True
                self.problem(path, ProblemCode.TOO_LARGE, f"rule has more than {MAX_NODES} nodes")
            return Literal(path, None)
        if depth > MAX_DEPTH:
            self.problem(path, ProblemCode.TOO_DEEP, f"rule nests deeper than {MAX_DEPTH} levels")
            return Literal(path, None)
        if value is None or isinstance(value, _SCALARS):
            return Literal(path, _literal(value))
        if isinstance(value, list | tuple):
            if len(value) > MAX_NODES:
                self.too_large = True
                self.count = MAX_NODES + 1
                self.problem(path, ProblemCode.TOO_LARGE, f"array has more than {MAX_NODES} items")
                return Literal(path, None)
            items = [self.parse(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
            return ArrayNode(path, items)
        if isinstance(value, dict):
            if not value:
                return Literal(path, {})
            if len(value) != 1:
                keys = ", ".join(sorted(map(str, value))[:5])
                self.problem(
                    path, ProblemCode.NOT_A_RULE,
                    f"an operator object has exactly one key; found {len(value)} ({keys})",
                )  # fmt: skip
                return Literal(path, None)
            ((name, arg),) = value.items()
            return self.parse_op(str(name), arg, path, depth)
        kind = type(value).__name__
        self.problem(path, ProblemCode.NOT_A_RULE, f"unsupported value of type {kind}")
        return Literal(path, None)

    def parse_op(self, name: str, arg: Any, path: str, depth: int) -> Node:
        spec = self.registry.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, self.registry.names(), n=1, cutoff=0.6)
            shown = name if len(name) <= 60 else name[:57] + "..."
            self.problem(
                path, ProblemCode.UNKNOWN_OPERATOR, f"unknown operator {shown!r}",
                close[0] if close else None,
            )  # fmt: skip
            return Literal(path, None)
        mode = spec.arg_mode
        if mode is ArgMode.RAW:
            return OpNode(path, name, spec, [], None, arg)
        if mode is ArgMode.NAMED:
            return self.parse_named(spec, arg, path, depth)
        dynamic: Node | None = None
        if isinstance(arg, list | tuple):
            raw_args = list(arg)
        elif mode is ArgMode.LIST:
            self.problem(
                path, ProblemCode.INVALID_ARGUMENTS,
                f"{name!r} takes an array of arguments written in the rule",
            )  # fmt: skip
            return Literal(path, None)
        elif mode is ArgMode.SPREAD and isinstance(arg, dict) and len(arg) == 1:
            dynamic = self.parse(arg, child_path(path, name, 0), depth + 1)
            return OpNode(path, name, spec, [], dynamic, arg)
        else:
            raw_args = [arg]
        n = len(raw_args)
        if n < spec.min_args or (spec.max_args is not None and n > spec.max_args):
            self.problem(path, ProblemCode.INVALID_ARGUMENTS, _arity_message(spec, n))
        if n > MAX_NODES:
            self.problem(path, ProblemCode.TOO_LARGE, f"more than {MAX_NODES} arguments")
            return Literal(path, None)
        args = [self.parse(a, child_path(path, name, i), depth + 1) for i, a in enumerate(raw_args)]
        return OpNode(path, name, spec, args, None, arg)


    def parse_named(self, spec: Operator, arg: Any, path: str, depth: int) -> Node:
        """An operator taking an object of named arguments; a key not given parses as a
        null literal (the operator's own check says which keys it needs)."""
        prefix = f"{path}." if path else ""
        if not isinstance(arg, dict):
            self.problem(
                path, ProblemCode.INVALID_ARGUMENTS,
                f"{spec.name!r} takes an object with the keys {', '.join(spec.params)}",
            )  # fmt: skip
            return Literal(path, None)
        for key in arg:
            if key not in spec.params:
                close = difflib.get_close_matches(str(key), spec.params, n=1, cutoff=0.6)
                self.problem(
                    f"{prefix}{spec.name}.{key}", ProblemCode.INVALID_ARGUMENTS,
                    f"{spec.name!r} has no key {key!r}; it takes {', '.join(spec.params)}",
                    close[0] if close else None,
                )  # fmt: skip
        args: list[Node] = []
        for key in spec.params:
            where = f"{prefix}{spec.name}.{key}"
            given = key in arg
            args.append(self.parse(arg[key], where, depth + 1) if given else Literal(where, None))
        return OpNode(path, spec.name, spec, args, None, arg)


def _arity_message(spec: Operator, n: int) -> str:
    lo, hi = spec.min_args, spec.max_args
    if hi is None:
        want = f"at least {lo}"
    elif lo == hi:
        want = f"exactly {lo}"
    else:
        want = f"{lo} to {hi}"
    return f"{spec.name!r} takes {want} argument(s); got {n}"


def _literal(value: Any) -> Any:
    """Normalise a literal: integers beyond JavaScript's safe range become floats."""
    if value.__class__ is int and abs(value) > MAX_SAFE_INT:
        try:
            return float(value)
        except OverflowError:
            return float("inf") if value > 0 else float("-inf")
    return value


def parse(rule: Any, registry: OperatorRegistry) -> tuple[Node, list[RuleProblem]]:
    """Parse ``rule``; returns the tree and every structural problem found."""
    parser = _Parser(registry)
    node = parser.parse(rule, "", 0)
    return node, parser.problems
