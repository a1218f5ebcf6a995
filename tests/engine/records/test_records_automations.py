"""Record-triggered automations: in the write's transaction or after it, as the engine or
as the triggering user, and stopped when they trigger each other without end."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.server
import json
import threading
import time
from typing import ClassVar

import pytest
import sqlalchemy as sa

from engine.auth import PasswordHasher, UserStore
from engine.compiled import compile_schema
from engine.records import Actor, NotFound, RecordService, ValidationFailed
from engine.security import RoleAuthorizer
from engine.validate import validate_paths

from .conftest import ALICE, shop_pack

SYSTEM = Actor(user_id=None)
EXTRA = {
    "big_deal_line.yaml": """
name: big_deal_line
object: deal
trigger: {kind: record, "on": [create], condition: {">": [{var: amount}, 1000]}}
actions:
  - type: create_record
    object: deal_line
    values: {deal: {var: id}, product: Setup fee, quantity: 1, price: {var: amount}}
run: after_commit
run_as: triggering_user
""",
    "shout.yaml": """
name: shout
object: customer
trigger: {kind: record, "on": [update], condition: {"==": [{var: tier}, gold]}}
actions:
  - type: set_fields
    values: {name: {cat: [{var: name}, "!"]}}
run: in_transaction
""",
}


def _service(database, clock, pack_paths, *, roles=False):
    compiled = compile_schema(validate_paths(pack_paths).schema)
    compiled.tables.metadata.create_all(database.engine)
    authorizer = RoleAuthorizer(compiled) if roles else None
    return RecordService(database, compiled, clock=clock, authorizer=authorizer)


@pytest.fixture
def shop(database, clock, tmp_path):
    pack = shop_pack(tmp_path)
    for name, text in EXTRA.items():
        (pack / "automations" / name).write_text(text)
    return _service(database, clock, [pack])


def test_after_commit_work_runs_from_the_outbox_as_the_triggering_user(shop):
    store = UserStore(shop.db, shop.compiled.tables, hasher=PasswordHasher(n=2**4))
    user = store.actor_for(store.create_user("ann", None, "Ann", roles=[]))
    customer = shop.create("customer", {"name": "Acme"}, user)
    deal = shop.create("deal", {"customer": customer["id"], "amount": 5000}, user)
    small = shop.create("deal", {"customer": customer["id"], "amount": 10}, user)
    lines = shop.list("deal_line", SYSTEM).records
    assert [(line["deal"], line["created_by"]) for line in lines] == [(deal["id"], user.user_id)]
    assert shop.get("deal", deal["id"], SYSTEM)["line_count"] == 1
    assert shop.get("deal", small["id"], SYSTEM)["line_count"] == 0


def test_automations_that_trigger_each_other_without_end_are_stopped(shop):
    customer = shop.create("customer", {"name": "Acme"}, ALICE)
    with pytest.raises(ValidationFailed) as refused:
        shop.update("customer", customer["id"], {"tier": "gold"}, ALICE)
    [error] = refused.value.errors
    assert error.code == "cascade_loop"
    assert "automation shout → automation shout" in error.text("en")  # the loop, named
    assert shop.get("customer", customer["id"], ALICE)["name"] == "Acme"  # nothing kept


@pytest.fixture
def base(database, clock, base_schema):
    base_schema.tables.metadata.create_all(database.engine)
    return RecordService(database, base_schema, clock=clock)


def test_the_base_packs_sla_is_set_in_the_same_write(base, clock):
    case = base.create(
        "service_case",
        {
            "subject": "Broken sofa",
            "priority": "urgent",
            "caller_phone": "13812345678",
            "case_type": "repair",
            "channel": "hotline",
        },
        SYSTEM,
    )
    assert case["sla_due_at"] == clock() + dt.timedelta(hours=4)


def test_online_leads_are_shared_out_in_turn(base):
    unit = base.create("org_unit", {"name": "HQ", "code": "HQ", "kind": "brand"}, SYSTEM)
    store = UserStore(base.db, base.compiled.tables, hasher=PasswordHasher(n=2**4))
    reps = sorted(
        store.create_user(n, None, n, roles=["sales_rep"], org_unit=unit["id"]).id
        for n in ("rep.a", "rep.b")
    )
    owners = [
        base.create(
            "lead",
            {"name": f"L{n}", "email": f"l{n}@example.cn", "source": "website",
             "org_unit": unit["id"]},
            SYSTEM,
        )["owner"]
        for n in range(4)
    ]  # fmt: skip
    assert owners == [reps[0], reps[1], reps[0], reps[1]]
    walk_in = base.create(
        "lead", {"name": "W", "email": "w@example.cn", "org_unit": unit["id"]}, SYSTEM
    )
    assert walk_in["owner"] is None  # a store walk-in is not an online lead


def test_queued_automation_work_is_in_the_outbox(shop):
    customer = shop.create("customer", {"name": "Acme"}, ALICE)
    shop.create("deal", {"customer": customer["id"], "amount": 5000}, ALICE)
    outbox = shop.effects.outbox
    with shop.db.engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.topic, outbox.c.status)).all()
    assert [(r.topic, r.status) for r in rows] == [("automation.run", "done")]


def test_as_the_triggering_user_the_automation_has_only_their_permissions(
    database, clock, tmp_path
):
    pack = shop_pack(tmp_path)
    (pack / "automations" / "big_deal_line.yaml").write_text(EXTRA["big_deal_line.yaml"])
    compiled = compile_schema(validate_paths([pack]).schema)
    compiled.tables.metadata.create_all(database.engine)
    service = RecordService(database, compiled, clock=clock, authorizer=RoleAuthorizer(compiled))
    store = UserStore(database, compiled.tables, hasher=PasswordHasher(n=2**4))
    clerk = store.actor_for(store.create_user("cai", None, "Cai", roles=["clerk"]))
    customer = service.create("customer", {"name": "Mine"}, clerk)
    service.create("deal", {"customer": customer["id"], "amount": 5000}, clerk)
    assert service.list("deal_line", SYSTEM).records == []  # clerks may not create lines
    assert service.outbox.counts() == {"pending": 1}  # left to retry, not lost


class _Receiver(http.server.BaseHTTPRequestHandler):
    """A receiving system: records each call; answers 503 while ``down``, after
    ``slow`` seconds."""

    calls: ClassVar[list[tuple[dict, str]]] = []
    down: ClassVar[bool] = True
    slow: ClassVar[float] = 0.0

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length).decode()
        type(self).calls.append((dict(self.headers), body))
        time.sleep(type(self).slow)
        self.send_response(503 if type(self).down else 204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.calls, _Receiver.down, _Receiver.slow = [], True, 0.0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver
    server.shutdown()
    server.server_close()


def test_a_webhook_is_signed_posted_after_commit_and_retried(
    database, clock, tmp_path, receiver, monkeypatch
):
    url, seen = receiver
    pack = shop_pack(tmp_path)
    (pack / "automations" / "notify_erp.yaml").write_text(f"""
name: notify_erp
object: customer
trigger: {{kind: record, "on": [create]}}
actions:
  - type: webhook
    url: {url}
    fields: [name]
    secret_env: ERP_SECRET
    body: '{{"name": {{{{ record.name | tojson }}}}, "by": "{{{{ automation }}}}"}}'
""")
    monkeypatch.setenv("ERP_SECRET", "s3cret")
    service = _service(database, clock, [pack])
    customer = service.create("customer", {"name": 'Zhang "San"'}, ALICE)
    # the automation ran after the commit and queued the call, which got a 503: retry
    assert len(seen.calls) == 1 and service.outbox.counts() == {"done": 1, "pending": 1}
    headers, body = seen.calls[0]
    assert json.loads(body) == {"name": customer["name"], "by": "notify_erp"}
    expected = hmac.new(b"s3cret", body.encode(), hashlib.sha256).hexdigest()
    assert headers["X-Metacrm-Signature"] == f"sha256={expected}"

    seen.down = False
    clock.advance(minutes=2)
    assert service.deliver_outbox().delivered == 1
    assert len(seen.calls) == 2 and service.outbox.counts() == {"done": 2}


def test_a_webhook_that_times_out_is_retried(database, clock, tmp_path, receiver):
    url, seen = receiver
    seen.down, seen.slow = False, 1.0
    pack = shop_pack(tmp_path)
    (pack / "automations" / "slow_erp.yaml").write_text(f"""
name: slow_erp
object: customer
trigger: {{kind: record, "on": [create]}}
actions: [{{type: webhook, url: "{url}", fields: [name], timeout_seconds: 0.2}}]
""")
    service = _service(database, clock, [pack])
    service.create("customer", {"name": "Acme"}, ALICE)
    assert service.outbox.counts() == {"done": 1, "pending": 1}  # the automation; the call
    attempts = service.compiled.tables.system["outbox_attempts"]
    with database.read() as conn:
        [error] = (
            conn.execute(sa.select(attempts.c.error).where(attempts.c.ok.is_(False)))
            .scalars()
            .all()
        )
    assert "timed out" in error

    seen.slow = 0.0
    clock.advance(minutes=2)
    assert service.deliver_outbox().delivered == 1
    assert len(seen.calls) == 2 and service.outbox.counts() == {"done": 2}


def test_a_webhook_body_that_is_not_json_refuses_the_write(database, clock, tmp_path):
    pack = shop_pack(tmp_path)
    (pack / "automations" / "bad.yaml").write_text("""
name: bad_body
object: customer
trigger: {kind: record, "on": [create]}
actions:
  - {type: webhook, url: "http://127.0.0.1:9/x", fields: [name], body: "name={{ record.name }}"}
run: in_transaction
""")
    service = _service(database, clock, [pack])
    with pytest.raises(ValidationFailed) as refused:
        service.create("customer", {"name": "Acme"}, ALICE)
    assert "not JSON" in str(refused.value)
    assert service.list("customer", SYSTEM).records == []


def test_notifications_reach_each_recipient_in_their_language_as_they_may_see(
    database, clock, tmp_path
):
    pack = shop_pack(tmp_path)
    (pack / "automations" / "new_customer.yaml").write_text("""
name: new_customer
object: customer
trigger: {kind: record, "on": [create]}
actions:
  - type: notify
    to: [owner, "role:sales_rep"]
    subject: {en: "New customer {{ record.name }}", zh-CN: "新客户 {{ record.name }}"}
    body: {en: "Phone {{ record.phone }}", zh-CN: "电话 {{ record.phone }}"}
run: in_transaction
""")
    service = _service(database, clock, [pack], roles=True)
    store = UserStore(database, service.compiled.tables, hasher=PasswordHasher(n=2**4))
    owner = store.actor_for(store.create_user("o", None, "O", roles=["clerk"], locale="en"))
    rep = store.actor_for(store.create_user("r", None, "R", roles=["sales_rep"], locale="zh-CN"))
    customer = service.create("customer", {"name": "Acme", "phone": "13812345678"}, owner)
    [mine] = service.notifications(owner)
    assert (mine["subject"], mine["body"]) == ("New customer Acme", "Phone 138****5678")
    assert (mine["object"], mine["record_id"]) == ("customer", customer["id"])
    [theirs] = service.notifications(rep)
    assert (theirs["subject"], theirs["body"]) == ("新客户 Acme", "电话 138****5678")
    service.mark_notification_read(theirs["id"], rep)
    assert service.notifications(rep)[0]["read_at"] is not None
    with pytest.raises(NotFound):  # someone else's
        service.mark_notification_read(mine["id"], rep)


def test_queued_work_for_a_record_deleted_meanwhile_is_dropped_not_retried(shop):
    customer = shop.create("customer", {"name": "Acme"}, ALICE)
    deal = shop.create("deal", {"customer": customer["id"], "amount": 10}, ALICE)
    with shop.db.engine.begin() as conn:  # as if the deal had fired it and a worker lagged
        shop.effects.enqueue(
            conn,
            "automation.run",
            [{"automation": "big_deal_line", "record_id": deal["id"], "actor": None}],
            shop.clock(),
        )
    shop.delete("deal", deal["id"], ALICE)
    assert shop.deliver_outbox().delivered == 1
    assert shop.outbox.counts() == {"done": 1}
    assert shop.list("deal_line", SYSTEM).records == []
