"""``metacrm import`` and ``metacrm export``: a customer's spreadsheets in and out.

Both sync the database to the packs first (idempotent; a fresh database gets its
tables), then work through the record service as ``--as USERNAME`` or, by default, the
system actor ``cli``. Import shows a progress bar over the bytes read and a summary.
Exit codes: 0 every row landed (or exported), 1 some rows were rejected (see the reject
file) or the metadata/database refused, 2 the command cannot run as given (unknown
object, column or user, unreadable file, bad filter, an export the user may not take).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from engine.packs import discover
from engine.validate import validate_paths

if TYPE_CHECKING:
    from engine.records import Actor, RecordService
    from engine.transfer import ImportProgress

__all__ = ["AsUser", "DatabaseUrl", "Packs", "SchemaName", "register", "service_session"]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

Packs = Annotated[
    list[Path] | None,
    typer.Option("--pack", help="A pack folder (repeatable); default: every pack found."),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Default: METACRM_DATABASE_URL, else a SQLite file."),
]
SchemaName = Annotated[
    str | None, typer.Option("--schema", help="PostgreSQL tenant schema (default: public).")
]
UPSERT_HELP = (
    "Update records matched on this field (default: the external id, when the file has it)."
)
FILTER_HELP = 'A JsonLogic filter, e.g. \'{"==": [{"var": "tier"}, "gold"]}\'.'
AsUser = Annotated[
    str | None, typer.Option("--as", help="Act as this user (default: the system actor 'cli').")
]


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)
    app.command("export")(export_command)


def import_command(
    object_name: Annotated[str, typer.Argument(metavar="OBJECT", help="The object to fill.")],
    file: Annotated[Path, typer.Argument(metavar="FILE.csv", exists=True, dir_okay=False)],
    reject: Annotated[
        Path | None,
        typer.Option("--reject", help="Where rejected rows go (default: FILE.rejects.csv)."),
    ] = None,
    upsert_key: Annotated[str | None, typer.Option("--upsert-key", help=UPSERT_HELP)] = None,
    chunk_size: Annotated[int, typer.Option("--chunk-size", min=1)] = 1000,
    packs: Packs = None,
    database_url: DatabaseUrl = None,
    schema_name: SchemaName = None,
    as_user: AsUser = None,
) -> None:
    """Import a CSV file (UTF-8 or GBK): good rows land, bad rows go to a reject file."""
    from engine.transfer import import_csv

    reject = reject or file.with_name(f"{file.stem}.rejects.csv")
    with (
        service_session(packs, database_url, schema_name, as_user) as (service, actor),
        _bar(file.stat().st_size) as (progress, task),
    ):

        def advance(p: ImportProgress) -> None:
            progress.update(task, completed=p.bytes_read, rows=p.rows)

        report = import_csv(
            service, object_name, file, actor, reject_path=reject,
            upsert_key=upsert_key, chunk_size=chunk_size, on_progress=advance,
        )  # fmt: skip
    table = Table(title=f"Import of {file.name} into {object_name}", title_justify="left")
    for column in ("rows", "created", "updated", "rejected"):
        table.add_column(column, justify="right")
    counts = (report.total, report.created, report.updated, report.rejected)
    table.add_row(*(str(n) for n in counts))
    out.print(table)
    if report.merged:
        out.print(f"[yellow]note[/yellow] {report.merged} row(s) merged into existing "
                  "records by duplicate rules")  # fmt: skip
    for warned in report.warnings:
        out.print(f"[yellow]warning[/yellow] row {warned.row}: {warned.message} "
                  f"({warned.rule})")  # fmt: skip
    if report.ignored_columns:
        ignored = ", ".join(report.ignored_columns)
        out.print(f"[yellow]note[/yellow] columns not imported (system or computed): {ignored}")
    if report.rejected:
        err.print(
            f"[red]✗ {report.rejected} row(s) rejected[/red]; reasons in {report.reject_path}"
        )
        raise typer.Exit(1)
    out.print(f"[green]✓[/green] all {report.total} row(s) imported")


def export_command(
    object_name: Annotated[str, typer.Argument(metavar="OBJECT", help="The object to export.")],
    filter_json: Annotated[str | None, typer.Option("--filter", help=FILTER_HELP)] = None,
    fields: Annotated[
        str | None, typer.Option("--fields", help="Columns in order, e.g. name,code,phone.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: stdout).")
    ] = None,
    header: Annotated[str, typer.Option("--header", help="label or name.")] = "label",
    locale: Annotated[
        str | None, typer.Option("--locale", help="Language of labels (default: the user's).")
    ] = None,
    packs: Packs = None,
    database_url: DatabaseUrl = None,
    schema_name: SchemaName = None,
    as_user: AsUser = None,
) -> None:
    """Export records to CSV (UTF-8 with BOM for a file, so Excel reads Chinese)."""
    from engine.transfer import export_csv

    if header not in ("label", "name"):
        _usage(f"--header must be label or name, not {header!r}")
    try:
        rule = json.loads(filter_json) if filter_json else None
    except json.JSONDecodeError as exc:
        _usage(f"--filter is not JSON: {exc}")
    names = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    with service_session(packs, database_url, schema_name, as_user) as (service, actor):
        args = dict(filter=rule, fields=names, locale=locale or actor.locale, header=header)
        if output is None:
            count = export_csv(service, object_name, sys.stdout, actor, **args)  # type: ignore[arg-type]
        else:
            with output.open("w", encoding="utf-8-sig", newline="") as stream:
                count = export_csv(service, object_name, stream, actor, **args)  # type: ignore[arg-type]
    err.print(f"[green]✓[/green] exported {count} {object_name} record(s)")


@contextmanager
def service_session(
    packs: list[Path] | None,
    database_url: str | None,
    schema_name: str | None,
    user: str | None,
    purpose: str = "metacrm import/export",
    clock: Callable[[], dt.datetime] | None = None,
) -> Iterator[tuple[RecordService, Actor]]:
    """The record service on a synced database (reading ``clock``, default the system's),
    the actor, and errors printed with exits (shared by the commands that work on records)."""
    # Imported here: SQLAlchemy and Alembic would add half a second to every other command.
    from engine.auth import UserStore
    from engine.compiled import compile_schema
    from engine.records import Actor, BadQuery, Forbidden, NotFound, RecordService
    from engine.records.backfill import run_backfills
    from engine.security import RoleAuthorizer
    from engine.storage.database import Database
    from engine.storage.migrate import MigrationFailed, MigrationRefused, sync
    from engine.transfer import TransferError

    report = validate_paths(packs or list(discover().values()))
    if report.errors:
        for problem in report.errors:
            err.print(f"[red]error[/red] {problem.render()}", soft_wrap=True)
        err.print(f"[red]✗ {len(report.errors)} metadata error(s); nothing done[/red]")
        raise typer.Exit(1)
    db = Database(database_url, schema=schema_name)
    try:
        try:
            sync(db, report.schema, applied_by=f"{getpass.getuser()} ({purpose})")
        except (MigrationRefused, MigrationFailed) as exc:
            err.print(f"[red]✗ the database cannot be synced: {exc}[/red]", soft_wrap=True)
            raise typer.Exit(1) from None
        compiled = compile_schema(report.schema)
        run_backfills(db, compiled)
        actor = Actor(user_id=None, locale=_locale(), name="cli")
        if user is not None:
            found = UserStore(db, compiled.tables).by_username(user)
            if found is None or found.disabled:
                _usage(f"no active user {user!r}")
            actor = UserStore(db, compiled.tables).actor_for(found)
        try:
            timed = {"clock": clock} if clock is not None else {}
            yield RecordService(db, compiled, authorizer=RoleAuthorizer(compiled), **timed), actor
        except TransferError as exc:
            _usage(f"{exc.text(actor.locale)} [dim]({exc.code})[/dim]")
        except NotFound as exc:
            _usage(f"no object {exc.object_name!r}")
        except BadQuery as exc:
            _usage(str(exc))
        except Forbidden as exc:
            _usage(exc.text(actor.locale))
    finally:
        db.dispose()


@contextmanager
def _bar(total: int) -> Iterator[tuple[Progress, int]]:
    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]} rows"),
        TimeRemainingColumn(),
        console=err,
    )
    with progress:
        yield progress, progress.add_task("import", total=total, rows=0)


def _usage(text: str) -> NoReturn:
    err.print(f"[red]✗[/red] {text}", soft_wrap=True)
    raise typer.Exit(2)


def _locale() -> str:
    lang = os.environ.get("METACRM_LOCALE") or os.environ.get("LANG", "")
    return "zh-CN" if lang.lower().startswith("zh") else "en"
