"""What a running server serves: the compiled schema and its record service, kept current.

Routes are generic (``/objects/{object}/records``) and the OpenAPI document is built
from the schema, so new metadata needs no new routes. With ``auto_apply`` (the embedded
default, for pack authors), when a pack file changes the next request after the check
interval validates the packs, migrates the database and swaps in the new compiled schema
atomically; invalid metadata keeps the previous schema serving (the problems are logged).
Without it, changed packs wait until a user allowed to manage metadata applies them
(``apply``), and the database records who applied which plan. Nothing here is
process-local state another server lacks: each server reads the same packs and the same
database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.compiled import CompiledSchema, compile_schema
from engine.records import RecordService
from engine.records.backfill import run_backfills
from engine.security import RoleAuthorizer
from engine.storage.database import Database
from engine.storage.migrate import AppliedVersion, MigrationPlan, plan_migration, sync
from engine.validate import Report, validate_paths
from metadata import MetadataError

__all__ = ["Runtime", "Snapshot"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """One consistent view: the schema and the service built from it."""

    compiled: CompiledSchema
    service: RecordService

    @property
    def content_hash(self) -> str:
        return self.compiled.content_hash


class Runtime:
    def __init__(
        self,
        db: Database,
        pack_paths: Sequence[Path],
        *,
        check_interval: float = 1.0,
        service_factory: Callable[[Database, CompiledSchema], RecordService] | None = None,
        auto_apply: bool = True,
    ):
        self.db = db
        self.pack_paths = list(pack_paths)
        self.check_interval = check_interval
        self.auto_apply = auto_apply
        self._factory = service_factory or (
            lambda d, c: RecordService(d, c, authorizer=RoleAuthorizer(c))
        )
        self._lock = threading.Lock()
        self._checked_at = 0.0
        self._stamp = self._files_stamp()
        self._snapshot = self._build()

    @property
    def snapshot(self) -> Snapshot:
        """The current snapshot; reloads first when pack files changed."""
        now = time.monotonic()
        if self.auto_apply and now - self._checked_at >= self.check_interval:
            self._checked_at = now
            stamp = self._files_stamp()
            if stamp != self._stamp:
                with self._lock:
                    if stamp != self._stamp:
                        self._reload(stamp)
        return self._snapshot

    def _reload(self, stamp: tuple[tuple[str, float], ...]) -> None:
        try:
            snapshot = self._build()
        except MetadataError as exc:
            log.error(
                "metadata change not applied; still serving %s:\n%s",
                self._snapshot.content_hash[:12],
                exc,
            )
        else:
            log.info(
                "metadata reloaded: %s -> %s",
                self._snapshot.content_hash[:12],
                snapshot.content_hash[:12],
            )
            self._snapshot = snapshot
        self._stamp = stamp

    def pending(self) -> MigrationPlan:
        """What applying the packs as they are on disk now would do (nothing changes).

        Raises:
            MetadataError: The packs on disk do not validate.
        """
        return plan_migration(self.db, self._validated().schema)

    def apply(self, applied_by: str) -> AppliedVersion:
        """Validate the packs on disk, migrate the database (recording ``applied_by`` and
        the plan) and serve the new schema.

        Raises:
            MetadataError: The packs do not validate; nothing changed.
            MigrationRefused: The migration would lose data; nothing changed.
        """
        with self._lock:
            stamp = self._files_stamp()
            snapshot, version = self._build_version(applied_by)
            self._snapshot, self._stamp = snapshot, stamp
        return version

    def _build(self) -> Snapshot:
        return self._build_version("server")[0]

    def _build_version(self, applied_by: str) -> tuple[Snapshot, AppliedVersion]:
        report = self._validated()
        version = sync(self.db, report.schema, applied_by=applied_by)
        compiled = compile_schema(report.schema)
        run_backfills(self.db, compiled)  # new or redefined formulas and rollups, resumable
        return Snapshot(compiled=compiled, service=self._factory(self.db, compiled)), version

    def _validated(self) -> Report:
        report = validate_paths(self.pack_paths)
        if report.errors:
            raise MetadataError(report.errors)
        return report

    def _files_stamp(self) -> tuple[tuple[str, float], ...]:
        files = []
        for root in self.pack_paths:
            for path in sorted(Path(root).rglob("*")):
                if path.is_file() and path.suffix in (".yaml", ".yml", ".json"):
                    files.append((str(path), path.stat().st_mtime))
        return tuple(files)
