"""Outbox throughput and the cost of automations on a create, same run (issue 8).

(a) Outbox: N webhook rows delivered by the outbox (claim, call, mark done, log the
    attempt) to a receiver on loopback, against the same N calls made directly in a
    loop with no outbox — the ratio is what durability costs per item;
(b) create: ``RecordService.create`` on an object with no automation, against the same
    object with one record-triggered automation run in the transaction (set a field),
    and with one run after the commit from the outbox (set a field, in its own
    transaction) — each ratio is the create rate with the automation over the rate
    without.

SQLite file (the embedded default), and PostgreSQL when one answers on 127.0.0.1.
Run: .venv/bin/python bench/workflow.py [--items N] [--creates N]
"""

from __future__ import annotations

import argparse
import http.server
import json
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from engine.compiled import compile_schema  # noqa: E402
from engine.records import Actor, RecordService  # noqa: E402
from engine.records.webhooks import WEBHOOK_TOPIC, call_webhook  # noqa: E402
from engine.storage.database import Database  # noqa: E402
from engine.validate import validate_paths  # noqa: E402

PACK = ROOT / "bench" / "packs" / "bench_pack"
ACTOR = Actor(user_id=str(uuid.UUID(int=1)))
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
AUTOMATION = """
name: {name}
object: contact_card
trigger: {{kind: record, "on": [create], condition: {{">": [{{var: score}}, 10]}}}}
actions:
  - type: set_fields
    values: {{title: {{cat: ["Lead from ", {{var: channel}}]}}}}
run: {run}
"""


class _Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def _service(db: Database, pack: Path) -> RecordService:
    compiled = compile_schema(validate_paths([pack]).schema)
    compiled.tables.metadata.drop_all(db.engine)
    compiled.tables.metadata.create_all(db.engine)
    return RecordService(db, compiled)


def _pack(tmp: Path, run: str | None) -> Path:
    pack = tmp / f"pack_{run or 'none'}"
    if pack.exists():
        return pack
    shutil.copytree(PACK, pack)
    if run:
        (pack / "automations").mkdir(exist_ok=True)  # the bench pack has its own
        text = AUTOMATION.format(name=f"title_{run}", run=run)
        (pack / "automations" / "title.yaml").write_text(text)
    return pack


def outbox_throughput(db: Database, tmp: Path, items: int, url: str) -> tuple[float, float]:
    service = _service(db, _pack(tmp, None))
    payloads = [{"url": url, "body": json.dumps({"n": n}), "timeout": 10} for n in range(items)]
    start = time.perf_counter()
    for payload in payloads:
        call_webhook(payload)
    direct = items / (time.perf_counter() - start)

    with db.engine.begin() as conn:
        service.effects.enqueue(conn, WEBHOOK_TOPIC, payloads, service.clock())
    start = time.perf_counter()
    delivered = 0
    while True:
        done = service.deliver_outbox(limit=100).delivered
        if not done:
            break
        delivered += done
    outbox = items / (time.perf_counter() - start)
    assert delivered == items, delivered
    return direct, outbox


def create_rates(db: Database, tmp: Path, creates: int) -> dict[str, float]:
    rates = {}
    for run in (None, "in_transaction", "after_commit"):
        service = _service(db, _pack(tmp, run))
        rows = [{"full_name": f"C{i}", "score": 50, "channel": "web"} for i in range(creates)]
        for row in rows[:50]:  # warm up
            service.create("contact_card", row, ACTOR)
        start = time.perf_counter()
        for row in rows[50:]:
            service.create("contact_card", row, ACTOR)
        rates[run or "none"] = (creates - 50) / (time.perf_counter() - start)
        table = service.compiled.tables["contact_card"]
        with db.read() as conn:  # the automation really ran on every record
            titled = conn.execute(
                sa.select(sa.func.count()).where(table.c.title == "Lead from web")
            ).scalar()
        assert titled == (creates if run else 0), (run, titled)
    return rates


def _pg_available() -> bool:
    try:
        engine = sa.create_engine(PG)
        with engine.connect() as conn:
            conn.exec_driver_sql("select 1")
        engine.dispose()
        return True
    except sa.exc.OperationalError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--creates", type=int, default=1000)
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        targets = [("SQLite file", f"sqlite:///{tmp / 'bench.sqlite3'}", None)]
        if _pg_available():
            targets.append(("PostgreSQL 15", PG, f"bench_{uuid.uuid4().hex[:8]}"))
        else:
            print("PostgreSQL at 127.0.0.1:5432 unavailable: SQLite only")
        for label, db_url, schema in targets:
            db = Database(db_url, schema=schema)
            if schema:
                with db.engine.begin() as conn:
                    conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            try:
                direct, outbox = outbox_throughput(db, tmp, args.items, url)
                print(f"\n{label}: outbox delivery of {args.items} webhooks to loopback")
                print(f"  direct calls, no outbox   {direct:8.0f} items/s  1.00x")
                print(f"  outbox (claim/call/mark)  {outbox:8.0f} items/s  {outbox / direct:.2f}x")
                rates = create_rates(db, tmp, args.creates)
                none = rates["none"]
                print(f"{label}: create, {args.creates} records one by one")
                for name, rate in rates.items():
                    print(f"  automation {name:<15} {rate:8.0f} creates/s  {rate / none:.2f}x")
            finally:
                if schema:
                    with db.engine.begin() as conn:
                        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                db.dispose()
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
