"""The JSON Logic community conformance suites, every case, through ``compile_rule``.

The suites live outside the project (``<project root>/../shared/conformance/jsonlogic``)
and are read in place. Each case compiles the rule with no context (the generic path the
whole engine shares) and evaluates it once.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from engine.rules import RuleError, compile_rule

SUITES = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "jsonlogic"
EXPECTED_CASES = 1138


def _load_cases() -> list[tuple[str, dict[str, Any]]]:
    if not SUITES.is_dir():
        return []
    cases = []
    for name in json.loads((SUITES / "index.json").read_text()):
        entries = json.loads((SUITES / name).read_text())
        for index, entry in enumerate(entries):
            if isinstance(entry, dict):
                cases.append((f"{name}#{index}", entry))
    return cases


CASES = _load_cases()


def same(actual: Any, expected: Any) -> bool:
    """Equality per the suites' README: a bool is not a number; floats within 1e-9."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        if not isinstance(actual, int | float):
            return False
        return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(same(actual[k], expected[k]) for k in expected)
        )
    return type(actual) is type(expected) and actual == expected


def test_suite_has_every_case() -> None:
    if not SUITES.is_dir():
        pytest.skip(f"conformance suites not found at {SUITES}")
    assert len(CASES) == EXPECTED_CASES


@pytest.mark.parametrize(("case_id", "case"), CASES, ids=[c[0] for c in CASES])
def test_case(case_id: str, case: dict[str, Any]) -> None:
    data = case.get("data")
    if "error" in case:
        expected_type = case["error"]["type"]
        with pytest.raises(RuleError) as info:
            compile_rule(case["rule"])(data)
        assert info.value.type == expected_type or expected_type in str(info.value)
        return
    result = compile_rule(case["rule"])(data)
    assert same(result, case["result"]), f"{case_id}: got {result!r}, want {case['result']!r}"
