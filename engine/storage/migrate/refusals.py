"""Why a migration will not run: errors as values, naming the records that stand in the way.

A refusal is found before anything changes. It says what (``code``), where (``location``,
``object.field``), and which records and values block it, so a consultant can fix the data
(or the metadata) and run the migration again.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["MAX_ROWS_LISTED", "MigrationFailed", "MigrationRefused", "OffendingRow", "Refusal"]

#: How many offending records a refusal lists; ``total`` still counts them all.
MAX_ROWS_LISTED = 50


class OffendingRow(msgspec.Struct, frozen=True):
    """One record that blocks a migration, by id, with the value that blocks it."""

    id: str
    value: Any = None


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    """One reason a migration is refused."""

    code: str
    message: str
    location: str
    rows: tuple[OffendingRow, ...] = ()
    total: int = 0
    suggestion: str | None = None

    def render(self) -> str:
        """One human paragraph: location, message, the first offending records, a hint."""
        lines = [f"{self.location}: {self.message}"]
        for row in self.rows:
            lines.append(f"  record {row.id}: {row.value!r}")
        if self.total > len(self.rows):
            lines.append(f"  … and {self.total - len(self.rows)} more")
        if self.suggestion:
            lines.append(f"  hint: {self.suggestion}")
        return "\n".join(lines)


class MigrationRefused(Exception):
    """Raised by ``apply_migration`` when the plan has refusals; nothing was changed."""

    def __init__(self, refusals: tuple[Refusal, ...] | list[Refusal]):
        self.refusals = tuple(refusals)
        super().__init__("\n".join(r.render() for r in self.refusals))


class MigrationFailed(Exception):
    """The database rejected a change mid-way; the transaction was rolled back."""
