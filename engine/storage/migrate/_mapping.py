"""What each compiled table and column is called in the live database right now.

Renames (``renamed_from``) and restores (an archived column or table coming back) mean a
compiled name can differ from the live one. Alembic compares by name, so the comparison
runs against a copy of the compiled metadata that uses the live names: a renamed column
then shows up as "same column" (or as a type change), never as a drop plus an add.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

__all__ = ["LiveState", "NameMap", "comparison_metadata"]


class LiveState:
    """The live database as the inspector sees it, read once per plan."""

    def __init__(self, conn: sa.Connection):
        self._inspector = sa.inspect(conn)
        self.tables: set[str] = set(self._inspector.get_table_names())
        self._columns: dict[str, dict[str, dict[str, Any]]] = {}

    def columns(self, table: str) -> dict[str, dict[str, Any]]:
        """Column name -> reflected column info of a live table."""
        if table not in self._columns:
            infos = self._inspector.get_columns(table) if table in self.tables else []
            self._columns[table] = {c["name"]: dict(c) for c in infos}
        return self._columns[table]


@dataclass
class NameMap:
    """Compiled (final) names -> live names, for tables and their columns."""

    tables: dict[str, str] = field(default_factory=dict)
    columns: dict[tuple[str, str], str] = field(default_factory=dict)
    new_tables: set[str] = field(default_factory=set)

    def table(self, final: str) -> str:
        return self.tables.get(final, final)

    def column(self, table: str, final: str) -> str:
        return self.columns.get((table, final), final)

    def final_table(self, live: str) -> str:
        for final, name in self.tables.items():
            if name == live:
                return final
        return live

    def final_column(self, table: str, live: str) -> str:
        for (t, final), name in self.columns.items():
            if t == table and name == live:
                return final
        return live


def comparison_metadata(metadata: sa.MetaData, names: NameMap) -> sa.MetaData:
    """A copy of ``metadata`` whose tables and columns carry their live names."""
    out = sa.MetaData()
    for table in metadata.tables.values():
        final = table.name

        def live(col: str, final: str = final) -> str:
            return names.column(final, col)

        items: list[sa.schema.SchemaItem] = [
            sa.Column(
                live(c.name),
                c.type,
                primary_key=c.primary_key,
                nullable=c.nullable,
                autoincrement=c.autoincrement,
                server_default=c.server_default.arg if c.server_default is not None else None,  # type: ignore[attr-defined]
            )
            for c in table.columns
        ]
        for con in list(table.constraints):
            if isinstance(con, sa.UniqueConstraint):
                keys = [live(c.name) for c in con.columns]
                items.append(sa.UniqueConstraint(*keys, name=con.name))
            elif isinstance(con, sa.ForeignKeyConstraint):
                targets = []
                for element in con.elements:
                    ref_table, _, ref_col = element.target_fullname.rpartition(".")
                    ref_live = names.column(ref_table, ref_col)
                    targets.append(f"{names.table(ref_table)}.{ref_live}")
                items.append(
                    sa.ForeignKeyConstraint(
                        [live(k) for k in con.column_keys],
                        targets,
                        name=con.name,
                        ondelete=con.ondelete,
                    )
                )
        for index in table.indexes:
            items.append(
                sa.Index(index.name, *[live(c.name) for c in index.columns], unique=index.unique)
            )
        sa.Table(names.table(final), out, *items)
    return out
