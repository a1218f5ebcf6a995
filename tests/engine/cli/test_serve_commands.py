"""The product as a user starts it: `metacrm demo` seeds, `metacrm serve` answers real HTTP."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXE = shutil.which("metacrm", path=str(Path(sys.executable).parent))
ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
for _name in ("METACRM_DATABASE_URL", "METACRM_FILES_DIR"):  # the demo's defaults, please
    ENV.pop(_name, None)
STAGES = ("new", "contacted", "test_drive", "negotiating", "ordered", "delivered",
          "loss_pending", "lost")  # fmt: skip
_VIN_TABLE = "0123456789.ABCDEFGH..JKLMN.P.R..STUVWXYZ"
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def _demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, "demo", *args, "--seed-only"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )


def test_the_base_demo_seeds_once_lists_the_accounts_and_starts_afresh_on_request(tmp_path):
    first = _demo(tmp_path, "base")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "pudong.sales" in first.stdout and "metacrm-demo" in first.stdout
    assert (tmp_path / "metacrm-base.sqlite3").is_file()
    assert not (tmp_path / "metacrm-auto.sqlite3").exists()
    again = _demo(tmp_path, "base")
    assert again.returncode == 0 and "already created earlier" in again.stdout
    fresh = _demo(tmp_path, "base", "--fresh", "--leads", "3")
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert "Deleted" in fresh.stdout and "already created earlier" not in fresh.stdout


def _vin_is_valid(vin: str) -> bool:
    """ISO 3779, computed here independently of the engine and the demo."""
    total = sum(w * (_VIN_TABLE.index(c) % 10) for w, c in zip(_VIN_WEIGHTS, vin, strict=True))
    return vin[8] == ("X" if total % 11 == 10 else str(total % 11))


def _every(service, object_name: str, actor, **options) -> list[dict]:
    records, cursor = [], None
    while True:
        page = service.list(object_name, actor, limit=500, cursor=cursor, **options)
        records += page.records
        cursor = page.next_cursor
        if cursor is None:
            return records


def test_the_auto_demo_seeds_a_dealer_network_whose_users_see_their_part(tmp_path):
    """`metacrm demo auto --seed-only` on a fresh directory, then the database it made read
    back through the real record service as the demo's own users."""
    from engine.api.runtime import Runtime
    from engine.auth import UserStore
    from engine.packs import discover
    from engine.records import Actor, NotFound
    from engine.storage.database import Database

    first = _demo(tmp_path, "auto")
    assert first.returncode == 0, first.stderr[-2000:]
    for username in ("admin", "hq", "east.rm", "pudong.gm", "pudong.manager", "pudong.sales1",
                     "xihu.sales2", "tianhe.service", "metacrm-admin", "metacrm-demo"):  # fmt: skip
        assert username in first.stdout
    assert "上海浦东4S店" in first.stdout and "Seeded" in first.stdout
    assert (tmp_path / "metacrm-auto.sqlite3").is_file()

    packs = discover()
    db = Database(f"sqlite:///{tmp_path / 'metacrm-auto.sqlite3'}")
    try:
        service = Runtime(db, [packs["base"], packs["auto"]]).snapshot.service
        users = UserStore(db, service.compiled.tables)
        actor = {u.username: users.actor_for(u) for u in users.list_users()}
        system = Actor(user_id=None, name="test")
        leads = _every(service, "lead", system)
        assert len(leads) >= 300
        stages = {stage: sum(lead["lead_stage"] == stage for lead in leads) for stage in STAGES}
        assert all(stages.values()), stages
        assert all(lead["lost_reason"] for lead in leads if lead["lead_stage"] == "lost")
        assert {lead["intention_level"] for lead in leads} >= {"H", "A", "B", "C"}
        assert {lead["source"] for lead in leads} >= {"store_walk_in", "website", "autohome",
                                                     "exhibition", "referral"}  # fmt: skip

        orders = _every(service, "vehicle_order", system)
        assert {"confirmed", "vehicle_assigned", "delivered", "pending_approval"} <= {
            o["status"] for o in orders
        }
        deliveries = _every(service, "delivery", system, filter={"==": [{"var": "status"},
                                                                      "completed"]})  # fmt: skip
        assert deliveries and all(d["pdi_complete"] and d["satisfaction_score"] for d in deliveries)
        repairs = _every(service, "repair_order", system, filter={"==": [{"var": "status"},
                                                                       "closed"]})  # fmt: skip
        assert repairs and all(r["part_line_count"] + r["labour_line_count"] for r in repairs)
        assert all(_vin_is_valid(v["vin"]) for v in _every(service, "vehicle", system))
        assert _every(service, "owner_referral", system)
        assert service.inbox(actor["pudong.gm"]) and service.inbox(actor["east.rm"])
        assert service.inbox(actor["pudong.manager"])  # a loss request to decide

        units = {u["code"]: u["id"] for u in _every(service, "org_unit", system)}
        pudong, xihu, tianhe = units["HX-E-SH01"], units["HX-E-HZ01"], units["HX-S-GZ01"]
        in_unit = {u: {lead["id"] for lead in leads if lead["org_unit"] == u}
                   for u in (pudong, xihu, tianhe)}  # fmt: skip
        seller = actor["pudong.sales1"]
        own = {lead["id"] for lead in _every(service, "lead", seller)}
        assert own and own < in_unit[pudong]
        assert all(lead["owner"] == seller.user_id for lead in leads if lead["id"] in own)
        with pytest.raises(NotFound):
            service.get("lead", next(iter(in_unit[tianhe])), seller)
        manager = {lead["id"] for lead in _every(service, "lead", actor["pudong.manager"])}
        assert manager == in_unit[pudong]
        east = {lead["id"] for lead in _every(service, "lead", actor["east.rm"])}
        assert east == in_unit[pudong] | in_unit[xihu]
        south = {lead["id"] for lead in _every(service, "lead", actor["south.rm"])}
        assert south == in_unit[tianhe]
        assert {lead["id"] for lead in _every(service, "lead", actor["hq"])} == {
            lead["id"] for lead in leads
        }
    finally:
        db.dispose()

    again = _demo(tmp_path, "auto")
    assert again.returncode == 0 and "already created earlier" in again.stdout
    assert f"{len(leads)} leads" in again.stdout  # nothing seeded twice


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(url: str, body: dict | None = None, headers: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null"), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), exc.headers


def test_serve_answers_over_real_http(tmp_path):
    port = _free_port()
    url = f"sqlite:///{tmp_path / 'served.sqlite3'}"
    pack = ROOT / "tests" / "fixtures" / "shop_pack"
    subprocess.run(
        [
            EXE,
            "users",
            "create",
            "alice",
            "--name",
            "Alice",
            "--role",
            "sales_rep",
            "--password-stdin",
            "--database-url",
            url,
        ],
        input="correct horse\n",
        text=True,
        env=ENV,
        check=True,
        capture_output=True,
        timeout=120,
    )
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [EXE, "serve", "--pack", str(pack), "--database-url", url, "--port", str(port)],
        env=ENV,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if _call(base + "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.25)
        assert _call(base + "/readyz")[1]["status"] == "ready"
        status, body, headers = _call(
            base + "/api/v1/auth/login", {"username": "alice", "password": "correct horse"}
        )
        assert status == 200
        assert "Max-Age=43200" in headers["set-cookie"]  # the session's 12 hours
        cookie = headers["set-cookie"].split(";", 1)[0]
        auth = {"Cookie": cookie, "X-CSRF-Token": body["csrf_token"]}
        status, created, headers = _call(
            base + "/api/v1/objects/customer/records",
            {"name": "Acme"},
            {**auth, "X-Request-ID": "support-ticket-42", "X-Forwarded-For": "203.0.113.9"},
        )
        assert status == 201 and created["name"] == "Acme"
        assert headers["x-request-id"] == "support-ticket-42"
        status, page, headers = _call(base + "/api/v1/objects/customer/records", headers=auth)
        assert page["records"][0]["id"] == created["id"]
        assert len(headers["x-request-id"]) == 32
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
    lines = [
        json.loads(line)
        for line in (tmp_path / "server.log").read_text().splitlines()
        if line.startswith("{")
    ]
    access = {line["request_id"]: line for line in lines if line["logger"] == "metacrm.access"}
    assert access["support-ticket-42"]["status"] == 201
    assert access["support-ticket-42"]["path"] == "/api/v1/objects/customer/records"
    assert access["support-ticket-42"]["user"] and access["support-ticket-42"]["duration_ms"] > 0
    # no proxy is trusted unless configured, not even one on this machine
    assert access["support-ticket-42"]["client"] == "127.0.0.1"
