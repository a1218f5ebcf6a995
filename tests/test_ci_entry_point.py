"""`.ci/run` is the README's test command, and it fails when a test fails."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_starts_with_the_two_commands():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    commands = [line for line in lines[:8] if line.startswith("make ")]
    assert [c.split()[1] for c in commands] == ["run", "test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize(
    ("body", "should_pass"), [("assert 1 + 1 == 3", False), ("assert True", True)]
)
def test_ci_run_exit_code_follows_the_tests(tmp_path, body, should_pass):
    if os.environ.get("METACRM_CI_SELFTEST"):
        pytest.skip("already inside a .ci/run self-test")
    probe = tmp_path / "test_probe.py"
    probe.write_text(f"def test_probe():\n    {body}\n")
    env = {
        **os.environ,
        "METACRM_CI_SELFTEST": "1",
        "PYTEST_ADDOPTS": f"{probe} -p no:cacheprovider",
    }
    result = subprocess.run(["bash", ".ci/run"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert (result.returncode == 0) is should_pass, result.stdout[-2000:] + result.stderr[-2000:]
    assert ("1 passed" if should_pass else "1 failed") in result.stdout
