"""Compile-time problems: all of them, each with a path, code and suggestion."""

from __future__ import annotations

import pytest

from engine.rules import (
    FieldRef,
    Operator,
    RuleCompileError,
    RuleContext,
    check_rule,
    compile_rule,
    default_registry,
)

CONTEXT = RuleContext(
    "opportunity",
    {
        "stage": FieldRef("stage", "picklist"),
        "amount": FieldRef("amount", "currency"),
        "close_date": FieldRef("close_date", "date"),
        "is_vip": FieldRef("is_vip", "boolean"),
        "account": FieldRef("account", "lookup", target="account"),
        "margin": FieldRef("margin", "formula", result_type="percent"),
        "lines": FieldRef("lines", "json"),
    },
    {"account": {"region": FieldRef("region", "picklist"), "name": FieldRef("name", "text")}},
)


def test_every_problem_is_reported_in_one_compile() -> None:
    rule = {
        "and": [
            {"in": [{"var": "stag"}, ["open"]]},
            {"==": [{"var": "close_date"}, True]},
            {"==": [{"var": "account.regoin"}, "east"]},
            {"fooo": [1]},
            {">": [1]},
        ]
    }
    with pytest.raises(RuleCompileError) as info:
        compile_rule(rule, CONTEXT)
    found = [(p.path, p.code, p.suggestion) for p in info.value.problems]
    assert found == [
        ("and[0].in[0]", "unknown_field", "stage"),
        ("and[1].==[1]", "type_mismatch", None),
        ("and[2].==[0]", "unknown_field", "region"),
        ("and[3]", "unknown_operator", None),
        ("and[4]", "invalid_arguments", None),
    ]
    assert check_rule(rule, CONTEXT) == info.value.problems


def test_unknown_operator_suggests_the_closest_name() -> None:
    (problem,) = check_rule({"starts_wiht": ["a", "b"]})
    assert problem.code == "unknown_operator"
    assert problem.suggestion == "starts_with"
    assert "did you mean 'starts_with'" in str(problem)


@pytest.mark.parametrize(
    ("rule", "code"),
    [
        ({"<": 5}, "invalid_arguments"),
        ({"and": True}, "invalid_arguments"),
        ({"%": [1]}, "invalid_arguments"),
        ({"map": [None, {"var": ""}]}, "invalid_arguments"),
        ({"a": 1, "b": 2}, "not_a_rule"),
        ({">": [{"var": "amount"}, "lots"]}, "type_mismatch"),
        ({"==": [{"var": "is_vip"}, "yes"]}, "type_mismatch"),
        ({"<": [{"var": "close_date"}, 5]}, "type_mismatch"),
        ({"in": [{"var": "stage"}, ["open", 2]]}, "type_mismatch"),
        ({"var": "account.nope"}, "unknown_field"),
        ({"var": "stage.nope"}, "unknown_field"),
        ({"matches": [{"var": "stage"}, "(a+)+$"]}, "unsafe_regex"),
    ],
)
def test_problem_codes(rule: object, code: str) -> None:
    problems = check_rule(rule, CONTEXT)
    assert [p.code for p in problems] == [code]


@pytest.mark.parametrize(
    "rule",
    [
        {">": [{"var": "amount"}, "1000"]},
        {">=": [{"var": "close_date"}, "2026-01-01"]},
        {"<": [{"var": "margin"}, 0.2]},
        {"==": [{"var": "account.region"}, "east"]},
        {"==": [{"var": "$user.id"}, {"var": "stage"}]},
        {"map": [{"var": "lines"}, {"var": "not_a_field_of_the_record"}]},
        {"==": [{"var": "stage"}, None]},
    ],
)
def test_valid_rules_have_no_problems(rule: object) -> None:
    assert check_rule(rule, CONTEXT) == []


def test_no_context_skips_field_checks() -> None:
    assert check_rule({"var": "anything.at.all"}) == []


def test_plugins_register_operators_in_their_own_registry() -> None:
    registry = default_registry()
    registry.register(Operator.eager("double", lambda x: x * 2, min_args=1, max_args=1))
    assert compile_rule({"double": {"var": "n"}}, registry=registry)({"n": 21}) == 42
    assert check_rule({"double": 1})[0].code == "unknown_operator"
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Operator.eager("double", lambda x: x))
