"""Row security compiled into SQL vs. the same WHERE clause by hand, PostgreSQL, same run (issue 7).

The first page of leads (50 rows in the API's default order, by id) of a 1,000,000-row
``lead`` table, listed as a dealer manager: ``RecordService.list`` with the
``RoleAuthorizer``'s row access, against hand-written SQLAlchemy Core that says the same
thing the way one would write it knowing PostgreSQL (look the user's units up, take the
first rows of each access path from its index, the page from those; same table
definitions, columns, order and LIMIT, driver and pool settings). Every side must return
the very same rows, which must also be the rows the seed data says the user may read. The
same page as one query with the access paths OR-ed is timed too, for reference.

Scenarios. No base-pack role has both a dealer-level scope on ``lead`` and a record rule
on it: ``dealer_manager`` reads leads ``org_unit_and_below`` with no lead rule, and the
one lead rule (``dealer_staff``'s ``closed_leads_leave_after_90_days``, on an ``own``
scope) uses ``date_add``, which has no SQL form. So:

- ``pack role``: dealer_manager as shipped: own, or in my unit or below, or shared with
  me or my unit;
- ``pack role + rule``: the same role from a temporary copy of the base pack whose
  dealer_manager also has a restrict rule on reading leads (closed leads hidden: the half
  of dealer_staff's rule that has an SQL form);
- ``new dealer, no leads``: the pack's role, as the manager of a dealer that has no leads
  yet (the case a single OR-ed query serves by reading the whole table).

Seed: 1 brand, 10 regions, 200 dealers (about 0.5% of the leads each), a manager and a
member of staff per dealer, 3,000 leads through the record service; the other leads are
COPY'd straight into the table the runtime created, reusing the service-made rows'
values with new ids, owners, units, dates and numbers (the service writes a few thousand
rows/s: a million would take minutes). Archiving, re-owning and sharing a few leads on
the first page go through the service. Then VACUUM (ANALYZE).

What the checks cost a restricted user (issue 16): the same pages through the record
service as an administrator (scope ``all``: no row filter) and as the dealer manager,
measured in the same way, the two taking turns:

- ``first page``: 50 leads by id;
- ``filtered page``: the same with a user's filter, open statuses and a lookup path
  (``assigned_partner.kind`` is ``dealer``), which for the dealer manager reads only the
  partners they may open.

Seed: each dealer has its partner record (in the dealer's unit) and most of a dealer's
leads are assigned to it.

Timing: both sides warmed up, then R rounds of N queries per side, the sides taking turns
every 10 queries; the best round of each side counts. Goals: generated >= 0.8x the
hand-written queries/s; the dealer manager's page within 1.25x the administrator's time.
One client, one query at a time: latency, not concurrency.

Run: .venv/bin/python bench/security.py [--url URL] [--leads N] [--queries N] [--rounds R]
[--only-roles]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
import yaml  # noqa: E402

from engine.api.runtime import Runtime  # noqa: E402
from engine.auth import UserStore  # noqa: E402
from engine.records import Actor, RecordService  # noqa: E402
from engine.records.authorize import Operation  # noqa: E402
from engine.storage.database import Database  # noqa: E402
from engine.storage.tables import CompiledTables, compile_tables  # noqa: E402
from engine.validate import validate_paths  # noqa: E402

BASE = ROOT / "industry_packs" / "base"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
GOAL = 0.8
#: The restricted user's page against the administrator's: at most this many times as long.
ROLE_GOAL = 1.25
BLOCK = 10  # pages per side before the other side takes its turn
PAGE = 50
SYSTEM = Actor(user_id=None, name="bench setup")
CLOSED = ("lost", "converted")
RULE = {
    "name": "closed_leads_hidden",
    "object": "lead",
    "effect": "restrict",
    "operations": ["read"],
    "rule": {"!": [{"in": [{"var": "status"}, list(CLOSED)]}]},
}
THROUGH_SERVICE = 3000
#: The user's filter on the pages compared by role: open statuses, through a lookup.
OPEN = ("new", "contacted")
FILTER = {"and": [{"in": [{"var": "status"}, list(OPEN)]},
                  {"==": [{"var": "assigned_partner.kind"}, "dealer"]}]}  # fmt: skip
ASSIGNED = 0.8  # of the COPY'd leads, those assigned to their dealer's partner
STATUSES = {"new": 30, "contacted": 25, "qualified": 15, "converted": 10, "lost": 20}
SOURCES = ["website", "wechat", "douyin", "xiaohongshu", "tmall", "store_walk_in", "referral",
           "partner", "hotline", "exhibition"]  # fmt: skip
PROVINCES = {"beijing": "北京", "shanghai": "上海", "guangdong": "广州", "zhejiang": "杭州",
             "sichuan": "成都", "jiangsu": "南京", "hubei": "武汉"}  # fmt: skip
LOST_REASONS = ["no_response", "invalid_info", "no_budget", "not_interested", "bought_competitor"]
_PLAIN_INDEXES = """
    SELECT i.indexname, i.indexdef FROM pg_indexes i
    WHERE i.schemaname = current_schema() AND i.tablename = 'lead'
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
"""
#: Columns each COPY'd row gets afresh; every other column comes from a service-made lead.
VARYING = ("id", "owner", "org_unit", "created_at", "created_by", "updated_at", "updated_by",
           "lead_number", "assigned_partner")  # fmt: skip


# --- the throwaway database ----------------------------------------------------------------


def create_database(url: str) -> tuple[sa.Engine, str, str]:
    """A fresh database on the server at ``url``: (admin engine, its name, its URL).

    Exits with the reason when the server cannot be reached.
    """
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"metacrm_bench_security_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.DBAPIError as exc:
        admin.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise SystemExit(f"PostgreSQL at {url} is not usable: {reason}") from None
    target = sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)
    return admin, name, target


def drop_database(admin: sa.Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def ruled_pack(tmp: Path) -> Path:
    """A copy of the base pack whose dealer_manager also has ``RULE`` on leads."""
    pack = tmp / "base_with_lead_rule"
    shutil.copytree(BASE, pack)
    roles_file = pack / "security" / "roles.yaml"
    data = yaml.safe_load(roles_file.read_text(encoding="utf-8"))
    manager = next(r for r in data["roles"] if r["name"] == "dealer_manager")
    manager.setdefault("record_rules", []).append(RULE)
    roles_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return pack


# --- seeding -------------------------------------------------------------------------------


@dataclass
class World:
    me: Actor
    #: A dealer manager of a dealer that opened today: no leads of their own yet.
    newcomer: Actor
    #: An administrator (of the brand).
    admin: Actor
    leads: int
    #: Each dealer unit's partner record: (id, kind).
    partners: dict[str, tuple[str, str]]
    in_unit: int = 0
    #: (id, status) of every lead ``me`` may read, by role scope and shares.
    readable: dict[str, str] = field(default_factory=dict)
    #: The partner assigned to each lead of ``me``'s unit, if any.
    partner_of: dict[str, str | None] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def first_page(self, ruled: bool) -> list[str]:
        ids = [i for i, s in self.readable.items() if not (ruled and s in CLOSED)]
        return sorted(ids)[:PAGE]  # uuid order is the order of their text

    def filtered_page(self) -> list[str]:
        """``FILTER``'s page for ``me``: a lead's partner reads as empty unless ``me`` may
        open it, and the only partner they may open is their dealer's."""
        mine, kind = self.partners[self.me.org_unit or ""]
        if kind != "dealer":
            return []
        ids = [i for i, s in self.readable.items() if s in OPEN and self.partner_of.get(i) == mine]
        return sorted(ids)[:PAGE]


def seed_tree(service: RecordService, regions: int, dealers: int) -> tuple[str, list[str], str]:
    """The brand, the dealers holding leads, and one more dealer that holds none."""
    brand = service.create("org_unit", {"name": "Brand", "code": "BRAND", "kind": "brand"},
                           SYSTEM)["id"]  # fmt: skip
    units = []
    region = brand
    for r in range(regions):
        region = service.create(
            "org_unit", {"name": f"Region {r}", "code": f"R{r:02d}", "kind": "region",
                         "parent": brand}, SYSTEM)["id"]  # fmt: skip
        for d in range(dealers // regions):
            made = service.create(
                "org_unit", {"name": f"Dealer {r}-{d}", "code": f"D{r:02d}{d:03d}",
                             "kind": "dealer", "parent": region}, SYSTEM)  # fmt: skip
            units.append(made["id"])
    new = service.create("org_unit", {"name": "New dealer", "code": "DNEW", "kind": "dealer",
                                      "parent": region}, SYSTEM)  # fmt: skip
    return brand, units, new["id"]


def seed_partners(service: RecordService, dealers: list[str]) -> dict[str, tuple[str, str]]:
    """A partner record per dealer, in the dealer's unit (so its manager may open it);
    one in four is a store, the others dealers."""
    rows = [
        {"name": f"Partner {i}", "partner_code": f"P{i:04d}",
         "kind": "store" if i % 4 == 3 else "dealer", "status": "active",
         "contract_number": f"C{i:04d}", "contract_start": "2026-01-01",
         "contract_end": "2028-12-31", "partner_unit": unit, "org_unit": unit}
        for i, unit in enumerate(dealers)
    ]  # fmt: skip
    made = service.bulk_create("partner", rows, SYSTEM)
    failed = [r.errors for r in made if not r.ok]
    if failed:
        raise SystemExit(f"{len(failed)} partners refused by the service, e.g. {failed[0]}")
    return {r.record["org_unit"]: (r.record["id"], r.record["kind"]) for r in made if r.record}


def lead_input(rng: random.Random, n: int, now: dt.datetime) -> dict[str, Any]:
    """A lead as a form or an import hands it over; valid for the base pack's rules."""
    status = rng.choices(list(STATUSES), weights=list(STATUSES.values()))[0]
    province = rng.choice(list(PROVINCES))
    row: dict[str, Any] = {
        "name": f"客户 {n}",
        "status": status,
        "source": rng.choice(SOURCES),
        "email": f"lead{n}@example.cn",
        "score": rng.randrange(101),
        "province": province,
        "city": PROVINCES[province],
        "company": f"公司 {rng.randrange(5000)}" if rng.random() < 0.3 else None,
        "marketing_consent": rng.random() < 0.4,
    }
    if rng.random() < 0.6:
        row["phone"] = f"139{rng.randrange(10**8):08d}"
    if status != "new":
        row["first_contacted_at"] = (now - dt.timedelta(days=rng.randrange(1, 60))).isoformat()
    if status in ("qualified", "converted"):
        row["rating"] = rng.choice(["hot", "warm", "cold"])
    if status == "lost":
        row["lost_reason"] = rng.choice(LOST_REASONS)
    return row


def _copy_text(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_leads(
    db: Database,
    table: sa.Table,
    templates: list[dict[str, Any]],
    count: int,
    staff: list[tuple[str, list[str]]],
    world: World,
    rng: random.Random,
) -> None:
    """COPY ``count`` leads into ``table``, bypassing the record service (bench seeding
    only): each takes a service-made lead's values, with a fresh id, a dealer and one of
    its users as owner, a creation date in the two years before this month, and a lead
    number of that month (``L-YYYYMM-nnnnn``, so none collides with the service's)."""
    rest = [c.name for c in table.c if c.name not in VARYING]
    rendered = ["\t".join(_copy_text(t[c]) for c in rest) for t in templates]
    statuses = [t["status"] for t in templates]
    columns = ", ".join(f'"{c}"' for c in (*VARYING, *rest))
    month_start = dt.datetime.now(dt.UTC).replace(day=1, hour=0, minute=0, second=0,
                                                  microsecond=0)  # fmt: skip
    numbers: dict[str, int] = {}
    mine = world.me.org_unit
    raw = db.engine.raw_connection()
    try:
        cur = raw.driver_connection.cursor()  # type: ignore[union-attr]
        # Indexes other than the primary key and unique ones are built after the load, as
        # a restore does: maintaining them row by row would take most of the seeding time.
        cur.execute(_PLAIN_INDEXES)
        plain = cur.fetchall()
        for index_name, _ in plain:
            cur.execute(f'DROP INDEX "{index_name}"')
        with cur.copy(f"COPY lead ({columns}) FROM STDIN") as copy:
            chunk: list[str] = []
            for _ in range(count):
                k = rng.randrange(len(templates))
                unit, users = staff[rng.randrange(len(staff))]
                owner = users[rng.randrange(len(users))]
                created = month_start - dt.timedelta(seconds=rng.randrange(1, 730 * 86400))
                updated = created + dt.timedelta(seconds=rng.randrange(60 * 86400))
                updated = min(updated, month_start)
                month = created.strftime("%Y%m")
                numbers[month] = numbers.get(month, 0) + 1
                lead_id = str(uuid.uuid4())
                partner = world.partners[unit][0] if rng.random() < ASSIGNED else None
                chunk.append(
                    f"{lead_id}\t{owner}\t{unit}\t{created.isoformat()}\t{owner}\t"
                    f"{updated.isoformat()}\t{owner}\tL-{month}-{numbers[month]:05d}\t"
                    f"{_copy_text(partner)}\t{rendered[k]}\n"
                )
                if unit == mine:
                    world.readable[lead_id] = statuses[k]
                    world.partner_of[lead_id] = partner
                    world.in_unit += 1
                if len(chunk) == 20_000:
                    copy.write("".join(chunk))
                    chunk.clear()
            copy.write("".join(chunk))
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _, definition in plain:
            cur.execute(definition)
        raw.commit()
    finally:
        raw.close()


def seed(db: Database, runtime: Runtime, args: argparse.Namespace) -> World:
    service = runtime.snapshot.service
    tables = runtime.snapshot.compiled.tables
    rng = random.Random(7)
    t0 = time.perf_counter()
    brand, dealers, empty_dealer = seed_tree(service, args.regions, args.dealers)
    partners = seed_partners(service, dealers)
    users = UserStore(db, tables)
    staff: list[tuple[str, list[str]]] = []
    managers = []
    for i, unit in enumerate(dealers):
        manager = users.create_user(f"manager{i:03d}", None, f"店长 {i}",
                                    roles=["dealer_manager"], org_unit=unit)  # fmt: skip
        clerk = users.create_user(f"staff{i:03d}", None, f"顾问 {i}",
                                  roles=["dealer_staff"], org_unit=unit)  # fmt: skip
        staff.append((unit, [manager.id, clerk.id]))
        managers.append(manager)
    me = users.actor_for(managers[len(managers) // 2])
    newcomer = users.create_user("manager.new", None, "新店店长", roles=["dealer_manager"],
                                 org_unit=empty_dealer)  # fmt: skip
    admin = users.create_user("admin", None, "管理员", roles=["administrator"], org_unit=brand)
    world = World(me=me, newcomer=users.actor_for(newcomer), admin=users.actor_for(admin),
                  leads=args.leads, partners=partners)  # fmt: skip
    world.timings["org tree, partners and users"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    rows = []
    for n in range(THROUGH_SERVICE):
        unit, owners = staff[rng.randrange(len(staff))]
        rows.append(lead_input(rng, n, now) | {"owner": rng.choice(owners), "org_unit": unit})
    # A lead starts new (the lifecycle's initial state, which clears a lost reason); the
    # seed then sets the status and reason it drew by UPDATE, as it COPYs the rest (bench
    # seeding only: how each lead got there is not what is measured).
    drawn = [{"status": row.pop("status"), "lost_reason": row.get("lost_reason")} for row in rows]
    made = service.bulk_create("lead", rows, SYSTEM)
    failed = [r.errors for r in made if not r.ok]
    if failed:
        raise SystemExit(f"{len(failed)} leads refused by the service, e.g. {failed[0]}")
    templates = [r.record for r in made if r.record is not None]
    lead = runtime.snapshot.compiled.tables["lead"]
    with db.engine.begin() as conn:
        conn.execute(
            sa.update(lead).where(lead.c.id == sa.bindparam("lead_id")),
            [{"lead_id": t["id"], **d} for t, d in zip(templates, drawn, strict=True)],
        )
    for record, values in zip(templates, drawn, strict=True):
        record.update(values)
    for record in templates:
        if record["org_unit"] == me.org_unit:
            world.readable[record["id"]] = record["status"]
            world.in_unit += 1
    world.timings[f"{THROUGH_SERVICE:,} leads through the service"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    copy_leads(db, tables["lead"], templates, args.leads - THROUGH_SERVICE, staff, world, rng)
    world.timings[f"{args.leads - THROUGH_SERVICE:,} leads by COPY"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    first_page_changes(db, service, tables, world)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE)")
    world.timings["first-page changes, VACUUM (ANALYZE)"] = time.perf_counter() - t0
    return world


def first_page_changes(
    db: Database, service: RecordService, tables: CompiledTables, world: World
) -> None:
    """Through the service, so every branch of the row filter decides part of page one:
    archive the user's unit's first three leads, give the user five leads of other
    dealers, share five with the user and five with the user's unit."""
    lead = tables["lead"]
    me = world.me
    with db.read() as conn:
        own_unit = conn.execute(
            sa.select(lead.c.id).where(lead.c.org_unit == me.org_unit).order_by(lead.c.id).limit(3)
        ).scalars().all()  # fmt: skip
        others = conn.execute(
            sa.select(lead.c.id, lead.c.status).where(lead.c.org_unit != me.org_unit)
            .order_by(lead.c.id).limit(15)
        ).all()  # fmt: skip
    for lead_id in own_unit:
        service.delete("lead", lead_id, SYSTEM)
        del world.readable[lead_id]
    for n, (lead_id, status) in enumerate(others):
        if n < 5:
            service.update("lead", lead_id, {"owner": me.user_id}, SYSTEM)
        elif n < 10:
            service.share("lead", lead_id, SYSTEM, user=me.user_id, access="edit")
        else:
            service.share("lead", lead_id, SYSTEM, org_unit=me.org_unit, access="read")
        world.readable[lead_id] = status


# --- the two sides -------------------------------------------------------------------------


def _access(tables: CompiledTables, me: Actor, ruled: bool) -> tuple[Any, ...]:
    """What both hand-written pages need: my units (primary and also-in) and those below
    them, the leads shared with me or my unit, and the live (and, with the rule, open)
    leads condition."""
    lead, units = tables["lead"], tables["org_unit"]
    also = tables.system["user_org_units"]
    shares = tables.system["record_shares"]
    my_units = sa.union_all(
        sa.select(sa.literal(me.org_unit, units.c.id.type)),
        sa.select(also.c.org_unit).where(also.c.user_id == me.user_id),
    )
    top = units.alias("top")
    reached = (
        sa.select(units.c.id)
        .join(top, units.c.path.startswith(top.c.path, autoescape=False))
        .where(top.c.id.in_(my_units))
    )
    shared = sa.select(shares.c.record_id).where(
        shares.c.object == "lead",
        sa.or_(shares.c.user_id == me.user_id, shares.c.org_unit == me.org_unit),
        shares.c.access.in_(("read", "edit")),
    )
    live = [lead.c.archived.is_(False)]
    if ruled:
        live.append(sa.or_(lead.c.status.is_(None), lead.c.status.not_in(CLOSED)))
    return lead, reached, shared, live


def hand_written_page(
    conn: sa.Connection, tables: CompiledTables, me: Actor, ruled: bool
) -> list[dict[str, Any]]:
    """The page as one would write it knowing PostgreSQL: look the units up first (so the
    planner sees real values), then take the first rows of each way a lead reaches me
    (mine, my units', shared) from its own index, and the page from those."""
    lead, reached, shared, live = _access(tables, me, ruled)
    unit_ids = conn.execute(reached).scalars().all()
    paths = [lead.c.owner == me.user_id, lead.c.id.in_(shared)]
    if len(unit_ids) == 1:
        paths.append(lead.c.org_unit == unit_ids[0])
    elif unit_ids:
        paths.append(lead.c.org_unit.in_(unit_ids))
    firsts = [
        sa.select(lead.c.id).where(*live, path).order_by(lead.c.id).limit(PAGE + 1).subquery()
        for path in paths
    ]
    ids = sa.union_all(*(sa.select(f.c.id) for f in firsts))
    # PAGE + 1 rows, as the service asks for, to know whether there is a next page.
    page = sa.select(*lead.c).where(lead.c.id.in_(ids)).order_by(lead.c.id).limit(PAGE + 1)
    return [dict(r) for r in conn.execute(page).mappings()]


def one_query_page(
    conn: sa.Connection, tables: CompiledTables, me: Actor, ruled: bool
) -> list[dict[str, Any]]:
    """The same page as one query with the ways of reaching OR-ed (what the engine sent
    before): short to write, but the planner walks the primary key and filters."""
    lead, reached, shared, live = _access(tables, me, ruled)
    reach = sa.or_(lead.c.owner == me.user_id, lead.c.org_unit.in_(reached), lead.c.id.in_(shared))
    page = sa.select(*lead.c).where(*live, reach).order_by(lead.c.id).limit(PAGE + 1)
    return [dict(r) for r in conn.execute(page).mappings()]


@dataclass(frozen=True)
class Scenario:
    name: str
    generated: Callable[[], list[dict[str, Any]]]
    hand_written: Callable[[], list[dict[str, Any]]]
    #: The hand-written page as one query with the access paths OR-ed, for reference.
    one_query: Callable[[], list[dict[str, Any]]]
    generated_engine: sa.Engine
    hand_engine: sa.Engine
    #: The ids the seed data says the page holds.
    expected: list[str]
    #: The generated side's Python work on one page, each alone: (row filter, present).
    python_work: Callable[[list[dict[str, Any]]], tuple[float, float]]


def scenario(
    name: str, service: RecordService, engine: sa.Engine, tables: CompiledTables,
    me: Actor, ruled: bool, expected: list[str],
) -> Scenario:  # fmt: skip
    def generated() -> list[dict[str, Any]]:
        return service.list("lead", me, limit=PAGE).records

    def hand_written() -> list[dict[str, Any]]:
        with engine.connect() as conn:
            return hand_written_page(conn, tables, me, ruled)[:PAGE]

    def one_query() -> list[dict[str, Any]]:
        with engine.connect() as conn:
            return one_query_page(conn, tables, me, ruled)[:PAGE]

    def python_work(rows: list[dict[str, Any]], repeat: int = 100) -> tuple[float, float]:
        authorizer, compiled = service.authorizer, service.compiled
        cobj = compiled.objects["lead"]
        start = time.perf_counter()
        for _ in range(repeat):
            authorizer.row_access(me, cobj, Operation.READ, compiled)
        filtering = (time.perf_counter() - start) / repeat
        start = time.perf_counter()
        for _ in range(repeat):
            [authorizer.present(me, cobj, dict(row)) for row in rows]
        return filtering, (time.perf_counter() - start) / repeat

    return Scenario(name, generated, hand_written, one_query, service.db.engine, engine,
                    expected, python_work)  # fmt: skip


def check_same(s: Scenario, pii: frozenset[str]) -> int:
    """Every side gives the same rows, the ones the seed data says, with the same columns
    and values; personal data compared unmasked on one side only (the service masks it
    on every read, the baseline does not)."""
    generated, hand = s.generated(), s.hand_written()
    for side in (generated, hand, s.one_query()):
        if [r["id"] for r in side] != s.expected:
            raise SystemExit(f"{s.name}: a side does not return the page the seed data gives")
    for mine, theirs in zip(generated, hand, strict=True):
        differ = [k for k in mine.keys() | theirs.keys() if k not in pii and
                  mine.get(k, ...) != theirs.get(k, ...)]  # fmt: skip
        if differ or mine.keys() != theirs.keys():
            raise SystemExit(f"{s.name}: {mine['id']} differs in {differ or 'its columns'}")
    return len(generated)


@dataclass(frozen=True)
class RolePair:
    """One page through the record service as the administrator and as ``me``."""

    name: str
    admin: Callable[[], list[dict[str, Any]]]
    restricted: Callable[[], list[dict[str, Any]]]
    #: The ids each must get: the administrator's by a hand-written query, ``me``'s from
    #: the seed data.
    expected_admin: list[str]
    expected_restricted: list[str]


def admin_page(conn: sa.Connection, tables: CompiledTables, filtered: bool) -> list[str]:
    """The administrator's page by hand: every live lead (with ``FILTER``: open, and
    assigned to a partner that is a dealer)."""
    lead, partner = tables["lead"], tables["partner"]
    query = sa.select(lead.c.id).where(lead.c.archived.is_(False))
    if filtered:
        query = query.join(partner, partner.c.id == lead.c.assigned_partner).where(
            lead.c.status.in_(OPEN), partner.c.kind == "dealer"
        )
    return list(conn.execute(query.order_by(lead.c.id).limit(PAGE)).scalars())


def role_pairs(
    service: RecordService, engine: sa.Engine, tables: CompiledTables, world: World
) -> list[RolePair]:
    def page(actor: Actor, rule: Any) -> Callable[[], list[dict[str, Any]]]:
        return lambda: service.list("lead", actor, filter=rule, limit=PAGE).records

    with engine.connect() as conn:
        first, filtered = admin_page(conn, tables, False), admin_page(conn, tables, True)
    return [
        RolePair("first page", page(world.admin, None), page(world.me, None), first,
                 world.first_page(False)),
        RolePair("filtered page", page(world.admin, FILTER), page(world.me, FILTER), filtered,
                 world.filtered_page()),
    ]  # fmt: skip


def check_pair(pair: RolePair) -> tuple[int, int]:
    for call, expected in ((pair.admin, pair.expected_admin),
                           (pair.restricted, pair.expected_restricted)):  # fmt: skip
        if [r["id"] for r in call()] != expected:
            raise SystemExit(f"{pair.name}: a side does not return the page it should")
    return len(pair.expected_admin), len(pair.expected_restricted)


def last_select(engine: sa.Engine, call: Callable[[], object]) -> tuple[str, Any]:
    """The statement and parameters of the last SELECT ``call`` sent through ``engine``."""
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", grab)
    try:
        call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", grab)
    return seen[-1]


def explain(engine: sa.Engine, call: Callable[[], object]) -> list[str]:
    statement, params = last_select(engine, call)
    with engine.connect() as conn:
        result = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", params)
        return [row[0] for row in result]


def timed(call: Callable[[], object], count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - start)
    return latencies


# --- measuring and reporting --------------------------------------------------------------


@dataclass
class Outcome:
    server: str
    rows: dict[str, int]
    best: dict[tuple[str, str], float] = field(default_factory=dict)
    samples: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    plans: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    #: Best queries/s of the one-OR-query page, per scenario (reference, not the goal).
    one_query: dict[str, float] = field(default_factory=dict)
    python_work: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: Rows on each role pair's page: (administrator, dealer manager).
    pair_rows: dict[str, tuple[int, int]] = field(default_factory=dict)


Sides = list[tuple[str, Callable[[], object]]]


def measure(
    scenarios: list[Scenario], pairs: list[RolePair], outcome: Outcome, queries: int,
    rounds: int,
) -> None:  # fmt: skip
    """Each round runs ``queries`` pages per side in blocks of ``BLOCK``, the sides taking
    turns block by block (the first side alternating between rounds), so drifts in the
    machine's load fall on both alike."""
    contests: list[tuple[str, Sides]] = [
        (s.name, [("generated", s.generated), ("hand-written", s.hand_written)]) for s in scenarios
    ]
    contests += [(p.name, [("administrator", p.admin), ("dealer manager", p.restricted)])
                 for p in pairs]  # fmt: skip
    for _, sides in contests:  # warm-up: caches, prepared statements, pages in memory
        for _, call in sides:
            timed(call, 50)
    for round_no in range(rounds):
        for name, sides in contests:
            sides = sides[::-1] if round_no % 2 else sides
            latencies: dict[str, list[float]] = {side: [] for side, _ in sides}
            for _ in range(0, queries, BLOCK):
                for side, call in sides:
                    latencies[side].extend(timed(call, BLOCK))
            for side, _ in sides:
                rate = len(latencies[side]) / sum(latencies[side])
                key = (name, side)
                outcome.best[key] = max(outcome.best.get(key, 0.0), rate)
                outcome.samples.setdefault(key, []).extend(latencies[side])
                print(f"  round {round_no + 1} {name:<20} {side:<14} {rate:8.0f} q/s")
    for s in scenarios:
        outcome.plans[(s.name, "generated")] = explain(s.generated_engine, s.generated)
        outcome.plans[(s.name, "hand-written")] = explain(s.hand_engine, s.hand_written)
        outcome.plans[(s.name, "one query")] = explain(s.hand_engine, s.one_query)
        outcome.python_work[s.name] = s.python_work(s.hand_written())
        latencies = timed(s.one_query, max(5, queries // 20))
        outcome.one_query[s.name] = len(latencies) / sum(latencies)


def run(args: argparse.Namespace, url: str, tmp: Path) -> tuple[World, Outcome]:
    engines: list[sa.Engine] = []
    try:
        db = Database(url)
        engines.append(db.engine)
        with db.engine.connect() as conn:
            pg_version = conn.exec_driver_sql("SHOW server_version").scalar()
            buffers = conn.exec_driver_sql("SHOW shared_buffers").scalar()
        server = f"PostgreSQL {pg_version} (shared_buffers {buffers})"
        runtime = Runtime(db, [BASE])
        world = seed(db, runtime, args)
        ruled = Runtime(db, [ruled_pack(tmp)])  # same tables: its migration has nothing to do
        # The baseline: an engine of its own (the pool settings Database uses), the same
        # table definitions, no schema translation.
        hand_engine = sa.create_engine(url, pool_pre_ping=True)
        engines.append(hand_engine)
        tables = compile_tables(validate_paths([BASE]).schema)
        me, service = world.me, runtime.snapshot.service
        scenarios = [
            scenario("pack role", service, hand_engine, tables, me, False,
                     world.first_page(False)),
            scenario("pack role + rule", ruled.snapshot.service, hand_engine, tables, me, True,
                     world.first_page(True)),
            scenario("new dealer, no leads", service, hand_engine, tables, world.newcomer,
                     False, []),
        ]  # fmt: skip
        if args.only_roles:
            scenarios = []
        pairs = role_pairs(service, hand_engine, tables, world)
        lead = runtime.snapshot.compiled.objects["lead"]
        pii = frozenset(f.name for f in lead.obj.fields if getattr(f, "pii", False))
        outcome = Outcome(server, {s.name: check_same(s, pii) for s in scenarios})
        outcome.pair_rows = {p.name: check_pair(p) for p in pairs}
        measure(scenarios, pairs, outcome, args.queries, args.rounds)
        return world, outcome
    finally:
        for engine in engines:
            engine.dispose()


def report(args: argparse.Namespace, world: World, outcome: Outcome, seconds: float) -> None:
    for (name, side), lines in outcome.plans.items():
        print(f"\nEXPLAIN (ANALYZE, BUFFERS): {name}, {side}")
        for line in lines:
            print(f"  {line}")
    print()
    print(f"{dt.date.today()}  {platform.machine()}  {os.cpu_count()} cores  "
          f"Python {platform.python_version()}  {platform.platform()}")  # fmt: skip
    print(f"{outcome.server}, psycopg {version('psycopg')}, SQLAlchemy {sa.__version__}")
    print(f"{args.leads:,} leads in {args.dealers} dealers under {args.regions} regions; "
          f"the user's dealer holds {world.in_unit:,} of them")  # fmt: skip
    copied = args.leads - THROUGH_SERVICE
    print(f"seeding: {THROUGH_SERVICE:,} leads through the record service, the other "
          f"{copied:,} by COPY straight into its table (bench only)")  # fmt: skip
    for step, took in world.timings.items():
        print(f"  {step:<42} {took:6.1f} s")
    counts = ", ".join(f"{n}: {c}" for n, c in outcome.rows.items())
    print(f"page: as a dealer_manager, ordered by id, LIMIT {PAGE + 1} on both sides; "
          f"the same rows on both ({counts})")  # fmt: skip
    print(f"{args.queries} queries per side and round, sides taking turns every {BLOCK}, "
          f"best of {args.rounds} rounds; p50 = median latency over all rounds")  # fmt: skip
    print(f"{'scenario':<22}{'generated':>11}{'hand-written':>14}{'gen p50':>10}"
          f"{'hand p50':>10}{'ratio':>8}  goal >= {GOAL}x")  # fmt: skip
    ok = True
    for name in outcome.rows:
        gen, hand = outcome.best[(name, "generated")], outcome.best[(name, "hand-written")]
        gen_p50 = statistics.median(outcome.samples[(name, "generated")]) * 1000
        hand_p50 = statistics.median(outcome.samples[(name, "hand-written")]) * 1000
        ratio = gen / hand
        ok &= ratio >= GOAL
        print(f"{name:<22}{gen:>9.0f}/s{hand:>12.0f}/s{gen_p50:>7.2f} ms{hand_p50:>7.2f} ms"
              f"{ratio:>7.2f}x  {'met' if ratio >= GOAL else 'MISSED'}")  # fmt: skip
    print("for reference, the hand-written page as one query with the access paths OR-ed:")
    for name, rate in outcome.one_query.items():
        print(f"  {name:<22} {rate:8.1f}/s")
    print("the generated side's Python work per page, each part timed alone:")
    for name, (filtering, presenting) in outcome.python_work.items():
        print(f"  {name:<18} row filter {filtering * 1000:5.2f} ms, "
              f"present (field access, PII masking) {presenting * 1000:5.2f} ms")  # fmt: skip
    print(f"the same pages through the record service as an administrator and as the dealer "
          f"manager; filter: {json.dumps(FILTER)}")  # fmt: skip
    print(f"{'page':<16}{'rows':>9}{'administrator':>15}{'dealer manager':>16}{'adm p50':>10}"
          f"{'dm p50':>10}{'time':>7}  goal <= {ROLE_GOAL}x")  # fmt: skip
    for name, (admin_rows, my_rows) in outcome.pair_rows.items():
        admin, mine = outcome.best[(name, "administrator")], outcome.best[(name, "dealer manager")]
        admin_p50 = statistics.median(outcome.samples[(name, "administrator")]) * 1000
        my_p50 = statistics.median(outcome.samples[(name, "dealer manager")]) * 1000
        slower = admin / mine  # the dealer manager's time per page over the administrator's
        ok &= slower <= ROLE_GOAL
        print(f"{name:<16}{admin_rows:>4}/{my_rows:<4}{admin:>13.0f}/s{mine:>14.0f}/s"
              f"{admin_p50:>7.2f} ms{my_p50:>8.2f} ms{slower:>6.2f}x  "
              f"{'met' if slower <= ROLE_GOAL else 'MISSED'}")  # fmt: skip
    print(f"total {seconds:.0f} s; goal {'met' if ok else 'missed'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url",
        default=os.environ.get("METACRM_BENCH_PG_URL", DEFAULT_URL),
        help="a PostgreSQL server; a throwaway database is made and dropped",
    )
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--regions", type=int, default=10)
    parser.add_argument("--dealers", type=int, default=200)
    parser.add_argument("--queries", type=int, default=200, help="per side and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--only-roles",
        action="store_true",
        help="skip the hand-written comparisons: administrator vs dealer manager",
    )
    args = parser.parse_args()  # fmt: skip
    if args.leads < THROUGH_SERVICE:
        parser.error(f"--leads must be at least {THROUGH_SERVICE}")
    began = time.perf_counter()
    admin, name, url = create_database(args.url)
    try:
        with tempfile.TemporaryDirectory(prefix="metacrm-bench-security-") as tmp:
            world, outcome = run(args, url, Path(tmp))
    finally:
        drop_database(admin, name)
    report(args, world, outcome, time.perf_counter() - began)


if __name__ == "__main__":
    main()
