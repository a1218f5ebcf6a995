"""Automations driven by the clock: the base pack's timers (re-planned when the date moves
or the condition stops holding) and its nightly schedule, run by the worker's rounds with
the service clock moved by hand; owners assigned by a rule."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
import sqlalchemy as sa

from engine.auth import PasswordHasher, UserStore
from engine.compiled import CompiledSchema, compile_schema
from engine.records import Actor, RecordService
from engine.validate import validate_paths
from engine.worker import Worker

from .conftest import ALICE, BASE

SYSTEM = Actor(user_id=None)


def _service(database, clock, compiled: CompiledSchema) -> RecordService:
    compiled.tables.metadata.create_all(database.engine)
    return RecordService(database, compiled, clock=clock)


@pytest.fixture
def base(database, clock, base_schema):
    return _service(database, clock, base_schema)


@pytest.fixture
def rep(base):
    store = UserStore(base.db, base.compiled.tables, hasher=PasswordHasher(n=2**4))
    return store.actor_for(store.create_user("rep", None, "Rep", roles=["sales_rep"], locale="en"))


def _round(service) -> None:
    Worker(lambda: service).run(until_idle=True)


def _account(base, rep) -> dict:
    values = {"name": "Wang", "account_type": "person", "phone": "13812345678"}
    return base.create("account", values, rep)


def _activity(base, rep, due: dt.datetime) -> dict:
    account = _account(base, rep)
    values = {"subject": "Call Wang", "activity_type": "call", "status": "not_started",
              "priority": "normal", "due_at": due, "account": account["id"]}  # fmt: skip
    return base.create("activity", values, rep)


def _timers(service) -> list[tuple[str, dt.datetime, str]]:
    table = service.compiled.tables.system["timers"]
    with service.db.read() as conn:
        rows = conn.execute(sa.select(table.c.automation, table.c.due_at, table.c.status))
        return sorted(tuple(r) for r in rows)


def test_a_reminder_fires_once_a_day_before_the_activity_is_due(base, rep, clock):
    due = clock() + dt.timedelta(days=3)
    activity = _activity(base, rep, due)
    reminder = due - dt.timedelta(hours=24)
    assert _timers(base) == [("activity_due_reminder", reminder, "pending")]

    clock.now = reminder - dt.timedelta(minutes=1)
    _round(base)
    assert base.notifications(rep) == []

    clock.now = reminder + dt.timedelta(minutes=1)
    _round(base)
    [note] = base.notifications(rep)
    assert note["subject"] == "Due tomorrow: Call Wang"
    assert (note["object"], note["record_id"]) == ("activity", activity["id"])

    base.update("activity", activity["id"], {"priority": "high"}, rep)  # due time unchanged
    clock.advance(hours=1)
    _round(base)
    assert len(base.notifications(rep)) == 1  # fired once, not again on every write


def test_moving_the_date_moves_the_reminder(base, rep, clock):
    first = clock() + dt.timedelta(days=3)
    activity = _activity(base, rep, first)
    later = first + dt.timedelta(days=7)
    base.update("activity", activity["id"], {"due_at": later}, rep)
    assert _timers(base) == [("activity_due_reminder", later - dt.timedelta(hours=24), "pending")]

    clock.now = first  # past the first reminder time: nothing, it was moved
    _round(base)
    assert base.notifications(rep) == []
    clock.now = later - dt.timedelta(hours=23)
    _round(base)
    assert len(base.notifications(rep)) == 1


def test_a_reminder_is_cancelled_when_its_condition_stops_holding(base, rep, clock):
    activity = _activity(base, rep, clock() + dt.timedelta(days=3))
    done = {"status": "completed", "call_result": "connected", "outcome": "Booked a visit"}
    base.update("activity", activity["id"], done, rep)
    assert _timers(base) == []
    clock.advance(days=3)
    _round(base)
    assert base.notifications(rep) == []

    other = _activity(base, rep, clock() + dt.timedelta(days=2))
    base.delete("activity", other["id"], rep)
    assert _timers(base) == []


def test_a_queued_run_is_dropped_when_the_date_moved_before_delivery(base, rep, clock):
    due = clock() + dt.timedelta(days=3)
    activity = _activity(base, rep, due)
    clock.now = due - dt.timedelta(hours=23)
    assert base.queue_due_automations().timers == 1  # queued, not yet delivered
    base.update("activity", activity["id"], {"due_at": due + dt.timedelta(days=5)}, rep)
    assert base.deliver_outbox().delivered == 1
    assert base.notifications(rep) == []  # the run saw the new date and stood down
    assert _timers(base)[0][2] == "pending"  # and the new reminder waits


def test_a_date_without_a_time_counts_from_midnight_in_the_trigger_time_zone(base, rep, clock):
    unit = base.create("org_unit", {"name": "HZ", "code": "HZ", "kind": "brand"}, SYSTEM)
    partner = base.create(
        "partner",
        {"name": "Hangzhou Store", "partner_code": "HZ01", "kind": "dealer",
         "status": "active", "contract_number": "C-1", "contract_start": dt.date(2026, 1, 1),
         "contract_end": dt.date(2027, 1, 31), "partner_unit": unit["id"]},
        rep,
    )  # fmt: skip
    [(name, due, _)] = _timers(base)
    assert name == "partner_contract_expiry"
    assert due == dt.datetime(2027, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert partner["contract_end"] == dt.date(2027, 1, 31)


def test_the_nightly_schedule_expires_quotes_past_their_validity(base, rep, clock):
    product = base.create(
        "product", {"name": "Sofa", "product_code": "SOFA-1", "list_price": 5000}, rep
    )
    book = base.create("price_book", {"name": "Retail", "code": "R"}, SYSTEM)
    account = _account(base, rep)

    def presented_quote(name: str, days_valid: int) -> dict:
        quote = base.create(
            "quote",
            {"name": name, "quote_date": clock().date(), "account": account["id"],
             "price_book": book["id"],
             "valid_until": clock().date() + dt.timedelta(days=days_valid)},
            rep,
        )  # fmt: skip
        base.create(
            "quote_line",
            {"quote": quote["id"], "product": product["id"], "quantity": 1, "unit_price": 5000},
            rep,
        )
        return base.transition("quote", quote["id"], "send_to_customer", rep)

    short = presented_quote("Short", 1)
    long = presented_quote("Long", 30)
    _round(base)  # the worker first sees the schedule: its next run is 01:00 Shanghai time
    shanghai = dt.timezone(dt.timedelta(hours=8))
    table = base.compiled.tables.system["schedules"]
    with base.db.read() as conn:
        first = conn.execute(sa.select(table.c.next_run_at)).scalar_one()
    assert first == dt.datetime(2026, 11, 24, 1, 0, tzinfo=shanghai)

    clock.now = dt.datetime(2026, 11, 26, 1, 0, 30, tzinfo=shanghai)  # missed one night
    _round(base)
    assert base.get("quote", short["id"], rep)["status"] == "expired"
    assert base.get("quote", long["id"], rep)["status"] == "presented"
    with base.db.read() as conn:
        row = conn.execute(sa.select(table)).one()
    assert (row.last_count, row.next_run_at) == (1, dt.datetime(2026, 11, 27, 1, tzinfo=shanghai))
    last = base.moves("quote", short["id"], rep)[-1]
    assert (last["transition"], last["to_state"]) == ("expire", "expired")

    _round(base)  # the same night again: the run is not repeated
    with base.db.read() as conn:
        assert conn.execute(sa.select(table.c.last_count)).scalar_one() == 1


def test_owner_by_rule_is_the_named_user_inside_the_records_unit(database, clock, tmp_path):
    pack = tmp_path / "base"
    shutil.copytree(BASE, pack)
    (pack / "automations" / "named_owner.yaml").write_text("""
name: named_owner
object: lead
trigger: {kind: record, "on": [create]}
actions:
  - {type: assign_owner, strategy: rule, role: sales_rep, rule: {var: description}}
run: in_transaction
""")
    service = _service(database, clock, compile_schema(validate_paths([pack]).schema))
    store = UserStore(database, service.compiled.tables, hasher=PasswordHasher(n=2**4))
    unit = {"kind": "region"}
    hq = service.create("org_unit", {"name": "HQ", "code": "HQ", "kind": "brand"}, SYSTEM)
    east = service.create(
        "org_unit", {**unit, "name": "E", "code": "E", "parent": hq["id"]}, SYSTEM
    )
    west = service.create(
        "org_unit", {**unit, "name": "W", "code": "W", "parent": hq["id"]}, SYSTEM
    )
    key = store.create_user("key.account", None, "K", roles=["sales_rep"], org_unit=east["id"])
    store.create_user("clerk.c", None, "C", roles=["marketing"], org_unit=east["id"])

    def owner(named: str, unit: dict) -> str | None:
        values = {"name": "Li", "phone": "13812345678", "description": named,
                  "org_unit": unit["id"]}  # fmt: skip
        return service.create("lead", values, ALICE)["owner"]

    assert owner("key.account", hq) == str(key.id)  # East is below HQ
    assert owner("key.account", east) == str(key.id)
    assert owner("key.account", west) == ALICE.user_id  # not in West: left as it was
    assert owner("clerk.c", east) == ALICE.user_id  # lacks the role
    assert owner("nobody", east) == ALICE.user_id


def test_a_failing_schedule_neither_stops_the_round_nor_hides_from_a_one_off_run(
    base, rep, clock
):
    """The quote table is gone from under the nightly schedule (as a broken migration
    would leave it): the schedule fails in the database, the round's other work — a timer
    of another object, the outbox — still happens, and a one-off run ends with the
    failure instead of retrying for ever."""
    from engine.worker import RoundFailed

    _round(base)  # the schedule is first seen: due at 01:00 Shanghai time
    _activity(base, rep, clock() + dt.timedelta(days=2))  # its reminder is due tomorrow
    quote = f'"{base.db.schema}".quote' if base.db.schema else "quote"
    with base.db.engine.begin() as conn:
        conn.exec_driver_sql(f"ALTER TABLE {quote} RENAME TO quote_gone")
    clock.advance(days=1, hours=1)
    with pytest.raises(RoundFailed) as failed:
        Worker(lambda: base).run(until_idle=True)
    assert failed.value.parts == ("schedule quote_expiry",)
    [note] = base.notifications(rep)  # the reminder still went out
    assert "Call Wang" in note["subject"] + note["body"]
