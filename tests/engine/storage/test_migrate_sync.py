"""Bringing a database up and growing it: tables, fields, objects, indexes, versions."""

from __future__ import annotations

import uuid

import msgspec

from engine.storage.migrate import plan_migration, sync
from metadata import ResolvedSchema

LEAD = """
- {name: company, type: text, max_length: 100}
- {name: status, type: picklist, values: [new, working, won]}
"""
SYSTEM = {"_schema_versions", "_field_history", "_audit_log", "_outbox", "_autonumber"}


def test_fresh_sync_creates_object_and_system_tables(database, live, make_schema):
    schema = make_schema({"lead": LEAD})
    plan = plan_migration(database, schema)
    assert plan.ok and "create object lead (11 columns)" in plan.describe()
    version = sync(database, schema, "installer")
    assert {"lead"} | SYSTEM <= live.tables()
    assert {"id", "company", "status", "version", "archived"} <= set(live.columns("lead"))
    assert version.content_hash == schema.content_hash
    again = plan_migration(database, schema)
    assert again.describe() == [] and not again.changes_schema
    assert sync(database, schema, "installer").id == version.id  # nothing new recorded


def test_add_field_object_and_index_keeps_rows(database, live, make_schema):
    v1 = make_schema({"lead": LEAD})
    sync(database, v1, "t")
    ids = live.insert(v1, "lead", [{"company": "Acme", "status": "new"}, {"company": "Beta"}])
    v2 = make_schema(
        {
            "lead": LEAD + "- {name: budget, type: decimal, precision: 18, scale: 2}\n"
            "- {name: region, type: text, indexed: true}\n",
            "visit": "- {name: lead, type: lookup, to: lead}\n- {name: note, type: long_text}",
        }
    )
    plan = plan_migration(database, v2)
    words = plan.describe()
    assert "add field lead.budget (decimal 18,2)" in words
    assert "add field lead.region (text(255))" in words
    assert "add index ix_lead_region on lead (region)" in words
    assert any(w.startswith("create object visit") for w in words)
    sync(database, v2, "t")
    assert {"budget", "region"} <= set(live.columns("lead"))
    assert "visit" in live.tables()
    assert live.fetch("lead", "company", "status") == {
        ids[0]: ("Acme", "new"),
        ids[1]: ("Beta", None),
    }
    visit = live.insert(v2, "visit", [{"lead": ids[0], "note": "hi"}])
    ((visit_id, (lead_ref,)),) = live.fetch("visit", "lead").items()
    assert visit_id == visit[0] and str(uuid.UUID(str(lead_ref))) == ids[0]
    assert plan_migration(database, v2).describe() == []


def test_every_version_is_recorded_with_hash_plan_who_and_schema(database, live, make_schema):
    v1: ResolvedSchema = make_schema({"lead": LEAD})
    sync(database, v1, "alice")
    # A new picklist value needs no DDL, but it is a new metadata version all the same.
    v2 = make_schema({"lead": LEAD.replace("won]", "won, lost]")})
    plan = plan_migration(database, v2)
    assert plan.describe() == [] and plan.changes_schema
    applied = sync(database, v2, "bob")
    rows = live.versions()
    assert [(r.content_hash, r.applied_by) for r in rows] == [
        (v1.content_hash, "alice"),
        (v2.content_hash, "bob"),
    ]
    assert applied.id == rows[-1].id
    first_plan = rows[0].plan
    assert any(
        op["description"].startswith("create object lead") for op in first_plan["operations"]
    )
    assert rows[1].plan["previous_hash"] == v1.content_hash
    recorded = rows[1].schema
    assert recorded == msgspec.json.decode(msgspec.json.encode(msgspec.to_builtins(v2)))


def test_reshaping_a_parent_keeps_its_children(database, live, make_schema):
    # SQLite rebuilds a table to change a column; its cascading children must survive that.
    child = "- {name: account, type: master_detail, to: account, on_delete: cascade}"
    v1 = make_schema({"account": "- {name: title, type: text}", "contact": child})
    sync(database, v1, "t")
    (acme,) = live.insert(v1, "account", [{"title": "Acme"}])
    kids = live.insert(v1, "contact", [{"account": acme}, {"account": acme}])
    v2 = make_schema({"account": "- {name: title, type: text, max_length: 80}", "contact": child})
    assert plan_migration(database, v2).describe() == [
        "change account.title from text(255) to text(80) (1 rows convert)"
    ]
    sync(database, v2, "t")
    assert set(live.fetch("contact", "account")) == set(kids)
    assert live.fetch("account", "title") == {acme: ("Acme",)}
