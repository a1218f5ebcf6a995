"""What every demo shares: its accounts, how ``metacrm demo`` finds it, a clock to seed by."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.records import RecordService

__all__ = ["Demo", "DemoUser", "SimulatedClock"]


@dataclass(frozen=True)
class DemoUser:
    """One demo account; ``unit`` is the key of its org unit in the demo's tree."""

    username: str
    password: str
    display_name: str
    roles: tuple[str, ...]
    unit: str


Seeder = Callable[..., "list[DemoUser] | None"]


@dataclass(frozen=True)
class Demo:
    """A demo CRM: the packs it runs on, its accounts and how to seed it.

    ``seed(service, users, compiled, leads=n)`` writes the demo data through the record
    service and returns the accounts, or None when the database already has users.
    ``summary(service)`` describes what a seeded database holds, in a line.
    """

    name: str
    label: str
    packs: tuple[str, ...]
    users: tuple[DemoUser, ...]
    unit_names: Mapping[str, str]
    seed: Seeder
    default_leads: int
    summary: Callable[[RecordService], str] | None = None


class SimulatedClock:
    """A clock the seed moves by hand, so records carry the dates users would have
    written them on. Never goes backwards."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance_to(self, when: dt.datetime) -> None:
        self.now = max(self.now, when)
