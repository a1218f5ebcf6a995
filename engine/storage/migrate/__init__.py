"""Live, safe schema sync: compare the database with the compiled schema, plan, apply.

``plan_migration`` diffs the live database against the schema with Alembic's
autogenerate comparison and returns a plan: operations in plain words, plus refusals when
data stands in the way (values that cannot convert, duplicates under a new unique
constraint, nulls under a new required field, picklist values still in use).
``apply_migration`` runs that plan in one transaction and records the schema version.
Nothing is dropped: removed fields and objects are archived and come back when they
reappear; only a confirmed ``purge`` deletes archives.
"""

from engine.storage.migrate.apply import AppliedVersion, apply_migration, plan_migration, sync
from engine.storage.migrate.archive import ARCHIVE_MARK, is_archived
from engine.storage.migrate.operations import Operation, Phase
from engine.storage.migrate.plan import MigrationPlan
from engine.storage.migrate.refusals import (
    MigrationFailed,
    MigrationRefused,
    OffendingRow,
    Refusal,
)

__all__ = [
    "ARCHIVE_MARK",
    "AppliedVersion",
    "MigrationFailed",
    "MigrationPlan",
    "MigrationRefused",
    "OffendingRow",
    "Operation",
    "Phase",
    "Refusal",
    "apply_migration",
    "is_archived",
    "plan_migration",
    "sync",
]
