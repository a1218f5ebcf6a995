"""``metacrm migrate``: show what syncing the database to the packs would do, then do it.

``--plan`` only prints the plan. Without it the same plan is applied in one transaction
and recorded in ``_schema_versions``; then formula and rollup fields that are new or
redefined are backfilled on the existing records, batch by batch under a progress bar
(a killed backfill is resumed by running ``metacrm migrate`` again). Removed fields and
objects are archived, never dropped; ``--purge`` deletes archives for good, after a
confirmation (or ``--yes``).
Exit codes: 0 done (or nothing to do), 1 refused, declined or metadata errors, 2 usage.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from engine.packs import discover
from engine.validate import validate_paths

if TYPE_CHECKING:
    from engine.storage.database import Database
    from engine.storage.migrate import MigrationPlan, Refusal
    from metadata import ResolvedSchema

__all__ = ["register"]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(migrate)


def migrate(
    plan_only: Annotated[
        bool, typer.Option("--plan", help="Print the plan; change nothing.")
    ] = False,
    purge: Annotated[
        bool, typer.Option("--purge", help="Also delete archived fields and objects for good.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before purging.")] = False,
    packs: Annotated[
        list[Path] | None,
        typer.Option("--pack", help="A pack folder (repeatable); default: every pack found."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="Default: METACRM_DATABASE_URL, else a SQLite file."),
    ] = None,
    schema_name: Annotated[
        str | None,
        typer.Option(
            "--schema", help="PostgreSQL tenant schema (default METACRM_DATABASE_SCHEMA)."
        ),
    ] = None,
    applied_by: Annotated[
        str | None, typer.Option("--by", help="Who applies it, as recorded (default: you).")
    ] = None,
) -> None:
    """Sync the database with the packs' metadata: plan in plain words, then apply."""
    # Imported here: SQLAlchemy and Alembic would add half a second to every other command.
    from engine.storage.database import Database
    from engine.storage.migrate import (
        MigrationFailed,
        MigrationRefused,
        apply_migration,
        plan_migration,
    )

    report = validate_paths(packs or list(discover().values()))
    if report.errors:
        for problem in report.errors:
            err.print(f"[red]error[/red] {problem.render()}", soft_wrap=True)
        err.print(f"[red]✗ {len(report.errors)} metadata error(s); nothing migrated[/red]")
        raise typer.Exit(1)
    db = Database(database_url, schema=schema_name)
    try:
        plan = plan_migration(db, report.schema, purge=purge)
        _print_plan(plan)
        if plan.refusals:
            _print_refusals(plan.refusals)
            raise typer.Exit(1)
        if plan_only:
            raise typer.Exit(0)
        if not plan.changes_schema:
            if plan.backfills:
                _backfill(db, report.schema)
            raise typer.Exit(0)
        if _purges(plan) and not yes and not typer.confirm("Delete the archives above for good?"):
            err.print("nothing changed")
            raise typer.Exit(1)
        try:
            version = apply_migration(db, report.schema, plan, applied_by or getpass.getuser())
        except MigrationRefused as refused:
            _print_refusals(refused.refusals)
            raise typer.Exit(1) from None
        except MigrationFailed as failed:
            err.print(f"[red]✗ {failed}[/red]; nothing changed", soft_wrap=True)
            raise typer.Exit(1) from None
        out.print(
            f"[green]✓[/green] applied schema version {version.id} "
            f"({version.content_hash[:12]}) by {version.applied_by}: "
            f"{len(version.operations)} step(s)"
        )
        if plan.backfills:
            _backfill(db, report.schema)
    finally:
        db.dispose()


def _backfill(db: Database, schema: ResolvedSchema) -> None:
    """Fill new and redefined formula and rollup fields, one progress bar per object."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from engine.compiled import compile_schema
    from engine.records.backfill import pending_backfills, run_backfills

    compiled = compile_schema(schema)
    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=out,
    ) as bar:  # fmt: skip
        tasks = {}
        for job in pending_backfills(db, compiled):
            if job.object not in tasks:
                label = f"backfill {job.object} ({', '.join(job.fields)})"
                tasks[job.object] = bar.add_task(label, total=job.total, completed=job.done)

        def advance(name: str, done: int, total: int) -> None:
            if name in tasks:
                bar.update(tasks[name], completed=done, total=total)

        finished = run_backfills(db, compiled, progress=advance)
    for job in finished:
        out.print(
            f"[green]✓[/green] backfilled {job.object}: {job.records} records, "
            f"{job.changed} changed"
        )


def _purges(plan: MigrationPlan) -> bool:
    from engine.storage.migrate.operations import Phase

    return any(op.phase is Phase.PURGE for op in plan.operations)


def _print_plan(plan: MigrationPlan) -> None:
    if not plan.operations:
        state = "up to date" if not plan.changes_schema else "up to date; metadata-only change"
        out.print(f"Database tables are {state} (schema {plan.content_hash[:12]}).")
    else:
        table = Table(
            title=f"Migration plan ({len(plan.operations)} step(s))", title_justify="left"
        )
        table.add_column("#", justify="right")
        table.add_column("step")
        for n, words in enumerate(plan.describe(), 1):
            style = "red" if words.startswith("purge") else None
            table.add_row(str(n), words, style=style)
        out.print(table)
    for note in plan.notes:
        out.print(f"[yellow]note[/yellow] {note}")


def _print_refusals(refusals: tuple[Refusal, ...]) -> None:
    for refusal in refusals:
        err.print(f"[red]refused[/red] {refusal.render()}", soft_wrap=True)
    err.print(f"[red]✗ {len(refusals)} refusal(s); nothing changed[/red]")
