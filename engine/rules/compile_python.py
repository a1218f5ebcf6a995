"""Compile a JsonLogic rule into a Python function, once.

``compile_rule`` parses the rule, checks it statically (every problem, not just the
first), and generates one specialised Python function with ``compile()``: no parsing and
no operator lookup happens per evaluation. See ``_codegen`` for how the generated code
stays exact while taking fast paths.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ._codegen import build_rule
from .context import RuleContext
from .env import EvalEnv
from .errors import RuleCompileError, RuleProblem
from .nodes import Node, parse
from .operators import REGISTRY
from .registry import OperatorRegistry
from .static_checks import check_tree, path_order

__all__ = ["CompiledRule", "check_rule", "compile_rule"]


@runtime_checkable
class CompiledRule(Protocol):
    """A compiled rule: call it with the record (and optionally an ``EvalEnv``).

    It is the generated function itself (no wrapper call per evaluation), carrying:

    Attributes:
        rule: The rule as given.
        context: The context it was checked against, if any.
        source: The generated Python source, for debugging and review.
    """

    rule: Any
    context: RuleContext | None
    source: str

    def __call__(self, data: Any, env: EvalEnv | None = None) -> Any: ...


def check_rule(
    rule: Any,
    context: RuleContext | None = None,
    *,
    registry: OperatorRegistry | None = None,
) -> list[RuleProblem]:
    """Every problem in ``rule``, without raising (the metadata validator's entry point).

    Args:
        rule: The JsonLogic rule (decoded JSON/YAML).
        context: The schema to check field names and types against; None skips those.
        registry: Operators to accept; defaults to ``REGISTRY``.

    Returns:
        The problems in rule order; empty when the rule compiles.
    """
    node, problems = parse(rule, registry or REGISTRY)
    return _merge(problems, check_tree(node, context))


def compile_rule(
    rule: Any,
    context: RuleContext | None = None,
    *,
    registry: OperatorRegistry | None = None,
) -> CompiledRule:
    """Compile ``rule`` into a function ``fn(data, env=None) -> value``.

    Args:
        rule: The JsonLogic rule.
        context: The object's schema. When given, field names are checked and declared
            field types let the generated code skip coercions it does not need; the data
            must then hold values of the declared types (or None), as records do after
            the record service's type coercion.
        registry: Operators to accept; defaults to ``REGISTRY``.

    Raises:
        RuleCompileError: The rule has problems; ``.problems`` lists all of them.
    """
    node = parse_checked(rule, context, registry)
    fn, sources = build_rule(node, context)
    fn.rule = rule  # type: ignore[attr-defined]
    fn.context = context  # type: ignore[attr-defined]
    fn.source = "\n".join(reversed(sources))  # type: ignore[attr-defined]
    return fn  # type: ignore[return-value]


def parse_checked(
    rule: Any, context: RuleContext | None, registry: OperatorRegistry | None = None
) -> Node:
    """The rule's tree, parsed once and checked; the shared first step of both compilers.

    Raises:
        RuleCompileError: The rule has problems; ``.problems`` lists all of them.
    """
    node, problems = parse(rule, registry or REGISTRY)
    problems = _merge(problems, check_tree(node, context))
    if problems:
        raise RuleCompileError(problems)
    return node


def evaluate(rule: Any, data: Any = None, env: EvalEnv | None = None) -> Any:
    """Compile and run once (for tools and tests; production code keeps the compiled rule)."""
    return compile_rule(rule)(data, env)


def _merge(parsed: list[RuleProblem], checked: list[RuleProblem]) -> list[RuleProblem]:
    """Structural and schema problems together, in rule order (stable for equal paths)."""
    return sorted([*parsed, *checked], key=lambda p: path_order(p.path))
