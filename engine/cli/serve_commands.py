"""``metacrm serve`` runs the API on uvicorn; ``metacrm demo`` seeds a demo CRM first."""

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

    from engine.api.runtime import Runtime, Snapshot
    from engine.auth import UserStore
    from engine.demo import Demo, DemoUser

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
    """The app as configured by the flags and the environment (``METACRM_TRUSTED_PROXIES``,
    ``METACRM_ALLOWED_ORIGINS``, ``METACRM_SESSION_HOURS``; a malformed value stops the
    start with its name)."""
    from admin_ui import with_ui
    from engine.api.app import AppConfig, create_app
    from engine.api.auth import Authenticator
    from engine.api.clients import TrustedProxies
    from engine.api.origins import allowed_origins_from_env
    from engine.api.runtime import Runtime
    from engine.auth import session_ttl_from_env
    from engine.packs import discover
    from engine.storage.database import Database

    try:
        proxies, origins = TrustedProxies.from_env(), allowed_origins_from_env()
        ttl = session_ttl_from_env()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    db = Database(url)
    runtime = Runtime(db, packs or list(discover().values()), auto_apply=auto_apply)
    tables = runtime.snapshot.compiled.tables
    authenticator = Authenticator(
        db, tables, secure_cookies=secure_cookies, allowed_origins=origins, session_ttl=ttl
    )
    config = AppConfig(runtime=runtime, authenticator=authenticator, trusted_proxies=proxies)
    return create_app(with_ui(config)), runtime, db


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
        bool,
        typer.Option(
            help="Mark session cookies Secure even on plain-http requests (TLS ends at a "
            "proxy not listed in METACRM_TRUSTED_PROXIES); https requests always get it."
        ),
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
        # proxy_headers off: uvicorn would trust X-Forwarded-For from 127.0.0.1; the app
        # decides whom to believe (METACRM_TRUSTED_PROXIES, engine.api.clients).
        uvicorn.run(
            app, host=host, port=port, log_config=None, access_log=False, proxy_headers=False
        )
    finally:
        if background is not None:
            background.stop()


class DemoName(enum.StrEnum):
    AUTO = "auto"
    BASE = "base"


def demo(
    name: Annotated[
        DemoName,
        typer.Argument(
            help="auto: the car brand 华星汽车, two regions and three 4S dealers (base and "
            "auto packs); base: the base pack's small demo."
        ),
    ] = DemoName.AUTO,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    seed_only: Annotated[bool, typer.Option(help="Seed and exit without serving.")] = False,
    fresh: Annotated[
        bool,
        typer.Option(help="Delete the demo's SQLite database (and its files) and seed anew."),
    ] = False,
    leads: Annotated[
        int | None, typer.Option(min=0, help="Leads to seed (auto: 300, base: 60).")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Default: METACRM_DATABASE_URL, else ./metacrm-NAME.sqlite3.",
        ),
    ] = None,
    log_format: LogFormatOption = LogFormat.TEXT,
    worker: WorkerOption = True,
) -> None:
    """Create a demo CRM (./metacrm-auto.sqlite3 by default), seed it once through the
    record service, list its accounts and serve it."""
    import os
    import time

    from engine.auth import UserStore
    from engine.demo import demo_named
    from engine.packs import discover

    spec = demo_named(name.value)
    url = (
        database_url
        or os.environ.get("METACRM_DATABASE_URL")
        or f"sqlite:///{Path.cwd() / f'metacrm-{spec.name}.sqlite3'}"
    )
    if fresh:
        _delete_sqlite_database(url)
    found = discover()
    missing = [pack for pack in spec.packs if pack not in found]
    if missing:
        raise typer.BadParameter(
            f"the {spec.name} demo needs the packs {', '.join(missing)} (not on the pack "
            "search path: METACRM_PACKS, industry_packs/)",
            param_hint="NAME",
        )
    app, runtime, db = _app([found[pack] for pack in spec.packs], url, False)
    snapshot = runtime.snapshot
    store = UserStore(db, snapshot.compiled.tables)
    started = time.perf_counter()
    count = spec.default_leads if leads is None else leads
    seeded = None if store.list_users() else _seed_with_progress(spec, snapshot, store, count)
    table = Table(title="Demo accounts" + ("" if seeded else " (already created earlier)"))
    for column in ("username", "password", "name", "roles", "unit"):
        table.add_column(column)
    for user in spec.users:
        table.add_row(
            user.username,
            user.password,
            user.display_name,
            ", ".join(user.roles),
            spec.unit_names.get(user.unit, user.unit),
        )
    out.print(table)
    if seeded:
        out.print(f"Seeded {spec.label} in {time.perf_counter() - started:.1f} s.")
    if spec.summary is not None:
        out.print(f"Demo data: {spec.summary(snapshot.service)}")
    out.print(
        f"Database: {db.url.render_as_string(hide_password=True)}  ·  packs: "
        + ", ".join(f"{p.name} {p.version}" for p in snapshot.compiled.schema.packs)
    )
    base = f"http://127.0.0.1:{port}"
    out.print(f"Web UI: {base}/ui  ·  API: {base}/api/v1/docs  (sign in as admin / metacrm-admin)")
    if not seed_only:
        _configure_logging(log_format)
        _run(app, runtime, "127.0.0.1", port, worker)


def _seed_with_progress(
    spec: Demo, snapshot: Snapshot, store: UserStore, leads: int
) -> list[DemoUser] | None:
    """Seed ``spec``; with a progress bar on a terminal (it takes a while for the auto demo)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    args = (snapshot.service, store, snapshot.compiled)
    if not out.is_terminal:
        out.print(f"Seeding {spec.label} ({leads} leads) through the record service…")
        return spec.seed(*args, leads=leads)
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=out, transient=True) as bar:
        task = bar.add_task(f"Seeding {spec.label} ({leads} leads)", total=1.0)
        return spec.seed(*args, leads=leads, progress=lambda done: bar.update(task, completed=done))


def _delete_sqlite_database(url: str) -> None:
    """``--fresh``: remove a SQLite demo database, its WAL files and its files folder."""
    import shutil

    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        raise typer.BadParameter(
            "--fresh deletes a SQLite demo database only; drop other databases yourself",
            param_hint="--fresh",
        )
    path = Path(parsed.database)
    for suffix in ("", "-wal", "-shm", "-journal"):
        target = path.with_name(path.name + suffix)
        if target.exists():
            target.unlink()
    shutil.rmtree(Path(f"{path}.files"), ignore_errors=True)
    out.print(f"Deleted {path} (and its files), to seed it anew.")
