"""The operator registry: every JsonLogic operator metacrm understands, by name.

An operator is a typed record (``Operator``) holding how to generate Python for it and,
optionally, how to build SQL for it and extra static checks. Plugins add operators with
``REGISTRY.register(...)`` at start-up (or pass their own registry to the compilers), so a
rule naming an unregistered operator fails when it is compiled, never when it first runs.
The simplest way to add one is ``Operator.eager(name, fn)``: ``fn`` receives the already
evaluated arguments and needs no code generator.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._codegen import Emitter
    from .compile_sql import SqlCompiler
    from .context import RuleContext
    from .nodes import OpNode
    from .static_checks import Checker

__all__ = [
    "ArgMode",
    "Kind",
    "Operator",
    "OperatorRegistry",
    "PythonGen",
    "SqlGen",
]


class ArgMode(enum.Enum):
    """How an operator's argument is read from the rule.

    LIST: must be a JSON array written in the rule (control flow, comparisons, iterators:
        their laziness depends on seeing the arguments).
    SPREAD: an array gives the arguments; an operator gives them at run time (its value,
        when a list, is spread); any other value is the single argument.
    SINGLE: an array gives the arguments; anything else is the single argument.
    RAW: the argument is returned unparsed (``preserve``).
    NAMED: an object whose keys are the operator's ``params``; each value is parsed as an
        argument, in ``params`` order (``record_exists``: ``object``, ``where``, ``field``).
    """

    LIST = "list"
    SPREAD = "spread"
    SINGLE = "single"
    RAW = "raw"
    NAMED = "named"


class Kind(enum.Enum):
    """What a node statically evaluates to, as far as the compiler can tell."""

    ANY = "any"
    BOOL = "bool"
    NUMBER = "number"
    STRING = "string"
    LIST = "list"
    OBJECT = "object"
    NULL = "null"
    DATE = "date"
    DATETIME = "datetime"


PythonGen = Callable[["Emitter", "OpNode"], str]
"""Returns a Python expression (source) for the node; see ``Emitter`` for the contract."""

SqlGen = Callable[["SqlCompiler", "OpNode"], Any]
"""Returns a SQLAlchemy Core expression for the node."""

InnerContext = Callable[["OpNode", "RuleContext"], "RuleContext | None"]
"""For an operator over another object's records: the context its arguments after the
first are checked against (None when the context does not describe that object)."""


@dataclass(frozen=True, slots=True)
class Operator:
    """One operator.

    Attributes:
        name: The JsonLogic key, e.g. ``"in"``.
        python: Generates the Python expression (see ``PythonGen``).
        arg_mode: How the argument is read (see ``ArgMode``).
        min_args: Fewest arguments accepted.
        max_args: Most arguments accepted (None: no limit).
        result: What the operator returns, for static checks and fast paths.
        sql: Builds the SQL expression; None when the operator has no SQL form.
        check: Extra static checks (e.g. a regex must be safe).
        uses_env: Reads the evaluation environment (user, old record, clock).
        lazy: Evaluates its arguments itself (they are not all evaluated up front).
        doc: One line for docs and error messages.
        params: For ``ArgMode.NAMED``: the keys of the argument object, in argument order.
        inner_context: For operators over another object's records (``record_exists``):
            the context their arguments after the first are checked against, where
            ``outer`` reads the rule's own record.
    """

    name: str
    python: PythonGen
    arg_mode: ArgMode = ArgMode.SPREAD
    min_args: int = 0
    max_args: int | None = None
    result: Kind = Kind.ANY
    sql: SqlGen | None = None
    check: Checker | None = None
    uses_env: bool = False
    lazy: bool = False
    doc: str = ""
    eager_fn: Callable[..., Any] | None = field(default=None, compare=False)
    params: tuple[str, ...] = ()
    inner_context: InnerContext | None = field(default=None, compare=False)

    @classmethod
    def eager(
        cls,
        name: str,
        fn: Callable[..., Any],
        *,
        arg_mode: ArgMode = ArgMode.SPREAD,
        min_args: int = 0,
        max_args: int | None = None,
        result: Kind = Kind.ANY,
        sql: SqlGen | None = None,
        check: Checker | None = None,
        doc: str = "",
    ) -> Operator:
        """An operator whose arguments are all evaluated first, then passed to ``fn``.

        ``fn(*values)`` may raise ``RuleRuntimeError``; it must not mutate its arguments.
        """
        from ._codegen import gen_eager

        return cls(
            name=name,
            python=gen_eager,
            arg_mode=arg_mode,
            min_args=min_args,
            max_args=max_args,
            result=result,
            sql=sql,
            check=check,
            doc=doc,
            eager_fn=fn,
        )


class OperatorRegistry:
    """Operators by name. Registration happens at start-up; lookups happen at compile."""

    def __init__(self, operators: list[Operator] | None = None) -> None:
        self._ops: dict[str, Operator] = {}
        for op in operators or ():
            self.register(op)

    def register(self, op: Operator, *, replace: bool = False) -> None:
        """Add ``op``.

        Raises:
            ValueError: The name is taken and ``replace`` is false (two plugins claiming
                one operator is a configuration error worth stopping for).
        """
        if op.name in self._ops and not replace:
            raise ValueError(f"operator {op.name!r} is already registered")
        self._ops[op.name] = op

    def get(self, name: str) -> Operator | None:
        """The operator called ``name``, or None."""
        return self._ops.get(name)

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted(self._ops)

    def copy(self) -> OperatorRegistry:
        """An independent registry with the same operators (to extend without sharing)."""
        new = OperatorRegistry()
        new._ops = dict(self._ops)
        return new

    def __contains__(self, name: object) -> bool:
        return name in self._ops

    def __iter__(self) -> Iterator[Operator]:
        return iter(self._ops.values())

    def __len__(self) -> int:
        return len(self._ops)
