"""``metacrm users`` and ``metacrm tokens`` as an administrator runs them: real subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from engine.auth import SessionStore, TokenStore, UserStore, auth_tables
from engine.cli import app
from engine.storage.database import Database

ROOT = Path(__file__).resolve().parents[3]


def metacrm(db_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    exe = shutil.which("metacrm", path=str(Path(sys.executable).parent))
    assert exe, "the metacrm console script is installed in the venv"
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "METACRM_DATABASE_URL": db_url}
    env.pop("METACRM_LOCALE", None)
    env["LANG"] = "C.UTF-8"
    return subprocess.run(
        [exe, *args], cwd=ROOT, input=stdin, capture_output=True, text=True, env=env
    )


def in_process(db_url: str, *args: str, stdin: str = "") -> tuple[int, str]:
    """The same commands without a new interpreter, for the many error cases (fast)."""
    env = {"COLUMNS": "200", "NO_COLOR": "1", "METACRM_DATABASE_URL": db_url, "LANG": "C"}
    result = CliRunner().invoke(app, list(args), input=stdin, env=env)
    return result.exit_code, result.output


def test_users_and_tokens_end_to_end(tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    created = metacrm(
        url, "users", "create", "Alice", "--name", "Alice Wang", "--role", "sales_rep",
        "--role", "manager", "--locale", "en", "--password-stdin", stdin="long enough pw\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "created user alice" in created.stdout

    listed = metacrm(url, "users", "list")
    assert listed.returncode == 0, listed.stderr
    assert "alice" in listed.stdout and "sales_rep, manager" in listed.stdout

    issued = metacrm(url, "tokens", "create", "alice", "--name", "ci", "--scope", "records:read",
                     "--days", "30")  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    plaintext = issued.stdout.strip()
    assert plaintext.startswith("mcrm_") and "not shown again" in issued.stderr

    db = Database(url)
    users = UserStore(db, auth_tables())
    tokens = TokenStore(users)
    grant = tokens.resolve(plaintext)
    assert grant is not None and grant.user.username == "alice"
    assert SessionStore(users).login("alice", "long enough pw", client="t").user.locale == "en"
    with db.engine.connect() as conn:
        dumped = repr(conn.execute(sa.select(users.tables.api_tokens)).all())
    assert plaintext not in dumped

    code, token_list = in_process(url, "tokens", "list", "alice")
    assert code == 0 and plaintext[:12] in token_list and "active" in token_list
    assert plaintext not in token_list

    revoked = metacrm(url, "tokens", "revoke", plaintext[:12])
    assert revoked.returncode == 0, revoked.stderr
    assert tokens.resolve(plaintext) is None
    assert "revoked" in in_process(url, "tokens", "list", "alice")[1]

    disabled = metacrm(url, "users", "disable", "alice")
    assert disabled.returncode == 0, disabled.stderr
    assert users.authenticate("alice", "long enough pw") is None
    assert "disabled" in in_process(url, "users", "list")[1]
    db.dispose()


def test_refusals_exit_one_with_a_reason(tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    create = ("users", "create", "alice", "--name", "Alice", "--role", "x", "--password-stdin")
    assert in_process(url, *create, stdin="long enough pw\n")[0] == 0
    code, output = in_process(url, *create[:2], "ALICE", *create[3:], stdin="long enough pw\n")
    assert code == 1 and "User alice already exists" in output
    code, output = in_process(url, "users", "create", "bob", "--name", "Bob", "--role", "x",
                              "--password-stdin", stdin="bob\n")  # fmt: skip
    assert code == 1 and "at least 8 characters" in output and "not be the username" in output
    assert "bob" not in in_process(url, "users", "list")[1]
    code, output = in_process(url, "users", "disable", "nobody")
    assert code == 1 and "No user nobody" in output
    code, output = in_process(url, "tokens", "revoke", "mcrm_missing")
    assert code == 1 and "token_not_found" in output
    code, output = in_process(url, "tokens", "create", "alice", "--name", "x", "--scope", "root")
    assert code == 1 and "Unknown scope 'root'" in output


def test_prompted_password_needs_confirmation(tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    create = ("users", "create", "carol", "--name", "Carol", "--role", "x")
    code, output = in_process(url, *create, stdin="first password\nsecond password\n" * 2)
    assert code != 0 and "carol" not in in_process(url, "users", "list")[1]
    code, output = in_process(url, *create, stdin="same password\nsame password\n")
    assert code == 0, output
    assert "same password" not in output  # never echoed
    code, output = in_process(
        url, "users", "set-password", "carol", "--password-stdin", stdin="newer password\n"
    )
    assert code == 0, output


def test_messages_follow_the_operators_language(tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    env = {"METACRM_DATABASE_URL": url, "METACRM_LOCALE": "zh-CN"}
    result = CliRunner().invoke(app, ["users", "disable", "nobody"], env=env)
    assert result.exit_code == 1 and "用户nobody不存在" in result.output
