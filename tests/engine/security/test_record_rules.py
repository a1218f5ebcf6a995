"""The base pack's record rules, as shipped: they run inside the list query."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.auth import PasswordHasher, UserStore
from engine.compiled import compile_schema
from engine.records import Actor, NotFound, RecordService
from engine.security import RoleAuthorizer
from engine.validate import validate_paths

BASE = Path(__file__).resolve().parents[3] / "industry_packs" / "base"
SYSTEM = Actor(user_id=None)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 8, 1, 2, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def test_closed_leads_leave_dealer_staff_after_90_days(database):
    base = compile_schema(validate_paths([BASE]).schema)
    base.tables.metadata.create_all(database.engine)
    clock = Clock()
    authorizer = RoleAuthorizer(base, clock)  # rules read the same now as the service
    service = RecordService(database, base, authorizer=authorizer, clock=clock)
    dealer = service.create("org_unit", {"name": "D", "code": "D1", "kind": "brand"}, SYSTEM)
    store = UserStore(database, base.tables, hasher=PasswordHasher(n=2**4))
    staff = store.actor_for(
        store.create_user("d.staff", None, "Staff", roles=["dealer_staff"], org_unit=dealer["id"])
    )

    def lead(name: str) -> dict:
        return service.create("lead", {"name": name, "email": f"{name}@example.cn"}, staff)

    old_loss, fresh_loss, open_one = lead("old"), lead("fresh"), lead("open")
    service.update("lead", old_loss["id"], {"status": "lost", "lost_reason": "duplicate"}, staff)
    clock.now += dt.timedelta(days=80)
    service.update("lead", fresh_loss["id"], {"status": "lost", "lost_reason": "no_budget"}, staff)
    clock.now += dt.timedelta(days=20)  # the first loss is 100 days old, the second 20

    visible = {r["id"] for r in service.list("lead", staff).records}
    assert visible == {fresh_loss["id"], open_one["id"]}
    with pytest.raises(NotFound):
        service.get("lead", old_loss["id"], staff)
    assert len(service.list("lead", SYSTEM).records) == 3
