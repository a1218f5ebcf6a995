"""``metacrm outbox``: what a write left waiting is delivered by a separate process."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from engine.storage.database import Database
from engine.storage.system import define_system_tables

from .test_pack_commands import ROOT, metacrm


def test_run_once_delivers_what_is_due_and_status_counts_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    db = Database(url)
    metadata = sa.MetaData()
    table = define_system_tables(metadata)["outbox"]
    metadata.create_all(db.engine, tables=[table])
    now = dt.datetime.now(dt.UTC)
    with db.engine.begin() as conn:
        conn.execute(sa.insert(table), [
            {"created_at": now, "available_at": now, "topic": "record.created",
             "payload": {"operation": "created", "object": "customer", "id": "x"}},
            {"created_at": now, "available_at": now + dt.timedelta(hours=1),
             "topic": "record.created", "payload": {"operation": "created",
                                                    "object": "customer", "id": "y"}},
        ])  # fmt: skip
    db.dispose()
    shop = ROOT / "tests" / "fixtures" / "shop_pack"
    ran = metacrm("outbox", "run", "--once", "--pack", str(shop), "--database-url", url,
                  cwd=tmp_path)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "delivered 1, to retry 0, dead 0" in ran.stdout
    shown = metacrm("outbox", "status", "--database-url", url, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    counts = dict(re.findall(r"(done|pending|dead)\W+(\d+)", shown.stdout))
    assert counts == {"done": "1", "pending": "1"}

