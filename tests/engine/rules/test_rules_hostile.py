"""Hostile rules and data: each gives a clear error or a bounded evaluation, never a crash,
a leaked RecursionError or a hang."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from engine.rules import RuleCompileError, RuleError, RuleRuntimeError, check_rule, compile_rule
from engine.rules.safe_regex import HAVE_RE2

INJECTIONS = [
    "a'); DROP TABLE lead; --",
    "__import__('os').system('echo pwned')",
    "\n    return 1\n",
    "{d}",
    "_k1",
    "d, env=None): pass\ndef x(",
    "\\x00\x00",
    "' OR '1'='1",
]


def nested(depth: int, op: str = "and") -> Any:
    rule: Any = True
    for _ in range(depth):
        rule = {op: [rule]}
    return rule


@pytest.mark.parametrize("op", ["and", "!", "if", "+", "var"])
def test_nesting_ten_thousand_deep_is_a_clear_compile_error(op: str) -> None:
    with pytest.raises(RuleCompileError) as info:
        compile_rule(nested(10_000, op))
    assert [p.code for p in info.value.problems] == ["too_deep"]


def test_deep_arrays_are_refused_too() -> None:
    rule: Any = 1
    for _ in range(10_000):
        rule = [rule]
    assert [p.code for p in check_rule(rule)] == ["too_deep"]


def test_nesting_within_the_limit_compiles_and_runs() -> None:
    assert compile_rule(nested(60))(None) is True
    assert compile_rule(nested(60, "!"))({}) is True


def test_deeply_nested_data_is_an_error_not_a_recursion_crash() -> None:
    deep: Any = 1
    for _ in range(10_000):
        deep = [deep]
    data = {"a": deep, "b": deep}
    with pytest.raises(RuleRuntimeError):
        compile_rule({"===": [{"var": "a"}, {"var": "b"}]})(data)
    with pytest.raises(RuleRuntimeError):
        compile_rule({"cat": [{"var": "a"}]})(data)


def test_a_million_item_literal_list_is_refused_at_compile() -> None:
    problems = check_rule({"in": [{"var": "x"}, list(range(1_000_000))]})
    assert [p.code for p in problems] == ["too_large"]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"in": [{"var": "x"}, {"var": "xs"}]}, False),
        ({"some": [{"var": "xs"}, {"===": [{"var": ""}, "b"]}]}, False),
        ({"all": [{"var": "xs"}, {"===": [{"var": ""}, "a"]}]}, True),
        ({"length": [{"var": "xs"}]}, 1_000_000),
        ({"==": [{"length": {"filter": [{"var": "xs"}, True]}}, 1_000_000]}, True),
        ({"length": {"var": "xs"}}, 1_000_000),
    ],
)
def test_million_item_data_lists_evaluate_in_bounded_time(rule: Any, expected: Any) -> None:
    data = {"x": "b", "xs": ["a"] * 1_000_000}
    start = time.perf_counter()
    assert compile_rule(rule)(data) == expected
    assert time.perf_counter() - start < 10


def test_lists_beyond_the_item_limit_are_refused_at_run_time() -> None:
    data = {"xs": [0] * 1_000_001}
    with pytest.raises(RuleRuntimeError):
        compile_rule({"map": [{"var": "xs"}, 1]})(data)
    with pytest.raises(RuleRuntimeError):
        compile_rule({"merge": [{"var": "xs"}, {"var": "xs"}]})(data)


@pytest.mark.parametrize(
    "pattern",
    [
        "(a+)+$",
        "(a*)*b",
        "(a|a)*b",
        "(a|aa)+$",
        r"(\w+\s?)+$",
        "([a-zA-Z]+)*$",
        r"^(([a-z])+.)+[A-Z]([a-z])+$",
        r"(.*a){12}",
        r"(x+x+)+y",
        r"(a)\1",
        r"(?=a)a",
        "a" * 300,
        "(",
    ],
)
def test_catastrophic_or_unsupported_regexes_are_refused(pattern: str) -> None:
    problems = check_rule({"matches": [{"var": "s"}, pattern]})
    assert [p.code for p in problems] == ["unsafe_regex"], pattern


def test_polynomial_regex_is_refused_or_bounded() -> None:
    rule = {"matches": [{"var": "s"}, "a*a*a*a*b"]}
    if not HAVE_RE2:
        assert [p.code for p in check_rule(rule)] == ["unsafe_regex"]
        return
    start = time.perf_counter()
    assert compile_rule(rule)({"s": "a" * 5_000}) is False
    assert time.perf_counter() - start < 1


def test_regex_input_length_is_bounded() -> None:
    rule = compile_rule({"matches": [{"var": "s"}, "^x"]})
    assert rule({"s": "x" * 100}) is True
    with pytest.raises(RuleRuntimeError):
        rule({"s": "x" * 1_000_000})


@pytest.mark.parametrize(
    ("rule", "data", "check"),
    [
        ({"*": [1e308, 10]}, None, math.isinf),
        ({"+": [10**400, 1]}, None, math.isinf),
        ({"*": [{"var": "a"}, {"var": "a"}, {"var": "a"}]}, {"a": 10**300}, math.isinf),
        ({"+": [{"var": "a"}, 1]}, {"a": 10**5000}, math.isinf),
        ({"+": ["1e999"]}, None, math.isinf),
        ({"<": [{"var": "a"}, 1]}, {"a": -(10**5000)}, lambda r: r is True),
        ({"cat": [{"var": "a"}]}, {"a": 10**5000}, lambda r: r == "Infinity"),
        ({"substr": ["abc", 1e308, 1e308]}, None, lambda r: r == ""),
        ({"substr": ["abc", {"*": [-1e308, 10]}]}, None, lambda r: r == "abc"),
        ({"%": [10**18, 7]}, None, lambda r: isinstance(r, int | float)),
    ],
)
def test_huge_numbers_saturate_instead_of_crashing(rule: Any, data: Any, check: Any) -> None:
    assert check(compile_rule(rule)(data))


def test_huge_products_in_reduce_stay_bounded() -> None:
    rule = {"reduce": [{"var": "xs"}, {"*": [{"var": "accumulator"}, {"var": "current"}]}, 1]}
    start = time.perf_counter()
    assert math.isinf(compile_rule(rule)({"xs": [10**18] * 100_000}))
    assert time.perf_counter() - start < 5


def test_non_numeric_huge_strings_are_nan() -> None:
    with pytest.raises(RuleRuntimeError) as info:
        compile_rule({"+": ["9" * 5000]})(None)
    assert info.value.type == "NaN"


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_looking_var_names_are_plain_keys(text: str) -> None:
    rule = compile_rule({"val": text})  # val: no dot splitting, the whole text is one key
    assert rule({text: 42}) == 42
    assert rule({"other": 1}) is None
    assert repr(text) not in rule.source
    if not text.isidentifier():
        assert text not in rule.source
    dotted = compile_rule({"var": [text, "fallback"]})
    assert dotted({}) == "fallback"
    assert dotted({text: 42}) == (42 if "." not in text else "fallback")


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_looking_values_are_plain_values(text: str) -> None:
    rule = compile_rule({"==": [{"var": "name"}, text]})
    assert rule({"name": text}) is True
    assert rule({"name": "x"}) is False
    assert repr(text) not in rule.source
    if not text.isidentifier():
        assert text not in rule.source
    assert compile_rule({"cat": [text, {"var": "x"}]})({"x": 1}) == text + "1"


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_looking_operator_names_are_unknown_operators(text: str) -> None:
    problems = check_rule({text: [1]})
    assert [p.code for p in problems] == ["unknown_operator"]


def test_non_json_values_in_rules_are_problems() -> None:
    problems = check_rule({"==": [{"var": "a"}, object()]})
    assert [p.code for p in problems] == ["not_a_rule"]


def test_evaluation_errors_are_rule_errors() -> None:
    for rule, data in [
        ({"+": [{"var": "a"}, 1]}, {"a": {"x": 1}}),
        ({"<": [{"var": "a"}, 1]}, {"a": [1]}),
        ({"/": [1, 0]}, None),
        ({"all": [{"var": "missing"}, True]}, {}),
    ]:
        with pytest.raises(RuleError):
            compile_rule(rule)(data)
