"""The parts a record service is assembled from, shared by its features.

The service builds these once (``RecordService.__init__``); each feature (stages,
approvals, sharing, files, automations, the clock-driven work) is a small object over
them that writes only through ``writer`` inside a context ``transactions`` opens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.compiled import CompiledObject, CompiledSchema
from engine.records.approvals import Approvals
from engine.records.authorize import Authorizer
from engine.records.automations import CompiledAutomations
from engine.records.effects import Effects
from engine.records.errors import NotFound
from engine.records.hooks import PluginManager
from engine.records.mail import MailSettings
from engine.records.outbox import Outbox
from engine.records.query import SqlFilters
from engine.records.stages import StageMachine
from engine.records.unit_of_work import Transactions
from engine.records.writer import Writer
from engine.storage.blobs import BlobStore
from engine.storage.database import Database

__all__ = ["Feature", "Parts"]


@dataclass(frozen=True)
class Parts:
    db: Database
    compiled: CompiledSchema
    authorizer: Authorizer
    plugins: PluginManager
    clock: Callable[[], dt.datetime]
    effects: Effects
    filters: SqlFilters
    stages: dict[str, Sequence[StageMachine]]
    approvals: Approvals
    automations: CompiledAutomations
    outbox: Outbox
    mail: MailSettings | None
    files: BlobStore
    writer: Writer
    transactions: Transactions


class Feature:
    """A feature of the record service: reads the shared parts as its own attributes."""

    def __init__(self, parts: Parts):
        self.parts = parts
        self.db = parts.db
        self.compiled = parts.compiled
        self.authorizer = parts.authorizer
        self.plugins = parts.plugins
        self.clock = parts.clock
        self.effects = parts.effects
        self.filters = parts.filters
        self.stages = parts.stages
        self.approvals = parts.approvals
        self.automations = parts.automations
        self.outbox = parts.outbox
        self.mail = parts.mail
        self.files = parts.files
        self.writer = parts.writer
        self.transactions = parts.transactions

    def object_named(self, name: str) -> CompiledObject:
        """The compiled object ``name``.

        Raises:
            NotFound: The schema has no such object.
        """
        try:
            return self.compiled.objects[name]
        except KeyError:
            raise NotFound(name, "*") from None
