"""The CRM operators and the evaluation environment: clock, time zone, user, old record."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from engine.rules import (
    EvalEnv,
    FieldRef,
    RuleCompileError,
    RuleContext,
    RuleRuntimeError,
    UserInfo,
    compile_rule,
)

# 2026-11-23 17:30 UTC is already 2026-11-24 01:30 in Asia/Shanghai.
CLOCK = lambda: datetime(2026, 11, 23, 17, 30, tzinfo=UTC)  # noqa: E731
USER = UserInfo(
    id=7, roles=("sales_manager",), org_unit="store-1", org_units=("store-1", "east", "brand")
)
ENV = EvalEnv(user=USER, old={"stage": "new", "amount": 100}, clock=CLOCK)


def run(rule: Any, data: Any = None, env: EvalEnv | None = ENV) -> Any:
    return compile_rule(rule)(data or {}, env)


def test_now_is_aware_in_the_users_time_zone() -> None:
    now = run({"now": []})
    assert now.utcoffset().total_seconds() == 8 * 3600
    assert now.astimezone(UTC) == CLOCK()


def test_today_uses_the_users_time_zone_not_utc() -> None:
    assert run({"today": []}) == date(2026, 11, 24)
    assert run({"today": []}, env=EvalEnv(clock=CLOCK, timezone="UTC")) == date(2026, 11, 23)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"date_add": ["2026-01-31", 1, "months"]}, date(2026, 2, 28)),
        ({"date_add": ["2024-02-29", 1, "years"]}, date(2025, 2, 28)),
        ({"date_add": ["2026-11-23", -7, "days"]}, date(2026, 11, 16)),
        ({"date_add": ["2026-11-23", 2, "weeks"]}, date(2026, 12, 7)),
        ({"date_add": [None, 2, "days"]}, None),
        ({"date_diff": ["2026-11-24", "2026-11-01", "days"]}, 23),
        ({"date_diff": ["2026-11-01", "2026-11-24", "days"]}, -23),
        ({"date_diff": ["2026-11-23T12:00:00+00:00", "2026-11-23T02:30:00+00:00", "hours"]}, 9),
        ({"date_diff": ["2026-03-15", "2025-01-20", "months"]}, 13),
        ({"date_diff": ["2026-03-15", "2025-01-20", "years"]}, 1),
    ],
)
def test_date_arithmetic(rule: Any, expected: Any) -> None:
    assert run(rule) == expected


def test_date_add_hours_on_now() -> None:
    later = run({"date_add": [{"now": []}, 2, "hours"]})
    assert later.astimezone(UTC) == datetime(2026, 11, 23, 19, 30, tzinfo=UTC)


def test_rule_compares_datetime_field_with_now() -> None:
    rule = compile_rule({">": [{"var": "scheduled_at"}, {"now": []}]})
    assert rule({"scheduled_at": datetime(2026, 11, 24, 9, tzinfo=UTC)}, ENV) is True
    assert rule({"scheduled_at": "2026-11-23T08:00:00Z"}, ENV) is False
    assert rule({"scheduled_at": None}, ENV) is False


def test_date_field_before_today() -> None:
    rule = compile_rule({"<": [{"var": "close_date"}, {"today": []}]})
    assert rule({"close_date": date(2026, 11, 23)}, ENV) is True
    assert rule({"close_date": "2026-11-24"}, ENV) is False


def test_times_of_day_compare_as_times() -> None:
    """A time field holds a time of day: "opening before closing" reads two of them, and
    a rule may name one as text ("09:00")."""
    before = compile_rule({"<": [{"var": "opens"}, {"var": "closes"}]})
    assert before({"opens": time(9), "closes": time(18)}, ENV) is True
    assert before({"opens": time(18), "closes": time(9)}, ENV) is False
    assert before({"opens": None, "closes": time(9)}, ENV) is False
    assert run({">=": [{"var": "opens"}, "08:30"]}, {"opens": time(9)}) is True
    assert run({"==": [{"var": "opens"}, "09:00"]}, {"opens": time(9)}) is True
    with pytest.raises(RuleRuntimeError):
        run({"<": [{"var": "opens"}, {"var": "day"}]}, {"opens": time(9), "day": date(2026, 1, 1)})


def test_has_role_and_user_vars() -> None:
    assert run({"has_role": "sales_manager"}) is True
    assert run({"has_role": ["admin", "sales_manager"]}) is True
    assert run({"has_role": "admin"}) is False
    assert run({"has_role": "admin"}, env=EvalEnv()) is False
    assert run({"==": [{"var": "owner"}, {"var": "$user.id"}]}, {"owner": 7}) is True
    below = {"in": [{"var": "org_unit"}, {"var": "$user.org_units"}]}
    assert run(below, {"org_unit": "east"}) is True
    assert run(below, {"org_unit": "west"}) is False
    assert run({"var": "$user.roles"}) == ["sales_manager"]
    assert run({"var": "$user.id"}, env=None) is None


def test_changed_and_old_read_the_stored_record() -> None:
    assert run({"changed": "stage"}, {"stage": "won"}) is True
    assert run({"changed": "amount"}, {"amount": 100}) is False
    assert run({"old": "amount"}) == 100
    create = EvalEnv(clock=CLOCK)
    assert run({"changed": "stage"}, {"stage": "new"}, env=create) is True
    assert run({"changed": "stage"}, {"stage": None}, env=create) is False
    assert run({"old": "stage"}, env=create) is None


def test_guard_only_on_stage_change_to_won() -> None:
    rule = {"and": [{"changed": "stage"}, {"==": [{"var": "stage"}, "won"]}]}
    assert run(rule, {"stage": "won"}) is True
    assert run(rule, {"stage": "lost"}) is False


@pytest.mark.parametrize(
    ("rule", "data", "expected"),
    [
        ({"starts_with": [{"var": "phone"}, "+86"]}, {"phone": "+8613800000000"}, True),
        ({"starts_with": [{"var": "phone"}, "+86"]}, {"phone": None}, False),
        ({"ends_with": [{"var": "email"}, "@example.com"]}, {"email": "a@example.com"}, True),
        ({"contains": [{"var": "name"}, "Ltd"]}, {"name": "Acme Ltd"}, True),
        ({"contains": [{"var": "tags"}, "vip"]}, {"tags": ["vip", "b2b"]}, True),
        ({"contains": [{"var": "tags"}, "vip"]}, {"tags": None}, False),
        ({"lower": [{"var": "name"}]}, {"name": "ACME"}, "acme"),
        ({"upper": [{"var": "name"}]}, {"name": None}, None),
        ({"index_of": [{"var": "name"}, "Ltd"]}, {"name": "Acme Ltd"}, 5),
        ({"index_of": [{"var": "name"}, "海"]}, {"name": "上海"}, 1),
        ({"index_of": [{"var": "name"}, "GmbH"]}, {"name": "Acme Ltd"}, -1),
        ({"index_of": [{"var": "name"}, ""]}, {"name": "Acme"}, 0),
        ({"index_of": [{"var": "name"}, "A"]}, {"name": None}, -1),
        ({"index_of": [{"var": "name"}, 1]}, {"name": "a1"}, -1),
        ({"index_of": [{"var": "tags"}, "vip"]}, {"tags": ["b2b", "vip"]}, 1),
        ({"index_of": [{"var": "tags"}, 1]}, {"tags": ["1", 1]}, 1),
        ({"index_of": [{"var": "tags"}, "vip"]}, {}, -1),
        ({"length": [{"var": "name"}]}, {"name": "上海"}, 2),
        ({"length": [{"var": "tags"}]}, {"tags": [1, 2, 3]}, 3),
        ({"length": [{"var": "tags"}]}, {}, 0),
        ({"matches": [{"var": "phone"}, r"^\+86\d{11}$"]}, {"phone": "+8613800000000"}, True),
        ({"matches": [{"var": "phone"}, r"^\+86\d{11}$"]}, {"phone": "12345"}, False),
        ({"matches": [{"var": "phone"}, r"^\+86\d{11}$"]}, {}, False),
    ],
)
def test_string_helpers(rule: Any, data: Any, expected: Any) -> None:
    assert run(rule, data) == expected


def test_index_of_reads_a_character_table() -> None:
    """A lookup table as a string: a VIN character's transliteration value (ISO 3779) is
    its position in the table modulo 10."""
    table = "0123456789.ABCDEFGH..JKLMN.P.R..STUVWXYZ"
    rule = {"%": [{"index_of": [table, {"substr": [{"var": "vin"}, {"var": "at"}, 1]}]}, 10]}
    values = {c: run(rule, {"vin": c, "at": 0}) for c in "09AHJNPRSZ"}
    assert values == {"0": 0, "9": 9, "A": 1, "H": 8, "J": 1, "N": 5, "P": 7, "R": 9,
                      "S": 2, "Z": 9}  # fmt: skip


def test_index_of_takes_exactly_two_arguments() -> None:
    with pytest.raises(RuleCompileError):
        compile_rule({"index_of": ["abc"]})


def test_matches_pattern_must_be_a_constant() -> None:
    with pytest.raises(RuleCompileError) as info:
        compile_rule({"matches": [{"var": "a"}, {"var": "pattern"}]})
    assert info.value.problems[0].code == "unsafe_regex"


def test_unknown_date_unit_is_a_compile_problem_and_a_runtime_error() -> None:
    with pytest.raises(RuleCompileError):
        compile_rule({"date_add": ["2026-01-01", 1, "fortnights"]})
    with pytest.raises(RuleRuntimeError):
        run({"date_add": ["2026-01-01", 1, {"var": "unit"}]}, {"unit": "fortnights"})


def test_changed_field_is_checked_against_the_context() -> None:
    context = RuleContext("lead", {"stage": FieldRef("stage", "picklist")})
    with pytest.raises(RuleCompileError) as info:
        compile_rule({"changed": "stag"}, context)
    assert info.value.problems[0].suggestion == "stage"
