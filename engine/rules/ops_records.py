"""Operators over other records: record_exists, record_count, record_sum/min/max/avg, outer.

A rule may ask about records of another object (or of its own), found by a condition::

    {"record_exists": {"object": "booking", "where": {"and": [
        {"==": [{"var": "room"}, {"outer": "room"}]},
        {"!=": [{"var": "id"}, {"outer": "id"}]},
        {"<": [{"var": "starts_at"}, {"outer": "ends_at"}]},
        {">": [{"var": "ends_at"}, {"outer": "starts_at"}]}]}}}

Inside ``where``, ``var`` reads the searched record and ``{"outer": "room"}`` a field of
the rule's own record; ``$user`` is the acting user as anywhere else. There is one
semantics, SQL's: in a list filter or a permission the query is a correlated subquery of
the outer row; in a validation (Python) the same condition is compiled with the record's
values bound for ``outer`` and run on the write's connection, so it sees the writes of
its own transaction. Archived records are never found. Which rows are searched is the
reader's call (``RecordSource.reader``; a list filter's reader, or every live record for a
validation).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, func, literal, select

from ._codegen import Emitter
from ._sql_value import SqlValue, const, field_value, pred
from .context import DATE_TYPES, NUMBER_TYPES, RuleContext
from .env import EvalEnv
from .errors import ProblemCode, RuleProblem, RuleRuntimeError
from .nodes import Literal, Node, OpNode
from .registry import ArgMode, Kind, Operator
from .values import MISSING, dig

if TYPE_CHECKING:
    from .compile_sql import OuterField, SqlCompiler

__all__ = ["AGGREGATES", "OPERATORS", "RecordQuery", "lock_key", "searched_scopes"]

#: The operators and what each computes over the records found.
AGGREGATES = {
    "record_exists": "exists",
    "record_count": "count",
    "record_sum": "sum",
    "record_min": "min",
    "record_max": "max",
    "record_avg": "avg",
}
_PARAMS = ("object", "where", "field")
_NEEDS_FIELD = frozenset({"sum", "min", "max", "avg"})
_EQUALS = ("==", "===")


@dataclass(frozen=True)
class RecordQuery:
    """One record query as written: what it searches, how it aggregates, its condition.

    Attributes:
        object: The searched object.
        aggregate: ``exists``, ``count``, ``sum``, ``min``, ``max`` or ``avg``.
        where: The condition on the searched records (None: every live record).
        field: The aggregated field (sum/min/max/avg).
        scope: ``(searched field, outer field)`` of a top-level equality between them,
            which narrows what concurrent writers must wait for (see ``lock_key``).
    """

    object: str
    aggregate: str
    where: Node | None
    field: str | None
    scope: tuple[str, str] | None


def query_of(node: OpNode) -> RecordQuery:
    obj, where, fld = node.args
    raw = node.raw if isinstance(node.raw, dict) else {}
    return RecordQuery(
        object=str(obj.value) if isinstance(obj, Literal) else "",
        aggregate=AGGREGATES[node.op],
        where=where if "where" in raw else None,
        field=str(fld.value) if isinstance(fld, Literal) and fld.value is not None else None,
        scope=_scope(raw.get("where")),
    )


def _scope(where: Any) -> tuple[str, str] | None:
    """The first top-level ``{"==": [{"var": F}, {"outer": G}]}`` (either order) of a
    condition: only records whose F equals the outer record's G can match."""
    conjuncts = where.get("and") if isinstance(where, dict) and len(where) == 1 else None
    for part in conjuncts if isinstance(conjuncts, list) else [where]:
        if not isinstance(part, dict) or len(part) != 1:
            continue
        ((op, args),) = part.items()
        if op not in _EQUALS or not isinstance(args, list) or len(args) != 2:
            continue
        names = [_single(arg, "var") for arg in args], [_single(arg, "outer") for arg in args]
        (v0, v1), (o0, o1) = names
        if v0 and o1:
            return v0, o1
        if v1 and o0:
            return v1, o0
    return None


def _single(arg: Any, op: str) -> str | None:
    if not isinstance(arg, dict) or len(arg) != 1 or op not in arg:
        return None
    path = arg[op]
    path = path[0] if isinstance(path, list) and len(path) == 1 else path
    return path if isinstance(path, str) and path and "." not in path else None


def searched_scopes(rule: Any) -> Iterator[tuple[str, str | None]]:
    """``(searched object, scope field or None)`` of every record query in a rule (JSON),
    for the writers of those objects to take the same locks (``lock_key``)."""
    stack = [rule]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for op, arg in node.items():
                searched = arg.get("object") if isinstance(arg, dict) else None
                if op in AGGREGATES and isinstance(searched, str):
                    scope = _scope(arg.get("where"))
                    yield searched, scope[0] if scope else None
                stack.append(arg)


def lock_key(object_name: str, field: str | None = None, value: Any = MISSING) -> str:
    """The name of what a record query's result depends on: every record of the object,
    or (scoped) those whose ``field`` holds ``value``. Equal values give equal keys."""
    if field is None:
        return f"records:{object_name}"
    return f"records:{object_name}:{field}={_canonical(value)}"


def _canonical(value: Any) -> str:
    if value is MISSING or value is None:
        return "null"
    if value.__class__ is not bool and isinstance(value, int | float | Decimal):
        return format(Decimal(str(value)).normalize(), "f")
    return json.dumps(value, default=str, sort_keys=True)


# -- static checks ---------------------------------------------------------------------


def _inner_context(node: OpNode, context: RuleContext) -> RuleContext | None:
    name = node.args[0].value if isinstance(node.args[0], Literal) else None
    fields = context.fields_of(name) if isinstance(name, str) else None
    if fields is None:
        return None
    return RuleContext(object_name=name, fields=fields, objects=context.objects)  # type: ignore[arg-type]


def _check(node: OpNode, context: RuleContext | None) -> list[RuleProblem]:
    obj, _, fld = node.args
    aggregate = AGGREGATES[node.op]
    problems = []
    name = obj.value if isinstance(obj, Literal) else None
    if not isinstance(name, str) or not name:
        message = f"{node.op!r} needs 'object': the name of the object to search"
        return [RuleProblem(obj.path, ProblemCode.INVALID_ARGUMENTS, message)]
    fields = None
    if context is not None:
        fields = context.fields_of(name)
        if fields is None:
            known = sorted({context.object_name, *context.objects})
            found = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            message = f"no object {name!r} to search"
            problems.append(RuleProblem(obj.path, ProblemCode.UNKNOWN_OBJECT, message,
                                        found[0] if found else None))  # fmt: skip
    given = fld.value if isinstance(fld, Literal) else MISSING
    if aggregate not in _NEEDS_FIELD:
        if given is not None:
            message = f"{node.op!r} takes no 'field'"
            problems.append(RuleProblem(fld.path, ProblemCode.INVALID_ARGUMENTS, message))
        return problems
    if not isinstance(given, str) or not given:
        message = f"{node.op!r} needs 'field': the field of {name!r} to aggregate"
        return [*problems, RuleProblem(fld.path, ProblemCode.INVALID_ARGUMENTS, message)]
    if fields is None:
        return problems
    ref = fields.get(given)
    if ref is None:
        found = difflib.get_close_matches(given, list(fields), n=1, cutoff=0.6)
        message = f"{name!r} has no field {given!r}"
        problems.append(RuleProblem(fld.path, ProblemCode.UNKNOWN_FIELD, message,
                                    found[0] if found else None))  # fmt: skip
        return problems
    allowed = NUMBER_TYPES | (DATE_TYPES if aggregate in ("min", "max") else frozenset())
    if ref.value_type not in allowed:
        what = "a number" if aggregate in ("sum", "avg") else "a number or date"
        message = f"{node.op!r} needs {what} field; {given!r} is a {ref.value_type} field"
        problems.append(RuleProblem(fld.path, ProblemCode.TYPE_MISMATCH, message))
    return problems


# -- SQL --------------------------------------------------------------------------------


def statement(c: SqlCompiler, node: OpNode, outer: OuterField) -> tuple[Any, str]:
    """The query's SQL as compiled for ``c`` (its tables, environment and reader), with
    ``outer`` reading the rule's own record, and the kind of value it selects (``bool``
    for ``exists``: a condition, not a select)."""
    from .compile_sql import SqlCompiler

    query = query_of(node)
    table = c.tables.get(query.object)
    context = _inner_context(node, c.context)
    if table is None or context is None or "archived" not in table.c:
        raise c.fail(node, f"no table of records given for object {query.object!r}")
    row = table.alias()
    inner = SqlCompiler(row, context, c.tables, c._env, c.registry, c.reader, outer=outer)  # type: ignore[arg-type]
    conds: list[Any] = [row.c.archived.is_(False)]
    if query.where is not None:
        conds.append(inner.predicate(query.where))
    opens = c.reader.rows(query.object) if c.reader is not None else None
    if opens is not None:
        conds.append(row.c.id.in_(select(table.c.id).where(opens).correlate(None)))
    c.used_env = c.used_env or inner.used_env
    if query.aggregate == "exists":
        return exists(select(literal(1)).select_from(row).where(*conds)), "bool"
    if query.aggregate == "count":
        return select(func.count()).select_from(row).where(*conds), "number"
    ref = context.fields[query.field or ""]
    column = inner.field(node, (ref.name,)).expr
    agg = {"sum": func.sum, "min": func.min, "max": func.max, "avg": func.avg}[query.aggregate]
    value = agg(column)
    if query.aggregate == "sum":
        value = func.coalesce(value, 0)  # the sum of no records is 0, as a rollup's is
    kind = field_value(None, ref).kind if query.aggregate in ("min", "max") else "number"
    return select(value).select_from(row).where(*conds), kind


def _sql(c: SqlCompiler, node: OpNode) -> SqlValue:
    expr, kind = statement(c, node, c.field)
    if kind == "bool":
        return pred(expr)
    return SqlValue(expr.scalar_subquery(), kind)


def _sql_outer(c: SqlCompiler, node: OpNode) -> SqlValue:
    keys = _outer_keys(node)
    if c.outer is None or keys is None:
        raise c.fail(node, "'outer' reads the rule's own record inside a record query only")
    return c.outer(node, keys)


def _outer_keys(node: OpNode) -> tuple[str, ...] | None:
    arg = node.args[0] if node.args else None
    if not isinstance(arg, Literal) or not isinstance(arg.value, str) or not arg.value:
        return None
    return (arg.value,)


# -- Python: the same SQL, on the write's connection ------------------------------------


def _run(e: EvalEnv, d: Any, node: OpNode, context: RuleContext | None) -> Any:
    from .compile_sql import SqlCompiler

    source = e.records
    if source is None or context is None:
        raise RuleRuntimeError(
            "Invalid Arguments",
            message=f"{node.op!r} reads the database: it runs in validations, list filters "
            "and permissions, not here",
        )
    query = query_of(node)
    outer_table = source.tables[context.object_name]

    def outer(_: OpNode, keys: tuple[str, ...]) -> SqlValue:
        found = dig(d, keys)
        return const(None if found is MISSING else found)

    c = SqlCompiler(outer_table, context, source.tables, e, None, source.reader)
    expr, _ = statement(c, node, outer)
    if query.scope is None:
        key = lock_key(query.object)
    else:
        found = dig(d, (query.scope[1],))
        key = lock_key(query.object, query.scope[0], found)
    result = source.scalar(select(expr) if query.aggregate == "exists" else expr, (key,))
    if query.aggregate == "exists":
        return bool(result)
    return result


def _gen(em: Emitter, node: OpNode) -> str:
    helper = em.helper(_run)
    return f"{helper}({em.env()}, d, {em.const(node)}, {em.const(em.context)})"


def _gen_outer(em: Emitter, node: OpNode) -> str:
    helper = em.helper(_outside)
    return f"{helper}()"


def _outside() -> Any:
    raise RuleRuntimeError("Invalid Arguments", message="'outer' outside a record query")


def _doc(aggregate: str) -> str:
    return {
        "exists": "whether a record of another object matches 'where'",
        "count": "how many records of another object match 'where'",
        "sum": "the sum of 'field' over the matching records (0 when none)",
        "min": "the least 'field' of the matching records (null when none)",
        "max": "the greatest 'field' of the matching records (null when none)",
        "avg": "the average 'field' of the matching records (null when none)",
    }[aggregate]


def _result(aggregate: str) -> Kind:
    return {"exists": Kind.BOOL, "count": Kind.NUMBER, "sum": Kind.NUMBER}.get(aggregate, Kind.ANY)


OPERATORS = [
    *(
        Operator(
            name,
            _gen,
            ArgMode.NAMED,
            result=_result(aggregate),
            sql=_sql,
            check=_check,
            uses_env=True,
            lazy=True,
            doc=_doc(aggregate),
            params=_PARAMS,
            inner_context=_inner_context,
        )
        for name, aggregate in AGGREGATES.items()
    ),
    Operator("outer", _gen_outer, ArgMode.SINGLE, min_args=1, max_args=1, sql=_sql_outer,
             doc="inside a record query's 'where': a field of the rule's own record"),
]  # fmt: skip
