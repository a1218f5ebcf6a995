"""A dry run goes through every step of the write and then rolls it back."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.records import RecordService, ValidationFailed, WriteOptions
from engine.records.hooks import PluginManager
from plugins.hookspecs import hookimpl

from .conftest import ALICE

DRY = WriteOptions(dry_run=True)


class Recorder:
    def __init__(self):
        self.seen = []

    @hookimpl
    def metacrm_after_commit(self, event):
        self.seen.append((event.operation, event.object))


@pytest.fixture
def recorded(database, shop_schema, clock):
    shop_schema.tables.metadata.create_all(database.engine)
    plugins = PluginManager(load_entry_points=False)
    recorder = Recorder()
    plugins.register(recorder, "recorder")
    return RecordService(database, shop_schema, plugins=plugins, clock=clock), recorder


def _rows(service: RecordService, table: sa.Table) -> int:
    with service.db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_dry_run_answers_as_a_write_would_and_leaves_no_trace(recorded):
    service, recorder = recorded
    customer = service.create("customer", {"name": "Acme", "tier": "gold"}, ALICE)
    written = recorder.seen[:]
    deal = service.create("deal", {"customer": customer["id"], "amount": "500"}, ALICE, DRY)
    assert deal["number"].endswith("-0001") and deal["net"] is not None
    with pytest.raises(ValidationFailed) as refused:
        service.create("deal", {"customer": customer["id"], "amount": "5"}, ALICE, DRY)
    assert refused.value.errors[0].rule == "gold_minimum"
    [result] = service.upsert("customer", [{"code": "C-9", "name": "New"}], ALICE, options=DRY)
    assert result.ok and result.created
    renamed = service.update("customer", customer["id"], {"name": "Renamed"}, ALICE, options=DRY)
    assert renamed["name"] == "Renamed" and renamed["version"] == 2

    assert service.get("customer", customer["id"], ALICE)["name"] == "Acme"
    assert service.list("deal", ALICE).records == []
    assert [r["name"] for r in service.list("customer", ALICE).records] == ["Acme"]
    assert recorder.seen == written  # no after-commit hook for what was not committed
    assert _rows(service, service.effects.outbox) == len(written)
    assert _rows(service, service.effects.audit_log) == 1
    # The autonumber counter was rolled back too: the first real deal is still number 1.
    real = service.create("deal", {"customer": customer["id"], "amount": "500"}, ALICE)
    assert real["number"] == deal["number"]
