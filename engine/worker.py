"""The worker: what runs by itself, not in answer to a request.

Each round queues the runs of due timers and schedules (``TimedCalls``), escalates
approval steps that waited too long, and then delivers the outbox: after-commit
automations, webhooks, e-mail and plugin events. A round only claims rows, so any number
of workers may run side by side (on PostgreSQL they skip each other's rows) and a worker
killed at any point loses nothing: its claims lapse when their lease ends and another
round takes them. ``metacrm worker`` runs rounds in a loop; ``metacrm serve`` runs the
same loop on a thread beside the server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from engine.records import RecordService
from engine.records.outbox import Delivery
from engine.records.timed_calls import DueWork

__all__ = ["Round", "RoundFailed", "Worker"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class RoundFailed(RuntimeError):
    """A one-off run ended with parts of its last round failing (see the log)."""

    def __init__(self, parts: tuple[str, ...]):
        self.parts = parts
        super().__init__("worker round failed: " + ", ".join(parts))


@dataclass(frozen=True)
class Round:
    due: DueWork
    escalated: int
    delivery: Delivery
    #: The parts of the round that failed (logged with their error).
    failed: tuple[str, ...] = ()

    @property
    def busy(self) -> bool:
        """Whether the round found work (then the next one starts without waiting)."""
        return bool(self.due.timers or self.due.schedules or self.due.skipped or self.escalated
                    or self.delivery.delivered or self.delivery.retried
                    or self.delivery.dead)  # fmt: skip


class Worker:
    def __init__(
        self, service: Callable[[], RecordService], *, interval: float = 5.0, batch: int = 100
    ):
        """``service`` is asked for the current service each round (packs may reload)."""
        self.service = service
        self.interval = interval
        self.batch = batch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_round(self) -> Round:
        """One round; each of its three parts runs even when another one fails (a
        failure is logged and counted in ``failed``)."""
        service = self.service()
        failed: list[str] = []
        due = self._part("timers and schedules", failed, DueWork(),
                         lambda: service.queue_due_automations(limit=self.batch * 5))
        escalated = self._part("escalations", failed, 0, service.escalate_due)
        delivery = self._part("outbox", failed, Delivery(),
                              lambda: service.deliver_outbox(limit=self.batch))  # fmt: skip
        return Round(due, escalated, delivery, (*failed, *due.failed))

    def run(self, *, until_idle: bool = False, report: Callable[[Round], None] | None = None):
        """Rounds until stopped, or with ``until_idle`` until one finds nothing more to
        do (then a part that failed in that round is raised as ``RoundFailed``, so a
        one-off run says so instead of retrying for ever)."""
        while not self._stop.is_set():
            done = self.run_round()
            if report and done.busy:
                report(done)
            if done.busy:
                continue
            if until_idle:
                if done.failed:
                    raise RoundFailed(done.failed)
                return
            self._stop.wait(self.interval)

    @staticmethod
    def _part(name: str, failed: list[str], nothing: T, call: Callable[[], T]) -> T:
        try:
            return call()
        except Exception:
            log.exception("worker: %s failed", name)
            failed.append(name)
            return nothing

    def start(self) -> None:
        """Run in a daemon thread beside the server."""
        self._thread = threading.Thread(target=self.run, name="metacrm-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
