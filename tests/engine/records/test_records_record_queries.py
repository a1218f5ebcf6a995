"""Validations that see other records (``record_exists``, ``record_count``): no overlapping
bookings of a room, one open lead per phone at a dealer, at most three open leads a dealer;
each outcome checked against a brute-force answer over the records the test wrote, and the
overlap rule held by two concurrent writers on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
import threading
from pathlib import Path

import pytest

from engine.compiled import CompiledSchema, compile_schema
from engine.records import Actor, RecordService, ValidationFailed
from engine.records.hooks import PluginManager
from engine.validate import validate_paths
from plugins.hookspecs import hookimpl

PACK = Path(__file__).resolve().parents[2] / "fixtures" / "booking_pack"
SYSTEM = Actor(user_id=None, name="system")
T0 = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def schema() -> CompiledSchema:
    report = validate_paths([PACK])
    assert not report.errors
    return compile_schema(report.schema)


@pytest.fixture
def service(database, schema) -> RecordService:
    schema.tables.metadata.create_all(database.engine)
    return RecordService(database, schema)


def _book(service, room, start_h, end_h):
    return service.create(
        "booking",
        {"room": room, "starts_at": T0 + dt.timedelta(hours=start_h),
         "ends_at": T0 + dt.timedelta(hours=end_h)},
        SYSTEM,
    )  # fmt: skip


def test_random_bookings_are_refused_exactly_when_they_overlap_one_of_the_same_room(service):
    rooms = [service.create("room", {"name": n}, SYSTEM)["id"] for n in ("A", "B")]
    rng = random.Random(17)
    accepted: list[tuple[str, int, int]] = []
    refusals = 0
    for _ in range(40):
        room = rng.choice(rooms)
        start = rng.randrange(0, 20)
        end = start + rng.randrange(1, 4)
        overlaps = any(r == room and s < end and e > start for r, s, e in accepted)
        try:
            _book(service, room, start, end)
        except ValidationFailed as refused:
            assert overlaps, (room, start, end)
            assert [(e.field, e.rule) for e in refused.errors] == [("starts_at", "no_overlap")]
            refusals += 1
            continue
        assert not overlaps, (room, start, end)
        accepted.append((room, start, end))
    assert 0 < refusals < 40


def test_an_update_may_keep_its_own_slot_but_not_move_onto_another(service):
    room = service.create("room", {"name": "A"}, SYSTEM)["id"]
    first = _book(service, room, 9, 10)
    _book(service, room, 11, 12)
    kept = service.update("booking", first["id"], {"seats": 4}, SYSTEM)
    assert kept["seats"] == 4  # it does not overlap itself
    with pytest.raises(ValidationFailed) as refused:
        service.update("booking", first["id"], {"ends_at": T0 + dt.timedelta(hours=11.5)}, SYSTEM)
    assert refused.value.errors[0].rule == "no_overlap"


def test_an_archived_booking_no_longer_holds_its_slot(service):
    room = service.create("room", {"name": "A"}, SYSTEM)["id"]
    first = _book(service, room, 9, 10)
    service.delete("booking", first["id"], SYSTEM)
    assert _book(service, room, 9, 10)["room"] == room


def test_one_open_lead_per_phone_at_a_dealer_and_at_most_three_open(service):
    dealers = [service.create("dealer", {"name": n}, SYSTEM)["id"] for n in ("D1", "D2")]
    rng = random.Random(4)
    stored: list[dict] = []
    for _ in range(30):
        values = {
            "dealer": rng.choice(dealers),
            "phone": rng.choice(["+8613800000001", "+8613800000002", "+8613800000003",
                                 "+8613800000004"]),
            "status": rng.choice(["open", "open", "lost"]),
        }  # fmt: skip
        open_here = [r for r in stored if r["dealer"] == values["dealer"] and r["status"] == "open"]
        expected = set()
        if values["status"] == "open":
            if any(r["phone"] == values["phone"] for r in open_here):
                expected.add("one_open_lead_per_phone")
            if len(open_here) >= 3:
                expected.add("at_most_three_open_leads")
        try:
            stored.append(service.create("lead", values, SYSTEM))
        except ValidationFailed as refused:
            assert {e.rule for e in refused.errors} == expected
            continue
        assert not expected


def test_the_refusal_names_the_rule_and_nothing_of_the_other_record(service):
    dealer = service.create("dealer", {"name": "D"}, SYSTEM)["id"]
    other = service.create("lead", {"dealer": dealer, "phone": "+8613900000009"}, SYSTEM)
    with pytest.raises(ValidationFailed) as refused:
        service.create("lead", {"dealer": dealer, "phone": "+8613900000009"}, SYSTEM)
    error = refused.value.errors[0]
    assert error.message == {"en": "This dealer already has an open lead with this phone",
                             "zh-CN": "该经销商已有此电话的未结线索"}  # fmt: skip
    assert other["id"] not in repr(refused.value.errors)


class _BothPastTheirChecks:
    """Holds each booking write between its checks and its insert until the other write
    is there too (or 3 s passed): without the lock both would pass their checks."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(2, timeout=3)
        self.met = False

    @hookimpl
    def metacrm_before_write(self, event):
        if event.object != "booking":
            return
        try:
            self.barrier.wait()
            self.met = True
        except threading.BrokenBarrierError:
            pass


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_two_concurrent_overlapping_bookings_one_is_refused_on_postgresql(database, schema):
    schema.tables.metadata.create_all(database.engine)
    hold = _BothPastTheirChecks()
    plugins = PluginManager(load_entry_points=False)
    plugins.register(hold, "hold")
    service = RecordService(database, schema, plugins=plugins)
    room = service.create("room", {"name": "A"}, SYSTEM)["id"]
    outcomes: list[object] = []

    def book(start: int) -> None:
        try:
            outcomes.append(_book(service, room, start, start + 2))
        except ValidationFailed as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=book, args=(s,)) for s in (9, 10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [o for o in outcomes if isinstance(o, ValidationFailed)]
    assert len(refused) == 1 and len(outcomes) == 2
    assert refused[0].errors[0].rule == "no_overlap"
    assert not hold.met  # the second writer waited at its check, not after it
    stored = service.list("booking", SYSTEM).records
    assert len(stored) == 1


def _pack_with(tmp_path: Path, room_tail: str) -> Path:
    import shutil

    pack = tmp_path / "booking"
    shutil.copytree(PACK, pack)
    with (pack / "objects" / "room.yaml").open("a") as f:
        f.write(room_tail)
    return pack


def test_validate_names_file_line_path_and_suggests_for_a_misspelt_query(tmp_path):
    pack = _pack_with(tmp_path, """\
validations:
  - name: misspelt
    rule: {"!": {record_exists: {object: bookng, where: {"==": [{var: room}, {outer: nam}]}}}}
    message: {en: x, zh-CN: x}
""")  # fmt: skip
    found = [
        (Path(p.file).name, p.line, p.path, p.suggestion) for p in validate_paths([pack]).errors
    ]
    assert found == [
        ("room.yaml", 9, "validations[0].rule", "booking"),
        ("room.yaml", 9, "validations[0].rule", "name"),
    ]


def test_validate_refuses_a_record_query_in_a_formula_and_one_without_sql(tmp_path):
    formula = _pack_with(tmp_path / "a", """\
  - {name: busy, type: formula, result_type: boolean, label: {en: Busy, zh-CN: 忙},
     expression: {record_exists: {object: booking, where: {"==": [{var: room}, {outer: id}]}}}}
""")  # fmt: skip
    codes = [(p.code, p.path) for p in validate_paths([formula]).errors]
    assert codes == [("rule_record_query_here", "fields[2].expression")]
    no_sql = _pack_with(tmp_path / "b", """\
validations:
  - name: no_sql
    rule: {"!": {record_exists: {object: booking, where: {"==": [
      {var: seats}, {substr: [{var: starts_at}, {outer: capacity}]}]}}}}
    message: {en: x, zh-CN: x}
""")  # fmt: skip
    codes = [(p.code, p.path) for p in validate_paths([no_sql]).errors]
    assert codes == [("rule_no_sql", "validations[0].rule")]


@pytest.mark.parametrize("all_or_none", [True, False])
def test_a_bulk_create_refuses_the_row_overlapping_an_earlier_row_of_the_same_batch(
    service, all_or_none
):
    room = service.create("room", {"name": "A"}, SYSTEM)["id"]
    rows = [
        {"room": room, "starts_at": T0 + dt.timedelta(hours=h),
         "ends_at": T0 + dt.timedelta(hours=h + 2)}
        for h in (0, 3, 4, 6)
    ]  # fmt: skip
    results = service.bulk_create("booking", rows, SYSTEM, all_or_none=all_or_none)
    assert [r.ok for r in results] == [True, True, False, True]
    assert results[2].errors[0].rule == "no_overlap"
    stored = service.list("booking", SYSTEM).records
    assert len(stored) == (0 if all_or_none else 3)


def test_a_record_rule_grants_the_rooms_a_clerk_holds_a_booking_in(database, schema):
    from engine.auth import PasswordHasher, UserStore
    from engine.security import RoleAuthorizer

    schema.tables.metadata.create_all(database.engine)
    service = RecordService(database, schema, authorizer=RoleAuthorizer(schema))
    users = UserStore(database, schema.tables, hasher=PasswordHasher(n=2**4))
    clerks = [
        users.actor_for(users.create_user(f"clerk{i}", None, f"Clerk {i}", roles=["desk"]))
        for i in (1, 2)
    ]
    rooms = [service.create("room", {"name": f"R{i}"}, SYSTEM)["id"] for i in range(4)]
    own = service.create("room", {"name": "mine"}, clerks[0])["id"]
    rng = random.Random(3)
    holds: dict[str, set[str]] = {c.user_id: set() for c in clerks}
    for hour in range(8):
        clerk, room = rng.choice(clerks), rng.choice(rooms)
        _book_for(service, clerk, room, hour)
        holds[clerk.user_id].add(room)
    assert all(holds[c.user_id] and holds[c.user_id] != set(rooms) for c in clerks)
    for clerk in clerks:
        seen = {r["id"] for r in service.list("room", clerk, limit=500).records}
        mine = {own} if clerk is clerks[0] else set()
        assert seen == holds[clerk.user_id] | mine


def _book_for(service, actor, room, hour):
    """A booking made at the desk's system for ``actor`` (they may not open the room)."""
    values = {"room": room, "owner": actor.user_id, "starts_at": T0 + dt.timedelta(hours=hour),
              "ends_at": T0 + dt.timedelta(hours=hour + 1)}  # fmt: skip
    return service.create("booking", values, SYSTEM)
