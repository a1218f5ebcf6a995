"""Conditions through lookups select the rows JsonLogic selects, for a reader who may open
only some of the records looked up.

The expected rows are computed here from nested data: a lookup holds its target record
when the reader may open it, and nothing otherwise (what "reads as empty" means), and the
Python compiler evaluates the rule on that. Conditions on one path, on one path twice,
on two paths and on a path and a field of the row itself; one hop, two hops, and a lookup
to the object's own table. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from engine.rules import FieldRef, RuleContext, compile_rule, to_sql
from engine.rules.values import truthy

metadata = sa.MetaData()
REGION = sa.Table(
    "region",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(10)),
)
ACCOUNT = sa.Table(
    "account",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(20)),
    sa.Column("tier", sa.Integer),
    sa.Column("region", sa.Integer),
    sa.Column("parent", sa.Integer),
)
DEAL = sa.Table(
    "deal",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("stage", sa.String(10)),
    sa.Column("account", sa.Integer),
)
TABLES = {"region": REGION, "account": ACCOUNT, "deal": DEAL}

ACCOUNT_FIELDS = {
    "name": FieldRef("name", "text"),
    "tier": FieldRef("tier", "integer"),
    "region": FieldRef("region", "lookup", target="region"),
    "parent": FieldRef("parent", "lookup", target="account"),
}
OBJECTS = {"account": ACCOUNT_FIELDS, "region": {"code": FieldRef("code", "picklist")}}
DEALS = RuleContext(
    "deal",
    {
        "stage": FieldRef("stage", "picklist"),
        "account": FieldRef("account", "lookup", target="account"),
    },
    OBJECTS,
)
ACCOUNTS = RuleContext("account", ACCOUNT_FIELDS, OBJECTS)

REGION_ROWS = [{"id": 1, "code": "east"}, {"id": 2, "code": "west"}, {"id": 3, "code": None}]
ACCOUNT_ROWS = [
    {"id": 1, "name": "Acme", "tier": 1, "region": 1, "parent": None},
    {"id": 2, "name": "Beta", "tier": 2, "region": 2, "parent": 1},
    {"id": 3, "name": None, "tier": None, "region": 3, "parent": 4},
    {"id": 4, "name": "Acme", "tier": 1, "region": 1, "parent": 2},  # the reader may not open it
    {"id": 5, "name": "Core", "tier": 0, "region": None, "parent": 99},  # parent is dangling
]
DEAL_ROWS = [
    {"id": 10 * i + j, "stage": stage, "account": a}
    for i, a in enumerate((1, 2, 3, 4, 5, None, 98), start=1)
    for j, stage in enumerate(("new", "won"))
]
#: What the reader may open: no account 4, no region 2.
OPENS = {"account": lambda r: r["id"] != 4, "region": lambda r: r["id"] != 2}


class Reader:
    """A reader of every field who may open only the rows ``OPENS`` lets through."""

    def column(self, object_name: str, ref: FieldRef, row: sa.FromClause) -> Any:
        return row.c[ref.name]

    def rows(self, object_name: str) -> Any:
        table = TABLES[object_name]
        ids = [r["id"] for r in _rows(object_name) if OPENS.get(object_name, bool)(r)]
        return table.c.id.in_(ids) if object_name in OPENS else None


def _rows(object_name: str) -> list[dict[str, Any]]:
    return {"region": REGION_ROWS, "account": ACCOUNT_ROWS, "deal": DEAL_ROWS}[object_name]


def _nested(object_name: str, row: dict[str, Any], depth: int = 3) -> dict[str, Any]:
    """``row`` with each lookup replaced by the record it reaches, as the reader sees it."""
    out = dict(row)
    fields = DEALS.fields if object_name == "deal" else OBJECTS[object_name]
    for name, ref in fields.items():
        if ref.target is None:
            continue
        target = next((r for r in _rows(ref.target) if r["id"] == row[name]), None)
        if target is None or depth == 0 or not OPENS.get(ref.target, bool)(target):
            out[name] = None
        else:
            out[name] = _nested(ref.target, target, depth - 1)
    return out


def _expected(object_name: str, rule: Any) -> set[int]:
    fn = compile_rule(rule)
    return {r["id"] for r in _rows(object_name) if truthy(fn(_nested(object_name, r)))}


def _path_rules(path: str, text: str, number: str | None) -> list[Any]:
    v = {"var": path}
    found = [
        {"==": [v, text]},
        {"!=": [v, text]},
        {"===": [v, None]},
        {"!==": [v, None]},
        {"!": [v]},
        {"!!": [v]},
        {"in": [v, [text, "nobody"]]},
        {"!": {"in": [v, [text]]}},
        {"starts_with": [v, text[:2]]},
        {"and": [{"!!": [v]}, {"!=": [v, text]}]},
        {"or": [{"==": [v, text]}, {"!": [v]}]},
        {"if": [{"==": [v, text]}, True, False]},
        {"val": path.split(".")},
    ]
    if number:
        n = {"var": number}
        found += [{"<": [n, 2]}, {">=": [n, 1]}, {"!": {"<": [n, 2]}}, {"==": [n, 0]}]
    return found


DEAL_RULES = [
    *_path_rules("account.name", "Acme", "account.tier"),
    *_path_rules("account.region.code", "east", None),
    *_path_rules("account.parent.name", "Acme", "account.parent.tier"),
    {"and": [{"==": [{"var": "account.name"}, "Acme"]}, {"==": [{"var": "stage"}, "won"]}]},
    {"or": [{"==": [{"var": "account.name"}, "Beta"]}, {"!": [{"var": "account.region.code"}]}]},
    {"==": [{"var": "account.tier"}, {"var": "account.parent.tier"}]},
    {"!": {"and": [{"!!": [{"var": "account.parent.region.code"}]}, {"var": "stage"}]}},
]
ACCOUNT_RULES = [
    *_path_rules("parent.name", "Acme", "parent.tier"),
    *_path_rules("parent.parent.region.code", "east", None),
    {"<": [{"var": "parent.tier"}, {"var": "tier"}]},
]


@pytest.fixture
def loaded(database: Any) -> Any:
    engine = database.engine
    metadata.create_all(engine)
    with engine.begin() as conn:
        for table in (REGION, ACCOUNT, DEAL):
            conn.execute(sa.insert(table), _rows(table.name))
    yield engine
    metadata.drop_all(engine)


@pytest.mark.parametrize(
    ("object_name", "rule"),
    [("deal", r) for r in DEAL_RULES] + [("account", r) for r in ACCOUNT_RULES],
    ids=[f"deal-{i}" for i in range(len(DEAL_RULES))]
    + [f"account-{i}" for i in range(len(ACCOUNT_RULES))],
)
def test_a_condition_through_lookups_reads_only_what_the_reader_may_open(
    loaded: Any, object_name: str, rule: Any
) -> None:
    table = TABLES[object_name]
    context = DEALS if object_name == "deal" else ACCOUNTS
    where = to_sql(rule, table, context, tables=TABLES, reader=Reader())
    with loaded.connect() as conn:
        got = set(conn.execute(sa.select(table.c.id).where(where)).scalars())
    assert got == _expected(object_name, rule), rule


def test_a_condition_through_a_lookup_keeps_the_outer_rows_and_no_more(loaded: Any) -> None:
    """A semi-join adds no row: every deal appears once, whatever the lookup matches."""
    rule = {"!=": [{"var": "account.name"}, "nobody"]}
    where = to_sql(rule, DEAL, DEALS, tables=TABLES, reader=Reader())
    with loaded.connect() as conn:
        got = list(conn.execute(sa.select(DEAL.c.id).where(where)).scalars())
    assert sorted(got) == sorted(r["id"] for r in DEAL_ROWS)
