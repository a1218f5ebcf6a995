"""Unique values: a taken value is a field error before the write, a race is a 409."""

from __future__ import annotations

import pytest

from engine.records import RecordService, ValidationFailed, WriteCollision
from engine.records.hooks import PluginManager
from plugins.hookspecs import hookimpl

from .conftest import ALICE, BOB


def codes(failed: pytest.ExceptionInfo[ValidationFailed]) -> list[tuple[str | None, str]]:
    return [(e.field, e.code) for e in failed.value.errors]


def test_a_taken_value_names_the_field_and_the_value(service, customer):
    with pytest.raises(ValidationFailed) as failed:
        service.create("customer", {"name": "Copy", "code": "C-1"}, BOB)
    assert codes(failed) == [("code", "not_unique")]
    assert failed.value.errors[0].text("zh-CN") == "编码：已有其他记录使用C-1"
    assert len(service.list("customer", ALICE).records) == 1


def test_updating_to_a_taken_value_is_refused_but_keeping_ones_own_is_not(service, customer):
    other = service.create("customer", {"name": "Other", "code": "C-2"}, ALICE)
    with pytest.raises(ValidationFailed) as failed:
        service.update("customer", other["id"], {"code": "C-1"}, ALICE)
    assert codes(failed) == [("code", "not_unique")]
    kept = service.update("customer", customer["id"], {"code": "C-1", "name": "Acme 2"}, ALICE)
    assert kept["code"] == "C-1" and kept["name"] == "Acme 2"


def test_rows_of_one_bulk_call_are_compared_with_each_other(service):
    rows = [{"name": "A", "code": "X"}, {"name": "B", "code": "Y"}, {"name": "C", "code": "X"}]
    results = service.bulk_create("customer", rows, ALICE, all_or_none=False)
    assert [r.ok for r in results] == [True, True, False]
    assert [(e.field, e.code) for e in results[2].errors] == [("code", "not_unique")]
    assert sorted(r["code"] for r in service.list("customer", ALICE).records) == ["X", "Y"]


def test_empty_values_never_clash(service):
    service.create("customer", {"name": "A"}, ALICE)
    service.create("customer", {"name": "B", "code": None}, ALICE)
    assert len(service.list("customer", ALICE).records) == 2


def test_an_archived_record_still_holds_its_value(service, customer):
    service.delete("customer", customer["id"], ALICE)
    with pytest.raises(ValidationFailed) as failed:
        service.create("customer", {"name": "Acme again", "code": "C-1"}, ALICE)
    assert codes(failed) == [("code", "not_unique")]


class TakesACode:
    """Changes the code after the checks ran, as a concurrent writer would have."""

    @hookimpl
    def metacrm_before_write(self, event):
        if event.object == "customer" and event.record.get("name") == "Racer":
            event.record["code"] = "C-1"


def test_a_value_taken_after_the_checks_is_a_write_collision(database, shop_schema, clock):
    shop_schema.tables.metadata.create_all(database.engine)
    plugins = PluginManager(load_entry_points=False)
    plugins.register(TakesACode(), "takes_a_code")
    service = RecordService(database, shop_schema, plugins=plugins, clock=clock)
    service.create("customer", {"name": "Acme", "code": "C-1"}, ALICE)
    with pytest.raises(WriteCollision):
        service.create("customer", {"name": "Racer", "code": "C-9"}, ALICE)
    assert [r["name"] for r in service.list("customer", ALICE).records] == ["Acme"]
