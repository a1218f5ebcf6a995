"""Duplicate rules: a create that matches a stored record on normalised values is blocked,
warned of or merged, and says so without showing a record the writer may not read."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.auth import PasswordHasher, UserStore
from engine.compiled import compile_schema
from engine.records import RecordService, ValidationFailed
from engine.security import RoleAuthorizer
from engine.validate import validate_paths

from .conftest import ALICE, BOB, shop_pack


def rules(action: str) -> str:
    """The shop's customers matched on phone and on e-mail, with ``action``."""
    return f"""
track_history: true
duplicate_rules:
  - name: same_phone
    fields: [{{field: phone, normalise: phone}}]
    action: {action}
    message: {{en: "Same phone as {{existing}}", zh-CN: "与{{existing}}电话相同"}}
  - name: same_email
    fields: [{{field: email, normalise: email}}]
    condition: {{"!=": [{{var: tier}}, gold]}}
    action: {action}
    message: {{en: "Same e-mail as {{existing}}", zh-CN: "与{{existing}}邮箱相同"}}
"""


def build(database, clock, tmp_path, action: str, roles: bool = False) -> RecordService:
    pack = shop_pack(tmp_path)
    customer = pack / "objects" / "customer.yaml"
    customer.write_text(customer.read_text() + rules(action))
    report = validate_paths([pack])
    assert not report.errors, report.errors
    compiled = compile_schema(report.schema)
    compiled.tables.metadata.create_all(database.engine)
    authorizer = RoleAuthorizer(compiled) if roles else None
    return RecordService(database, compiled, clock=clock, authorizer=authorizer)


def names(service: RecordService) -> list[str]:
    return sorted(r["name"] for r in service.list("customer", ALICE).records)


@pytest.mark.parametrize(
    ("stored", "incoming"),
    [
        ("+86 139 0000 1111", "13900001111"),  # the same mobile with and without +86
        ("139-0000-1111", "+8613900001111"),
        ("0086 139 0000 1111", "139 0000 1111"),
    ],
)
def test_block_refuses_the_same_phone_written_another_way(
    database, clock, tmp_path, stored, incoming
):
    service = build(database, clock, tmp_path, "block")
    service.create("customer", {"name": "Zhang San", "phone": stored}, ALICE)
    with pytest.raises(ValidationFailed) as refused:
        service.create("customer", {"name": "Zhang 2", "phone": incoming}, BOB)
    [error] = refused.value.errors
    assert (error.field, error.rule, error.code) == ("phone", "same_phone", "duplicate")
    assert error.text("en") == "Same phone as Zhang San"
    assert error.text("zh-CN") == "与Zhang San电话相同"
    assert names(service) == ["Zhang San"]


def test_a_different_number_and_an_empty_one_are_no_duplicates(database, clock, tmp_path):
    service = build(database, clock, tmp_path, "block")
    service.create("customer", {"name": "A", "phone": "13900001111"}, ALICE)
    service.create("customer", {"name": "B", "phone": "13900001112"}, ALICE)
    service.create("customer", {"name": "C"}, ALICE)
    service.create("customer", {"name": "D"}, ALICE)
    assert names(service) == ["A", "B", "C", "D"]


def test_block_matches_e_mail_whatever_its_case_and_keeps_to_the_condition(
    database, clock, tmp_path
):
    service = build(database, clock, tmp_path, "block")
    service.create("customer", {"name": "Li", "email": "Li.Si@Example.COM"}, ALICE)
    with pytest.raises(ValidationFailed) as refused:
        service.create("customer", {"name": "Li 2", "email": "  li.si@example.com "}, ALICE)
    assert [(e.field, e.rule) for e in refused.value.errors] == [("email", "same_email")]
    gold = service.create(
        "customer", {"name": "Gold", "email": "g@example.com", "tier": "gold"}, ALICE
    )
    # the condition: a gold customer is not one new rows are compared with
    service.create("customer", {"name": "Gold twin", "email": "G@example.com"}, ALICE)
    assert gold["tier"] == "gold"
    assert names(service) == ["Gold", "Gold twin", "Li"]


def test_an_archived_record_is_no_duplicate(database, clock, tmp_path):
    service = build(database, clock, tmp_path, "block")
    old = service.create("customer", {"name": "Gone", "phone": "13900001111"}, ALICE)
    service.delete("customer", old["id"], ALICE)
    service.create("customer", {"name": "Back", "phone": "13900001111"}, ALICE)
    assert names(service) == ["Back"]


def test_block_refuses_an_update_that_takes_a_matched_value(database, clock, tmp_path):
    service = build(database, clock, tmp_path, "block")
    service.create("customer", {"name": "A", "phone": "13900001111"}, ALICE)
    other = service.create("customer", {"name": "B", "phone": "13900002222"}, ALICE)
    with pytest.raises(ValidationFailed) as refused:
        service.update("customer", other["id"], {"phone": "+86 139 0000 1111"}, ALICE)
    assert [(e.field, e.rule) for e in refused.value.errors] == [("phone", "same_phone")]
    # its own number, saved again, is not a duplicate of itself; nor is another field
    service.update("customer", other["id"], {"phone": "13900002222", "name": "B2"}, ALICE)
    # a record whose number changed is matched on the new one
    service.update("customer", other["id"], {"phone": "13900003333"}, ALICE)
    service.create("customer", {"name": "C", "phone": "13900002222"}, ALICE)
    with pytest.raises(ValidationFailed):
        service.create("customer", {"name": "D", "phone": "13900003333"}, ALICE)


def test_moving_a_record_into_the_scope_of_its_match_is_checked(database, clock, tmp_path):
    """With ``scope: [tier]``, the same number in another tier is no duplicate, and moving
    the record into its match's tier is refused."""
    pack = shop_pack(tmp_path)
    customer = pack / "objects" / "customer.yaml"
    customer.write_text(
        customer.read_text()
        + rules("block").replace("    action: block\n", "    scope: [tier]\n    action: block\n", 1)
    )
    report = validate_paths([pack])
    assert not report.errors, report.errors
    compiled = compile_schema(report.schema)
    compiled.tables.metadata.create_all(database.engine)
    service = RecordService(database, compiled, clock=clock)
    service.create("customer", {"name": "Gold", "phone": "13900001111", "tier": "gold"}, ALICE)
    silver = service.create("customer", {"name": "Silver", "phone": "+86 139 0000 1111"}, BOB)
    with pytest.raises(ValidationFailed) as refused:
        service.update("customer", silver["id"], {"tier": "gold"}, BOB)
    assert [(e.field, e.rule) for e in refused.value.errors] == [("phone", "same_phone")]


def test_bulk_rows_are_matched_with_each_other_and_the_stored_ones(database, clock, tmp_path):
    service = build(database, clock, tmp_path, "block")
    service.create("customer", {"name": "Stored", "phone": "13900001111"}, ALICE)
    rows = [
        {"name": "New", "phone": "13900002222"},
        {"name": "Copy of stored", "phone": "+86 13900001111"},
        {"name": "Copy of new", "phone": "139 0000 2222"},
    ]
    results = service.bulk_create("customer", rows, ALICE, all_or_none=False)
    assert [r.ok for r in results] == [True, False, False]
    assert results[1].errors[0].text("en") == "Same phone as Stored"
    assert results[2].errors[0].text("en") == "Same phone as New"  # the row sent before it
    assert names(service) == ["New", "Stored"]


def test_warn_saves_and_says_which_record_matched(database, clock, tmp_path):
    service = build(database, clock, tmp_path, "warn")
    first = service.create("customer", {"name": "Wang", "phone": "13900001111"}, ALICE)
    result = service.create_row("customer", {"name": "Wang 2", "phone": "+86 139 0000 1111"}, BOB)
    assert result.created and not result.merged
    [warning] = result.warnings
    assert (warning.rule, warning.fields, warning.record_id) == (
        "same_phone",
        ("phone",),
        first["id"],
    )
    assert warning.message == {"en": "Same phone as Wang", "zh-CN": "与Wang电话相同"}
    assert names(service) == ["Wang", "Wang 2"]
    updated = service.update_row("customer", first["id"], {"email": "w@example.com"}, ALICE)
    assert updated.warnings == ()  # a field no rule matches on
    rows = [{"name": "Wang 3", "phone": "13900001111"}, {"name": "Zhao", "phone": "13900009999"}]
    results = service.bulk_create("customer", rows, ALICE)
    assert [len(r.warnings) for r in results] == [1, 0]


def test_merge_fills_the_existing_record_and_keeps_its_first_touch(database, clock, tmp_path):
    service = build(database, clock, tmp_path, "merge")
    first = service.create(
        "customer", {"name": "Zhou", "phone": "+86 139 0000 1111", "tier": "silver"}, ALICE
    )
    clock.advance(hours=1)
    result = service.create_row(
        "customer",
        {
            "name": "Zhou (web form)",
            "phone": "13900001111",
            "email": "zhou@example.com",
            "tier": "gold",
        },
        BOB,
    )
    assert result.merged and not result.created
    merged = result.record
    assert merged["id"] == first["id"]
    # filled: what the existing record lacked; kept: what it had, and who/when first
    assert merged["email"] == "zhou@example.com"
    assert (merged["name"], merged["tier"]) == ("Zhou", "silver")
    assert (merged["owner"], merged["created_by"]) == (ALICE.user_id, ALICE.user_id)
    assert merged["created_at"] == first["created_at"]
    assert merged["version"] == 2
    assert names(service) == ["Zhou"]
    history = service.history("customer", first["id"], ALICE)
    assert [(h["field"], h["new_value"], h["cause"]) for h in history] == [
        ("email", "zhou@example.com", "duplicate rule same_phone")
    ]
    log = service.effects.audit_log
    with database.engine.connect() as conn:
        entry = conn.execute(sa.select(log.c.detail).where(log.c.action == "merge")).scalar()
    assert entry == {"rule": "same_phone", "fields": ["email"]}


def test_merge_of_rows_in_one_call_makes_one_record(database, clock, tmp_path):
    service = build(database, clock, tmp_path, "merge")
    rows = [
        {"name": "Sun", "phone": "13900001111"},
        {"name": "Sun again", "phone": "+86 139 0000 1111", "email": "sun@example.com"},
        {"name": "Qian", "phone": "13900002222"},
    ]
    results = service.bulk_create("customer", rows, ALICE)
    assert [(r.created, r.merged) for r in results] == [(True, False), (False, True), (True, False)]
    assert results[1].record["id"] == results[0].record["id"]
    assert results[1].record["email"] == "sun@example.com"
    assert names(service) == ["Qian", "Sun"]


def test_existing_rows_get_their_keys_on_first_use(database, clock, tmp_path):
    """Records stored before the rule existed (or written around it) are matched too."""
    service = build(database, clock, tmp_path, "block")
    table = service.compiled.tables["customer"]
    service.create("customer", {"name": "Seed"}, ALICE)
    with database.engine.begin() as conn:  # a row from before the rule: no key of its own
        seed = conn.execute(sa.select(table)).mappings().one()
        conn.execute(
            table.insert().values(
                {
                    **seed,
                    "id": "00000000-0000-4000-8000-0000000000aa",
                    "name": "Old",
                    "phone": "+8613900001111",
                }
            )
        )
        conn.execute(service.compiled.tables.system["match_rules"].delete())
    with pytest.raises(ValidationFailed) as refused:
        service.create("customer", {"name": "New", "phone": "139 0000 1111"}, ALICE)
    assert refused.value.errors[0].text("en") == "Same phone as Old"


def test_a_match_the_writer_may_not_read_is_not_revealed(database, clock, tmp_path):
    """Hostile: a clerk reads only their own customers. A duplicate of someone else's is
    still refused (or warned of), but the message names no record, id or value."""
    for action in ("block", "warn", "merge"):
        service = build(database, clock, tmp_path / action, action, roles=True)
        users = UserStore(database, service.compiled.tables, hasher=PasswordHasher(n=2**4))
        rep = users.actor_for(users.create_user(f"rep_{action}", None, "Rep", roles=["sales_rep"]))
        clerk = users.actor_for(users.create_user(f"cai_{action}", None, "Cai", roles=["clerk"]))
        secret = service.create(
            "customer",
            {"name": "Secret Client", "phone": "13900001111", "email": "boss@example.com"},
            rep,
        )
        row = {"name": "Probe", "phone": "+86 139 0000 1111"}
        if action == "warn":
            result = service.create_row("customer", row, clerk)
            [duplicate] = result.warnings
            assert duplicate.record_id is None and duplicate.title is None
            texts = duplicate.message
        else:  # merge into a record they may not change is no merge: it is refused
            with pytest.raises(ValidationFailed) as refused:
                service.create("customer", row, clerk)
            [error] = refused.value.errors
            assert (error.field, error.rule, error.code) == ("phone", "same_phone", "duplicate")
            texts = error.message
        assert texts == {
            "en": "a matching Customer already exists (duplicate rule same_phone)",
            "zh-CN": "已存在匹配的客户（查重规则same_phone）",
        }
        shown = " ".join(texts.values())
        for secret_part in ("Secret", secret["id"], "13900001111", "boss"):
            assert secret_part not in shown
        database.engine.dispose()
        with database.engine.begin() as conn:  # the next action starts from no tables
            service.compiled.tables.metadata.drop_all(conn)
