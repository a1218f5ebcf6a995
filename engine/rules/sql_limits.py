"""How large a rule may be when it runs inside a database query.

Every rule is parsed within ``nodes.MAX_DEPTH`` and ``nodes.MAX_NODES``, which keep the
compilers themselves safe. A rule compiled to SQL meets a tighter bound, because the
database parses the statement again: SQLite refuses a WHERE clause nested past its parser
stack (about forty levels of conditions) or an expression of more than a thousand terms,
and the query fails. Held to these limits, any rule that has an SQL form runs on SQLite
and PostgreSQL alike; a larger one is refused before any SQL is built, naming the limit.
List filters sent by users are the rules that meet this bound in practice; record rules
and list view filters of packs are checked against it by ``metacrm validate``.
"""

from __future__ import annotations

from .errors import RuleError, RuleNotSqlError
from .nodes import ArrayNode, Literal, Node, OpNode

__all__ = ["SQL_MAX_DEPTH", "SQL_MAX_NODES", "RuleTooLarge", "check_sql_size"]

#: Deepest nesting of a rule run as SQL (operators, arrays and their items each a level).
SQL_MAX_DEPTH = 12
#: Most nodes (operators, values, arrays) of a rule run as SQL. A list of plain values
#: (``{"in": [{"var": "code"}, [...]]}``) is one: SQL binds it as one flat list, bounded by
#: the parser's ``MAX_NODES``.
SQL_MAX_NODES = 500


class RuleTooLarge(RuleNotSqlError):
    """A rule beyond ``SQL_MAX_DEPTH`` or ``SQL_MAX_NODES``; ``limit`` is the one passed."""

    def __init__(self, path: str, reason: str, limit: int) -> None:
        self.operator = ""
        self.path = path
        self.reason = reason
        self.limit = limit
        RuleError.__init__(self, f"{path or '<rule>'}: {reason}")


def check_sql_size(node: Node) -> None:
    """Refuse a parsed rule too large to run as SQL (iteratively: no recursion limit).

    Raises:
        RuleTooLarge: The rule nests deeper than ``SQL_MAX_DEPTH`` levels or has more than
            ``SQL_MAX_NODES`` nodes; the message names the limit.
    """
    count = 0
    stack: list[tuple[Node, int]] = [(node, 0)]
    while stack:
        current, depth = stack.pop()
        count += 1
        if count > SQL_MAX_NODES:
            raise RuleTooLarge(
                "",
                f"more than {SQL_MAX_NODES} nodes (operators and values); "
                f"a rule run as SQL has at most {SQL_MAX_NODES}",
                SQL_MAX_NODES,
            )
        if depth > SQL_MAX_DEPTH:
            raise RuleTooLarge(
                current.path,
                f"nested more than {SQL_MAX_DEPTH} levels deep; "
                f"a rule run as SQL nests at most {SQL_MAX_DEPTH}",
                SQL_MAX_DEPTH,
            )
        if isinstance(current, ArrayNode):
            if all(isinstance(item, Literal) for item in current.items):
                continue  # one flat list of bound values (an IN list): one node
            stack.extend((item, depth + 1) for item in current.items)
        elif isinstance(current, OpNode):
            stack.extend((arg, depth + 1) for arg in current.args)
            if current.dynamic is not None:
                stack.append((current.dynamic, depth + 1))
