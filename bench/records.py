"""RecordService vs. hand-written SQLAlchemy Core, same SQLite settings, same run (issue 5).

(a) bulk import of 100,000 records of a 15-field object: ``bulk_create`` vs. a raw
    ``executemany`` of the same rows (already typed) — goal >= 0.3x the raw rate;
(b) single-record create and get: RecordService vs. hand-written Core — goal >= 0.5x;
(c) peak memory (max RSS) of the 100k import, in a process of its own — goal < 300 MB;
(d) a child create that moves its parent's rollups (a sum and a count) and, crossing
    1,000 points, fires the parent's in-transaction automation (``gold_tier``: the
    member becomes gold), against hand-written Core doing the same work: lock the parent,
    insert the child, recompute the aggregates, update the parent with a version bump,
    field history with its cause and audit entries; and the same create when it moves the
    rollups without crossing the threshold (no goal set; the ratio is reported).

Run: .venv/bin/python bench/records.py [--rows N] [--rounds R]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from engine.compiled import compile_schema  # noqa: E402
from engine.records import Actor, RecordService  # noqa: E402
from engine.storage.database import Database  # noqa: E402
from engine.validate import validate_paths  # noqa: E402

PACK = ROOT / "bench" / "packs" / "bench_pack"
OBJECT = "contact_card"
ACTOR = Actor(user_id=str(uuid.UUID(int=1)))
SINGLE = 2000
#: (d): members seeded with SEED_POINTS each; a create of CROSS points takes one over
#: THRESHOLD (the pack's ``gold_tier`` automation), one of MOVE points only moves totals.
MEMBERS = 1000
THRESHOLD, SEED_POINTS, CROSS, MOVE = 1000, 900, 200, 10
ROLLUP_CAUSE = "rollup member ← points_entry"
AUTOMATION_CAUSE = "automation gold_tier"


def inputs(count: int, seed: int = 7):
    """Rows as an importer hands them over: strings and numbers, like a parsed CSV."""
    rng = random.Random(seed)
    for i in range(count):
        first = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(600))
        yield {
            "full_name": f"Customer {i}",
            "company": f"Company {rng.randrange(5000)}",
            "city": rng.choice(["上海", "北京", "广州", "成都"]),
            "title": "Manager",
            "visits": rng.randrange(50),
            "score": rng.randrange(101),
            "budget": f"{rng.randrange(10**7) / 100:.2f}",
            "spent": f"{rng.randrange(10**6) / 100:.2f}",
            "first_seen": first.isoformat(),
            "last_seen": (first + dt.timedelta(days=rng.randrange(90))).isoformat(),
            "vip": rng.random() < 0.1,
            "channel": rng.choice(["web", "store", "phone", "fair"]),
            "level": rng.choice("abcd"),
            "email": f"user{i}@example.cn",
            "phone": f"1381234{i % 10000:04d}",
        }


def typed(row: dict, now: dt.datetime) -> dict:
    """The same row as the raw baseline stores it: typed, with the system columns."""
    out = dict(row)
    out.update(
        id=str(uuid.uuid4()),
        created_at=now,
        updated_at=now,
        version=1,
        archived=False,
        owner=ACTOR.user_id,
        created_by=ACTOR.user_id,
        updated_by=ACTOR.user_id,
        budget=Decimal(row["budget"]),
        spent=Decimal(row["spent"]),
        first_seen=dt.date.fromisoformat(row["first_seen"]),
        last_seen=dt.date.fromisoformat(row["last_seen"]),
        phone="+86" + row["phone"],
    )
    return out


def fresh(path: Path):
    schema = validate_paths([PACK]).schema
    compiled = compile_schema(schema)
    db = Database(f"sqlite:///{path}")
    compiled.tables.metadata.create_all(db.engine)
    return db, compiled


def bulk_raw(path: Path, count: int) -> float:
    db, compiled = fresh(path)
    table = compiled.tables[OBJECT]
    now = dt.datetime.now(dt.UTC)
    start = time.perf_counter()
    with db.engine.begin() as conn:
        chunk = []
        for row in inputs(count):
            chunk.append(typed(row, now))
            if len(chunk) == 1000:
                conn.execute(sa.insert(table), chunk)
                chunk = []
        if chunk:
            conn.execute(sa.insert(table), chunk)
    return time.perf_counter() - start


def bulk_service(path: Path, count: int) -> float:
    db, compiled = fresh(path)
    service = RecordService(db, compiled)
    start = time.perf_counter()
    results = service.bulk_create(OBJECT, inputs(count), ACTOR, keep_records=False)
    elapsed = time.perf_counter() - start
    failed = [r for r in results if not r.ok]
    if failed:
        raise SystemExit(f"{len(failed)} rows failed, e.g. {failed[0].errors}")
    return elapsed


def single_raw(path: Path) -> tuple[float, float]:
    db, compiled = fresh(path)
    table = compiled.tables[OBJECT]
    rows = list(inputs(SINGLE, seed=11))
    ids = []
    start = time.perf_counter()
    for row in rows:
        record = typed(row, dt.datetime.now(dt.UTC))
        with db.engine.begin() as conn:
            conn.execute(sa.insert(table).values(record))
        ids.append(record["id"])
    created = time.perf_counter() - start
    start = time.perf_counter()
    for record_id in ids:
        with db.read() as conn:  # as the service reads: no write turn, no BEGIN IMMEDIATE
            conn.execute(
                sa.select(table).where(table.c.id == record_id, table.c.archived.is_(False))
            ).mappings().one()
    return created, time.perf_counter() - start


def single_service(path: Path) -> tuple[float, float]:
    db, compiled = fresh(path)
    service = RecordService(db, compiled)
    rows = list(inputs(SINGLE, seed=11))
    start = time.perf_counter()
    ids = [service.create(OBJECT, row, ACTOR)["id"] for row in rows]
    created = time.perf_counter() - start
    start = time.perf_counter()
    for record_id in ids:
        service.get(OBJECT, record_id, ACTOR)
    return created, time.perf_counter() - start


def seed_members(path: Path):
    """MEMBERS members with one entry of SEED_POINTS each, written directly (the same
    rows on both sides); the database, the compiled schema and the member ids."""
    db, compiled = fresh(path)
    members, entries = compiled.tables["member"], compiled.tables["points_entry"]
    now = dt.datetime.now(dt.UTC)
    system = dict(created_at=now, updated_at=now, archived=False, owner=ACTOR.user_id,
                  created_by=ACTOR.user_id, updated_by=ACTOR.user_id)  # fmt: skip
    ids = [str(uuid.uuid4()) for _ in range(MEMBERS)]
    with db.engine.begin() as conn:
        conn.execute(sa.insert(members), [
            {**system, "id": i, "version": 2, "name": f"Member {n}", "tier": "regular",
             "points": SEED_POINTS, "entries": 1} for n, i in enumerate(ids)
        ])  # fmt: skip
        conn.execute(sa.insert(entries), [
            {**system, "id": str(uuid.uuid4()), "version": 1, "member": i,
             "points": SEED_POINTS, "reason": "seed"} for i in ids
        ])  # fmt: skip
    return db, compiled, ids


def rollup_raw(path: Path) -> tuple[float, float]:
    """(d) by hand: seconds for MEMBERS creates crossing the threshold, then for MEMBERS
    that only move the totals; each create is its own transaction."""
    db, compiled, ids = seed_members(path)
    members, entries = compiled.tables["member"], compiled.tables["points_entry"]
    history = compiled.tables.system["field_history"]
    audit = compiled.tables.system["audit_log"]

    def add_entry(member_id: str, points: int) -> None:
        now = dt.datetime.now(dt.UTC)
        with db.engine.begin() as conn:
            parent = conn.execute(
                sa.select(members.c.version, members.c.points, members.c.entries, members.c.tier)
                .where(members.c.id == member_id, members.c.archived.is_(False))
                .with_for_update()  # PostgreSQL; SQLite's BEGIN IMMEDIATE locks the file
            ).one()
            entry_id = str(uuid.uuid4())
            conn.execute(sa.insert(entries), {
                "id": entry_id, "created_at": now, "updated_at": now, "version": 1,
                "archived": False, "owner": ACTOR.user_id, "created_by": ACTOR.user_id,
                "updated_by": ACTOR.user_id, "member": member_id, "points": points,
                "reason": "bench",
            })  # fmt: skip
            total, count = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(entries.c.points), 0),
                          sa.func.count(entries.c.id))
                .where(entries.c.member == member_id, entries.c.archived.is_(False))
            ).one()  # fmt: skip
            changed = [(f, before, after, ROLLUP_CAUSE)
                       for f, before, after in (("points", parent.points, total),
                                                ("entries", parent.entries, count))
                       if before != after]  # fmt: skip
            if total >= THRESHOLD > parent.points and parent.tier != "gold":
                changed.append(("tier", parent.tier, "gold", AUTOMATION_CAUSE))
            version = parent.version + 1
            done = conn.execute(
                sa.update(members)
                .where(members.c.id == member_id, members.c.version == parent.version)
                .values({f: after for f, _, after, _ in changed}
                        | {"version": version, "updated_at": now, "updated_by": None})
            ).rowcount  # fmt: skip
            assert done == 1
            conn.execute(sa.insert(history), [
                {"object": "member", "record_id": member_id, "field": f,
                 "old_value": as_json(before), "new_value": as_json(after), "changed_at": now,
                 "changed_by": None, "cause": cause}
                for f, before, after, cause in changed
            ])  # fmt: skip
            causes = sorted({cause for *_, cause in changed})
            conn.execute(sa.insert(audit), [
                {"at": now, "actor": None, "action": "update", "object": "member",
                 "record_id": member_id, "detail": {"version": version, "cause": causes,
                                                    "fields": sorted(f for f, *_ in changed)}},
                {"at": now, "actor": ACTOR.user_id, "action": "create", "object": "points_entry",
                 "record_id": entry_id, "detail": {"ids": [entry_id]}},
            ])  # fmt: skip

    timed = []
    for points in (CROSS, MOVE):
        start = time.perf_counter()
        for member_id in ids:
            add_entry(member_id, points)
        timed.append(time.perf_counter() - start)
    check_members(db, compiled)
    return timed[0], timed[1]


def as_json(value):
    """A history value as JSON keeps it: a decimal (the rollup column's type) as text."""
    return str(value) if isinstance(value, Decimal) else value


def rollup_service(path: Path) -> tuple[float, float]:
    """(d) through the record service, the same creates on the same seed."""
    db, compiled, ids = seed_members(path)
    service = RecordService(db, compiled)
    timed = []
    for points in (CROSS, MOVE):
        start = time.perf_counter()
        for member_id in ids:
            service.create("points_entry", {"member": member_id, "points": points,
                                            "reason": "bench"}, ACTOR)  # fmt: skip
        timed.append(time.perf_counter() - start)
    check_members(db, compiled)
    return timed[0], timed[1]


def check_members(db: Database, compiled) -> None:
    """Every member is gold with both creates counted, and its history says so."""
    members = compiled.tables["member"]
    history = compiled.tables.system["field_history"]
    with db.engine.connect() as conn:
        states = conn.execute(
            sa.select(members.c.tier, members.c.points, members.c.entries).distinct()
        ).all()
        tiers = conn.execute(
            sa.select(sa.func.count()).where(history.c.field == "tier",
                                             history.c.cause == AUTOMATION_CAUSE)
        ).scalar()  # fmt: skip
    expected = ("gold", SEED_POINTS + CROSS + MOVE, 3)
    if [tuple(s) for s in states] != [expected] or tiers != MEMBERS:
        raise SystemExit(f"members are {states}, {tiers} tier changes; expected {expected}")


def peak_memory_mb(count: int) -> float:
    """Max RSS of a process that only runs the service import."""
    code = (
        f"import sys, resource, tempfile, pathlib; sys.path.insert(0, {str(ROOT)!r});"
        "import bench.records as b;"
        "d = pathlib.Path(tempfile.mkdtemp());"
        f"b.bulk_service(d / 'm.sqlite3', {count});"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="of (d), the best counts")
    args = parser.parse_args()
    rows = args.rows
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        raw = bulk_raw(d / "raw.sqlite3", rows)
        svc = bulk_service(d / "svc.sqlite3", rows)
        raw_create, raw_get = single_raw(d / "raw1.sqlite3")
        svc_create, svc_get = single_service(d / "svc1.sqlite3")
        raw_roll: list[tuple[float, float]] = []
        svc_roll: list[tuple[float, float]] = []
        for n in range(args.rounds):  # the sides take turns, each on a fresh file
            raw_roll.append(rollup_raw(d / f"raw_rollup{n}.sqlite3"))
            svc_roll.append(rollup_service(d / f"svc_rollup{n}.sqlite3"))
    memory = peak_memory_mb(rows)
    print(f"SQLite (WAL, synchronous=NORMAL), {rows:,} rows of 15 fields; {SINGLE:,} singles; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    print(
        f"(a) bulk import   raw {rows / raw:>9,.0f} rows/s   service {rows / svc:>9,.0f} rows/s"
        f"   ratio {raw / svc:.2f}x (goal >= 0.3x)"
    )
    print(
        f"(b) create        raw {SINGLE / raw_create:>9,.0f} /s       service "
        f"{SINGLE / svc_create:>9,.0f} /s       ratio {raw_create / svc_create:.2f}x "
        f"(goal >= 0.5x)"
    )
    print(
        f"    get by id     raw {SINGLE / raw_get:>9,.0f} /s       service "
        f"{SINGLE / svc_get:>9,.0f} /s       ratio {raw_get / svc_get:.2f}x (goal >= 0.5x)"
    )
    print(f"(c) peak memory of the service import: {memory:.0f} MB (goal < 300 MB)")
    print(f"(d) child creates moving a parent's sum and count rollups, {MEMBERS:,} each, "
          f"best of {args.rounds}")  # fmt: skip
    for label, i in (("crossing, fires", 0), ("totals only", 1)):
        raw_s = min(r[i] for r in raw_roll)
        svc_s = min(r[i] for r in svc_roll)
        print(f"    {label:<16}raw {MEMBERS / raw_s:>9,.0f} /s       service "
              f"{MEMBERS / svc_s:>9,.0f} /s       ratio {raw_s / svc_s:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
