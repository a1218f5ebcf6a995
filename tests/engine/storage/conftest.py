"""Helpers for storage tests: tiny packs written to disk, rows written and read with Core.

Tests build each schema version from YAML the way a consultant would (a pack folder run
through ``validate_paths``), so what is migrated is exactly what the engine would load.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from engine.storage.database import Database
from engine.storage.tables import compile_tables
from engine.validate import validate_paths
from metadata import ResolvedSchema

PACK_YAML = "name: crm\nversion: 1.0.0\nlabel: {en: CRM, zh-CN: 客户关系}\n"


@pytest.fixture
def make_schema(tmp_path: Path) -> Callable[..., ResolvedSchema]:
    """Resolve a one-pack schema from ``{object name: yaml of its fields}``."""
    counter = iter(range(1_000_000))

    def make(objects: dict[str, str]) -> ResolvedSchema:
        folder = tmp_path / f"v{next(counter)}" / "crm"
        (folder / "objects").mkdir(parents=True)
        (folder / "pack.yaml").write_text(PACK_YAML, encoding="utf-8")
        for name, fields in objects.items():
            body = textwrap.indent(textwrap.dedent(fields).strip(), "  ")
            text = f"name: {name}\nlabel: {{en: {name}, zh-CN: {name}}}\nfields:\n{body}\n"
            (folder / "objects" / f"{name}.yaml").write_text(text, encoding="utf-8")
        report = validate_paths([folder])
        assert not report.errors, [p.render() for p in report.errors]
        return report.schema

    return make


class Live:
    """Plain Core access to one test database (tests only; the engine uses RecordService)."""

    def __init__(self, db: Database):
        self.db = db

    def insert(self, schema: ResolvedSchema, obj: str, rows: list[dict[str, Any]]) -> list[str]:
        """Insert records of ``obj`` as ``schema`` compiles it; returns their ids."""
        table = compile_tables(schema)[obj]
        now = datetime.now(UTC)
        ids = [str(uuid.uuid4()) for _ in rows]
        records = [
            {"id": i, "created_at": now, "updated_at": now, **r}
            for i, r in zip(ids, rows, strict=True)
        ]
        with self.db.engine.begin() as conn:
            for record in records:  # rows may set different columns
                conn.execute(table.insert().values(record))
        return ids

    def _qualified(self, table: str) -> str:
        return f'"{self.db.schema}"."{table}"' if self.db.schema else f'"{table}"'

    def fetch(self, table: str, *columns: str) -> dict[str, tuple[Any, ...]]:
        """Record id -> the given columns, read straight from the live table."""
        cols = ", ".join(f'"{c}"' for c in ("id", *columns))
        with self.db.engine.connect() as conn:
            result = conn.exec_driver_sql(f"SELECT {cols} FROM {self._qualified(table)}")
            return {str(uuid.UUID(str(r[0]))): tuple(r[1:]) for r in result}

    def tables(self) -> set[str]:
        return set(sa.inspect(self.db.engine).get_table_names(schema=self.db.schema))

    def columns(self, table: str) -> dict[str, Any]:
        infos = sa.inspect(self.db.engine).get_columns(table, schema=self.db.schema)
        return {c["name"]: c for c in infos}

    def versions(self) -> list[Any]:
        """The rows of ``_schema_versions``, oldest first, with JSON decoded."""
        with self.db.engine.connect() as conn:
            table = self._qualified("_schema_versions")
            sql = f"SELECT id, content_hash, applied_by, plan, schema FROM {table} ORDER BY id"
            rows = conn.exec_driver_sql(sql).mappings().all()
        decode = lambda v: json.loads(v) if isinstance(v, str) else v  # noqa: E731  SQLite: text
        return [
            SimpleNamespace(**{**r, "plan": decode(r["plan"]), "schema": decode(r["schema"])})
            for r in rows
        ]


@pytest.fixture
def live(database: Database) -> Live:
    """Row and catalogue access to the ``database`` fixture's database."""
    return Live(database)
