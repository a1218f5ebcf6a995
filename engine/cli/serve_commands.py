"""``metacrm serve`` runs the API on uvicorn; ``metacrm demo`` seeds the embedded default first."""

from __future__ import annotations

import enum
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from litestar import Litestar

    from engine.api.runtime import Runtime

__all__ = ["register"]

out = Console(highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(demo)


PackOption = Annotated[
    list[Path] | None, typer.Option("--pack", help="Pack folders (default: every pack found).")
]
UrlOption = Annotated[
    str | None, typer.Option("--database-url", help="Default: METACRM_DATABASE_URL or SQLite.")
]


def _app(packs: list[Path] | None, url: str | None, secure_cookies: bool, auto_apply: bool = True):
    from admin_ui import with_ui
    from engine.api.app import AppConfig, create_app
    from engine.api.auth import Authenticator
    from engine.api.runtime import Runtime
    from engine.packs import discover
    from engine.storage.database import Database

    db = Database(url)
    runtime = Runtime(db, packs or list(discover().values()), auto_apply=auto_apply)
    tables = runtime.snapshot.compiled.tables
    authenticator = Authenticator(db, tables, secure_cookies=secure_cookies)
    config = with_ui(AppConfig(runtime=runtime, authenticator=authenticator))
    return create_app(config), runtime, db


class LogFormat(enum.StrEnum):
    JSON = "json"
    TEXT = "text"


LogFormatOption = Annotated[
    LogFormat,
    typer.Option(help="json: one object per line (for log shippers); text: for reading."),
]


WorkerOption = Annotated[
    bool,
    typer.Option(
        help="Run the worker (timers, schedules, escalations, outbox) on a thread beside "
        "the server; turn off when separate `metacrm worker` processes run."
    ),
]


def _configure_logging(log_format: LogFormat) -> None:
    """Our own access log replaces uvicorn's, so each request is one line with its id."""
    from engine.api.observability import JsonLogFormatter

    handler = logging.StreamHandler()
    if log_format is LogFormat.JSON:
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def serve(
    packs: PackOption = None,
    database_url: UrlOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    secure_cookies: Annotated[
        bool, typer.Option(help="Mark session cookies Secure (behind HTTPS).")
    ] = False,
    log_format: LogFormatOption = LogFormat.JSON,
    worker: WorkerOption = True,
    auto_apply: Annotated[
        bool,
        typer.Option(
            help="Apply pack changes as soon as their files change (for pack authors); "
            "off: only a user whose role manages metadata applies them "
            "(POST /api/v1/metadata/apply)."
        ),
    ] = True,
) -> None:
    """Serve the REST API for the packs' CRM (migrating the database first)."""
    _configure_logging(log_format)
    app, runtime, _ = _app(packs, database_url, secure_cookies, auto_apply)
    out.print(f"metacrm on http://{host}:{port}/ui  (API docs: http://{host}:{port}/api/v1/docs)")
    _run(app, runtime, host, port, worker)


def _run(app: Litestar, runtime: Runtime, host: str, port: int, worker: bool) -> None:
    """uvicorn, with the worker on a thread beside it unless asked not to."""
    import uvicorn

    from engine.worker import Worker

    background = Worker(lambda: runtime.snapshot.service) if worker else None
    if background is not None:
        background.start()
    try:
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
    finally:
        if background is not None:
            background.stop()


def demo(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    seed_only: Annotated[bool, typer.Option(help="Seed and exit without serving.")] = False,
    log_format: LogFormatOption = LogFormat.TEXT,
    worker: WorkerOption = True,
) -> None:
    """Create the demo CRM in ./metacrm.sqlite3 (users, dealers, leads) and serve it."""
    from engine.auth import UserStore
    from engine.demo import seed_demo

    app, runtime, db = _app(None, None, False)
    snapshot = runtime.snapshot
    users = seed_demo(snapshot.service, UserStore(db, snapshot.compiled.tables), snapshot.compiled)
    table = Table(title="Demo accounts" + ("" if users else " (already created earlier)"))
    for column in ("username", "password", "who", "roles"):
        table.add_column(column)
    from engine.demo import DEMO_USERS

    for user in DEMO_USERS:
        table.add_row(user.username, user.password, user.display_name, ", ".join(user.roles))
    out.print(table)
    out.print(
        f"Database: {db.url}  ·  packs: "
        + ", ".join(f"{p.name} {p.version}" for p in snapshot.compiled.schema.packs)
    )
    base = f"http://127.0.0.1:{port}"
    out.print(f"Web UI: {base}/ui  ·  API: {base}/api/v1/docs  (sign in as admin / metacrm-admin)")
    if not seed_only:
        _configure_logging(log_format)
        _run(app, runtime, "127.0.0.1", port, worker)
