"""The optimistic fast body and the generic body agree on every rule and record.

The fast body relies on Python raising exactly where JsonLogic needs coercion; this checks
that claim on random rules over records holding values of every JSON kind (and of the
declared types, when a context is given).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.rules import FieldRef, RuleContext, RuleError, compile_rule
from engine.rules._codegen import build_rule
from engine.rules.nodes import parse
from engine.rules.operators import REGISTRY

FIELDS = ["a", "b", "c"]
CONTEXT = RuleContext(
    "thing",
    {
        "a": FieldRef("a", "integer"),
        "b": FieldRef("b", "text"),
        "c": FieldRef("c", "decimal"),
    },
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False),
    st.sampled_from(["", "0", "1", "2.5", "x", "abc", "-3"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.just({}), st.just({"k": 1}))
var = st.builds(lambda f: {"var": f}, st.sampled_from(FIELDS))
operand = st.one_of(var, scalars)


def _rules() -> st.SearchStrategy[Any]:
    compare = st.builds(
        lambda op, a, b: {op: [a, b]},
        st.sampled_from(["==", "!=", "===", "!==", "<", "<=", ">", ">="]),
        operand,
        operand,
    )
    membership = st.builds(
        lambda a, items: {"in": [a, items]},
        var,
        st.lists(st.sampled_from(["x", "abc", "0", "1"]), max_size=3),
    )
    leaf = st.one_of(compare, membership, var)
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(lambda xs: {"and": xs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda xs: {"or": xs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda x: {"!": [x]}, inner),
            st.builds(lambda c, a, b: {"if": [c, a, b]}, inner, inner, inner),
        ),
        max_leaves=6,
    )


def outcome(fn: Any, data: Any) -> Any:
    try:
        result = fn(data)
        return ("ok", type(result).__name__, repr(result))
    except RuleError as exc:
        return ("error", exc.type)


def generic(rule: Any) -> Any:
    node, problems = parse(rule, REGISTRY)
    assert not problems
    return build_rule(node, None, optimise=False)[0]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=_rules(), record=st.fixed_dictionaries({f: values for f in FIELDS}))
def test_fast_body_matches_generic_body(rule: Any, record: dict[str, Any]) -> None:
    expected = outcome(generic(rule), record)
    assert outcome(compile_rule(rule), record) == expected
    partial = {k: v for k, v in record.items() if k != "a"}
    assert outcome(compile_rule(rule), partial) == outcome(generic(rule), partial)


typed = st.fixed_dictionaries(
    {
        "a": st.one_of(st.none(), st.integers(-5, 5)),
        "b": st.one_of(st.none(), st.sampled_from(["", "0", "x", "abc", "1"])),
        "c": st.one_of(st.none(), st.floats(-5, 5, allow_nan=False)),
    }
)


@settings(max_examples=400, deadline=None)
@given(rule=_rules(), record=typed)
def test_typed_fast_body_matches_generic_body(rule: Any, record: dict[str, Any]) -> None:
    try:
        typed_rule = compile_rule(rule, CONTEXT)
    except RuleError:
        return  # statically refused (a type mismatch): nothing to evaluate
    assert outcome(typed_rule, record) == outcome(generic(rule), record)
