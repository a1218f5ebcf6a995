"""Renaming an object (``renamed_from``) renames its table: records, references, history follow."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.storage.database import Database
from engine.storage.migrate import is_archived, plan_migration, sync
from engine.storage.tables import compile_tables
from engine.validate import validate_paths
from metadata import ResolvedSchema

from .conftest import PACK_YAML, Live

ACCOUNT_FIELDS = """
- {name: title, type: text, unique: true}
- {name: parent, type: lookup, to: %(self)s}
"""
CONTACT_FIELDS = "- {name: full_name, type: text}\n- {name: account, type: lookup, to: %(to)s}"

Objects = dict[str, tuple[str, str]]


@pytest.fixture
def make_schema(tmp_path: Path) -> Callable[[Objects], ResolvedSchema]:
    """Resolve a one-pack schema from ``{name: (object-level yaml, fields yaml)}``.

    The shared ``make_schema`` writes fields only; a rename is an object-level key.
    """
    counter = iter(range(1_000_000))

    def make(objects: Objects) -> ResolvedSchema:
        folder = tmp_path / f"v{next(counter)}" / "crm"
        (folder / "objects").mkdir(parents=True)
        (folder / "pack.yaml").write_text(PACK_YAML, encoding="utf-8")
        for name, (head, fields) in objects.items():
            body = textwrap.indent(textwrap.dedent(fields).strip(), "  ")
            text = f"name: {name}\n{head}fields:\n{body}\n"
            (folder / "objects" / f"{name}.yaml").write_text(text, encoding="utf-8")
        report = validate_paths([folder])
        assert not report.errors, [p.render() for p in report.errors]
        return report.schema

    return make


def _objects(account: str, renamed_from: str | None = None) -> Objects:
    head = f"renamed_from: {renamed_from}\n" if renamed_from else ""
    return {
        account: (head, ACCOUNT_FIELDS % {"self": account}),
        "contact": ("", CONTACT_FIELDS % {"to": account}),
    }


@pytest.fixture
def v1(database: Database, make_schema: Callable[[Objects], ResolvedSchema]) -> ResolvedSchema:
    schema = make_schema(_objects("account"))
    sync(database, schema, "t")
    return schema


def _system(schema: ResolvedSchema, table: str) -> sa.Table:
    return compile_tables(schema).system[table]


def _write_history(db: Database, schema: ResolvedSchema, obj: str, record: str) -> None:
    """One row in each system table keyed by object name (tests only; normally RecordService)."""
    now = datetime.now(UTC)
    with db.engine.begin() as conn:
        if db.schema:
            conn.exec_driver_sql(f'SET LOCAL search_path TO "{db.schema}"')
        conn.execute(
            _system(schema, "field_history").insert(),
            {"object": obj, "record_id": record, "field": "title", "changed_at": now},
        )
        conn.execute(
            _system(schema, "audit_log").insert(),
            {"at": now, "action": "update", "object": obj, "record_id": record, "detail": {}},
        )
        conn.execute(
            _system(schema, "autonumber").insert(),
            {"object": obj, "field": "number", "period": "", "last_value": 7},
        )


def _history_objects(db: Database, schema: ResolvedSchema) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    with db.engine.connect() as conn:
        if db.schema:
            conn.exec_driver_sql(f'SET LOCAL search_path TO "{db.schema}"')
        for name in ("field_history", "audit_log", "autonumber"):
            table = _system(schema, name)
            out[name] = sorted(conn.execute(sa.select(table.c.object)).scalars())
        conn.rollback()
    return out


def test_rename_object_keeps_records_references_and_history(
    database: Database, live: Live, make_schema: Callable[[Objects], ResolvedSchema], v1
):
    (acme,) = live.insert(v1, "account", [{"title": "Acme"}])
    (beta,) = live.insert(v1, "account", [{"title": "Beta", "parent": acme}])
    (ann,) = live.insert(v1, "contact", [{"full_name": "Ann", "account": acme}])
    _write_history(database, v1, "account", acme)
    _write_history(database, v1, "contact", ann)

    v2 = make_schema(_objects("customer", renamed_from="account"))
    words = plan_migration(database, v2).describe()
    # Index and constraint names carry the object's name, so they are made again under the
    # new one; references (compared by what they join, not by name) stay as they are.
    assert words == [
        "rename object account → customer (2 records)",
        *(
            f"drop index ix_account_{c} on customer (no data lost)"
            for c in ("org_unit_id", "owner_id", "parent", "updated_at_id")
        ),
        "drop unique constraint uq_account_title on customer (no data lost)",
        "add index ix_customer_org_unit_id on customer (org_unit, id)",
        "add index ix_customer_owner_id on customer (owner, id)",
        "add index ix_customer_parent on customer (parent)",
        "add index ix_customer_updated_at_id on customer (updated_at, id)",
        "add unique constraint uq_customer_title on customer (title)",
    ]
    sync(database, v2, "t")

    tables = live.tables()
    assert "customer" in tables and "account" not in tables
    assert not [t for t in tables if is_archived(t)]
    rows = live.fetch("customer", "title", "parent")
    assert {k: (title, parent and str(parent)) for k, (title, parent) in rows.items()} == {
        acme: ("Acme", None),
        beta: ("Beta", acme),
    }
    assert _history_objects(database, v2) == {
        "field_history": ["contact", "customer"],
        "audit_log": ["contact", "customer"],
        "autonumber": ["contact", "customer"],
    }
    inspector = sa.inspect(database.engine)
    refs = {
        t: {fk["referred_table"] for fk in inspector.get_foreign_keys(t, schema=database.schema)}
        for t in ("contact", "customer")
    }
    assert refs == {"contact": {"customer"}, "customer": {"customer"}}

    # The references work: deleting a customer sets its contacts' lookup to null, and a
    # contact cannot point at a customer that does not exist.
    customer = compile_tables(v2)["customer"]
    with database.engine.begin() as conn:
        if database.schema:
            conn.exec_driver_sql(f'SET LOCAL search_path TO "{database.schema}"')
        conn.execute(customer.update().values(parent=None))
        conn.execute(customer.delete().where(customer.c.id == acme))
    assert live.fetch("contact", "account") == {ann: (None,)}
    with pytest.raises(sa.exc.IntegrityError):
        live.insert(v2, "contact", [{"full_name": "Bob", "account": str(uuid.uuid4())}])
    live.insert(v2, "contact", [{"full_name": "Cid", "account": beta}])

    assert plan_migration(database, v2).describe() == []  # renamed_from may stay


def test_rename_with_field_changes_compares_columns_as_usual(
    database: Database, live: Live, make_schema: Callable[[Objects], ResolvedSchema], v1
):
    ids = live.insert(v1, "account", [{"title": "Acme"}])
    objects = _objects("customer", renamed_from="account")
    head, fields = objects["customer"]
    fields = fields.replace("{name: title,", "{name: name, renamed_from: title,")
    objects["customer"] = (head, fields + "\n- {name: note, type: long_text}")
    v2 = make_schema(objects)
    words = plan_migration(database, v2).describe()
    assert words[0] == "rename object account → customer (1 records)"
    assert "rename field customer.title → customer.name" in words
    assert "add field customer.note (long text)" in words
    sync(database, v2, "t")
    assert live.fetch("customer", "name", "note") == {ids[0]: ("Acme", None)}
    assert plan_migration(database, v2).describe() == []


def test_renamed_from_a_missing_table_just_creates(
    database: Database, live: Live, make_schema: Callable[[Objects], ResolvedSchema]
):
    schema = make_schema(_objects("customer", renamed_from="account"))
    words = plan_migration(database, schema).describe()
    assert "create object customer (11 columns)" in words
    assert not any(w.startswith("rename") for w in words)
    sync(database, schema, "t")
    assert {"customer", "contact"} <= live.tables() and "account" not in live.tables()


def test_renamed_from_a_table_that_is_not_an_object_is_left_alone(
    database: Database, live: Live, make_schema: Callable[[Objects], ResolvedSchema]
):
    with database.engine.begin() as conn:
        schema = f'"{database.schema}".' if database.schema else ""
        conn.exec_driver_sql(f"CREATE TABLE {schema}account (code TEXT PRIMARY KEY)")
    v2 = make_schema(_objects("customer", renamed_from="account"))
    plan = plan_migration(database, v2)
    assert "create object customer (11 columns)" in plan.describe()
    assert "left alone: table account is not a metacrm object table" in plan.notes
    sync(database, v2, "t")
    assert {"account", "customer"} <= live.tables()
