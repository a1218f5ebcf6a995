"""``metacrm import`` and ``metacrm export`` as a consultant runs them, on a SQLite file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import SHOP, read_csv, write_csv


def metacrm(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    exe = shutil.which("metacrm", path=str(Path(sys.executable).parent))
    assert exe, "the metacrm console script is installed in the venv"
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "LANG": "C.UTF-8"}
    env.pop("METACRM_DATABASE_URL", None)
    env.pop("METACRM_LOCALE", None)
    return subprocess.run(
        [exe, *args], cwd=cwd, capture_output=True, text=True, env=env, input=stdin
    )


def test_import_reject_fix_reimport_then_export(tmp_path):
    db = ["--pack", str(SHOP), "--database-url", f"sqlite:///{tmp_path / 'crm.sqlite3'}"]
    source = write_csv(
        tmp_path / "customers.csv",
        [["名称", "编码", "邮箱"], ["Acme", "A-1", "a@acme.com"], ["Beta", "B-1", "nope"]],
    )
    first = metacrm("import", "customer", str(source), *db, cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    assert "│    2 │       1 │       0 │        1 │" in first.stdout
    assert "1 row(s) rejected" in first.stderr and "customers.rejects.csv" in first.stderr
    [rejected] = read_csv(tmp_path / "customers.rejects.csv")
    assert rejected["_errors"] == "邮箱: E-mail is not an e-mail address"

    row = list(rejected.values())  # _row, 名称, 编码, 邮箱, _errors: fix the e-mail, re-import
    row[3] = "b@beta.cn"
    fixed = write_csv(tmp_path / "fixed.csv", [list(rejected), row])
    second = metacrm("import", "customer", str(fixed), *db, cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "all 1 row(s) imported" in second.stdout
    assert "columns not imported (system or computed): _row, _errors" in second.stdout

    out = tmp_path / "out.csv"
    exported = metacrm(
        "export", "customer", "--fields", "code,email", "--header", "name",
        "--filter", '{"in": [{"var": "code"}, ["A-1", "B-1"]]}', "--output", str(out), *db,
        cwd=tmp_path,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert "exported 2 customer record(s)" in exported.stderr
    assert sorted(map(tuple, (r.values() for r in read_csv(out)))) == [
        ("A-1", "a@acme.com"),
        ("B-1", "b@beta.cn"),
    ]
    to_stdout = metacrm(
        "export", "customer", "--locale", "zh-CN", "--fields", "name", *db, cwd=tmp_path
    )
    assert to_stdout.stdout.splitlines()[0] == "名称"


def test_as_a_user_in_their_language_and_usage_errors(tmp_path):
    db = ["--pack", str(SHOP), "--database-url", f"sqlite:///{tmp_path / 'crm.sqlite3'}"]
    source = write_csv(tmp_path / "c.csv", [["name", "code"], ["", "A-1"]])
    assert metacrm("import", "customer", str(source), *db, cwd=tmp_path).returncode == 1
    created = metacrm(
        "users", "create", "li", "--name", "Li", "--role", "sales_rep", "--locale", "zh-CN",
        "--no-password", "--database-url", db[-1], cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    reject = tmp_path / "li.csv"
    as_li = metacrm(
        "import", "customer", str(source), "--as", "li", "--reject", str(reject), *db, cwd=tmp_path
    )
    assert as_li.returncode == 1
    assert read_csv(reject)[0]["_errors"] == "name: 名称为必填项"
    metacrm(
        "users", "create", "cai", "--name", "Cai", "--role", "clerk", "--no-password",
        "--database-url", db[-1], cwd=tmp_path,
    )  # fmt: skip
    hidden = write_csv(tmp_path / "h.csv", [["name", "code"], ["Hidden Co", "H-1"]])
    as_clerk = metacrm(
        "import", "customer", str(hidden), "--as", "cai", "--reject", str(reject), *db,
        cwd=tmp_path,
    )  # fmt: skip
    # ``code`` is the external id, so the import would match on it; the clerk may not
    # read it, so nothing runs
    assert as_clerk.returncode == 2
    assert "cannot filter on customer.code" in as_clerk.stderr
    no_export = metacrm("export", "deal", "--as", "cai", *db, cwd=tmp_path)  # reads, no export
    assert no_export.returncode == 2 and "您无权导出此交易" in no_export.stderr

    nobody = metacrm("import", "customer", str(source), "--as", "ghost", *db, cwd=tmp_path)
    assert nobody.returncode == 2 and "no active user 'ghost'" in nobody.stderr
    bad = write_csv(tmp_path / "bad.csv", [["nmae"], ["x"]])
    header = metacrm("import", "customer", str(bad), *db, cwd=tmp_path)
    assert header.returncode == 2 and "nmae (did you mean name?)" in header.stderr
    unknown = metacrm("export", "lead", *db, cwd=tmp_path)
    assert unknown.returncode == 2 and "no object 'lead'" in unknown.stderr
    filtered = metacrm("export", "customer", "--filter", "{nope", *db, cwd=tmp_path)
    assert filtered.returncode == 2 and "--filter is not JSON" in filtered.stderr
