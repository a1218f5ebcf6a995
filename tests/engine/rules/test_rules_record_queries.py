"""Record queries mean one thing in SQL and in Python: the rooms a correlated subquery
selects are the rooms whose record the Python-compiled rule accepts (running the same
query on a connection with the room's values bound), and both are the rooms a brute-force
count over the bookings the test wrote picks. On SQLite and PostgreSQL. Static checks
name unknown objects and fields with a suggestion."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine.compiled import CompiledSchema, compile_schema
from engine.records import Actor, RecordService
from engine.records.rule_records import RuleRecords
from engine.rules import EvalEnv, check_rule, compile_rule, to_sql
from engine.validate import validate_paths

PACK = Path(__file__).resolve().parents[2] / "fixtures" / "booking_pack"
SYSTEM = Actor(user_id=None, name="system")
T0 = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)
OF_ROOM = {"==": [{"var": "room"}, {"outer": "id"}]}


def _of_room(*more: Any) -> dict:
    return {"and": [OF_ROOM, *more]} if more else OF_ROOM


def _q(op: str, where: Any, **extra: Any) -> dict:
    return {op: {"object": "booking", "where": where, **extra}}


#: (rule over a room, brute force over that room's bookings [(seats, start hour)] + room)
CASES = [
    (_q("record_exists", _of_room({">=": [{"var": "seats"}, 5]})),
     lambda b, r: any((s or 0) >= 5 for s, _ in b)),
    ({">=": [_q("record_count", OF_ROOM), 2]}, lambda b, r: len(b) >= 2),
    ({"==": [_q("record_count", OF_ROOM), 0]}, lambda b, r: not b),
    ({">": [_q("record_sum", OF_ROOM, field="seats"), 10]},
     lambda b, r: sum(s or 0 for s, _ in b) > 10),
    ({"<": [_q("record_max", OF_ROOM, field="seats"), {"var": "capacity"}]},
     lambda b, r: max([s for s, _ in b if s is not None], default=0) < (r["capacity"] or 0)),
    ({">=": [_q("record_min", OF_ROOM, field="seats"), 3]},
     lambda b, r: min([s for s, _ in b if s is not None], default=0) >= 3),
    ({">": [_q("record_avg", OF_ROOM, field="seats"), 4]},
     lambda b, r: bool([s for s, _ in b if s is not None])
     and sum(s for s, _ in b if s is not None) / len([s for s, _ in b if s is not None]) > 4),
    (_q("record_exists", _of_room({"<": [{"var": "starts_at"}, "2026-12-01T12:00:00Z"]})),
     lambda b, r: any(h < 4 for _, h in b)),
    ({"!": _q("record_exists", _of_room({">": [{"var": "seats"}, {"outer": "capacity"}]}))},
     lambda b, r: not any((s or 0) > (r["capacity"] or 0) for s, _ in b)),
]  # fmt: skip


@pytest.fixture(scope="module")
def schema() -> CompiledSchema:
    report = validate_paths([PACK])
    assert not report.errors
    return compile_schema(report.schema)


@pytest.fixture
def filled(database, schema):
    """Rooms with random capacities and bookings; returns the service and the data."""
    schema.tables.metadata.create_all(database.engine)
    service = RecordService(database, schema)
    rng = random.Random(11)
    rooms = []
    for i in range(12):
        capacity = rng.choice([None, 2, 4, 6])
        rooms.append(service.create("room", {"name": f"R{i}", "capacity": capacity}, SYSTEM))
    bookings: dict[str, list[tuple[int | None, int]]] = {r["id"]: [] for r in rooms}
    for room in rooms:
        for slot in range(rng.randrange(0, 4)):
            seats = rng.choice([None, 1, 3, 5, 8])
            start = slot * 3 + rng.randrange(0, 2)
            values = {"room": room["id"], "seats": seats,
                      "starts_at": T0 + dt.timedelta(hours=start),
                      "ends_at": T0 + dt.timedelta(hours=start + 1)}  # fmt: skip
            service.create("booking", values, SYSTEM)
            bookings[room["id"]].append((seats, start))
    return service, rooms, bookings


@pytest.mark.parametrize(("rule", "expect"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_sql_python_and_brute_force_pick_the_same_rooms(filled, schema, rule, expect):
    service, rooms, bookings = filled
    cobj = schema.objects["room"]
    table = schema.tables["room"]
    expected = {r["id"] for r in rooms if expect(bookings[r["id"]], r)}
    assert 0 < len(expected) < len(rooms)  # the data tells the rooms apart
    where = to_sql(rule, table, cobj.context, tables=schema.tables.objects)
    check = compile_rule(rule, cobj.context)
    with service.db.engine.connect() as conn:
        in_sql = {str(row.id) for row in conn.execute(sa.select(table.c.id).where(where))}
        stored = [dict(row) for row in conn.execute(sa.select(table)).mappings()]
        env = EvalEnv(records=RuleRecords(conn, schema.tables.objects))
        in_python = {str(row["id"]) for row in stored if check(row, env)}
    assert in_sql == expected
    assert in_python == expected
    listed = service.list("room", SYSTEM, filter=rule, limit=500).records
    assert {r["id"] for r in listed} == expected


def test_an_archived_booking_is_never_found(filled, schema):
    service, rooms, bookings = filled
    room = next(r for r in rooms if len(bookings[r["id"]]) >= 1)
    count = _q("record_count", OF_ROOM)
    before = service.list("room", SYSTEM, filter={"==": [count, len(bookings[room["id"]])]})
    assert room["id"] in {r["id"] for r in before.records}
    first = service.list("booking", SYSTEM, filter={"==": [{"var": "room"}, room["id"]]})
    service.delete("booking", first.records[0]["id"], SYSTEM)
    after = service.list(
        "room", SYSTEM, filter={"==": [count, len(bookings[room["id"]]) - 1]}, limit=500
    )
    assert room["id"] in {r["id"] for r in after.records}


def test_a_rule_outside_the_write_path_says_it_needs_the_database(schema):
    from engine.rules import RuleError

    check = compile_rule(_q("record_exists", OF_ROOM), schema.objects["room"].context)
    with pytest.raises(RuleError, match="reads the database"):
        check({"id": "x"})


def test_static_checks_name_the_object_and_fields_with_suggestions(schema):
    context = schema.objects["booking"].context
    rule = {"and": [
        {"record_count": {"object": "bookng", "where": True}},
        {"record_sum": {"object": "booking", "field": "seat", "wher": True}},
        {"record_exists": {"object": "booking", "where": {"==": [{"var": "rooom"},
                                                               {"outer": "rom"}]}}},
        {"record_sum": {"object": "booking", "field": "starts_at"}},
        {"record_count": {"object": "booking", "field": "seats"}},
        {"outer": "room"},
    ]}  # fmt: skip
    found = [(p.path, p.code, p.suggestion) for p in check_rule(rule, context)]
    assert found == [
        ("and[0].record_count.object", "unknown_object", "booking"),
        ("and[1].record_sum.field", "unknown_field", "seats"),
        ("and[1].record_sum.wher", "invalid_arguments", "where"),
        ("and[2].record_exists.where.==[0]", "unknown_field", "room"),
        ("and[2].record_exists.where.==[1]", "unknown_field", "room"),
        ("and[3].record_sum.field", "type_mismatch", None),
        ("and[4].record_count.field", "invalid_arguments", None),
        ("and[5]", "invalid_arguments", None),
    ]


class _SeesBigBookings:
    """A reader who may open only bookings of three seats or more (a ``FieldReader``)."""

    def __init__(self, schema: CompiledSchema) -> None:
        self.bookings = schema.tables["booking"]

    def column(self, object_name, ref, row):
        return row.c[ref.name]

    def rows(self, object_name):
        return self.bookings.c.seats >= 3 if object_name == "booking" else None


def test_a_list_reader_counts_only_the_bookings_it_may_open(filled, schema):
    service, rooms, bookings = filled
    rule = {">=": [_q("record_count", OF_ROOM), 1]}
    table = schema.tables["room"]
    where = to_sql(rule, table, schema.objects["room"].context, tables=schema.tables.objects,
                   reader=_SeesBigBookings(schema))  # fmt: skip
    with service.db.engine.connect() as conn:
        found = {str(row.id) for row in conn.execute(sa.select(table.c.id).where(where))}
    expected = {r["id"] for r in rooms if any((s or 0) >= 3 for s, _ in bookings[r["id"]])}
    everyone = {r["id"] for r in rooms if bookings[r["id"]]}
    assert found == expected and expected != everyone
