"""SQL forms of comparisons and ``in``: JsonLogic's null and type rules, exactly.

Each builder returns a never-NULL condition. Where a field's declared type lets SQL match
JsonLogic only partly (text against ``null``, text against text), it refuses instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, and_, false, func, not_, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import literal
from sqlalchemy.sql.functions import FunctionElement

from ._sql_value import SqlValue, const, pred
from .errors import RuleRuntimeError
from .nodes import OpNode
from .ops_compare import op_in
from .values import is_number, loose_eq, op_ge, op_gt, op_le, op_lt, strict_eq, to_number

if TYPE_CHECKING:
    from .compile_sql import SqlCompiler

__all__ = ["code_point_order", "sql_compare", "sql_in"]

_PY = {
    "==": loose_eq,
    "!=": lambda a, b: not loose_eq(a, b),
    "===": strict_eq,
    "!==": lambda a, b: not strict_eq(a, b),
    "<": op_lt,
    "<=": op_le,
    ">": op_gt,
    ">=": op_ge,
}
_MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
_SQL_OP: dict[str, Callable[[Any, Any], Any]] = {
    "==": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _with_null(column: Any, when_not_null: Any, null_result: bool) -> Any:
    """Combine a condition on a non-NULL column with JsonLogic's answer for NULL."""
    if null_result:
        return or_(column.is_(None), when_not_null)
    return and_(column.is_not(None), when_not_null)


def _py_result(c: SqlCompiler, node: OpNode, op: str, a: Any, b: Any) -> bool:
    try:
        return bool(_PY[op](a, b))
    except RuleRuntimeError as exc:
        raise c.fail(node, f"comparison fails in JsonLogic ({exc.type})") from None


def _like(expr: Any, value: Any) -> Any:
    """A bound value typed like the column it meets (a uuid column gets a uuid parameter).

    A number is bound as itself: typed like an integer column, PostgreSQL rounds it, so
    ``===`` with -1.5 matched an amount of -2 where Python (and SQLite) match nothing.
    """
    if is_number(value):
        return literal(value)
    return literal(value, getattr(expr, "type", None))


def _temporal_literal(c: SqlCompiler, node: OpNode, kind: str, value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = (
                datetime.fromisoformat(value) if kind == "datetime" else date.fromisoformat(value)
            )
        except ValueError:
            raise c.fail(node, f"{value!r} is not an ISO {kind}") from None
    if kind == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
    if kind == "datetime" and isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).replace(tzinfo=None)
    raise c.fail(node, f"a {kind} field compared with {value!r}")


def _field_vs_const(c: SqlCompiler, node: OpNode, op: str, col: SqlValue, value: Any) -> Any:
    strict = op in ("===", "!==")
    if op in ("!=", "!=="):
        return not_(_field_vs_const(c, node, "==" if op == "!=" else "===", col, value))
    expr, kind = col.expr, col.kind
    if strict:
        if value is None:
            return expr.is_(None)
        same = {
            "number": is_number(value),
            "text": value.__class__ is str,
            "bool": value.__class__ is bool,
        }.get(kind, False)
        return and_(expr.is_not(None), expr == _like(expr, value)) if same else false()
    if col.identifier and value is None and op == "==":
        return expr.is_(None)  # an id is never empty and never spells a number
    null_result = _py_result(c, node, op, None, value)
    if kind == "number":
        if value.__class__ is bool or not (
            value is None or is_number(value) or isinstance(value, str)
        ):
            raise c.fail(node, f"a number field compared with {value!r}")
        number = _py_number(c, node, value)
        # NULL counts as 0; spelled out rather than coalesce() so an index on the column
        # can still serve the comparison.
        return _with_null(expr, _SQL_OP[op](expr, literal(number)), null_result)
    if kind == "text":
        if value.__class__ is not str:
            raise c.fail(node, f"a text field compared with {value!r} depends on its digits")
        if op == "==":
            cond = expr == _like(expr, value)
        else:
            cond = _SQL_OP[op](code_point_order(expr), literal(value))
        return _with_null(expr, cond, null_result)
    if kind == "bool":
        if op != "==" or not (value is None or value.__class__ is bool):
            raise c.fail(node, f"a boolean field compared with {value!r}")
        return func.coalesce(expr, false()) == literal(bool(value))
    if kind in ("date", "datetime"):
        if value is None:
            return expr.is_(None) if null_result else false()
        if kind == "datetime" and isinstance(value, date) and not isinstance(value, datetime):
            # JsonLogic compares a date-time with a date on its (UTC) calendar date
            return and_(expr.is_not(None), _SQL_OP[op](utc_date(expr), literal(value)))
        bound = _temporal_literal(c, node, kind, value)
        return and_(expr.is_not(None), _SQL_OP[op](expr, literal(bound)))
    raise c.fail(node, f"comparing a {kind} field has no SQL form")


def _py_number(c: SqlCompiler, node: OpNode, value: Any) -> Any:
    if value is None:
        return 0
    if isinstance(value, str):
        try:
            return to_number(value)
        except RuleRuntimeError:
            raise c.fail(node, f"a number field compared with the text {value!r}") from None
    return value


class utc_date(FunctionElement[date]):
    """The calendar date (in UTC, as stored) of a date-time column."""

    inherit_cache = True
    name = "utc_date"
    type = Date()


@compiles(utc_date)
def _utc_date_default(element: Any, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"  # SQLite keeps UTC text


@compiles(utc_date, "postgresql")
def _utc_date_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC')::date"


class code_point_order(FunctionElement[str]):
    """Text compared by code point, as JsonLogic compares strings.

    SQLite's default collation already is; PostgreSQL's follows the database locale, so
    there the text is compared ``COLLATE "C"`` (byte order of UTF-8 is code-point order).
    """

    inherit_cache = True
    name = "code_point_order"


@compiles(code_point_order)
def _code_point_default(element: Any, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(code_point_order, "postgresql")
def _code_point_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


def _field_vs_field(c: SqlCompiler, node: OpNode, op: str, a: SqlValue, b: SqlValue) -> Any:
    if op in ("!=", "!=="):
        return not_(_field_vs_field(c, node, "==" if op == "!=" else "===", a, b))
    x, y = a.expr, b.expr
    both = and_(x.is_not(None), y.is_not(None))
    neither = and_(x.is_(None), y.is_(None))
    if _same_text(op, a, b):
        return or_(and_(both, x == y), neither)
    if a.kind != b.kind or a.kind not in ("number", "date", "bool", "datetime"):
        raise c.fail(node, f"comparing a {a.kind} field with a {b.kind} field has no SQL form")
    if op == "===":
        return or_(and_(both, x == y), neither)
    if a.kind == "number":
        return _SQL_OP[op](func.coalesce(x, 0), func.coalesce(y, 0))
    if a.kind == "bool":
        if op != "==":
            raise c.fail(node, "ordering booleans has no SQL form")
        return func.coalesce(x, false()) == func.coalesce(y, false())
    null_null = _PY[op](None, None)
    return or_(and_(both, _SQL_OP[op](x, y)), neither if null_null else false())


def _same_text(op: str, a: SqlValue, b: SqlValue) -> bool:
    """Whether two text values compare exactly in SQL: ids by ``==`` (never empty, never a
    number, so null equals only null), and any text by ``===`` (null only null)."""
    if a.kind != "text" or b.kind != "text" or a.identifier != b.identifier:
        return False
    return op == "===" or (op == "==" and a.identifier)


def sql_compare(c: SqlCompiler, node: OpNode) -> SqlValue:
    values = [c.value(a) for a in node.args]
    conds = []
    for i in range(len(values) - 1):
        conds.append(_compare_pair(c, node, node.op, values[i], values[i + 1]))
    return pred(and_(*conds) if len(conds) > 1 else conds[0])


def _compare_pair(c: SqlCompiler, node: OpNode, op: str, a: SqlValue, b: SqlValue) -> Any:
    if a.predicate or b.predicate:
        raise c.fail(node, "comparing a condition's value has no SQL form")
    if a.is_const and b.is_const:
        return true() if _py_result(c, node, op, a.const, b.const) else false()
    if a.is_const:
        a, b = b, a
        op = _MIRROR.get(op, op)
    if b.is_const:
        return _field_vs_const(c, node, op, a, b.const)
    return _field_vs_field(c, node, op, a, b)


def sql_in(c: SqlCompiler, node: OpNode) -> SqlValue:
    if node.dynamic is not None or len(node.args) != 2:
        raise c.fail(node, "in needs [value, array]")
    needle, haystack = (c.value(a) for a in node.args)
    if needle.is_const and haystack.is_const:
        return const(op_in(needle.const, haystack.const))
    if not haystack.is_const or not isinstance(haystack.const, list):
        raise c.fail(node, "in has an SQL form only for a field in a constant array")
    if needle.predicate or needle.is_const:
        raise c.fail(node, "in has an SQL form only for a field in a constant array")
    items = haystack.const
    col = needle.expr
    match = {
        "number": lambda v: is_number(v),
        "text": lambda v: v.__class__ is str,
        "bool": lambda v: v.__class__ is bool,
    }.get(needle.kind, lambda v: False)
    wanted = [v for v in items if match(v)]
    cond = col.in_([_like(col, v) for v in wanted]) if wanted else false()
    cond = and_(col.is_not(None), cond)
    if None in items:
        cond = or_(col.is_(None), cond)
    return pred(cond)
