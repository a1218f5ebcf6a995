"""``metacrm approvals escalate``: act on approval steps that waited too long.

Run it periodically (cron, a systemd timer): each pending step older than its
``escalate_after_hours`` gets its ``escalate_to`` approvers added, once.
"""

from __future__ import annotations

import typer
from rich.console import Console

from engine.cli.transfer_commands import DatabaseUrl, Packs, SchemaName, service_session

__all__ = ["register"]

approvals_app = typer.Typer(help="Approval processes.", no_args_is_help=True)
out = Console()


def register(app: typer.Typer) -> None:
    app.add_typer(approvals_app, name="approvals")


@approvals_app.command("escalate")
def escalate(
    packs: Packs = None, database_url: DatabaseUrl = None, schema_name: SchemaName = None
) -> None:
    """Escalate every approval step that has waited past its limit."""
    with service_session(packs, database_url, schema_name, None, "metacrm approvals escalate") as (
        service,
        _,
    ):
        count = service.escalate_due()
    out.print(f"escalated {count} approval(s)")
