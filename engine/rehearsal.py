"""Rehearse the clock: run the worker on a copy of the database with the clock set ahead,
so a consultant sees which timers and schedules a month would fire before it happens.

A rehearsal never runs on the live database. ``copy_database`` makes the copy (SQLite: the
backup API into another file; PostgreSQL: ``CREATE DATABASE … TEMPLATE`` the live one,
which PostgreSQL allows only while nobody else is connected to it) and marks it with a
``_rehearsal_copy`` table; ``open_copy`` refuses any database without that mark. On the
copy, automations run as they would (records change, in-app notifications are written),
but nothing leaves: webhook calls, e-mail and plugin events are held — recorded in the
rehearsal's report and in the copy's audit log (``rehearsal_held``), marked done in its
outbox, never sent.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from engine.records import RecordService
from engine.records.automation_calls import AUTOMATION_TOPIC
from engine.records.mail import EMAIL_TOPIC
from engine.records.outbox import Delivery, Handler, Outbox
from engine.records.webhooks import WEBHOOK_TOPIC
from engine.storage.database import Database
from engine.worker import Round, Worker

__all__ = [
    "CopyRefused",
    "Held",
    "RehearsalClock",
    "Step",
    "copy_database",
    "hold_deliveries",
    "is_copy",
    "rehearse",
]

_MARK = sa.Table(
    "_rehearsal_copy",
    sa.MetaData(),
    sa.Column("source", sa.String(500), nullable=False),
    sa.Column("made_at", sa.String(40), nullable=False),
)


class CopyRefused(RuntimeError):
    """The rehearsal would run on, or overwrite, a database that is not a rehearsal copy."""


def copy_database(source: Database, target: str, now: dt.datetime) -> str:
    """Copy ``source`` to ``target`` (SQLite: a file path; PostgreSQL: a database name)
    and mark the copy; returns the copy's URL. A target that exists is replaced only when
    it is itself a rehearsal copy.

    Raises:
        CopyRefused: the target is the live database, or exists and is not a copy.
    """
    if source.is_sqlite:
        url = _copy_sqlite(source, Path(target))
    else:
        url = _copy_postgresql(source, target)
    copy = Database(url, schema=source.schema)
    try:
        _MARK.create(copy.engine, checkfirst=True)
        with copy.engine.begin() as conn:
            conn.execute(_MARK.delete())
            source_name = source.url.render_as_string(hide_password=True)
            conn.execute(_MARK.insert().values(source=source_name, made_at=now.isoformat()))
    finally:
        copy.dispose()
    return url


def is_copy(db: Database) -> bool:
    """Whether ``db`` carries the mark ``copy_database`` leaves."""
    return sa.inspect(db.engine).has_table(_MARK.name, schema=db.schema)


def _copy_sqlite(source: Database, target: Path) -> str:
    live = Path(source.url.database or "")
    if not live.exists():
        raise CopyRefused(f"there is no database file {live} to copy")
    if target.resolve() == live.resolve():
        raise CopyRefused("the copy would be the live database itself; name another file")
    url = f"sqlite:///{target}"
    if target.exists():
        _refuse_unless_copy(url, None, str(target))
        target.unlink()
    with sqlite3.connect(live) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return url


def _copy_postgresql(source: Database, target: str) -> str:
    live = source.url.database or ""
    if target == live:
        raise CopyRefused("the copy would be the live database itself; name another database")
    url = source.url.set(database=target)
    admin = sa.create_engine(source.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    quote = admin.dialect.identifier_preparer.quote
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target}
            ).first()
            if exists:
                _refuse_unless_copy(url.render_as_string(hide_password=False), source.schema,
                                    target)  # fmt: skip
                conn.exec_driver_sql(f"DROP DATABASE {quote(target)}")
            try:
                conn.exec_driver_sql(f"CREATE DATABASE {quote(target)} TEMPLATE {quote(live)}")
            except sa.exc.OperationalError as exc:
                raise CopyRefused(
                    f"PostgreSQL cannot copy {live} while others are connected to it "
                    f"({str(exc.orig).strip().splitlines()[0]}); stop the server and workers "
                    "for the copy, or copy a backup of it"
                ) from None
    finally:
        admin.dispose()
    return url.render_as_string(hide_password=False)


def _refuse_unless_copy(url: str, schema: str | None, name: str) -> None:
    existing = Database(url, schema=schema)
    try:
        if not is_copy(existing):
            raise CopyRefused(f"{name} exists and is not a rehearsal copy; it is left alone")
    finally:
        existing.dispose()


class RehearsalClock:
    """The time the rehearsal has reached; every part of the service reads it."""

    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass(frozen=True)
class Held:
    """A delivery to the outside world that the rehearsal did not send."""

    at: dt.datetime
    topic: str
    to: str


class _HeldOutbox(Outbox):
    """The service's outbox, delivering automation runs and holding everything else."""

    def __init__(self, outbox: Outbox, audit: sa.Table):
        super().__init__(outbox.db, outbox.table, outbox.attempts, outbox.clock,
                         lease=outbox.lease, max_attempts=outbox.max_attempts)  # fmt: skip
        self.audit = audit
        self.held: list[Held] = []

    def deliver(
        self, handler: Handler, *, ids: Collection[int] | None = None, limit: int = 100
    ) -> Delivery:
        def run_or_hold(topic: str, payload: dict[str, Any]) -> None:
            if topic == AUTOMATION_TOPIC:
                handler(topic, payload)
                return
            held = Held(self.clock(), topic, _recipient(topic, payload))
            self.held.append(held)
            with self.db.engine.begin() as conn:
                detail = {"topic": topic, "to": held.to, "automation": payload.get("automation")}
                conn.execute(
                    sa.insert(self.audit),
                    {"at": held.at, "actor": None, "action": "rehearsal_held", "object": None,
                     "record_id": None, "detail": detail},
                )  # fmt: skip

        return super().deliver(run_or_hold, ids=ids, limit=limit)


def _recipient(topic: str, payload: dict[str, Any]) -> str:
    if topic == WEBHOOK_TOPIC:
        return str(payload.get("url", ""))
    if topic == EMAIL_TOPIC:
        return str(payload.get("to", ""))
    return "plugins"


def hold_deliveries(service: RecordService) -> list[Held]:
    """Make ``service`` hold what would leave; returns the list it records them in."""
    held = _HeldOutbox(service.outbox, service.compiled.tables.system["audit_log"])
    service.outbox = held
    return held.held


@dataclass
class Step:
    """What the worker did when the clock reached ``at``."""

    at: dt.datetime
    timers: int = 0
    schedules: int = 0
    skipped: int = 0
    escalated: int = 0
    delivered: int = 0
    #: Runs queued by timers and schedules, per automation.
    fired: dict[str, int] = field(default_factory=dict)
    held: list[Held] = field(default_factory=list)
    failed: tuple[str, ...] = ()

    @property
    def busy(self) -> bool:
        return bool(self.timers or self.schedules or self.skipped or self.escalated
                    or self.delivered or self.held or self.failed)  # fmt: skip

    def add(self, done: Round) -> None:
        self.timers += done.due.timers
        self.schedules += done.due.schedules
        self.skipped += done.due.skipped
        self.escalated += done.escalated
        self.delivered += done.delivery.delivered
        self.failed += done.failed


def _last_queued(service: RecordService) -> int:
    outbox = service.compiled.tables.system["outbox"]
    with service.db.read() as conn:
        return int(conn.execute(sa.select(sa.func.max(outbox.c.id))).scalar() or 0)


def _fired_since(service: RecordService, after: int) -> tuple[dict[str, int], int]:
    """Clock-driven runs queued in the outbox since row ``after``, per automation."""
    outbox = service.compiled.tables.system["outbox"]
    fired: dict[str, int] = {}
    last = after
    with service.db.read() as conn:
        rows = conn.execute(
            sa.select(outbox.c.id, outbox.c.topic, outbox.c.payload).where(outbox.c.id > after)
        )
        for row in rows:
            last = max(last, row.id)
            payload = row.payload or {}
            if row.topic == AUTOMATION_TOPIC and ("due_at" in payload or "scheduled_at" in payload):
                name = str(payload.get("automation"))
                fired[name] = fired.get(name, 0) + 1
    return fired, last


def steps(start: dt.datetime, until: dt.datetime, step: dt.timedelta) -> Iterator[dt.datetime]:
    """``start + step``, ``start + 2·step``… up to and including ``until``."""
    at = start
    while at < until:
        at = min(at + step, until)
        yield at


def rehearse(
    service: RecordService,
    clock: RehearsalClock,
    until: dt.datetime,
    step: dt.timedelta,
    *,
    report: Callable[[Step], None] | None = None,
) -> list[Step]:
    """Move ``clock`` from where it is to ``until`` by ``step``, running worker rounds
    until idle at each stop; returns the stops where something happened."""
    held = hold_deliveries(service)
    worker = Worker(lambda: service)
    done = []
    queued = _last_queued(service)
    for at in steps(clock.now, until, step):
        clock.now = at
        current = Step(at)
        seen = len(held)
        while True:
            finished = worker.run_round()
            current.add(finished)
            if not finished.busy or finished.failed:
                break
        current.held = held[seen:]
        current.fired, queued = _fired_since(service, queued)
        if report is not None:
            report(current)
        if current.busy:
            done.append(current)
    return done
