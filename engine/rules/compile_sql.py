"""Compile a JsonLogic rule into a SQLAlchemy Core boolean expression.

The expression selects exactly the rows whose record the Python compiler finds truthy.
SQL's three-valued logic is never allowed to leak: every predicate built here is TRUE or
FALSE, never NULL, so ``NOT`` and ``OR`` keep JsonLogic's meaning. Where SQL cannot match
JsonLogic for a type (say a text field against ``null``, whose JsonLogic answer depends on
whether the text spells zero), compilation refuses with ``RuleNotSqlError`` instead of
diverging. Values from the rule and the environment are bound parameters; names come
only from the context and the tables, never from rule strings as SQL text.

Dotted vars (``account.region``) walk lookups through correlated scalar subqueries on the
target object's table (``tables[target]``, joined on its ``id`` column), so the result is
one self-contained expression that composes with ``and_`` and needs no join bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, false, func, not_, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import literal
from sqlalchemy.sql.functions import FunctionElement

from .compile_python import check_rule
from .context import DATE_TYPES, NUMBER_TYPES, TEXT_TYPES, FieldRef, RuleContext
from .env import EvalEnv
from .errors import RuleCompileError, RuleNotSqlError, RuleRuntimeError
from .nodes import ArrayNode, Literal, Node, OpNode, parse
from .operators import REGISTRY
from .ops_compare import op_in
from .ops_data import USER_ROOT, var_path
from .registry import OperatorRegistry
from .values import MISSING, dig, is_number, loose_eq, op_ge, op_gt, op_le, op_lt, strict_eq
from .values import truthy as py_truthy

__all__ = ["SQL_BUILDERS", "SqlCompiler", "SqlValue", "to_sql"]

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


@dataclass(frozen=True, slots=True)
class SqlValue:
    """A rule node in SQL.

    Attributes:
        expr: The SQL expression (None for a constant, whose value is ``const``).
        kind: ``bool``, ``number``, ``text``, ``date``, ``datetime``, ``list`` or ``any``.
        const: The Python value when the node is a constant; ``MISSING`` otherwise.
        predicate: ``expr`` is a never-NULL boolean condition (not a column value).
    """

    expr: Any
    kind: str
    const: Any = MISSING
    predicate: bool = False

    @property
    def is_const(self) -> bool:
        return self.const is not MISSING


SqlBuilder = Callable[["SqlCompiler", OpNode], SqlValue]


def _kind_of_field(ref: FieldRef) -> str:
    t = ref.value_type
    if t in NUMBER_TYPES:
        return "number"
    if t in TEXT_TYPES:
        return "text"
    if t == "boolean":
        return "bool"
    if t in DATE_TYPES:
        return t
    return "any"


def _const(value: Any) -> SqlValue:
    return SqlValue(None, "any", value)


def _pred(expr: Any) -> SqlValue:
    return SqlValue(expr, "bool", predicate=True)


class SqlCompiler:
    """Compiles one rule against one table; operators' SQL builders call back into it."""

    def __init__(
        self,
        table: Table,
        context: RuleContext,
        tables: Mapping[str, Table],
        env: EvalEnv | None,
    ) -> None:
        self.table = table
        self.context = context
        self.tables = tables
        self.env = env or EvalEnv()

    def fail(self, node: Node, reason: str) -> RuleNotSqlError:
        op = node.op if isinstance(node, OpNode) else "literal"
        return RuleNotSqlError(op, node.path, reason)

    # -- values ----------------------------------------------------------------------------

    def value(self, node: Node) -> SqlValue:
        """The SQL form of ``node``."""
        if isinstance(node, Literal):
            return _const(node.value)
        if isinstance(node, ArrayNode):
            items = [self.value(item) for item in node.items]
            if all(i.is_const for i in items):
                return _const([i.const for i in items])
            raise self.fail(node, "arrays of computed values have no SQL form")
        builder = node.spec.sql or SQL_BUILDERS.get(node.op)
        if builder is None:
            raise self.fail(node, "the operator has no SQL form")
        return builder(self, node)

    def truth(self, value: SqlValue) -> Any:
        """A never-NULL condition: the value is truthy in JsonLogic."""
        if value.is_const:
            return true() if py_truthy(value.const) else false()
        if value.predicate:
            return value.expr
        expr = value.expr
        if value.kind == "bool":
            return expr.is_(True)
        if value.kind == "number":
            return and_(expr.is_not(None), expr != 0)
        if value.kind == "text":
            return and_(expr.is_not(None), expr != "")
        if value.kind in ("date", "datetime"):
            return expr.is_not(None)
        raise RuleNotSqlError("truthiness", "", f"truthiness of a {value.kind} value")

    def predicate(self, node: Node) -> Any:
        """A never-NULL condition for ``node`` being truthy."""
        return self.truth(self.value(node))

    # -- fields ----------------------------------------------------------------------------

    def field(self, node: OpNode, keys: tuple[str, ...]) -> SqlValue:
        chain, failed = self.context.resolve(keys)
        if failed is not None or not chain:
            raise self.fail(node, f"unknown field path {'.'.join(keys)!r}")
        if len(chain) == 1:
            ref = chain[0]
            return SqlValue(self.table.c[ref.name], _kind_of_field(ref))
        hops: list[Any] = []
        for ref in chain[:-1]:
            target = self.tables.get(ref.target or "")
            if target is None:
                raise self.fail(node, f"no table given for object {ref.target!r}")
            hops.append(target.alias())
        final = chain[-1]
        expr: Any = hops[-1].c[final.name]
        for i in range(len(hops) - 1, -1, -1):
            outer = self.table if i == 0 else hops[i - 1]
            expr = select(expr).where(hops[i].c.id == outer.c[chain[i].name]).scalar_subquery()
        return SqlValue(expr, _kind_of_field(final))


# -- operator builders ---------------------------------------------------------------------


def _sql_var(c: SqlCompiler, node: OpNode) -> SqlValue:
    if node.dynamic is not None or not node.args or not isinstance(node.args[0], Literal):
        raise c.fail(node, "a computed var path has no SQL form")
    keys = var_path(node.args[0].value)
    if keys is None or not keys:
        raise c.fail(node, "var must name a field")
    if len(node.args) > 1:
        raise c.fail(node, "var defaults have no SQL form; use ??")
    if keys[0] == USER_ROOT:
        found = dig(c.env.user_data, keys[1:])
        return _const(None if found is MISSING else found)
    return c.field(node, keys)


def _sql_val(c: SqlCompiler, node: OpNode) -> SqlValue:
    keys = []
    for arg in node.args:
        if not isinstance(arg, Literal) or arg.value.__class__ is not str:
            raise c.fail(node, "val must name a field with string segments")
        keys.append(arg.value)
    if not keys:
        raise c.fail(node, "val must name a field")
    return c.field(node, tuple(keys))


def _sql_and(c: SqlCompiler, node: OpNode) -> SqlValue:
    if not node.args:
        return _const(False)
    return _pred(and_(*(c.predicate(a) for a in node.args)))


def _sql_or(c: SqlCompiler, node: OpNode) -> SqlValue:
    if not node.args:
        return _const(False)
    return _pred(or_(*(c.predicate(a) for a in node.args)))


def _sql_not(c: SqlCompiler, node: OpNode) -> SqlValue:
    if not node.args:
        return _const(True)
    return _pred(not_(c.predicate(node.args[0])))


def _sql_not_not(c: SqlCompiler, node: OpNode) -> SqlValue:
    if not node.args:
        return _const(False)
    return _pred(c.predicate(node.args[0]))


def _sql_if(c: SqlCompiler, node: OpNode) -> SqlValue:
    args = node.args
    if not args:
        return _const(None)
    if len(args) == 1:
        return c.value(args[0])
    cond = c.predicate(args[0])
    then = c.predicate(args[1])
    rest = (
        c.predicate(OpNode(node.path, node.op, node.spec, args[2:], None, None))
        if len(args) > 2
        else false()
    )
    return _pred(or_(and_(cond, then), and_(not_(cond), rest)))


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
        return and_(expr.is_not(None), expr == literal(value)) if same else false()
    null_result = _py_result(c, node, op, None, value)
    if kind == "number":
        if value.__class__ is bool or not (
            value is None or is_number(value) or isinstance(value, str)
        ):
            raise c.fail(node, f"a number field compared with {value!r}")
        number = _py_number(c, node, value)
        return _SQL_OP[op](func.coalesce(expr, 0), literal(number))
    if kind == "text":
        if value.__class__ is not str:
            raise c.fail(node, f"a text field compared with {value!r} depends on its digits")
        if op == "==":
            cond = expr == literal(value)
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
        bound = _temporal_literal(c, node, kind, value)
        return and_(expr.is_not(None), _SQL_OP[op](expr, literal(bound)))
    raise c.fail(node, f"comparing a {kind} field has no SQL form")


def _py_number(c: SqlCompiler, node: OpNode, value: Any) -> Any:
    if value is None:
        return 0
    if isinstance(value, str):
        from .values import to_number

        try:
            return to_number(value)
        except RuleRuntimeError:
            raise c.fail(node, f"a number field compared with the text {value!r}") from None
    return value


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
    if a.kind != b.kind or a.kind not in ("number", "date", "bool", "datetime"):
        raise c.fail(node, f"comparing a {a.kind} field with a {b.kind} field has no SQL form")
    x, y = a.expr, b.expr
    both = and_(x.is_not(None), y.is_not(None))
    neither = and_(x.is_(None), y.is_(None))
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


def _sql_compare(c: SqlCompiler, node: OpNode) -> SqlValue:
    values = [c.value(a) for a in node.args]
    conds = []
    for i in range(len(values) - 1):
        conds.append(_compare_pair(c, node, node.op, values[i], values[i + 1]))
    return _pred(and_(*conds) if len(conds) > 1 else conds[0])


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


def _sql_in(c: SqlCompiler, node: OpNode) -> SqlValue:
    if node.dynamic is not None or len(node.args) != 2:
        raise c.fail(node, "in needs [value, array]")
    needle, haystack = (c.value(a) for a in node.args)
    if needle.is_const and haystack.is_const:
        return _const(op_in(needle.const, haystack.const))
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
    cond = col.in_([literal(v) for v in wanted]) if wanted else false()
    cond = and_(col.is_not(None), cond)
    if None in items:
        cond = or_(col.is_(None), cond)
    return _pred(cond)


def _sql_now(c: SqlCompiler, node: OpNode) -> SqlValue:
    return _const(c.env.now())


def _sql_today(c: SqlCompiler, node: OpNode) -> SqlValue:
    return _const(c.env.now().date())


def _sql_has_role(c: SqlCompiler, node: OpNode) -> SqlValue:
    from .ops_crm import has_role

    values = [c.value(a) for a in node.args]
    if not all(v.is_const for v in values):
        raise c.fail(node, "has_role needs role names written in the rule")
    return _const(has_role(c.env, *(v.const for v in values)))


def _sql_affix(start: bool) -> SqlBuilder:
    def build(c: SqlCompiler, node: OpNode) -> SqlValue:
        value, affix = (c.value(a) for a in node.args)
        if value.is_const and affix.is_const:
            text, part = value.const, affix.const
            ok = text.__class__ is str and part.__class__ is str
            return _const(ok and (text.startswith(part) if start else text.endswith(part)))
        if value.kind != "text" or not affix.is_const or affix.const.__class__ is not str:
            raise c.fail(node, "needs a text field and a constant string")
        part = affix.const
        n = len(part)
        col = value.expr
        piece = func.substr(col, 1, n) if start else func.substr(col, func.length(col) - n + 1)
        cond = piece == literal(part) if n else true()
        if not start and n:
            cond = and_(func.length(col) >= n, cond)
        return _pred(and_(col.is_not(None), cond))

    return build


#: SQL builders of the built-in operators, by name; an operator's own ``sql`` wins.
SQL_BUILDERS: dict[str, SqlBuilder] = {
    "var": _sql_var,
    "val": _sql_val,
    "and": _sql_and,
    "or": _sql_or,
    "!": _sql_not,
    "!!": _sql_not_not,
    "if": _sql_if,
    "?:": _sql_if,
    "in": _sql_in,
    "now": _sql_now,
    "today": _sql_today,
    "has_role": _sql_has_role,
    "starts_with": _sql_affix(True),
    "ends_with": _sql_affix(False),
    **{op: _sql_compare for op in ("==", "!=", "===", "!==", "<", "<=", ">", ">=")},
}


def to_sql(
    rule: Any,
    table: Table,
    context: RuleContext,
    *,
    tables: Mapping[str, Table] | None = None,
    env: EvalEnv | None = None,
    registry: OperatorRegistry | None = None,
) -> ColumnElement[bool]:
    """A boolean SQLAlchemy expression selecting the rows of ``table`` the rule accepts.

    Args:
        rule: The JsonLogic rule.
        table: The object's table; its columns are named like the fields.
        context: The object's schema (required: SQL needs declared types).
        tables: Tables of other objects by object name, for dotted vars through lookups
            (joined on the target's ``id`` column).
        env: Supplies ``$user``, ``has_role``, ``now`` and ``today`` as bound values.
        registry: Operators to accept; defaults to ``REGISTRY``.

    Raises:
        RuleCompileError: The rule has problems (as ``check_rule`` reports them).
        RuleNotSqlError: Part of the rule has no exact SQL form; names operator and path.
    """
    problems = check_rule(rule, context, registry=registry)
    if problems:
        raise RuleCompileError(problems)
    node, _ = parse(rule, registry or REGISTRY)
    compiler = SqlCompiler(table, context, tables or {}, env)
    return compiler.predicate(node)  # type: ignore[no-any-return]
