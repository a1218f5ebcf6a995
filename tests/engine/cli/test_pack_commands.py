"""The consultant's commands, run as a consultant runs them: as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BROKEN = ROOT / "tests" / "fixtures" / "broken_packs"
STABLE = ROOT / "tests" / "fixtures" / "stable_pack"


def metacrm(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("metacrm", path=str(Path(sys.executable).parent))
    assert exe, "the metacrm console script is installed in the venv"
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, env=env)


def test_validate_ok_exits_zero():
    result = metacrm("validate", str(STABLE))
    assert result.returncode == 0, result.stderr
    assert "stable 1.0.0: 1 objects, 4 fields" in result.stdout


def test_validate_errors_exit_one_with_locations():
    result = metacrm("validate", str(BROKEN))
    assert result.returncode == 1
    assert "test_drive.yaml:6: fields[1].type" in result.stderr
    assert "Did you mean 'datetime'?" in result.stderr


def test_validate_json_for_editors_and_ci():
    result = metacrm("validate", "--format", "json", str(BROKEN))
    assert result.returncode == 1
    body = json.loads(result.stdout)
    assert body["ok"] is False
    first = next(p for p in body["problems"] if p["code"] == "invalid_choice")
    assert first["line"] == 6 and first["path"] == "fields[1].type"
    assert first["suggestion"] == "datetime"


def test_usage_error_exits_two():
    assert metacrm("validate", "--no-such-option").returncode == 2
    assert metacrm("no-such-command").returncode == 2


def test_strict_i18n_reports_missing_translations(tmp_path):
    pack = tmp_path / "half"
    (pack / "objects").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: half\nversion: 1.0.0\nlabel: {en: Half, zh-CN: 半}\n")
    (pack / "objects" / "note.yaml").write_text(
        "name: note\nlabel: {en: Note, zh-CN: 笔记}\nfields:\n"
        "  - {name: body, type: text, label: {en: Body}}\n"
    )
    relaxed = metacrm("validate", str(pack))
    assert relaxed.returncode == 0
    assert "1 missing translation(s)" in relaxed.stdout
    strict = metacrm("validate", "--strict-i18n", str(pack))
    assert strict.returncode == 1
    assert "note.yaml:4: fields[0].label: no zh-CN translation" in strict.stderr


def test_init_scaffolds_a_pack_that_validates(tmp_path):
    result = metacrm("init", str(tmp_path / "acme_auto"), "--object", "showroom")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "acme_auto" / "objects" / "showroom.yaml").is_file()
    checked = metacrm("validate", "--strict-i18n", str(tmp_path / "acme_auto"))
    assert checked.returncode == 0, checked.stderr
    assert "acme_auto 0.1.0" in checked.stdout and "base 1.0.0" in checked.stdout


def test_init_refuses_a_bad_name_or_a_full_folder(tmp_path):
    assert metacrm("init", str(tmp_path / "Bad-Name")).returncode == 2
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert metacrm("init", str(tmp_path / "full")).returncode == 2


def test_packs_lists_shipped_packs_with_versions():
    result = metacrm("packs")
    assert result.returncode == 0, result.stderr
    assert "base" in result.stdout and "1.0.0" in result.stdout


def test_inspect_shows_fields_and_their_pack():
    result = metacrm("inspect", "visit", "--pack", str(STABLE), "--locale", "zh-CN")
    assert result.returncode == 0, result.stderr
    assert "拜访" in result.stdout
    assert "subject" in result.stdout and "stable" in result.stdout


def test_inspect_unknown_object_suggests():
    result = metacrm("inspect", "vist", "--pack", str(STABLE))
    assert result.returncode == 1
    assert "did you mean 'visit'" in result.stderr


def test_schema_is_json_schema_covering_every_document_kind():
    result = metacrm("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    for kind in (
        "PackManifest",
        "ObjectDef",
        "LayoutFile",
        "Workflow",
        "ApprovalProcess",
        "Automation",
        "RoleFile",
        "ValueSet",
        "DecimalField",
        "LookupField",
    ):
        assert kind in schema["$defs"], kind
    assert schema["$defs"]["ObjectDef"]["additionalProperties"] is False


@pytest.mark.parametrize("command", [["docs", "--check"]])
def test_reference_page_is_current(command):
    result = metacrm(*command)
    assert result.returncode == 0, "docs/metadata.md is stale: run `metacrm docs`"
