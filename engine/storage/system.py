"""The engine's own tables: schema versions, field history, audit log, outbox, counters.

Their names start with an underscore, which object names cannot, so they never collide
with a pack's objects.
"""

from __future__ import annotations

import sqlalchemy as sa

from engine.storage.columns import ID_TYPE, JSON_TYPE, UTCDateTime

__all__ = ["define_system_tables"]


def define_system_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """Add the system tables to ``metadata`` and return them by short name."""
    now = UTCDateTime()
    tables = [
        sa.Table(
            "_schema_versions",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("content_hash", sa.String(64), nullable=False),
            sa.Column("applied_at", now, nullable=False),
            sa.Column("applied_by", sa.String(200), nullable=False),
            sa.Column("plan", JSON_TYPE, nullable=False),
            sa.Column("schema", JSON_TYPE, nullable=False),
        ),
        sa.Table(
            "_field_history",
            metadata,
            sa.Column(
                "id",
                sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                primary_key=True,
                autoincrement=True,
            ),
            sa.Column("object", sa.String(63), nullable=False),
            sa.Column("record_id", ID_TYPE, nullable=False),
            sa.Column("field", sa.String(63), nullable=False),
            sa.Column("old_value", JSON_TYPE),
            sa.Column("new_value", JSON_TYPE),
            sa.Column("changed_at", now, nullable=False),
            sa.Column("changed_by", ID_TYPE),
            sa.Index("ix__field_history_record", "object", "record_id", "changed_at"),
        ),
        sa.Table(
            "_audit_log",
            metadata,
            sa.Column(
                "id",
                sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                primary_key=True,
                autoincrement=True,
            ),
            sa.Column("at", now, nullable=False),
            sa.Column("actor", ID_TYPE),
            sa.Column("action", sa.String(40), nullable=False),
            sa.Column("object", sa.String(63)),
            sa.Column("record_id", ID_TYPE),
            sa.Column("detail", JSON_TYPE, nullable=False),
            sa.Index("ix__audit_log_record", "object", "record_id"),
        ),
        sa.Table(
            "_outbox",
            metadata,
            sa.Column(
                "id",
                sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                primary_key=True,
                autoincrement=True,
            ),
            sa.Column("created_at", now, nullable=False),
            sa.Column("topic", sa.String(100), nullable=False),
            sa.Column("payload", JSON_TYPE, nullable=False),
            sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
            sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
            sa.Column("available_at", now, nullable=False),
            sa.Index("ix__outbox_pending", "status", "available_at"),
        ),
        sa.Table(
            "_autonumber",
            metadata,
            sa.Column("object", sa.String(63), primary_key=True),
            sa.Column("field", sa.String(63), primary_key=True),
            sa.Column("period", sa.String(16), primary_key=True),
            sa.Column("last_value", sa.BigInteger, nullable=False),
        ),
    ]
    return {t.name.lstrip("_"): t for t in tables}
