"""``metacrm worker`` runs what happens by itself; ``metacrm outbox`` shows and retries
the queue of after-commit work.

The record service delivers a write's outbox rows as soon as it commits; what failed then
(a receiving system was down), was claimed by a process that died, or comes from a timer,
a schedule or an approval escalation waits for the worker (``engine.worker``). Run any
number of workers beside the server; ``metacrm serve`` runs one on a thread already.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from engine.cli.transfer_commands import DatabaseUrl, Packs, SchemaName, service_session

if TYPE_CHECKING:
    from engine.records.outbox import Outbox
    from engine.worker import Round

__all__ = ["register"]

outbox_app = typer.Typer(help="Inspect and retry after-commit work.", no_args_is_help=True)
out = Console()
err = Console(stderr=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.add_typer(outbox_app, name="outbox")


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Run until nothing is due, then stop.")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between rounds when idle.")
    ] = 5.0,
    lease: Annotated[
        float,
        typer.Option(
            "--lease", help="Seconds a claimed row is held before another worker may take it over."
        ),
    ] = 300.0,
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="Outbox rows claimed at a time.")
    ] = 100,
    packs: Packs = None,
    database_url: DatabaseUrl = None,
    schema_name: SchemaName = None,
) -> None:
    """Fire due timers and schedules, escalate late approvals, deliver the outbox:
    after-commit automations, webhooks, e-mail and plugin events."""
    from engine.worker import RoundFailed, Worker

    with service_session(packs, database_url, schema_name, None, "metacrm worker") as (
        service,
        _,
    ):
        service.outbox.lease = dt.timedelta(seconds=lease)
        background = Worker(lambda: service, interval=interval, batch=batch)
        try:
            background.run(until_idle=once, report=_report)
        except RoundFailed as failed:
            err.print(f"[red]{failed}[/red] (the error is logged above)")
            raise typer.Exit(1) from None


def _report(done: Round) -> None:
    due, delivery = done.due, done.delivery
    parts = [
        f"{label} {count}"
        for label, count in (
            ("timers fired", due.timers), ("schedules run", due.schedules),
            ("skipped as late", due.skipped),
            ("escalated", done.escalated), ("delivered", delivery.delivered),
            ("to retry", delivery.retried), ("dead", delivery.dead),
        )
        if count
    ]  # fmt: skip
    out.print(", ".join(parts))


@outbox_app.command("status")
def status(database_url: DatabaseUrl = None) -> None:
    """Rows per status: pending (due or backing off), done, dead."""
    outbox = _outbox(database_url)
    table = Table("status", "rows")
    for name, count in sorted(outbox.counts().items()):
        table.add_row(name, str(count))
    out.print(table)


@outbox_app.command("dead")
def dead(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    database_url: DatabaseUrl = None,
) -> None:
    """Rows that failed every attempt, with their last error."""
    table = Table("id", "topic", "attempts", "created", "last error")
    for row in _outbox(database_url).dead(limit):
        table.add_row(
            str(row["id"]), row["topic"], str(row["attempts"]),
            f"{row['created_at']:%Y-%m-%d %H:%M}", row["last_error"] or "",
        )  # fmt: skip
    out.print(table)


@outbox_app.command("retry")
def retry(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Row ids (default: every dead row).")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Put dead rows back in the queue; the worker delivers them on its next round."""
    count = _outbox(database_url).retry(ids or None)
    out.print(f"{count} row(s) queued again")


def _outbox(database_url: str | None) -> Outbox:
    """The outbox of the database at ``database_url``, read without loading any pack;
    imports kept here so other commands do not pay for SQLAlchemy."""
    import sqlalchemy as sa

    from engine.records.outbox import Outbox
    from engine.storage.database import Database
    from engine.storage.system import define_system_tables

    system = define_system_tables(sa.MetaData())
    return Outbox(Database(database_url), system["outbox"], system["outbox_attempts"])
