"""``metacrm worker`` runs what happens by itself; ``metacrm outbox`` shows and retries
the queue of after-commit work.

The record service delivers a write's outbox rows as soon as it commits; what failed then
(a receiving system was down), was claimed by a process that died, or comes from a timer,
a schedule or an approval escalation waits for the worker (``engine.worker``). Run any
number of workers beside the server; ``metacrm serve`` runs one on a thread already.

``metacrm worker --as-of TIME`` rehearses instead (``engine.rehearsal``): it copies the
database, moves a clock from now to TIME step by step on the copy, runs the worker at each
step and shows what fired; webhooks, e-mail and plugin events are held, never sent.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from engine.cli.transfer_commands import DatabaseUrl, Packs, SchemaName, service_session

if TYPE_CHECKING:
    from engine.records.outbox import Outbox
    from engine.rehearsal import Step
    from engine.storage.database import Database
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
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Rehearse on a copy of the database: move its clock to this time "
            "(ISO 8601; without a zone, the engine's) and show what fires.",
        ),
    ] = None,
    copy_to: Annotated[
        str | None,
        typer.Option(
            "--copy-to",
            help="With --as-of: the copy (SQLite: a file, default NAME.rehearsal.sqlite3 "
            "beside the database; PostgreSQL: a database, default NAME_rehearsal). "
            "An existing copy is replaced; anything else there is refused.",
        ),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="With --as-of: start there (default: now).")
    ] = None,
    step: Annotated[
        str, typer.Option("--step", help="With --as-of: how far the clock moves at a time.")
    ] = "1h",
    packs: Packs = None,
    database_url: DatabaseUrl = None,
    schema_name: SchemaName = None,
) -> None:
    """Fire due timers and schedules, escalate late approvals, deliver the outbox:
    after-commit automations, webhooks, e-mail and plugin events."""
    from engine.worker import RoundFailed, Worker

    if as_of is not None:
        _rehearse(as_of, start, step, copy_to, packs, database_url, schema_name)
        return

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


def _rehearse(
    as_of: str,
    start: str | None,
    step: str,
    copy_to: str | None,
    packs: Packs,
    database_url: DatabaseUrl,
    schema_name: SchemaName,
) -> None:
    """Copy the database, then run the worker on the copy as the clock moves to ``as_of``."""
    import sqlalchemy as sa
    from rich.progress import BarColumn, Progress, TextColumn

    from engine.records.automations import duration
    from engine.rehearsal import CopyRefused, RehearsalClock, copy_database, rehearse, steps
    from engine.rules import DEFAULT_TIMEZONE
    from engine.storage.database import Database

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    begin = _moment(start, "--from") if start else now
    until = _moment(as_of, "--as-of")
    try:
        stride = duration(step)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--step") from None
    if until <= begin:
        raise typer.BadParameter("must be later than the start", param_hint="--as-of")
    live = Database(database_url, schema=schema_name)
    try:
        url = copy_database(live, copy_to or _default_copy(live), now)
    except CopyRefused as refused:
        err.print(f"[red]✗ {refused}[/red]; nothing rehearsed", soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        live.dispose()
    shown = sa.make_url(url).render_as_string(hide_password=True)
    out.print(f"rehearsing on the copy {shown}; the live database is not touched")
    clock = RehearsalClock(begin)
    zone = ZoneInfo(DEFAULT_TIMEZONE)
    with service_session(packs, url, schema_name, None, "metacrm worker --as-of", clock) as (
        service,
        _,
    ), Progress(TextColumn("{task.description}"), BarColumn(), console=out) as bar:  # fmt: skip
        total = sum(1 for _ in steps(begin, until, stride))
        task = bar.add_task(f"{begin.astimezone(zone):%Y-%m-%d %H:%M}", total=total)

        def moved(done: Step) -> None:
            bar.update(task, advance=1, description=f"{done.at.astimezone(zone):%Y-%m-%d %H:%M}")

        done = rehearse(service, clock, until, stride, report=moved)
    _print_rehearsal(done, zone, begin, until)


def _moment(text: str, option: str) -> dt.datetime:
    from engine.rules import DEFAULT_TIMEZONE

    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not a time: {text!r} (2026-12-31 or 2026-12-31T09:00+08:00)",
                                 param_hint=option) from None  # fmt: skip
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(DEFAULT_TIMEZONE))
    return moment.astimezone(dt.UTC)


def _default_copy(live: Database) -> str:
    name = live.url.database or "metacrm"
    if live.is_sqlite:
        path = Path(name)
        return str(path.with_name(f"{path.stem}.rehearsal{path.suffix or '.sqlite3'}"))
    return f"{name}_rehearsal"


def _print_rehearsal(done: list[Step], zone: ZoneInfo, begin: dt.datetime, until: dt.datetime):
    span = f"{begin.astimezone(zone):%Y-%m-%d %H:%M} → {until.astimezone(zone):%Y-%m-%d %H:%M}"
    if not done:
        out.print(f"nothing fired from {span} ({zone.key})")
        return
    table = Table(title=f"What fired, {span} ({zone.key})", title_justify="left")
    columns = ("at", "timers", "schedules", "skipped late", "runs", "held, not sent", "fired")
    for column in columns:
        table.add_column(column, justify="left" if column in ("at", "fired") else "right")
    for stop in done:
        ranked = sorted(stop.fired.items(), key=lambda item: (-item[1], item[0]))
        fired = ", ".join(f"{name} ×{count}" for name, count in ranked)
        table.add_row(
            f"{stop.at.astimezone(zone):%Y-%m-%d %H:%M}", str(stop.timers), str(stop.schedules),
            str(stop.skipped), str(stop.delivered), str(len(stop.held)), fired,
        )  # fmt: skip
    out.print(table)
    held = [h for stop in done for h in stop.held]
    if held:
        table = Table(title="Held deliveries (recorded, never sent)", title_justify="left")
        for column in ("at", "kind", "to"):
            table.add_column(column)
        for h in held:
            table.add_row(f"{h.at.astimezone(zone):%Y-%m-%d %H:%M}", h.topic, h.to)
        out.print(table)
    failed = sorted({part for stop in done for part in stop.failed})
    if failed:
        err.print(f"[red]failed:[/red] {', '.join(failed)} (the error is logged above)")


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
