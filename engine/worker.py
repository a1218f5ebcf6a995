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

from engine.records import RecordService
from engine.records.outbox import Delivery
from engine.records.timed_calls import DueWork

__all__ = ["Round", "Worker"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Round:
    due: DueWork
    escalated: int
    delivery: Delivery

    @property
    def busy(self) -> bool:
        """Whether the round found work (then the next one starts without waiting)."""
        return bool(self.due.timers or self.due.schedules or self.escalated
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
        service = self.service()
        due = service.queue_due_automations(limit=self.batch * 5)
        escalated = service.escalate_due()
        return Round(due, escalated, service.deliver_outbox(limit=self.batch))

    def run(self, *, until_idle: bool = False, report: Callable[[Round], None] | None = None):
        """Rounds until stopped (or, with ``until_idle``, until one finds nothing);
        a failing round is logged and the next one tried after the interval."""
        while not self._stop.is_set():
            try:
                done = self.run_round()
            except Exception:
                log.exception("worker round failed")
                self._stop.wait(self.interval)
                continue
            if report and done.busy:
                report(done)
            if not done.busy:
                if until_idle:
                    return
                self._stop.wait(self.interval)

    def start(self) -> None:
        """Run in a daemon thread beside the server."""
        self._thread = threading.Thread(target=self.run, name="metacrm-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
