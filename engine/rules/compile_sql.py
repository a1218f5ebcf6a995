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
A condition whose only data is one such path is written as a semi-join instead
(``account IN (SELECT id FROM account WHERE region = :r)``): the same rows, but a set the
planner has statistics for, where a scalar subquery per row leaves it guessing.

Compiled for a reader (``reader``, a ``FieldReader``), every field a path reaches is asked
for through it: a hidden field refuses the rule, and a lookup reaches only the target rows
the reader may open (an ``IN`` on the target's own rows inside the correlated subquery, so
no row is added to the outer query, and any other target reads as empty).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    String,
    Table,
    and_,
    case,
    cast,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql.expression import literal

from ._codegen import build_rule
from ._sql_compare import sql_compare, sql_in
from ._sql_value import SqlValue, const, field_value, pred
from .compile_python import compile_rule, parse_checked
from .context import FieldRef, RuleContext
from .env import EvalEnv
from .errors import RuleError, RuleNotSqlError
from .nodes import ArrayNode, Literal, Node, OpNode
from .ops_data import USER_ROOT, var_path
from .reader import FieldReader
from .registry import OperatorRegistry
from .sql_limits import check_sql_size
from .values import MISSING, dig
from .values import truthy as py_truthy

__all__ = ["SQL_BUILDERS", "SqlCompiler", "SqlValue", "to_sql"]


SqlBuilder = Callable[["SqlCompiler", OpNode], SqlValue]
OuterField = Callable[[OpNode, tuple[str, ...]], SqlValue]
"""How ``outer`` reads a field of the record around a record query: the outer row's
column (correlated SQL), or the value of the record being written (bound)."""


class SqlCompiler:
    """Compiles one rule against one table; operators' SQL builders call back into it."""

    def __init__(
        self,
        table: Table,
        context: RuleContext,
        tables: Mapping[str, Table],
        env: EvalEnv | None,
        registry: OperatorRegistry | None = None,
        reader: FieldReader | None = None,
        outer: OuterField | None = None,
    ) -> None:
        self.table = table
        self.outer = outer
        self.context = context
        self.tables = tables
        self._env = env or EvalEnv()
        self.registry = registry
        self.reader = reader
        self.used_env = False
        #: Paths read through lookups under each node (``None``: it reads other data).
        self._paths: dict[int, frozenset[tuple[str, ...]] | None] = {}
        #: A path's value while a condition on it is compiled inside its semi-join.
        self._bound: dict[tuple[str, ...], SqlValue] = {}

    @property
    def env(self) -> EvalEnv:
        """The environment; reading it marks the result as valid for this env only."""
        self.used_env = True
        return self._env

    def fail(self, node: Node, reason: str) -> RuleNotSqlError:
        op = node.op if isinstance(node, OpNode) else "literal"
        return RuleNotSqlError(op, node.path, reason)

    # -- values ----------------------------------------------------------------------------

    def value(self, node: Node) -> SqlValue:
        """The SQL form of ``node``."""
        if isinstance(node, Literal):
            return const(node.value)
        if isinstance(node, ArrayNode):
            items = [self.value(item) for item in node.items]
            if all(i.is_const for i in items):
                return const([i.const for i in items])
            raise self.fail(node, "arrays of computed values have no SQL form")
        builder = node.spec.sql or SQL_BUILDERS.get(node.op)
        if builder is None:
            return self._folded(node)
        return builder(self, node)

    def _folded(self, node: OpNode) -> SqlValue:
        """An operator without an SQL form whose arguments are all constants (such as
        ``{"date_add": [{"now": []}, -90, "days"]}``) is computed here, once, in Python
        with the same semantics, and bound as a value."""
        args = [self.value(arg) for arg in node.args]
        if not all(arg.is_const for arg in args):
            raise self.fail(node, "the operator has no SQL form")
        names = [f"arg{i}" for i in range(len(args))]
        rule = {node.op: [{"var": name} for name in names]}
        try:
            result = compile_rule(rule, registry=self.registry)(
                dict(zip(names, (a.const for a in args), strict=True)), self.env
            )
        except RuleError as exc:
            raise self.fail(node, f"computing it fails ({exc})") from None
        return const(result)

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
        if value.kind == "text" and value.identifier:
            return expr.is_not(None)
        if value.kind == "text":
            return and_(expr.is_not(None), expr != "")
        if value.kind in ("date", "datetime"):
            return expr.is_not(None)
        raise RuleNotSqlError("truthiness", "", f"truthiness of a {value.kind} value")

    def predicate(self, node: Node) -> Any:
        """A never-NULL condition for ``node`` being truthy."""
        paths = None if self._bound else self._lookup_paths(node)
        if paths is not None and len(paths) == 1:
            semi = self._semi_join(node, next(iter(paths)))
            if semi is not None:
                return semi
        return self.truth(self.value(node))

    # -- conditions through lookups --------------------------------------------------------

    def _lookup_paths(self, node: Node) -> frozenset[tuple[str, ...]] | None:
        """The dotted paths through lookups ``node`` reads, when those are all the data it
        reads (``$user`` is the environment, not data); ``None`` when it reads more."""
        key = id(node)
        if key in self._paths:
            return self._paths[key]
        found: frozenset[tuple[str, ...]] | None = frozenset()
        if isinstance(node, ArrayNode):
            found = self._union(node.items)
        elif isinstance(node, OpNode):
            if node.op in ("var", "val"):
                found = self._path_read(node)
            elif node.dynamic is not None or node.spec.inner_context is not None:
                found = None  # a record query reads other records
                found = None
            else:
                found = self._union(node.args)
        self._paths[key] = found
        return found

    def _union(self, nodes: list[Node]) -> frozenset[tuple[str, ...]] | None:
        out: frozenset[tuple[str, ...]] = frozenset()
        for child in nodes:
            paths = self._lookup_paths(child)
            if paths is None:
                return None
            out |= paths
        return out

    def _path_read(self, node: OpNode) -> frozenset[tuple[str, ...]] | None:
        if node.dynamic is not None or not node.args:
            return None
        if not all(isinstance(a, Literal) and a.value.__class__ is str for a in node.args):
            return None
        if node.op == "var":
            if len(node.args) > 1:
                return None
            keys = var_path(node.args[0].value)  # type: ignore[union-attr]
        else:
            keys = tuple(a.value for a in node.args)  # type: ignore[union-attr]
        if not keys:
            return None
        if keys[0] == USER_ROOT:
            return frozenset()
        return frozenset({keys}) if len(keys) > 1 else None

    def _semi_join(self, node: Node, keys: tuple[str, ...]) -> Any:
        """``node`` (whose only data is the path ``keys``) as a set of the rows it holds
        for, found through the path's lookups; ``None`` where that form does not apply.

        The value through a lookup is the target's column when the target is a record
        the reader may open, and null otherwise. So the condition holds on the rows
        whose lookup is in the set of targets where it holds, when it fails on null;
        when it holds on null, on the rows whose lookup is not in the set where it fails.
        Each further hop is the same step again.
        """
        chain, failed = self.context.resolve(keys)
        if failed is not None or len(chain) < 2:
            return None
        owners = [self.context.object_name, *(ref.target or "" for ref in chain[:-1])]
        if any(owner not in self.tables for owner in owners[1:]):
            return None
        on_null = self._on_null(node)
        if on_null is None:
            return None
        target = self.tables[owners[-1]]
        self._bound[keys] = field_value(self._column(owners[-1], chain[-1], target), chain[-1])
        try:
            holds = self.truth(self.value(node))
        except RuleNotSqlError:
            return None
        finally:
            del self._bound[keys]
        ids = self._opened(owners[-1], target, not_(holds) if on_null else holds)
        for i in range(len(chain) - 2, 0, -1):
            table = self.tables[owners[i]]
            ids = self._opened(owners[i], table, self._column(owners[i], chain[i], table).in_(ids))
        link = self._column(owners[0], chain[0], self.table)
        inside = and_(link.is_not(None), link.in_(ids))
        return not_(inside) if on_null else inside

    def _opened(self, object_name: str, table: Table, where: Any) -> Any:
        """The ids of ``table``'s rows the reader may open where ``where`` holds."""
        opens = self.reader.rows(object_name) if self.reader is not None else None
        conds = [where] if opens is None else [where, opens]
        return select(table.c.id).where(*conds).correlate(None)

    def _on_null(self, node: Node) -> bool | None:
        """Whether ``node`` holds when its path reads null, as JsonLogic computes it."""
        try:
            fn, _ = build_rule(node, None)
            return py_truthy(fn({}, self._env))
        except RuleError:
            return None

    # -- fields ----------------------------------------------------------------------------

    def field(self, node: OpNode, keys: tuple[str, ...]) -> SqlValue:
        """The value of a (dotted) field path: the one way an operator reads data."""
        bound = self._bound.get(keys)
        if bound is not None:
            return bound
        chain, failed = self.context.resolve(keys)
        if failed is not None or not chain:
            raise self.fail(node, f"unknown field path {'.'.join(keys)!r}")
        owners = [self.context.object_name, *(ref.target or "" for ref in chain[:-1])]
        rows: list[FromClause] = [self.table]
        for ref in chain[:-1]:
            target = self.tables.get(ref.target or "")
            if target is None:
                raise self.fail(node, f"no table given for object {ref.target!r}")
            rows.append(target.alias())
        final = chain[-1]
        expr: Any = self._column(owners[-1], final, rows[-1])
        for i in range(len(chain) - 2, -1, -1):
            hop = rows[i + 1]
            link = [hop.c.id == self._column(owners[i], chain[i], rows[i])]
            opens = self.reader.rows(owners[i + 1]) if self.reader is not None else None
            if opens is not None:
                target = self.tables[owners[i + 1]]
                link.append(hop.c.id.in_(select(target.c.id).where(opens).correlate(None)))
            expr = select(expr).where(*link).scalar_subquery()
        return field_value(expr, final)

    def _column(self, object_name: str, ref: FieldRef, row: FromClause) -> Any:
        if self.reader is None:
            return row.c[ref.name]
        return self.reader.column(object_name, ref, row)


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
        return const(None if found is MISSING else found)
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
        return const(False)
    return pred(and_(*(c.predicate(a) for a in node.args)))


def _sql_or(c: SqlCompiler, node: OpNode) -> SqlValue:
    if not node.args:
        return const(False)
    return pred(or_(*(c.predicate(a) for a in node.args)))


def _sql_not(c: SqlCompiler, node: OpNode) -> SqlValue:
    if not node.args:
        return const(True)
    return pred(not_(c.predicate(node.args[0])))


def _sql_not_not(c: SqlCompiler, node: OpNode) -> SqlValue:
    if not node.args:
        return const(False)
    return pred(c.predicate(node.args[0]))


def _sql_if(c: SqlCompiler, node: OpNode) -> SqlValue:
    """One flat CASE for if/elif/else: nested ORs of the branches would nest one level per
    branch, and SQLite refuses a WHERE clause nested past its parser stack."""
    args = node.args
    if not args:
        return const(None)
    if len(args) == 1:
        return c.value(args[0])
    branches = [
        (c.predicate(args[i]), c.predicate(args[i + 1])) for i in range(0, len(args) - 1, 2)
    ]
    rest = c.predicate(args[-1]) if len(args) % 2 else false()
    return pred(case(*branches, else_=rest))


def _sql_now(c: SqlCompiler, node: OpNode) -> SqlValue:
    return const(c.env.now())


def _sql_today(c: SqlCompiler, node: OpNode) -> SqlValue:
    return const(c.env.now().date())


def _sql_has_role(c: SqlCompiler, node: OpNode) -> SqlValue:
    from .ops_crm import has_role

    values = [c.value(a) for a in node.args]
    if not all(v.is_const for v in values):
        raise c.fail(node, "has_role needs role names written in the rule")
    return const(has_role(c.env, *(v.const for v in values)))


def _sql_affix(start: bool) -> SqlBuilder:
    def build(c: SqlCompiler, node: OpNode) -> SqlValue:
        value, affix = (c.value(a) for a in node.args)
        if value.is_const and affix.is_const:
            text, part = value.const, affix.const
            ok = text.__class__ is str and part.__class__ is str
            return const(ok and (text.startswith(part) if start else text.endswith(part)))
        if value.kind != "text" or not affix.is_const or affix.const.__class__ is not str:
            raise c.fail(node, "needs a text field and a constant string")
        part = affix.const
        n = len(part)
        # an id is text to the rule (as in Python), a uuid column on PostgreSQL
        col = cast(value.expr, String) if value.identifier else value.expr
        piece = func.substr(col, 1, n) if start else func.substr(col, func.length(col) - n + 1)
        cond = piece == literal(part) if n else true()
        if not start and n:
            cond = and_(func.length(col) >= n, cond)
        return pred(and_(col.is_not(None), cond))

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
    "in": sql_in,
    "now": _sql_now,
    "today": _sql_today,
    "has_role": _sql_has_role,
    "starts_with": _sql_affix(True),
    "ends_with": _sql_affix(False),
    **{op: sql_compare for op in ("==", "!=", "===", "!==", "<", "<=", ">", ">=")},
}


def to_sql(
    rule: Any,
    table: Table,
    context: RuleContext,
    *,
    tables: Mapping[str, Table] | None = None,
    env: EvalEnv | None = None,
    registry: OperatorRegistry | None = None,
    reader: FieldReader | None = None,
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
        reader: Who the rule reads for; every field it reaches is asked for through it.

    Raises:
        RuleCompileError: The rule has problems (as ``check_rule`` reports them).
        RuleNotSqlError: Part of the rule has no exact SQL form; names operator and path.
            ``RuleTooLarge``, one of them, when the rule is larger than SQL may run.
        FieldHidden: The rule reads a field ``reader`` may not use.
    """
    return to_sql_with_env(
        rule, table, context, tables=tables, env=env, registry=registry, reader=reader
    )[0]


def to_sql_with_env(
    rule: Any,
    table: Table,
    context: RuleContext,
    *,
    tables: Mapping[str, Table] | None = None,
    env: EvalEnv | None = None,
    registry: OperatorRegistry | None = None,
    reader: FieldReader | None = None,
) -> tuple[ColumnElement[bool], bool]:
    """``to_sql``, and whether the expression depends on ``env`` (the user, the clock).

    An expression that does not can be kept and reused for any user at any time, which
    is what lets a list filter be compiled once rather than on every page request.
    """
    node = parse_checked(rule, context, registry)
    check_sql_size(node)
    compiler = SqlCompiler(table, context, tables or {}, env, registry, reader)
    where = compiler.predicate(node)
    return where, compiler.used_env
