"""The unit of work of one write: what its steps share, and the changes they make.

A call of the record service opens one transaction and one ``WriteContext``; every step of
every record written in it (the caller's record and every derived one: a parent whose
rollup moved, a unit below a moved unit, a record an automation changed) reads the
connection, the actor, the options and the clock from it, and leaves its after-commit
work on it. A derived write runs in a child context that names its cause, so a cascade is
bounded (``MAX_DEPTH``) and a loop is refused with its chain named rather than run forever.
A ``Change`` is what a step hands to the next: one record's before and after.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa

from engine.compiled import CompiledObject
from engine.records.actor import Actor, WriteOptions
from engine.records.errors import FieldError, ValidationFailed, WriteCollision
from engine.records.messages import message

__all__ = ["MAX_DEPTH", "Change", "Origin", "Transactions", "WriteContext"]

Record = dict[str, Any]
#: How many derived writes deep one write may cascade (an automation's write firing
#: another, a rollup moving a grandparent, ...).
MAX_DEPTH = 8


class Origin(enum.StrEnum):
    """Who made a change: a caller asked for it, or the engine derived it from another."""

    USER = "user"
    DERIVED = "derived"


@dataclass
class WriteContext:
    """What the steps of one transaction share.

    Attributes:
        conn: The transaction's connection.
        actor: Who this write runs as (a derived write may run as the engine).
        options: The caller's audited switches.
        clock: The service's clock (``now`` reads it).
        chain: The causes of this write, outermost first: empty for the caller's own
            write, then one entry per derived step (``automation follow_up``,
            ``rollup account.open_amount``).
        by: For a derived write the engine makes, the user whose write caused it (None
            for the caller's own write, and for work no user caused, such as a schedule).
        events: Outbox rows to deliver once the transaction committed.
        on_commit: Callbacks to run after the commit (not after a rollback or dry run).
        warnings: What the caller's own writes should be told though they succeeded (a
            duplicate rule that warns: ``engine.records.duplicates.Duplicate``).
    """

    conn: sa.Connection
    actor: Actor
    options: WriteOptions
    clock: Callable[[], dt.datetime]
    chain: tuple[str, ...] = ()
    #: ``(cause, record id)`` of every derived write further out: one repeating is a loop.
    writing: frozenset[tuple[str, Any]] = frozenset()
    by: str | None = None
    events: list[int] = field(default_factory=list)
    on_commit: list[Callable[[], None]] = field(default_factory=list)
    warnings: list[Any] = field(default_factory=list)

    def now(self) -> dt.datetime:
        return self.clock()

    def rollback(self) -> None:
        """Undo everything written so far; nothing is delivered after it."""
        self.conn.rollback()
        self.events.clear()
        self.on_commit.clear()

    @property
    def author(self) -> str | None:
        """Who the records, history and audit say made the write: the actor, or for the
        engine's own work, the user whose write caused it."""
        return self.actor.user_id if self.actor.user_id is not None else self.by

    @property
    def origin(self) -> Origin:
        return Origin.DERIVED if self.chain else Origin.USER

    @property
    def cause(self) -> str | None:
        """The innermost cause of a derived write (None for the caller's own)."""
        return self.chain[-1] if self.chain else None

    def derived(
        self,
        cause: str,
        record_id: Any = None,
        *,
        actor: Actor | None = None,
        options: WriteOptions | None = None,
    ) -> WriteContext:
        """The context of a write this one causes (``cause`` writing ``record_id``): the
        same transaction, events and callbacks, ``cause`` appended to the chain.

        Raises:
            ValidationFailed: The chain would pass ``MAX_DEPTH``, or ``cause`` is already
                writing ``record_id`` further out (a loop); the error names the chain.
        """
        chain = (*self.chain, cause)
        key = (cause, None if record_id is None else str(record_id))
        if len(chain) > MAX_DEPTH or (record_id is not None and key in self.writing):
            raise _loop(chain, self.actor.locale)
        return replace(
            self,
            actor=actor or self.actor,
            options=options or self.options,
            chain=chain,
            writing=self.writing | {key},
            by=self.author,
        )


def _loop(chain: tuple[str, ...], locale: str) -> ValidationFailed:
    text = message("cascade_loop", chain=" → ".join(chain), depth=MAX_DEPTH)
    error = FieldError(field=None, rule=chain[-1], code="cascade_loop", message=text)
    return ValidationFailed([error], locale)


@dataclass(frozen=True)
class Change:
    """One record written: its operation, before and after, and who caused it.

    ``changed`` maps each changed field to ``(before, after)`` (every field set, on a
    create); ``old`` is None on a create and ``new`` None on a delete.
    """

    operation: str
    cobj: CompiledObject
    old: Record | None
    new: Record | None
    changed: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    origin: Origin = Origin.USER
    cause: str | None = None
    #: Stage moves the write made (``engine.records.stages.Move``).
    moves: tuple[Any, ...] = ()
    #: A delete that removed the row for good rather than archiving it.
    purged: bool = False
    #: The comment the move log keeps (a transition's, an approval outcome's).
    comment: str | None = None

    @property
    def record_id(self) -> Any:
        return (self.new or self.old or {}).get("id")

    @property
    def current(self) -> Record:
        """The record as the change left it (as it was, for a delete)."""
        return self.new if self.new is not None else self.old  # type: ignore[return-value]


class Transactions:
    """Opens the transaction of a call and its ``WriteContext``; after the commit,
    delivers the outbox rows the write queued and runs its ``on_commit`` callbacks."""

    def __init__(
        self,
        engine: sa.Engine,
        clock: Callable[[], dt.datetime],
        deliver: Callable[[list[int]], object],
    ):
        self.engine = engine
        self.clock = clock
        self.deliver = deliver

    @contextlib.contextmanager
    def begin(
        self, actor: Actor, options: WriteOptions, chain: tuple[str, ...] = ()
    ) -> Iterator[WriteContext]:
        """One write transaction; a constraint a concurrent writer beat us to is a 409.

        A dry run goes through every step and is rolled back instead of committed, and
        so is a context whose ``rollback`` was called; neither delivers anything.
        """
        try:
            with self.engine.begin() as conn:
                ctx = WriteContext(conn, actor, options, self.clock, chain)
                yield ctx
                if options.dry_run:
                    ctx.rollback()
        except sa.exc.IntegrityError as exc:
            raise WriteCollision(str(exc.orig)) from exc
        if ctx.events:
            self.deliver(ctx.events)
        for callback in ctx.on_commit:
            callback()
