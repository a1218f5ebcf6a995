"""Regular expressions that cannot hang a worker.

Python's ``re`` backtracks and has no timeout, so a pattern like ``(a+)+$`` takes
exponential time on a crafted input. Patterns in rules are therefore:

* constants written in the rule (never data), at most ``MAX_PATTERN`` characters;
* checked statically: no nested quantifiers, no quantified alternation whose branches
  can start alike, no back-references or look-arounds (they defeat linear matching);
* run with Google's RE2 (package ``google-re2``, linear time) when it is installed;
  otherwise with ``re`` on inputs of at most ``MAX_INPUT`` characters and patterns with
  at most ``MAX_UNBOUNDED_STDLIB`` unbounded quantifiers, so the worst case stays
  polynomial of low degree on a short input.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .values import invalid, js_str

try:  # pragma: no cover - depends on the environment
    import re2 as _re2  # type: ignore[import-not-found,import-untyped,unused-ignore]
except ImportError:  # pragma: no cover
    _re2 = None

try:
    import re._constants as _sre_const
    import re._parser as _sre_parse  # Python 3.11+
except ImportError:  # pragma: no cover
    import sre_constants as _sre_const  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

__all__ = ["HAVE_RE2", "MAX_INPUT", "MAX_PATTERN", "compile_matcher", "pattern_problem"]

HAVE_RE2 = _re2 is not None
MAX_PATTERN = 256
MAX_INPUT = 10_000 if HAVE_RE2 else 1_000
MAX_UNBOUNDED_STDLIB = 2

_REPEATS = {_sre_const.MAX_REPEAT, _sre_const.MIN_REPEAT}
_POSSESSIVE = getattr(_sre_const, "POSSESSIVE_REPEAT", None)
if _POSSESSIVE is not None:
    _REPEATS.add(_POSSESSIVE)
_FORBIDDEN = {
    _sre_const.GROUPREF: "back-references",
    _sre_const.GROUPREF_EXISTS: "conditional groups",
    _sre_const.ASSERT: "look-arounds",
    _sre_const.ASSERT_NOT: "look-arounds",
}
_MAXREPEAT = _sre_const.MAXREPEAT


class _Unsafe(Exception):
    pass


def _children(op: Any, av: Any) -> list[Any]:
    if op in _REPEATS:
        return [av[2]]
    if op == _sre_const.SUBPATTERN:
        return [av[-1]]
    if op == _sre_const.BRANCH:
        return list(av[1])
    if op == getattr(_sre_const, "ATOMIC_GROUP", None):
        return [av]
    return []


def _first_literal(sub: Any) -> int | None:
    items = list(sub)
    if items and items[0][0] == _sre_const.LITERAL:
        return int(items[0][1])
    return None


def _walk(sub: Any, inside_repeat: bool, counts: list[int]) -> None:
    for op, av in sub:
        if op in _FORBIDDEN:
            raise _Unsafe(f"{_FORBIDDEN[op]} are not allowed")
        if op in _REPEATS:
            hi = av[1]
            repeats = hi > 1
            if hi == _MAXREPEAT:
                counts[0] += 1
            if repeats and inside_repeat:
                raise _Unsafe("nested quantifiers can take exponential time")
            _walk(av[2], inside_repeat or repeats, counts)
            continue
        if op == _sre_const.BRANCH and inside_repeat:
            firsts = [_first_literal(b) for b in av[1]]
            if None in firsts or len(set(firsts)) != len(firsts):
                raise _Unsafe("a repeated alternation whose branches can start alike")
        for child in _children(op, av):
            _walk(child, inside_repeat, counts)


def pattern_problem(pattern: Any) -> str | None:
    """Why ``pattern`` is refused, or None when it is safe to compile."""
    if not isinstance(pattern, str):
        return "the pattern must be a string written in the rule"
    if len(pattern) > MAX_PATTERN:
        return f"the pattern is longer than {MAX_PATTERN} characters"
    try:
        parsed = _sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        return f"invalid pattern: {exc}"
    counts = [0]
    try:
        _walk(parsed, False, counts)
    except _Unsafe as exc:
        return str(exc)
    except RecursionError:
        return "the pattern nests too deeply"
    if not HAVE_RE2 and counts[0] > MAX_UNBOUNDED_STDLIB:
        return (
            f"more than {MAX_UNBOUNDED_STDLIB} unbounded quantifiers need the RE2 engine "
            "(install google-re2)"
        )
    return None


def compile_matcher(pattern: str) -> Callable[[Any], bool]:
    """A function ``value -> bool`` that searches ``value`` for ``pattern``.

    Raises:
        ValueError: The pattern is refused (see ``pattern_problem``).
    """
    problem = pattern_problem(pattern)
    if problem:
        raise ValueError(problem)
    compiled: Any = _re2.compile(pattern) if _re2 is not None else re.compile(pattern)
    search = compiled.search

    def matches(value: Any) -> bool:
        if value is None:
            return False
        text = value if value.__class__ is str else js_str(value)
        if len(text) > MAX_INPUT:
            invalid(f"matches: input longer than {MAX_INPUT} characters")
        return search(text) is not None

    return matches
