"""``metacrm outbox``: deliver after-commit work that is still waiting, and show the queue.

The record service delivers a write's outbox rows as soon as it commits; what failed then
(a receiving system was down) or was claimed by a process that died waits here. Run
``metacrm outbox run`` beside the server (any number of them) to deliver it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from engine.cli.transfer_commands import DatabaseUrl, Packs, SchemaName, service_session

if TYPE_CHECKING:
    from engine.records.outbox import Outbox

__all__ = ["register"]

outbox_app = typer.Typer(help="Deliver and inspect after-commit work.", no_args_is_help=True)
out = Console()


def register(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")


@outbox_app.command("run")
def run(
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due, then stop.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between polls when idle.")
    ] = 5.0,
    packs: Packs = None,
    database_url: DatabaseUrl = None,
    schema_name: SchemaName = None,
) -> None:
    """Deliver due outbox rows: after-commit automations, and events to the installed
    plugins' after-commit hooks."""
    with service_session(packs, database_url, schema_name, None, "metacrm outbox run") as (
        service,
        _,
    ):
        while True:
            delivery = service.deliver_outbox()
            if delivery.delivered or delivery.retried or delivery.dead:
                out.print(
                    f"delivered {delivery.delivered}, to retry {delivery.retried}, "
                    f"dead {delivery.dead}"
                )
            if once and not (delivery.delivered or delivery.retried or delivery.dead):
                return
            if not (delivery.delivered or delivery.retried):
                time.sleep(interval)


@outbox_app.command("status")
def status(database_url: DatabaseUrl = None) -> None:
    """Rows per status: pending (due or backing off), done, dead."""
    outbox = _outbox(database_url)
    table = Table("status", "rows")
    for name, count in sorted(outbox.counts().items()):
        table.add_row(name, str(count))
    out.print(table)


def _outbox(database_url: str | None) -> Outbox:
    """The outbox of the database at ``database_url``, read without loading any pack;
    imports kept here so other commands do not pay for SQLAlchemy."""
    import sqlalchemy as sa

    from engine.records.outbox import Outbox
    from engine.storage.database import Database
    from engine.storage.system import define_system_tables

    db = Database(database_url)
    return Outbox(db, define_system_tables(sa.MetaData())["outbox"])
