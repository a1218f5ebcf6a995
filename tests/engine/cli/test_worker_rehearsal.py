"""``metacrm worker --as-of`` as a consultant runs it: next week's timers fire on a copy
of the database, the live one is untouched, webhooks are held rather than sent, and a
rehearsal that would run on (or overwrite) anything but a copy is refused."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.auth import PasswordHasher, UserStore
from engine.compiled import compile_schema
from engine.records import RecordService
from engine.storage.database import Database
from engine.storage.migrate import sync
from engine.validate import validate_paths

from .test_serve_commands import ENV, EXE
from .test_worker_commands import Receiver

ROOT = Path(__file__).resolve().parents[3]
BASE = ROOT / "industry_packs" / "base"
HOOK = """
name: activity_due_hook
object: activity
trigger:
  kind: time
  field: due_at
  offset_hours: -24
  condition: {{in: [{{var: status}}, [not_started, in_progress]]}}
actions:
  - {{type: webhook, url: "{url}", fields: [subject]}}
"""


def _pack(tmp_path: Path, url: str) -> Path:
    pack = tmp_path / "base"
    shutil.copytree(BASE, pack)
    (pack / "automations" / "activity_due_hook.yaml").write_text(HOOK.format(url=url))
    return pack


def _live(url: str, pack: Path, now: dt.datetime) -> None:
    """The live database: a rep with one activity due in 5 days and one in 20."""
    db = Database(url)
    try:
        report = validate_paths([pack])
        assert not report.errors, report.errors
        sync(db, report.schema, "test")
        service = RecordService(db, compile_schema(report.schema), clock=lambda: now)
        store = UserStore(db, service.compiled.tables, hasher=PasswordHasher(n=2**4))
        user = store.create_user("rep", None, "Rep", roles=["sales_rep"], locale="en")
        rep = store.actor_for(user)
        account = service.create(
            "account", {"name": "Wang", "account_type": "person", "phone": "13812345678"}, rep
        )
        for subject, days in (("Next week", 5), ("Later", 20)):
            values = {"subject": subject, "activity_type": "call", "status": "not_started",
                      "priority": "normal", "due_at": now + dt.timedelta(days=days),
                      "account": account["id"]}  # fmt: skip
            service.create("activity", values, rep)
    finally:
        db.dispose()


def _state(url: str) -> tuple[dict[str, str], list[str], set[str]]:
    """(timer status by activity subject, notification subjects, tables) of a database."""
    db = Database(url)
    try:
        metadata = sa.MetaData()
        with db.engine.connect() as conn:
            metadata.reflect(conn, only=["_timers", "activity", "_notifications"])
            timers, activity = metadata.tables["_timers"], metadata.tables["activity"]
            rows = conn.execute(
                sa.select(activity.c.subject, timers.c.status, timers.c.automation).join(
                    activity, sa.cast(activity.c.id, sa.String) == sa.cast(timers.c.record_id,
                                                                          sa.String))
            )  # fmt: skip
            status = {f"{r.subject}/{r.automation}": r.status for r in rows}
            notes = metadata.tables["_notifications"]
            subjects = sorted(conn.execute(sa.select(notes.c.subject)).scalars())
        return status, subjects, set(sa.inspect(db.engine).get_table_names())
    finally:
        db.dispose()


def _worker(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert EXE, "the metacrm console script is installed in the venv"
    return subprocess.run(
        [EXE, "worker", *args], cwd=cwd, capture_output=True, text=True, env=ENV, timeout=300
    )


PENDING = {
    "Next week/activity_due_reminder": "pending", "Next week/activity_due_hook": "pending",
    "Later/activity_due_reminder": "pending", "Later/activity_due_hook": "pending",
}  # fmt: skip


def _rehearse_next_week(tmp_path: Path, live_url: str, copy: str) -> str:
    receiver = Receiver()
    try:
        pack = _pack(tmp_path, receiver.url)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        _live(live_url, pack, now)
        week = (now + dt.timedelta(days=7)).isoformat()
        ran = _worker("--as-of", week, "--step", "6h", "--copy-to", copy, "--pack", str(pack),
                      "--database-url", live_url, cwd=tmp_path)  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        assert receiver.bodies == []  # held, not sent
    finally:
        receiver.close()
    assert "What fired" in ran.stdout
    assert "activity_due_hook ×1, activity_due_reminder ×1" in ran.stdout
    assert "Held deliveries (recorded, never sent)" in ran.stdout
    assert receiver.url in ran.stdout

    status, notes, _ = _state(live_url)
    assert (status, notes) == (PENDING, [])  # the live database is as it was
    return ran.stdout


def test_worker_as_of_fires_next_weeks_timers_on_a_copy(tmp_path):
    live_url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    copy = tmp_path / "crm.rehearsal.sqlite3"
    _rehearse_next_week(tmp_path, live_url, str(copy))
    status, notes, tables = _state(f"sqlite:///{copy}")
    assert status == {
        **PENDING,
        "Next week/activity_due_reminder": "fired", "Next week/activity_due_hook": "fired",
    }  # fmt: skip
    assert notes == ["Due tomorrow: Next week"]
    assert "_rehearsal_copy" in tables

    # the copy is the rehearsal's: a second rehearsal replaces it with a fresh copy
    again = _worker("--as-of", "2030-01-01", "--copy-to", str(copy), "--step", "30d",
                    "--pack", str(tmp_path / "base"), "--database-url", live_url,
                    cwd=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stderr


def test_worker_as_of_refuses_anything_but_a_copy(tmp_path):
    live = tmp_path / "crm.sqlite3"
    live_url = f"sqlite:///{live}"
    pack = _pack(tmp_path, "http://127.0.0.1:9/hook")
    _live(live_url, pack, dt.datetime.now(dt.UTC))
    common = ("--as-of", "2030-01-01", "--pack", str(pack), "--database-url", live_url)

    itself = _worker(*common, "--copy-to", str(live), cwd=tmp_path)
    assert itself.returncode == 1
    assert "live database itself" in itself.stderr

    other = tmp_path / "other.sqlite3"
    shutil.copy(live, other)  # a database that is not a rehearsal copy
    before = other.read_bytes()
    refused = _worker(*common, "--copy-to", str(other), cwd=tmp_path)
    assert refused.returncode == 1
    assert "is not a rehearsal copy" in refused.stderr
    assert other.read_bytes() == before
    assert _state(live_url)[:2] == (PENDING, [])


def test_worker_as_of_on_postgresql_copies_with_a_template(tmp_path, pg_server_url):
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    name = f"asof_{uuid.uuid4().hex[:10]}"
    copy = f"{name}_copy"
    live_url = sa.make_url(pg_server_url).set(database=name).render_as_string(False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        _rehearse_next_week(tmp_path, live_url, copy)
        copy_url = sa.make_url(live_url).set(database=copy).render_as_string(False)
        status, notes, tables = _state(copy_url)
        assert status["Next week/activity_due_reminder"] == "fired"
        assert status["Later/activity_due_reminder"] == "pending"
        assert notes == ["Due tomorrow: Next week"]
        assert "_rehearsal_copy" in tables
    finally:
        with admin.connect() as conn:
            for db in (copy, name):
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def pg_server_url(pg_server_url):
    """The session's PostgreSQL server, at its ``postgres`` database (for CREATE DATABASE)."""
    return sa.make_url(pg_server_url).set(database="postgres").render_as_string(False)
