"""Plugin hooks around the write: a refusing before-hook aborts and is named; after-commit
work goes through the outbox."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.records import RecordService, ValidationFailed, WriteOptions
from engine.records.hooks import PluginManager
from plugins.hookspecs import hookimpl

from .conftest import ALICE


class NoTestCustomers:
    @hookimpl
    def metacrm_before_write(self, event):
        if event.object == "customer" and "test" in (event.record.get("name") or "").lower():
            raise ValueError("test customers are not allowed")


class Recorder:
    def __init__(self):
        self.seen = []

    @hookimpl
    def metacrm_after_commit(self, event):
        self.seen.append((event.operation, event.object, event.record["id"]))


@pytest.fixture
def plugged(database, shop_schema, clock):
    shop_schema.tables.metadata.create_all(database.engine)
    plugins = PluginManager(load_entry_points=False)
    recorder = Recorder()
    plugins.register(NoTestCustomers(), "no_test_customers")
    plugins.register(recorder, "recorder")
    return RecordService(database, shop_schema, plugins=plugins, clock=clock), recorder


def test_refusing_before_hook_aborts_the_write_and_names_the_plugin(plugged):
    service, recorder = plugged
    with pytest.raises(ValidationFailed) as refused:
        service.create("customer", {"name": "Test Co"}, ALICE)
    assert refused.value.errors[0].rule == "plugin:no_test_customers"
    assert "test customers are not allowed" in refused.value.errors[0].text("en")
    assert service.list("customer", ALICE).records == [] and recorder.seen == []


def test_skip_hooks_is_an_explicit_audited_option(plugged):
    service, _ = plugged
    options = WriteOptions(skip_hooks=True, reason="migration of legacy data")
    created = service.create("customer", {"name": "Test Legacy"}, ALICE, options)
    log = service.effects.audit_log
    with service.db.engine.connect() as conn:
        detail = conn.execute(sa.select(log.c.detail).where(log.c.record_id == created["id"]))
        assert detail.scalar() == {
            "ids": [created["id"]],
            "skip_hooks": True,
            "reason": "migration of legacy data",
        }


def test_after_commit_hooks_get_the_committed_change_from_the_outbox(plugged):
    service, recorder = plugged
    created = service.create("customer", {"name": "Acme"}, ALICE)
    assert recorder.seen == [("created", "customer", created["id"])]
    outbox = service.effects.outbox
    with service.db.engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.topic, outbox.c.payload, outbox.c.status)).all()
    assert [(r.topic, r.payload["id"], r.payload["record"]["name"], r.status) for r in rows] == [
        ("record.created", created["id"], "Acme", "done")
    ]


def test_without_after_commit_consumers_no_outbox_rows(service):
    service.create("customer", {"name": "Quiet"}, ALICE)
    with service.db.engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(service.effects.outbox)).scalar()
            == 0
        )
