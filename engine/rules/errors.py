"""Errors raised by the rule compilers and by compiled rules.

Problems found while compiling are values (``RuleProblem``) so that the metadata validator
can report every problem of every rule in a pack at once, each with its location. Errors
raised while evaluating carry a JsonLogic error ``type`` (``"NaN"``, ``"Invalid Arguments"``
or the value given to ``throw``) because the ``try`` operator and callers branch on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ProblemCode",
    "RuleCompileError",
    "RuleError",
    "RuleNotSqlError",
    "RuleProblem",
    "RuleRuntimeError",
]


class ProblemCode:
    """The codes a ``RuleProblem`` may carry; plugins may add their own strings."""

    UNKNOWN_OPERATOR = "unknown_operator"
    INVALID_ARGUMENTS = "invalid_arguments"
    UNKNOWN_FIELD = "unknown_field"
    UNKNOWN_OBJECT = "unknown_object"
    TYPE_MISMATCH = "type_mismatch"
    TOO_DEEP = "too_deep"
    TOO_LARGE = "too_large"
    NOT_A_RULE = "not_a_rule"
    UNSAFE_REGEX = "unsafe_regex"


# JsonLogic error type reported for a compile problem of a given code, so a caller that
# treats compile and run time alike (the conformance suite does) sees one vocabulary.
_ERROR_TYPE = {
    ProblemCode.UNKNOWN_OPERATOR: "Unknown Operator",
    ProblemCode.UNKNOWN_FIELD: "Unknown Field",
    ProblemCode.TYPE_MISMATCH: "Type Mismatch",
}


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One thing wrong with a rule, found without evaluating it.

    Attributes:
        path: Where in the rule, e.g. ``and[1].in[0]``; ``""`` is the rule itself.
        code: A ``ProblemCode`` value.
        message: What is wrong, in English, for logs and the CLI.
        suggestion: A likely intended name ("did you mean"), if one is close.
    """

    path: str
    code: str
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        where = self.path or "<rule>"
        hint = f" (did you mean {self.suggestion!r}?)" if self.suggestion else ""
        return f"{where}: {self.message}{hint}"


class RuleError(Exception):
    """Base of every error raised by ``engine.rules``.

    Attributes:
        type: The JsonLogic error type, e.g. ``"NaN"`` or ``"Invalid Arguments"``.
    """

    type: Any = "Error"


class RuleCompileError(RuleError):
    """A rule has problems; all of them are listed, not just the first.

    Attributes:
        problems: Every problem found, in rule order.
    """

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = list(problems)
        first = self.problems[0] if self.problems else None
        self.type = _ERROR_TYPE.get(first.code, "Invalid Arguments") if first else "Invalid"
        lines = "; ".join(str(p) for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in rule: {lines}")


class RuleRuntimeError(RuleError):
    """Evaluation failed; ``type`` says how, ``value`` is the JsonLogic error object.

    ``value`` is what a ``try`` fallback sees as its data: ``{"type": "NaN"}`` for built-in
    errors, or whatever was given to ``throw``.
    """

    def __init__(self, type_: Any, value: Any = None, message: str | None = None) -> None:
        self.type = type_
        self.value = {"type": type_} if value is None else value
        super().__init__(message or f"rule error: {type_}")


class RuleNotSqlError(RuleError):
    """The rule uses something SQL cannot express; names the operator and the path."""

    type = "Not SQL"

    def __init__(self, operator: str, path: str, reason: str) -> None:
        self.operator = operator
        self.path = path
        self.reason = reason
        super().__init__(f"{path or '<rule>'}: {operator!r} cannot be compiled to SQL: {reason}")
