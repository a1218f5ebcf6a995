"""String operators: cat, substr, and the CRM helpers starts_with, ends_with, contains,
index_of, lower, upper, length, matches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._codegen import Emitter
from .errors import ProblemCode, RuleProblem
from .nodes import Literal, OpNode
from .ops_compare import op_in
from .registry import ArgMode, Kind, Operator
from .safe_regex import compile_matcher, pattern_problem
from .values import invalid, js_str, strict_eq, to_int

__all__ = ["OPERATORS"]

#: Longest string ``cat`` builds (a guard against quadratic growth in ``reduce``).
MAX_STRING = 1_000_000


def cat(*args: Any) -> str:
    """Concatenate the string forms of the arguments (null is empty)."""
    text = "".join(js_str(a) for a in args)
    if len(text) > MAX_STRING:
        invalid(f"cat: result longer than {MAX_STRING} characters")
    return text


def substr(value: Any, start: Any = 0, length: Any = None) -> str:
    """JavaScript-style ``substr``: negative start counts from the end; negative length
    stops that many characters before the end."""
    text = js_str(value)
    n = len(text)
    begin = to_int(start)
    begin = max(n + begin, 0) if begin < 0 else min(begin, n)
    if length is None:
        return text[begin:]
    size = to_int(length)
    end = n + size if size < 0 else begin + size
    return text[begin : max(end, begin)]


def starts_with(value: Any, prefix: Any) -> bool:
    """``value`` is a string starting with the string ``prefix``."""
    return value.__class__ is str and prefix.__class__ is str and value.startswith(prefix)


def ends_with(value: Any, suffix: Any) -> bool:
    """``value`` is a string ending with the string ``suffix``."""
    return value.__class__ is str and suffix.__class__ is str and value.endswith(suffix)


def contains(haystack: Any, needle: Any) -> bool:
    """``in`` with the arguments the natural way round (a string or an array first)."""
    return op_in(needle, haystack)


def index_of(haystack: Any, needle: Any) -> int:
    """Position (from 0) of the first ``needle`` in a string (a substring) or an array (an
    item, strict equality, as ``contains``); -1 when it is absent or ``haystack`` is
    neither (null included)."""
    if haystack.__class__ is str:
        return haystack.find(needle) if needle.__class__ is str else -1
    if isinstance(haystack, list | tuple):
        for position, item in enumerate(haystack):
            if strict_eq(item, needle):
                return position
    return -1


def lower(value: Any) -> Any:
    """Lower-case string form; null stays null."""
    return None if value is None else js_str(value).lower()


def upper(value: Any) -> Any:
    """Upper-case string form; null stays null."""
    return None if value is None else js_str(value).upper()


def length(value: Any) -> int:
    """Characters of a string or items of an array; null has length 0."""
    if value is None:
        return 0
    if isinstance(value, str | list | tuple):
        return len(value)
    if isinstance(value, Mapping):
        invalid("length of an object")
    invalid("length of a non-string, non-array value")


def gen_matches(em: Emitter, node: OpNode) -> str:
    pattern = node.args[1]
    # check_matches has run (compile_rule refuses rules with problems), so this is a
    # safe constant; compile_matcher re-checks and raises ValueError otherwise.
    matcher = compile_matcher(pattern.value if isinstance(pattern, Literal) else None)
    return f"{em.const(matcher)}({em.expr(node.args[0])})"


def check_matches(node: OpNode, context: Any) -> list[RuleProblem]:
    """The pattern must be a safe constant (see ``safe_regex``)."""
    if node.dynamic is not None or len(node.args) != 2:
        return [RuleProblem(node.path, ProblemCode.INVALID_ARGUMENTS,
                            "'matches' takes [value, \"pattern\"]")]  # fmt: skip
    pattern = node.args[1]
    value = pattern.value if isinstance(pattern, Literal) else None
    problem = pattern_problem(value)
    if problem:
        return [RuleProblem(pattern.path, ProblemCode.UNSAFE_REGEX, problem)]
    return []


OPERATORS = [
    Operator.eager("cat", cat, result=Kind.STRING, doc="concatenate as strings"),
    Operator.eager("substr", substr, min_args=1, max_args=3, result=Kind.STRING,
                   doc="substring by start and length"),
    Operator.eager("starts_with", starts_with, min_args=2, max_args=2, result=Kind.BOOL,
                   doc="string starts with a prefix"),
    Operator.eager("ends_with", ends_with, min_args=2, max_args=2, result=Kind.BOOL,
                   doc="string ends with a suffix"),
    Operator.eager("contains", contains, min_args=2, max_args=2, result=Kind.BOOL,
                   doc="string contains a substring, or array contains an item"),
    Operator.eager("index_of", index_of, min_args=2, max_args=2, result=Kind.NUMBER,
                   doc="position of a substring or an array item; -1 if absent"),
    # One-argument helpers read a non-array argument as that argument, never spread it,
    # so {"length": {"var": "tags"}} is the length of the list.
    Operator.eager("lower", lower, arg_mode=ArgMode.SINGLE, min_args=1, max_args=1,
                   result=Kind.STRING, doc="lower case"),
    Operator.eager("upper", upper, arg_mode=ArgMode.SINGLE, min_args=1, max_args=1,
                   result=Kind.STRING, doc="upper case"),
    Operator.eager("length", length, arg_mode=ArgMode.SINGLE, min_args=1, max_args=1,
                   result=Kind.NUMBER, doc="length of a string or array"),
    Operator("matches", gen_matches, min_args=2, max_args=2, result=Kind.BOOL,
             check=check_matches, doc="regular-expression search with a safe constant pattern"),
]  # fmt: skip
