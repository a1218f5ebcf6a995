"""``metacrm migrate`` as a consultant runs it: plan, apply, refuse, purge with consent."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

PACK = "name: shop\nversion: 1.0.0\nlabel: {en: Shop, zh-CN: 店}\n"
RECORD = "00000000-0000-0000-0000-000000000001"
VISIT = "name: visit\nlabel: {en: Visit, zh-CN: 拜访}\nfields:\n"


def metacrm(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    exe = shutil.which("metacrm", path=str(Path(sys.executable).parent))
    assert exe, "the metacrm console script is installed in the venv"
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("METACRM_DATABASE_URL", None)
    return subprocess.run(
        [exe, *args], cwd=cwd, capture_output=True, text=True, env=env, input=stdin
    )


def write_pack(root: Path, fields: str) -> Path:
    folder = root / "shop"
    (folder / "objects").mkdir(parents=True, exist_ok=True)
    (folder / "pack.yaml").write_text(PACK, encoding="utf-8")
    (folder / "objects" / "visit.yaml").write_text(VISIT + fields, encoding="utf-8")
    return folder


def test_plan_then_migrate_then_refuse_then_purge(tmp_path):
    db_file = tmp_path / "crm.sqlite3"
    url = f"sqlite:///{db_file}"
    pack = write_pack(tmp_path, "  - {name: subject, type: text}\n  - {name: note, type: text}\n")
    args = ["--pack", str(pack), "--database-url", url]

    planned = metacrm("migrate", "--plan", *args, cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert "create object visit" in planned.stdout
    assert not db_file.exists() or "visit" not in _tables(db_file)

    applied = metacrm("migrate", *args, "--by", "consultant", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert "applied schema version 1" in applied.stdout and "by consultant" in applied.stdout
    with sqlite3.connect(db_file) as conn:
        conn.execute(
            "INSERT INTO visit (id, created_at, updated_at, subject, note) VALUES (?, ?, ?, ?, ?)",
            (RECORD, "2026-01-01", "2026-01-01", "x", "abc"),
        )

    write_pack(tmp_path, "  - {name: subject, type: text}\n  - {name: note, type: integer}\n")
    refused = metacrm("migrate", *args, cwd=tmp_path)
    assert refused.returncode == 1
    assert "visit.note" in refused.stderr and "'abc'" in refused.stderr
    assert RECORD in refused.stderr

    write_pack(tmp_path, "  - {name: subject, type: text}\n")
    archived = metacrm("migrate", *args, cwd=tmp_path)
    assert archived.returncode == 0, archived.stderr
    assert "archive field visit.note as _archived__note__" in archived.stdout

    declined = metacrm("migrate", "--purge", *args, cwd=tmp_path, stdin="n\n")
    assert declined.returncode == 1 and "purge archived column" in declined.stdout
    assert any(c.startswith("_archived__note__") for c in _columns(db_file, "visit"))

    purged = metacrm("migrate", "--purge", "--yes", *args, cwd=tmp_path)
    assert purged.returncode == 0, purged.stderr
    assert not any(c.startswith("_archived__") for c in _columns(db_file, "visit"))
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("SELECT subject FROM visit").fetchall() == [("x",)]
        who = conn.execute("SELECT applied_by FROM _schema_versions ORDER BY id").fetchall()
    assert len(who) == 3 and who[0] == ("consultant",)


def test_metadata_errors_and_usage_errors(tmp_path):
    pack = write_pack(tmp_path, "  - {name: subject, type: txt}\n")
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    broken = metacrm("migrate", "--pack", str(pack), "--database-url", url, cwd=tmp_path)
    assert broken.returncode == 1 and "nothing migrated" in broken.stderr
    assert metacrm("migrate", "--no-such-flag", cwd=tmp_path).returncode == 2


def _tables(db_file: Path) -> set[str]:
    with sqlite3.connect(db_file) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _columns(db_file: Path, table: str) -> list[str]:
    with sqlite3.connect(db_file) as conn:
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def test_migrate_backfills_a_new_formula_and_resumes_nothing_when_done(tmp_path):
    db_file = tmp_path / "crm.sqlite3"
    args = ["--database-url", f"sqlite:///{db_file}"]
    fields = "  - {name: subject, type: text}\n  - {name: minutes, type: integer}\n"
    pack = write_pack(tmp_path, fields)
    assert metacrm("migrate", "--pack", str(pack), *args, cwd=tmp_path).returncode == 0
    with sqlite3.connect(db_file) as conn:
        conn.executemany(
            "INSERT INTO visit (id, created_at, updated_at, subject, minutes) "
            "VALUES (?, '2026-01-01', '2026-01-01', 'x', ?)",
            [(f"00000000-0000-0000-0000-{n:012d}", n) for n in range(2500)],
        )
    hours = ("  - {name: hours, type: formula, result_type: decimal, scale: 2,\n"
             "     expression: {'/': [{var: minutes}, 60]}}\n")  # fmt: skip
    pack = write_pack(tmp_path, fields + hours)

    planned = metacrm("migrate", "--plan", "--pack", str(pack), *args, cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert "backfill visit.hours (new formula) on 2500 records" in planned.stdout

    applied = metacrm("migrate", "--pack", str(pack), *args, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert "backfilled visit: 2500 records, 2500 changed" in applied.stdout  # null → 0.00 too
    with sqlite3.connect(db_file) as conn:
        rows = dict(conn.execute("SELECT minutes, hours FROM visit").fetchall())
    assert rows[90] == 1.5 and rows[2499] == 41.65 and rows[0] == 0

    again = metacrm("migrate", "--plan", "--pack", str(pack), *args, cwd=tmp_path)
    assert "up to date" in again.stdout and "backfill" not in again.stdout
