"""Static checks that need the schema: unknown fields and type mismatches.

Structural problems (unknown operators, arity) are found while parsing; this pass adds
what only the ``RuleContext`` can tell, plus each operator's own ``check``. Inside
iterator bodies and ``try`` fallbacks the data is not the record, so fields are not
checked there. Inside an operator over another object's records (``record_exists``) the
data is that object's record, checked against its fields, and ``outer`` names a field of
the rule's own record.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from datetime import date
from typing import Any

from .context import DATE_TYPES, NUMBER_TYPES, TEXT_TYPES, RuleContext
from .errors import ProblemCode, RuleProblem
from .nodes import ArrayNode, Literal, Node, OpNode
from .ops_data import USER_ROOT, var_path
from .values import _is_numeric_string

__all__ = ["Checker", "check_tree", "path_order"]

Checker = Callable[[OpNode, RuleContext | None], list[RuleProblem]]
"""An operator's own static check; returns problems (empty when fine)."""

_NOT_RECORD_AFTER_FIRST = {"map", "filter", "reduce", "all", "some", "none", "try"}
_COMPARISONS = {"==", "!=", "===", "!==", "<", "<=", ">", ">="}
_USER_KEYS = ("id", "roles", "org_unit", "org_units", "ancestors")


#: ``outer``: the one operator that reads the record of the rule around a record query.
OUTER = "outer"
_Scope = tuple[RuleContext | None, RuleContext | None, bool]
"""The context data is checked against, the context ``outer`` reads, and whether the node
is inside a record query at all (``outer`` anywhere else is a mistake)."""


def check_tree(root: Node, context: RuleContext | None) -> list[RuleProblem]:
    """Every context and operator-specific problem in the tree, in rule order."""
    problems: list[RuleProblem] = []
    stack: list[tuple[Node, bool, _Scope]] = [(root, True, (context, None, False))]
    while stack:
        node, record, scope = stack.pop()
        ctx, outer, inside = scope
        if isinstance(node, ArrayNode):
            stack.extend((item, record, scope) for item in reversed(node.items))
            continue
        if not isinstance(node, OpNode):
            continue
        if node.op == OUTER:
            problems.extend(_check_outer(node, outer, inside))
            continue
        if node.spec.check is not None:
            problems.extend(node.spec.check(node, ctx))
        if ctx is not None and record:
            problems.extend(_check_fields(node, ctx))
        children: list[tuple[Node, bool, _Scope]] = []
        if node.dynamic is not None:
            children.append((node.dynamic, record, scope))
        searched = node.spec.inner_context
        for i, arg in enumerate(node.args):
            if searched is not None and i > 0:
                inner_ctx = searched(node, ctx) if ctx is not None else None
                children.append((arg, True, (inner_ctx, ctx, True)))
                continue
            inner = record and not (i > 0 and node.op in _NOT_RECORD_AFTER_FIRST)
            children.append((arg, inner, scope))
        stack.extend(reversed(children))
    return sorted(problems, key=lambda p: path_order(p.path))


def _check_outer(node: OpNode, outer: RuleContext | None, inside: bool) -> list[RuleProblem]:
    """``outer`` names one field of the rule's own record, inside a record query."""
    if not inside:
        message = "'outer' reads the rule's own record inside a record query's 'where' only"
        return [RuleProblem(node.path, ProblemCode.INVALID_ARGUMENTS, message)]
    keys = _var_keys(node) if node.args else None
    if not keys or len(keys) != 1:
        message = "'outer' takes the name of one field of the rule's own record"
        return [RuleProblem(node.path, ProblemCode.INVALID_ARGUMENTS, message)]
    if outer is None or keys[0] in outer.fields:
        return []
    found = difflib.get_close_matches(keys[0], list(outer.fields), n=1, cutoff=0.6)
    message = f"{outer.object_name!r} has no field {keys[0]!r}"
    return [RuleProblem(node.path, ProblemCode.UNKNOWN_FIELD, message, found[0] if found else None)]


def path_order(path: str) -> list[tuple[int, Any]]:
    """Sort key putting paths in rule order (``and[2]`` before ``and[10]``)."""
    parts = path.replace("]", "").replace(".", "[").split("[")
    return [(0, int(x)) if x.isdigit() else (1, x) for x in parts]


def _var_keys(node: OpNode) -> tuple[str, ...] | None:
    if node.op not in ("var", "val", OUTER) or node.dynamic is not None or not node.args:
        return None
    if node.op in ("var", OUTER):
        first = node.args[0]
        return var_path(first.value) if isinstance(first, Literal) else None
    values = []
    for arg in node.args:
        if not isinstance(arg, Literal) or arg.value.__class__ is not str:
            return None
        values.append(arg.value)
    return tuple(values)


def _check_fields(node: OpNode, context: RuleContext) -> list[RuleProblem]:
    keys = _var_keys(node)
    if keys:
        return _check_path(node, keys, context)
    if node.op in _COMPARISONS or node.op == "in":
        return _check_types(node, context)
    return []


def _check_path(node: OpNode, keys: tuple[str, ...], context: RuleContext) -> list[RuleProblem]:
    if keys[0] == USER_ROOT:
        return []
    chain, failed = context.resolve(keys)
    if failed is None:
        return []
    name = keys[failed]
    if failed == 0:
        owner = context.object_name
        options = [*context.fields, USER_ROOT]
    else:
        prev = chain[-1]
        if prev.target is None:
            return [RuleProblem(node.path, ProblemCode.UNKNOWN_FIELD,
                                f"{prev.name!r} is a {prev.type} field, not a lookup; "
                                f"cannot read {name!r} through it")]  # fmt: skip
        owner = prev.target
        fields = context.fields_of(prev.target)
        if fields is None:
            return []  # the context does not describe that object: nothing to check
        options = list(fields)
    found = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    message = f"{owner!r} has no field {name!r}"
    return [RuleProblem(node.path, ProblemCode.UNKNOWN_FIELD, message, found[0] if found else None)]


def _field_type(node: Node, context: RuleContext) -> str | None:
    if not isinstance(node, OpNode) or node.op == OUTER:
        return None
    keys = _var_keys(node)
    if not keys or keys[0] == USER_ROOT:
        return None
    chain, failed = context.resolve(keys)
    if failed is not None or not chain:
        return None
    return chain[-1].value_type


def _literal_clash(field_type: str, value: Any, ordering: bool) -> str | None:
    """Why comparing a ``field_type`` value with the literal ``value`` is always wrong."""
    if value is None:
        return None
    is_bool = value.__class__ is bool
    is_num = not is_bool and isinstance(value, int | float)
    is_str = value.__class__ is str
    if field_type in DATE_TYPES:
        if is_bool or is_num:
            return f"a {field_type} field cannot be compared with {value!r}"
        if is_str and not _is_iso_date(value):
            return f"{value!r} is not an ISO date to compare a {field_type} field with"
    elif field_type in NUMBER_TYPES:
        if is_bool:
            return f"a {field_type} field cannot be compared with a boolean"
        if is_str and not _is_numeric_string(value):
            return f"a {field_type} field cannot be compared with the text {value!r}"
    elif field_type == "boolean":
        if is_num or is_str or ordering:
            return f"a boolean field cannot be compared with {value!r}"
    elif field_type in TEXT_TYPES:
        if is_bool:
            return f"a {field_type} field cannot be compared with a boolean"
        if is_num and not ordering:
            return f"a {field_type} field cannot equal the number {value!r}; quote it"
    elif field_type == "multi_picklist" and (is_bool or is_num or is_str):
        return "a multi_picklist field holds a list; use 'in' or 'contains'"
    return None


def _is_iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text[:10])
    except ValueError:
        return False
    return True


def _check_types(node: OpNode, context: RuleContext) -> list[RuleProblem]:
    problems = []
    args = node.args
    if node.op == "in" and len(args) == 2:
        field_type = _field_type(args[0], context)
        haystack = args[1]
        if field_type and isinstance(haystack, ArrayNode):
            for item in haystack.items:
                if isinstance(item, Literal):
                    why = _literal_clash(field_type, item.value, False)
                    if why:
                        problems.append(RuleProblem(item.path, ProblemCode.TYPE_MISMATCH, why))
        return problems
    ordering = node.op in ("<", "<=", ">", ">=")
    for i, arg in enumerate(args):
        field_type = _field_type(arg, context)
        if not field_type:
            continue
        for j in (i - 1, i + 1):
            if 0 <= j < len(args) and isinstance(args[j], Literal):
                lit = args[j]
                why = _literal_clash(field_type, lit.value, ordering)  # type: ignore[union-attr]
                if why:
                    problems.append(RuleProblem(lit.path, ProblemCode.TYPE_MISMATCH, why))
    return problems
