"""``metacrm approvals escalate``: the periodic job for approval steps that waited."""

from __future__ import annotations

from .test_pack_commands import ROOT, metacrm


def test_approvals_escalate_runs_on_a_pack_and_reports(tmp_path):
    shop = ROOT / "tests" / "fixtures" / "shop_pack"
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    ran = metacrm("approvals", "escalate", "--pack", str(shop), "--database-url", url,
                  cwd=tmp_path)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "escalated 0 approval(s)" in ran.stdout
