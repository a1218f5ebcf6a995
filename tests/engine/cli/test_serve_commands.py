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

ROOT = Path(__file__).resolve().parents[3]
EXE = shutil.which("metacrm", path=str(Path(sys.executable).parent))
ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}


def test_demo_seeds_once_and_lists_the_accounts(tmp_path):
    first = subprocess.run(
        [EXE, "demo", "--seed-only"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr[-2000:]
    assert "pudong.sales" in first.stdout and "metacrm-demo" in first.stdout
    assert (tmp_path / "metacrm.sqlite3").is_file()
    again = subprocess.run(
        [EXE, "demo", "--seed-only"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert again.returncode == 0 and "already created earlier" in again.stdout


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
        cookie = headers["set-cookie"].split(";", 1)[0]
        auth = {"Cookie": cookie, "X-CSRF-Token": body["csrf_token"]}
        status, created, headers = _call(
            base + "/api/v1/objects/customer/records",
            {"name": "Acme"},
            {**auth, "X-Request-ID": "support-ticket-42"},
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
