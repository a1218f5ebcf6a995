"""RecordService vs. hand-written SQLAlchemy Core, same SQLite settings, same run (issue 5).

(a) bulk import of 100,000 records of a 15-field object: ``bulk_create`` vs. a raw
    ``executemany`` of the same rows (already typed) — goal >= 0.3x the raw rate;
(b) single-record create and get: RecordService vs. hand-written Core — goal >= 0.5x;
(c) peak memory (max RSS) of the 100k import, in a process of its own — goal < 300 MB.

Run: .venv/bin/python bench/records.py [--rows N]
"""

from __future__ import annotations

import argparse
import datetime as dt
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
        with db.engine.connect() as conn:
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
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        raw = bulk_raw(d / "raw.sqlite3", rows)
        svc = bulk_service(d / "svc.sqlite3", rows)
        raw_create, raw_get = single_raw(d / "raw1.sqlite3")
        svc_create, svc_get = single_service(d / "svc1.sqlite3")
    memory = peak_memory_mb(rows)
    print(f"SQLite (WAL, synchronous=NORMAL), {rows:,} rows of 15 fields; {SINGLE:,} singles")
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


if __name__ == "__main__":
    main()
