"""Notification e-mail: rendered per recipient in their language, sent after the commit
through a real SMTP server on loopback (aiosmtpd), retried while the server is down."""

from __future__ import annotations

import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller

from engine.auth import PasswordHasher, UserStore
from engine.compiled import compile_schema
from engine.records import RecordService
from engine.records.mail import MailSettings
from engine.security import RoleAuthorizer
from engine.validate import validate_paths

from .conftest import shop_pack

NOTIFY = """
name: new_deal_mail
object: deal
trigger: {kind: record, "on": [create]}
actions:
  - type: notify
    channels: [in_app, email]
    to: [owner, "role:sales_rep"]
    subject: {en: "New deal for {{ record.amount }}", zh-CN: "新商机：金额 {{ record.amount }}"}
    body:
      en: "Note: {{ record.note }} — {{ record.amount }}"
      zh-CN: "备注：{{ record.note }}，金额 {{ record.amount }}"
"""


class Inbox:
    """An aiosmtpd handler keeping what arrives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # the name aiosmtpd calls
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)
        return "250 OK"


@pytest.fixture
def smtp():
    with socket.socket() as probe:  # a free port (aiosmtpd checks it can connect)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def _service(
    database, clock, tmp_path, port: int, automation: str = NOTIFY, roles: bool = False
) -> RecordService:
    """The shop pack with one mailing ``automation``, sending to the test server; with
    ``roles``, records are read as each recipient's roles let them."""
    pack = shop_pack(tmp_path)
    (pack / "automations" / "mail.yaml").write_text(automation)
    compiled = compile_schema(validate_paths([pack]).schema)
    compiled.tables.metadata.create_all(database.engine)
    mail = MailSettings(host="127.0.0.1", port=port, sender="crm@brand.example", timeout=5)
    authorizer = RoleAuthorizer(compiled) if roles else None
    return RecordService(database, compiled, clock=clock, mail=mail, authorizer=authorizer)


def test_each_recipient_gets_the_mail_in_their_language(database, clock, tmp_path, smtp):
    inbox, port = smtp
    service = _service(database, clock, tmp_path, port)
    store = UserStore(database, service.compiled.tables, hasher=PasswordHasher(n=2**4))
    owner = store.actor_for(
        store.create_user("o", None, "O", roles=["clerk"], email="owner@brand.example", locale="en")
    )
    store.create_user("r", None, "R", email="rep@brand.example", roles=["sales_rep"])
    store.create_user("n", None, "No mail", roles=["sales_rep"])  # in-app only
    customer = service.create("customer", {"name": "王芳家居"}, owner)
    service.create("deal", {"customer": customer["id"], "amount": 1200, "note": "王芳家居"}, owner)

    received = {m["To"]: m for m in inbox.messages}
    assert sorted(received) == ["owner@brand.example", "rep@brand.example"]
    en, zh = received["owner@brand.example"], received["rep@brand.example"]
    assert en["From"] == "crm@brand.example"
    assert en["Subject"] == "New deal for 1200.00"
    assert en.get_content().strip() == "Note: 王芳家居 — 1200.00"
    assert zh["Subject"] == "新商机：金额 1200.00"
    assert zh.get_content().strip() == "备注：王芳家居，金额 1200.00"
    assert len(service.notifications(owner)) == 1


def test_mail_waits_in_the_outbox_while_the_server_is_down(database, clock, tmp_path, smtp):
    inbox, port = smtp
    service = _service(database, clock, tmp_path, port)
    service.mail = MailSettings(host="127.0.0.1", port=9, sender="crm@brand.example", timeout=2)
    store = UserStore(database, service.compiled.tables, hasher=PasswordHasher(n=2**4))
    owner = store.actor_for(
        store.create_user("o", None, "O", roles=["clerk"], email="o@brand.example")
    )
    customer = service.create("customer", {"name": "Acme"}, owner)
    service.create("deal", {"customer": customer["id"], "amount": 5}, owner)
    assert inbox.messages == [] and service.outbox.counts().get("pending") == 1
    [failed] = service.outbox.dead() or [None]
    assert failed is None  # not dead: backing off

    service.mail = MailSettings(host="127.0.0.1", port=port, sender="crm@brand.example")
    clock.advance(minutes=2)
    assert service.deliver_outbox().delivered == 1
    assert [m["To"] for m in inbox.messages] == ["o@brand.example"]


def test_the_smtp_setting_is_read_from_one_url():
    settings = MailSettings.from_env(
        {"METACRM_SMTP_URL": "smtp://crm%40brand:p%2Fw@mail.brand.example:587?starttls=true",
         "METACRM_MAIL_FROM": "CRM <crm@brand.example>"}
    )  # fmt: skip
    assert settings == MailSettings(
        host="mail.brand.example", port=587, sender="CRM <crm@brand.example>",
        username="crm@brand", password="p/w", starttls=True,
    )  # fmt: skip
    assert MailSettings.from_env({}) is None
    assert MailSettings.from_env({"METACRM_SMTP_URL": "smtps://mail.example"}).port == 465
    with pytest.raises(ValueError, match="METACRM_SMTP_URL"):
        MailSettings.from_env({"METACRM_SMTP_URL": "mail.example:25"})


def test_the_mail_shows_the_record_as_its_recipient_may_see_it(database, clock, tmp_path, smtp):
    """The reader of a notification is its recipient, not the writer: a clerk (``code``
    hidden, no ``view_pii``) gets less than the sales rep who saved the record."""
    inbox, port = smtp
    automation = """
name: customer_mail
object: customer
trigger: {kind: record, "on": [create]}
actions:
  - type: notify
    channels: [in_app, email]
    to: [owner, "role:sales_rep"]
    subject: {en: "Customer {{ record.name }}"}
    body: {en: "code={{ record.code }} phone={{ record.phone }}"}
"""
    service = _service(database, clock, tmp_path, port, automation, roles=True)
    store = UserStore(database, service.compiled.tables, hasher=PasswordHasher(n=2**4))
    clerk = store.create_user("c", None, "C", roles=["clerk"], email="c@brand.example")
    rep = store.actor_for(
        store.create_user("r", None, "R", roles=["sales_rep"], email="r@brand.example")
    )
    values = {"name": "Acme", "code": "C-9", "phone": "13812345678", "owner": clerk.id}
    service.create("customer", values, rep)

    received = {m["To"]: m.get_content().strip() for m in inbox.messages}
    assert received == {
        "c@brand.example": "code= phone=138****5678",
        "r@brand.example": "code=C-9 phone=138****5678",  # masked: revealing is audited
    }
    [in_app] = service.notifications(store.actor_for(clerk))
    assert in_app["body"] == "code= phone=138****5678"


def test_a_recipient_who_may_not_open_the_record_gets_nothing_of_it(
    database, clock, tmp_path, smtp
):
    """``role:clerk`` names every clerk, but a clerk reads only their own customers: the
    one who owns it is told (as they may see it), the other gets no notification and no
    mail, so not even its existence tells them that the record is there."""
    inbox, port = smtp
    automation = """
name: customer_mail
object: customer
trigger: {kind: record, "on": [create]}
actions:
  - type: notify
    channels: [in_app, email]
    to: ["role:clerk"]
    subject: {en: "Customer {{ record.name }}"}
    body: {en: "tier={{ record.tier }} code={{ record.code }}"}
"""
    service = _service(database, clock, tmp_path, port, automation, roles=True)
    store = UserStore(database, service.compiled.tables, hasher=PasswordHasher(n=2**4))
    mine, other = (
        store.actor_for(store.create_user(n, None, n, roles=["clerk"], email=f"{n}@brand.example"))
        for n in ("mine", "other")
    )
    rep = store.actor_for(store.create_user("r", None, "R", roles=["sales_rep"]))
    values = {"name": "Acme", "code": "C-9", "tier": "silver", "owner": mine.user_id}
    made = service.create("customer", values, rep)

    assert [m["To"] for m in inbox.messages] == ["mine@brand.example"]
    [told] = service.notifications(mine)
    assert (told["subject"], told["body"]) == ("Customer Acme", "tier=silver code=")
    assert service.notifications(other) == []
    preview = service.notification_preview("customer_mail", made["id"], mine)
    assert preview == [{"subject": "Customer Acme", "body": "tier=silver code="}]
    assert service.notification_preview("customer_mail", made["id"], other) == []
