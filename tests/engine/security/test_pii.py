"""Personal data stays masked on every way out, unless unmasked on purpose and audited."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from engine.records import Forbidden, ValidationFailed
from engine.transfer.csv_export import export_csv

from .conftest import CLERK, REP


def _audit(service, action: str) -> list[dict]:
    log = service.effects.audit_log
    with service.db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(log.c.actor, log.c.record_id, log.c.detail)
            .where(log.c.action == action)
            .order_by(log.c.id)
        )
        return [dict(r._mapping) for r in rows]


@pytest.fixture
def customer(guarded):
    return guarded.create("customer", {"name": "Zhang San", "phone": "13812345678"}, CLERK)


def test_reads_mask_personal_data_for_everyone(guarded, customer):
    assert customer["phone"] == "138****5678"  # what the write returned
    for actor in (CLERK, REP):
        assert guarded.get("customer", customer["id"], actor)["phone"] == "138****5678"
        [listed] = guarded.list("customer", actor).records
        assert listed["phone"] == "138****5678"


def test_reveal_needs_view_pii_and_is_audited(guarded, customer):
    with pytest.raises(Forbidden) as refused:
        guarded.reveal("customer", customer["id"], "phone", CLERK)
    assert "脱敏" in refused.value.text("zh-CN")
    assert guarded.reveal("customer", customer["id"], "phone", REP) == "+8613812345678"
    assert [(a["actor"], a["record_id"], a["detail"]) for a in _audit(guarded, "reveal")] == [
        (REP.user_id, customer["id"], {"field": "phone"})
    ]


def test_history_masks_personal_data(guarded, customer):
    guarded.update("customer", customer["id"], {"phone": "13987654321"}, CLERK)
    [change] = guarded.history("customer", customer["id"], REP)
    assert (change["old_value"], change["new_value"]) == ("138****5678", "139****4321")


def test_exporting_needs_export_and_a_refusal_exports_nothing(guarded, customer):
    with pytest.raises(Forbidden) as refused:
        export_csv(guarded, "deal", io.StringIO(), CLERK)  # the clerk reads deals, no more
    assert refused.value.text("zh-CN") == "您无权导出此交易"
    assert _audit(guarded, "export") == []


def test_exports_mask_unless_allowed_and_are_logged(guarded, customer):
    for actor, expected in ((CLERK, "138****5678"), (REP, "+8613812345678")):
        out = io.StringIO()
        rule = {"==": [{"var": "name"}, "Zhang San"]}
        count = export_csv(guarded, "customer", out, actor, filter=rule, fields=["name", "phone"])
        assert count == 1
        assert out.getvalue().splitlines()[1] == f"Zhang San,{expected}"
    logged = [(a["actor"], a["detail"]) for a in _audit(guarded, "export")]
    rule = {"==": [{"var": "name"}, "Zhang San"]}
    assert logged == [
        (
            CLERK.user_id,
            {"filter": rule, "fields": ["name", "phone"], "unmasked": False, "rows": 1},
        ),
        (REP.user_id, {"filter": rule, "fields": ["name", "phone"], "unmasked": True, "rows": 1}),
    ]


def test_error_messages_do_not_echo_stored_personal_data(guarded, customer):
    with pytest.raises(ValidationFailed) as refused:
        guarded.update("customer", customer["id"], {"email": "nope"}, CLERK)
    text = str(refused.value) + " ".join(str(e.value) for e in refused.value.errors)
    assert "13812345678" not in text and "5678" not in text
