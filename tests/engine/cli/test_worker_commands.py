"""``metacrm worker`` and ``metacrm outbox`` as separate processes: what a write left
waiting is delivered, a worker killed mid-delivery loses nothing, two workers on
PostgreSQL deliver each row once, dead rows are listed and retried."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import re
import signal
import subprocess
import threading
import time
import uuid

import sqlalchemy as sa

from engine.storage.database import Database
from engine.storage.system import define_system_tables

from .test_pack_commands import ROOT, metacrm
from .test_serve_commands import ENV, EXE, _free_port

SHOP = ROOT / "tests" / "fixtures" / "shop_pack"


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook receiver on loopback: keeps each body; the first ``hang`` requests
    never get an answer (the caller is killed while it waits)."""

    daemon_threads = True

    def __init__(self, hang: int = 0, delay: float = 0.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hang, self.delay = hang, delay
        self.bodies: list[dict] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server: Receiver = self.server  # type: ignore[assignment]
        with server.lock:
            server.bodies.append(body)
            hang = len(server.bodies) <= server.hang
        if hang:
            server.release.wait(60)
            return
        time.sleep(server.delay)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def _queue_webhooks(db: Database, url: str, count: int, *, status: str = "pending") -> None:
    metadata = sa.MetaData(schema=db.schema)
    system = define_system_tables(metadata)
    metadata.create_all(db.engine, tables=[system["outbox"], system["outbox_attempts"]])
    now = dt.datetime.now(dt.UTC)
    rows = [
        {"created_at": now, "available_at": now, "topic": "webhook.call", "status": status,
         "payload": {"url": url, "body": json.dumps({"n": n}), "timeout": 60}}
        for n in range(count)
    ]  # fmt: skip
    with db.engine.begin() as conn:
        conn.execute(sa.insert(system["outbox"]), rows)


def _counts(url: str) -> dict[str, str]:
    shown = metacrm("outbox", "status", "--database-url", url)
    assert shown.returncode == 0, shown.stderr
    return dict(re.findall(r"(done|pending|dead)\W+(\d+)", shown.stdout))


def _worker(url: str, *args: str) -> subprocess.Popen[str]:
    command = [EXE, "worker", "--pack", str(SHOP), "--database-url", url, *args]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )


def _wait(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


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
    ran = metacrm("worker", "--once", "--pack", str(SHOP), "--database-url", url, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "delivered 1" in ran.stdout
    assert _counts(url) == {"done": "1", "pending": "1"}


def test_a_worker_killed_mid_delivery_loses_nothing(tmp_path):
    receiver = Receiver(hang=1)
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    _queue_webhooks(Database(url), receiver.url, 1)
    first = _worker(url, "--lease", "2", "--interval", "0.2")
    try:
        _wait(lambda: len(receiver.bodies) == 1)  # the call is in flight…
    finally:
        first.send_signal(signal.SIGKILL)  # …when the worker dies
        first.communicate(timeout=10)
    assert _counts(url) == {"pending": "1"}
    second = _worker(url, "--lease", "2", "--interval", "0.2")
    try:
        _wait(lambda: _counts(url) == {"done": "1"})
    finally:
        second.terminate()
        second.communicate(timeout=10)
        receiver.close()
    assert receiver.bodies == [{"n": 0}, {"n": 0}]  # at least once: the cut call, again


def test_two_workers_on_postgresql_deliver_each_row_once(pg_server_url):
    schema = f"t_{uuid.uuid4().hex[:10]}"
    db = Database(pg_server_url, schema=schema)
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    receiver = Receiver(delay=0.05)
    try:
        sync = metacrm("migrate", "--pack", str(SHOP), "--database-url", pg_server_url,
                       "--schema", schema, "--yes")  # fmt: skip
        assert sync.returncode == 0, sync.stdout + sync.stderr
        _queue_webhooks(db, receiver.url, 120)
        args = ("--schema", schema, "--once", "--batch", "5")
        workers = [_worker(pg_server_url, *args) for _ in range(2)]
        outputs = [w.communicate(timeout=120) for w in workers]
        assert all(w.returncode == 0 for w in workers), outputs
        delivered = [sum(map(int, re.findall(r"delivered (\d+)", out))) for out, _ in outputs]
        assert sum(delivered) == 120 and min(delivered) > 0, delivered  # both took a share
        assert sorted(b["n"] for b in receiver.bodies) == list(range(120))  # none twice
    finally:
        receiver.close()
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        db.dispose()


def test_dead_rows_are_listed_with_their_error_and_retried(tmp_path):
    receiver = Receiver()
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    _queue_webhooks(Database(url), "http://127.0.0.1:9/down", 1, status="dead")
    db = Database(url)
    table = define_system_tables(sa.MetaData())["outbox"]
    with db.engine.begin() as conn:
        conn.execute(sa.update(table).values(attempts=8, last_error="URLError: refused"))
    listed = metacrm("outbox", "dead", "--database-url", url)
    assert listed.returncode == 0 and "webhook.call" in listed.stdout
    assert "URLError: refused" in listed.stdout
    with db.engine.begin() as conn:  # the receiving system is fixed meanwhile
        row = conn.execute(sa.select(table.c.payload)).scalar_one()
        conn.execute(sa.update(table).values(payload={**row, "url": receiver.url}))
    retried = metacrm("outbox", "retry", "--database-url", url)
    assert "1 row(s) queued again" in retried.stdout
    ran = metacrm("worker", "--once", "--pack", str(SHOP), "--database-url", url, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert _counts(url) == {"done": "1"} and receiver.bodies == [{"n": 0}]
    attempts = define_system_tables(sa.MetaData())["outbox_attempts"]
    with db.engine.begin() as conn:
        assert conn.execute(sa.select(attempts.c.attempt, attempts.c.ok)).all() == [(1, True)]
    receiver.close()


def test_serve_runs_a_worker_beside_the_server(tmp_path):
    receiver = Receiver()
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    _queue_webhooks(Database(url), receiver.url, 3)  # left waiting by an earlier process
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [EXE, "serve", "--pack", str(SHOP), "--database-url", url, "--port", str(port)],
        env=ENV, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait(lambda: len(receiver.bodies) == 3)
        _wait(lambda: _counts(url) == {"done": "3"})
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
        receiver.close()
    assert sorted(b["n"] for b in receiver.bodies) == [0, 1, 2]
