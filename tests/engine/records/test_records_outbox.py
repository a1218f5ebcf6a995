"""The outbox: after-commit work survives a failing hook and a crashed worker, and is
delivered once per success, never lost."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from engine.records import RecordService
from engine.records.hooks import PluginManager
from engine.records.outbox import Outbox
from plugins.hookspecs import hookimpl

from .conftest import ALICE


class Flaky:
    """An after-commit consumer (a webhook, say) that is down until told otherwise."""

    def __init__(self):
        self.down = True
        self.seen = []

    @hookimpl
    def metacrm_after_commit(self, event):
        if self.down:
            raise ConnectionError("the receiving system is down")
        self.seen.append((event.operation, event.record["name"]))


@pytest.fixture
def flaky(database, shop_schema, clock):
    shop_schema.tables.metadata.create_all(database.engine)
    plugins = PluginManager(load_entry_points=False)
    consumer = Flaky()
    plugins.register(consumer, "flaky")
    return RecordService(database, shop_schema, plugins=plugins, clock=clock), consumer


def _rows(service):
    outbox = service.effects.outbox
    with service.db.engine.connect() as conn:
        return conn.execute(
            sa.select(outbox.c.status, outbox.c.attempts, outbox.c.available_at)
        ).all()


def test_a_failing_hook_leaves_the_work_in_the_outbox_and_the_write_stands(flaky, clock):
    service, consumer = flaky
    created = service.create("customer", {"name": "Acme"}, ALICE)
    assert service.get("customer", created["id"], ALICE)["name"] == "Acme"
    [(status, attempts, available_at)] = _rows(service)
    assert (status, attempts) == ("pending", 1)
    assert available_at == clock() + dt.timedelta(minutes=1)  # backing off

    consumer.down = False
    assert service.outbox.deliver(service.plugins.deliver).delivered == 0  # not due yet
    clock.advance(minutes=1)
    delivery = service.outbox.deliver(service.plugins.deliver)
    assert (delivery.delivered, consumer.seen) == (1, [("created", "Acme")])
    assert [r.status for r in _rows(service)] == ["done"]
    assert service.outbox.deliver(service.plugins.deliver).delivered == 0  # never twice


def test_work_that_keeps_failing_is_dead_after_the_last_attempt(flaky, clock):
    service, _ = flaky
    service.outbox.max_attempts = 3
    service.create("customer", {"name": "Acme"}, ALICE)
    for _ in range(3):
        clock.advance(hours=7)
        service.outbox.deliver(service.plugins.deliver)
    assert [(r.status, r.attempts) for r in _rows(service)] == [("dead", 3)]
    assert service.outbox.counts() == {"dead": 1}


def test_a_claim_by_a_crashed_worker_is_taken_over_when_its_lease_ends(flaky, clock):
    service, consumer = flaky
    service.create("customer", {"name": "Acme"}, ALICE)
    clock.advance(minutes=1)
    outbox = service.outbox
    assert len(outbox._claim(None, 10)) == 1  # a worker claims the row, then dies
    consumer.down = False
    assert outbox.deliver(service.plugins.deliver).delivered == 0  # still leased
    clock.advance(minutes=5)
    assert outbox.deliver(service.plugins.deliver).delivered == 1


def test_concurrent_workers_deliver_each_row_once(database, shop_schema, clock):
    shop_schema.tables.metadata.create_all(database.engine)
    table = shop_schema.tables.system["outbox"]
    now = clock()
    with database.engine.begin() as conn:
        conn.execute(
            sa.insert(table),
            [{"created_at": now, "available_at": now, "topic": "t", "payload": {"n": n}}
             for n in range(200)],
        )  # fmt: skip
    seen: list[int] = []
    lock = threading.Lock()

    def handler(topic, payload):
        with lock:
            seen.append(payload["n"])

    def worker():
        outbox = Outbox(database, table, shop_schema.tables.system["outbox_attempts"], clock)
        while outbox.deliver(handler, limit=7).delivered:
            pass

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == list(range(200))
