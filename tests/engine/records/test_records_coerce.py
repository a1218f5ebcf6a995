"""What each field type accepts from forms, CSV and JSON, and the form it is stored in."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from engine.records.coerce import Invalid, coerce
from metadata.model.fields import Field

SHANGHAI = ZoneInfo("Asia/Shanghai")


def field(kind: str, **options: Any) -> Any:
    return msgspec.convert({"name": "f", "type": kind, **options}, Field)


CHOICES = {"values": [{"value": "a"}, {"value": "b"}, {"value": "old", "active": False}]}

ACCEPTED = [
    (field("text"), "  Zhang San ", "Zhang San"),
    (field("text"), 42, "42"),
    (field("text", pattern=r"[A-Z]{2}-\d+"), "TD-7", "TD-7"),
    (field("integer"), "1,200", 1200),
    (field("integer"), 7.0, 7),
    (field("decimal", scale=2), "12.5", Decimal("12.50")),
    (field("currency"), 3, Decimal("3.00")),
    (field("boolean"), "是", True),
    (field("boolean"), "off", False),
    (field("date"), "2026-11-23", dt.date(2026, 11, 23)),
    # A moment is stored as the user's calendar day.
    (field("date"), dt.datetime(2026, 11, 22, 20, tzinfo=dt.UTC), dt.date(2026, 11, 23)),
    # No zone given: the user's; stored in UTC.
    (field("datetime"), "2026-11-23T10:00", dt.datetime(2026, 11, 23, 2, tzinfo=dt.UTC)),
    (field("datetime"), "2026-11-23T10:00+00:00", dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)),
    (field("time"), "09:30", dt.time(9, 30)),
    (field("email"), " Li@Example.CN ", "li@example.cn"),
    (field("phone"), "138 1234 5678", "+8613812345678"),
    (field("phone", default_region="US"), "(415) 555-2671", "+14155552671"),
    (field("url"), "example.com/a", "https://example.com/a"),
    (field("picklist", **CHOICES), " a ", "a"),
    (field("multi_picklist", **CHOICES), "a;b;a", ["a", "b"]),
    (field("multi_picklist", **CHOICES), ["b"], ["b"]),
    (
        field("lookup", to="account"),
        "0123456789ABCDEF0123456789ABCDEF",
        "01234567-89ab-cdef-0123-456789abcdef",
    ),
    (
        field("lookup", to="account"),
        {"id": "01234567-89ab-cdef-0123-456789abcdef"},
        "01234567-89ab-cdef-0123-456789abcdef",
    ),
    (field("geolocation"), {"lat": "31.2", "lng": 121.5}, {"lat": 31.2, "lng": 121.5}),
    (field("address"), {"city": " Shanghai ", "street": ""}, {"city": "Shanghai"}),
    (field("json"), {"any": [1, 2]}, {"any": [1, 2]}),
]


@pytest.mark.parametrize(("fdef", "given", "stored"), ACCEPTED)
def test_accepted_values_are_normalised(fdef, given, stored):
    assert coerce(fdef, given, SHANGHAI) == stored


REFUSED = [
    (field("text"), {"a": 1}, "not_text"),
    (field("text", max_length=3), "abcd", "too_long"),
    (field("text"), "A\x00b", "control_character"),
    (field("email"), "a\x00@b.cn", "control_character"),
    (field("text", pattern=r"[A-Z]{2}-\d+"), "td-7", "pattern"),
    (field("text", pattern=r"[A-Z]{2}-\d+"), "XTD-7", "pattern"),  # the whole value
    (field("integer"), "1.5", "not_an_integer"),
    (field("integer", min_value=1), 0, "below_min"),
    (field("integer"), True, "not_a_number"),
    (field("decimal"), "NaN", "not_a_number"),
    (field("decimal", precision=4, scale=2), "123.45", "too_many_digits"),
    (field("decimal", scale=2), "1.234", "too_many_digits"),
    (field("currency"), "1E+40", "too_many_digits"),  # found by schemathesis: was a 500
    (field("percent", max_value=100), 101, "above_max"),
    (field("boolean"), "maybe", "not_boolean"),
    (field("date"), "23/11/2026", "bad_date"),
    (field("datetime"), "yesterday", "bad_datetime"),
    (field("time"), "25:00", "bad_time"),
    # A time of day has no zone; dropping one would change the time.
    (field("time"), "09:30+08:00", "bad_time"),
    (field("email"), "not-an-email", "bad_email"),
    (field("phone"), "12345", "bad_phone"),
    (field("url"), "ftp://example.com", "bad_url"),
    (field("url"), "javascript:alert(1)", "bad_url"),
    (field("picklist", **CHOICES), "c", "not_a_choice"),
    (field("picklist", **CHOICES), "old", "inactive_choice"),
    (field("multi_picklist", max_selections=1, **CHOICES), "a;b", "too_many_choices"),
    (field("lookup", to="account"), "../../etc", "bad_reference"),
    (field("geolocation"), {"lat": 91, "lng": 0}, "bad_geolocation"),
    (field("address", components=["city"]), {"planet": "Mars"}, "bad_address"),
    (field("formula", expression={"var": "a"}, result_type="text"), "x", "computed"),
]


@pytest.mark.parametrize(("fdef", "given", "code"), REFUSED)
def test_refused_values_say_why(fdef, given, code):
    with pytest.raises(Invalid) as refused:
        coerce(fdef, given, SHANGHAI)
    assert refused.value.code == code


@pytest.mark.parametrize("kind", ["text", "integer", "date", "lookup"])
def test_empty_means_no_value(kind):
    fdef = field(kind, to="account") if kind == "lookup" else field(kind)
    assert coerce(fdef, "  ", SHANGHAI) is None and coerce(fdef, None, SHANGHAI) is None
    assert coerce(field("multi_picklist", **CHOICES), "", SHANGHAI) == []


def test_a_pattern_is_matched_without_python_backtracking():
    """Patterns run on RE2 (linear time); one too long for the matcher is a refusal."""
    fdef = field("text", pattern=r"[a-z]+\d*", max_length=10_000)
    assert coerce(fdef, "a" * 9_999, SHANGHAI) == "a" * 9_999
    with pytest.raises(Invalid):
        coerce(fdef, "a" * 9_999 + "!", SHANGHAI)
