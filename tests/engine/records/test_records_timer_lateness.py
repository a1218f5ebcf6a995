"""Time done right for clock-driven automations: an edited schedule is re-planned from its
new cron and time zone, and a timer or schedule reached late does what its ``late`` rule
says (fire at once, skip, or skip after a while), with skipped runs in the audit log."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.auth import PasswordHasher, UserStore
from engine.compiled import CompiledSchema, compile_schema
from engine.records import RecordService
from engine.validate import validate_paths
from engine.worker import Worker

from .conftest import BASE

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _pack(tmp_path: Path, name: str, edit: tuple[str, str] | None = None) -> Path:
    """A copy of the base pack in ``tmp_path/name``, with one automation file edited."""
    pack = tmp_path / name
    shutil.copytree(BASE, pack)
    if edit is not None:
        path, extra = edit
        file = pack / "automations" / path
        text = file.read_text()
        old, new = extra.split(" => ")
        assert old in text
        file.write_text(text.replace(old, new))
    return pack


def _compiled(pack: Path) -> CompiledSchema:
    report = validate_paths([pack])
    assert not report.errors, report.errors
    return compile_schema(report.schema)


def _service(database, clock, compiled: CompiledSchema) -> RecordService:
    compiled.tables.metadata.create_all(database.engine)
    return RecordService(database, compiled, clock=clock)


def _round(service: RecordService) -> None:
    Worker(lambda: service).run(until_idle=True)


def _schedule(service: RecordService) -> sa.Row:
    table = service.compiled.tables.system["schedules"]
    with service.db.read() as conn:
        return conn.execute(sa.select(table).where(table.c.automation == "quote_expiry")).one()


def _audit(service: RecordService, action: str) -> list[dict]:
    table = service.compiled.tables.system["audit_log"]
    with service.db.read() as conn:
        rows = conn.execute(sa.select(table).where(table.c.action == action).order_by(table.c.id))
        return [dict(r._mapping) for r in rows]


def test_editing_a_schedules_cron_replans_its_next_run(database, clock, tmp_path):
    nightly = _service(database, clock, _compiled(_pack(tmp_path, "nightly")))
    _round(nightly)  # first seen at 10:00 Shanghai on the 23rd: next run 01:00 on the 24th
    assert _schedule(nightly).next_run_at == dt.datetime(2026, 11, 24, 1, tzinfo=SHANGHAI)

    edit = ("quote_expiry.yaml", 'cron: "0 1 * * *" => cron: "30 22 * * 5"')  # Fridays 22:30
    weekly = RecordService(database, _compiled(_pack(tmp_path, "weekly", edit)), clock=clock)
    clock.advance(hours=1)
    _round(weekly)
    # 2026-11-23 is a Monday: the next Friday is the 27th, read in Shanghai time
    assert _schedule(weekly).next_run_at == dt.datetime(2026, 11, 27, 22, 30, tzinfo=SHANGHAI)

    clock.now = dt.datetime(2026, 11, 24, 1, 0, 30, tzinfo=SHANGHAI)  # the old plan's time
    _round(weekly)
    assert _schedule(weekly).last_run_at is None  # nothing ran on the old cron

    clock.now = dt.datetime(2026, 11, 27, 22, 31, tzinfo=SHANGHAI)
    _round(weekly)
    row = _schedule(weekly)
    assert row.last_run_at == clock.now
    assert row.next_run_at == dt.datetime(2026, 12, 4, 22, 30, tzinfo=SHANGHAI)


def test_editing_a_schedules_time_zone_replans_it(database, clock, tmp_path):
    nightly = _service(database, clock, _compiled(_pack(tmp_path, "nightly")))
    _round(nightly)
    edit = ("quote_expiry.yaml", 'cron: "0 1 * * *" => cron: "0 1 * * *"\n  timezone: UTC')
    utc = RecordService(database, _compiled(_pack(tmp_path, "utc", edit)), clock=clock)
    _round(utc)
    assert _schedule(utc).next_run_at == dt.datetime(2026, 11, 24, 1, tzinfo=dt.UTC)


def _late_reminders(database, clock, tmp_path, late: str) -> tuple[RecordService, object]:
    edit = ("activity_due_reminder.yaml", f"offset_hours: -24 => offset_hours: -24\n  late: {late}")
    service = _service(database, clock, _compiled(_pack(tmp_path, "late", edit)))
    store = UserStore(database, service.compiled.tables, hasher=PasswordHasher(n=2**4))
    rep = store.actor_for(store.create_user("rep", None, "Rep", roles=["sales_rep"], locale="en"))
    return service, rep


def _activity(service, rep, due: dt.datetime, subject: str) -> dict:
    account = service.create(
        "account", {"name": "Wang", "account_type": "person", "phone": "13812345678"}, rep
    )
    values = {"subject": subject, "activity_type": "call", "status": "not_started",
              "priority": "normal", "due_at": due, "account": account["id"]}  # fmt: skip
    return service.create("activity", values, rep)


def _subjects(service, rep) -> set[str]:
    return {n["subject"] for n in service.notifications(rep)}


@pytest.mark.parametrize("late", ["fire", "skip", "{skip_after: 2h}"])
def test_a_timer_reached_late_does_what_its_late_rule_says(database, clock, tmp_path, late):
    service, rep = _late_reminders(database, clock, tmp_path, late)
    start = clock()
    # reminders 24 h before: one due an hour from now, one due now + 3 h
    on_time = _activity(service, rep, start + dt.timedelta(hours=25), "Soon")
    _activity(service, rep, start + dt.timedelta(hours=27), "Later")
    # the worker was down: it comes back 4 h later, when both reminders are overdue
    # ("Soon" by 3 h, "Later" by 1 h)
    clock.advance(hours=4)
    _round(service)
    expected = {
        "fire": {"Due tomorrow: Soon", "Due tomorrow: Later"},
        "skip": set(),  # both more than 5 minutes late
        "{skip_after: 2h}": {"Due tomorrow: Later"},  # 1 h late runs; 3 h late does not
    }[late]
    assert _subjects(service, rep) == expected

    skipped = _audit(service, "timer_skipped")
    assert len(skipped) == 2 - len(expected)
    if late == "{skip_after: 2h}":
        [entry] = skipped
        assert (entry["object"], entry["record_id"]) == ("activity", on_time["id"])
        assert entry["detail"]["late_seconds"] == 3 * 3600
        assert entry["detail"]["allowed_seconds"] == 2 * 3600
        table = service.compiled.tables.system["timers"]
        with service.db.read() as conn:
            statuses = dict(conn.execute(sa.select(table.c.record_id, table.c.status)).all())
        assert statuses[on_time["id"]] == "skipped"

    _round(service)  # a skipped timer stays skipped: nothing fires on a later round
    assert _subjects(service, rep) == expected


def test_a_timer_on_time_still_fires_under_skip(database, clock, tmp_path):
    service, rep = _late_reminders(database, clock, tmp_path, "skip")
    _activity(service, rep, clock() + dt.timedelta(hours=25), "Soon")
    clock.advance(hours=1, minutes=2)  # 2 minutes after the reminder time
    _round(service)
    assert _subjects(service, rep) == {"Due tomorrow: Soon"}
    assert _audit(service, "timer_skipped") == []


def test_a_schedule_reached_late_is_skipped_once_and_planned_on(database, clock, tmp_path):
    edit = ("quote_expiry.yaml", 'cron: "0 1 * * *" => cron: "0 1 * * *"\n  late: {skip_after: 1h}')
    service = _service(database, clock, _compiled(_pack(tmp_path, "late", edit)))
    _round(service)
    clock.now = dt.datetime(2026, 11, 24, 3, 0, tzinfo=SHANGHAI)  # two hours late
    _round(service)
    row = _schedule(service)
    assert row.last_run_at is None
    assert row.next_run_at == dt.datetime(2026, 11, 25, 1, tzinfo=SHANGHAI)
    [entry] = _audit(service, "schedule_skipped")
    assert entry["object"] == "quote"
    assert entry["detail"]["automation"] == "quote_expiry"
    assert entry["detail"]["late_seconds"] == 2 * 3600

    clock.now = dt.datetime(2026, 11, 25, 1, 10, tzinfo=SHANGHAI)  # ten minutes late: runs
    _round(service)
    assert _schedule(service).last_run_at == clock.now
    assert len(_audit(service, "schedule_skipped")) == 1
