"""The engine's own tables: schema versions, field history, audit log, outbox and its
delivery attempts, automation timers and schedules, backfills of computed fields,
counters, record shares, uploaded files, duplicate rules' match keys, and the users,
sessions and tokens of sign-in.

Their names start with an underscore, which object names cannot, so they never collide
with a pack's objects.
"""

from __future__ import annotations

import sqlalchemy as sa

from engine.storage.columns import ID_TYPE, JSON_TYPE, UTCDateTime

__all__ = ["define_system_tables"]


def _serial_id() -> sa.Column[int]:
    """An auto-incrementing id: BIGSERIAL on PostgreSQL, the rowid alias on SQLite."""
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


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
            _serial_id(),
            sa.Column("object", sa.String(63), nullable=False),
            sa.Column("record_id", ID_TYPE, nullable=False),
            sa.Column("field", sa.String(63), nullable=False),
            sa.Column("old_value", JSON_TYPE),
            sa.Column("new_value", JSON_TYPE),
            sa.Column("changed_at", now, nullable=False),
            sa.Column("changed_by", ID_TYPE),
            # What derived the change (``rollup account ← opportunity``, ``automation x``);
            # null for a change a caller asked for.
            sa.Column("cause", sa.String(200)),
            sa.Index("ix__field_history_record", "object", "record_id", "changed_at"),
        ),
        sa.Table(
            "_audit_log",
            metadata,
            _serial_id(),
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
            _serial_id(),
            sa.Column("created_at", now, nullable=False),
            sa.Column("topic", sa.String(100), nullable=False),
            sa.Column("payload", JSON_TYPE, nullable=False),
            sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
            sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
            sa.Column("available_at", now, nullable=False),
            sa.Column("last_error", sa.Text),
            sa.Index("ix__outbox_pending", "status", "available_at"),
        ),
        sa.Table(
            "_outbox_attempts",
            metadata,
            _serial_id(),
            sa.Column("outbox_id", sa.BigInteger, nullable=False, index=True),
            sa.Column("attempt", sa.Integer, nullable=False),
            sa.Column("at", now, nullable=False),
            sa.Column("ok", sa.Boolean, nullable=False),
            sa.Column("error", sa.Text),
        ),
        sa.Table(
            "_timers",
            metadata,
            sa.Column("automation", sa.String(63), primary_key=True),
            sa.Column("record_id", ID_TYPE, primary_key=True),
            sa.Column("object", sa.String(63), nullable=False),
            sa.Column("due_at", now, nullable=False),
            sa.Column("status", sa.String(10), nullable=False),
            sa.Column("planned_by", ID_TYPE),
            sa.Index("ix__timers_due", "status", "due_at"),
        ),
        sa.Table(
            "_schedules",
            metadata,
            sa.Column("automation", sa.String(63), primary_key=True),
            sa.Column("next_run_at", now, nullable=False),
            sa.Column("last_run_at", now),
            sa.Column("last_count", sa.Integer),
            # The cron and time zone next_run_at was computed from: an edit re-plans.
            sa.Column("plan", sa.String(200)),
        ),
        sa.Table(
            "_backfills",
            metadata,
            _serial_id(),
            sa.Column("object", sa.String(63), nullable=False),
            sa.Column("fields", JSON_TYPE, nullable=False),
            sa.Column("content_hash", sa.String(64), nullable=False),
            sa.Column("total", sa.Integer, nullable=False),
            sa.Column("done", sa.Integer, nullable=False, server_default="0"),
            sa.Column("changed", sa.Integer, nullable=False, server_default="0"),
            # The last record id filled: a killed backfill goes on from the next one.
            sa.Column("after_id", ID_TYPE),
            sa.Column("created_at", now, nullable=False),
            sa.Column("finished_at", now),
        ),
        sa.Table(
            "_autonumber",
            metadata,
            sa.Column("object", sa.String(63), primary_key=True),
            sa.Column("field", sa.String(63), primary_key=True),
            sa.Column("period", sa.String(16), primary_key=True),
            sa.Column("last_value", sa.BigInteger, nullable=False),
        ),
        sa.Table(
            "_transitions",
            metadata,
            _serial_id(),
            sa.Column("object", sa.String(63), nullable=False),
            sa.Column("record_id", ID_TYPE, nullable=False),
            sa.Column("workflow", sa.String(63), nullable=False),
            sa.Column("transition", sa.String(63), nullable=False),
            sa.Column("from_state", sa.String(100)),
            sa.Column("to_state", sa.String(100), nullable=False),
            sa.Column("comment", sa.String(2000)),
            sa.Column("at", now, nullable=False),
            sa.Column("actor", ID_TYPE),
            sa.Index("ix__transitions_record", "object", "record_id", "at"),
        ),
        sa.Table(
            "_approvals",
            metadata,
            sa.Column("id", ID_TYPE, primary_key=True),
            sa.Column("process", sa.String(63), nullable=False),
            sa.Column("object", sa.String(63), nullable=False),
            sa.Column("record_id", ID_TYPE, nullable=False),
            sa.Column("status", sa.String(20), nullable=False),
            sa.Column("step", sa.Integer, nullable=False),
            sa.Column("from_state", sa.String(100)),
            sa.Column("submitted_by", ID_TYPE),
            sa.Column("submitted_at", now, nullable=False),
            sa.Column("comment", sa.String(2000)),
            sa.Column("decided_at", now),
            sa.Index("ix__approvals_record", "object", "record_id", "status"),
        ),
        sa.Table(
            "_approval_tasks",
            metadata,
            sa.Column("id", ID_TYPE, primary_key=True),
            sa.Column("approval_id", ID_TYPE, nullable=False),
            sa.Column("step", sa.Integer, nullable=False),
            sa.Column("approver", ID_TYPE),
            sa.Column("status", sa.String(20), nullable=False),
            sa.Column("comment", sa.String(2000)),
            sa.Column("created_at", now, nullable=False),
            sa.Column("decided_at", now),
            sa.Index("ix__approval_tasks_inbox", "approver", "status"),
            sa.Index("ix__approval_tasks_approval", "approval_id", "step"),
        ),
        sa.Table(
            "_notifications",
            metadata,
            sa.Column("id", ID_TYPE, primary_key=True),
            sa.Column("user_id", ID_TYPE, nullable=False),
            sa.Column("subject", sa.String(500), nullable=False),
            sa.Column("body", sa.Text, nullable=False),
            sa.Column("object", sa.String(63)),
            sa.Column("record_id", ID_TYPE),
            sa.Column("source", sa.String(63)),
            sa.Column("created_at", now, nullable=False),
            sa.Column("read_at", now),
            sa.Index("ix__notifications_user", "user_id", "read_at", "created_at"),
        ),
        sa.Table(
            "_record_shares",
            metadata,
            sa.Column("id", ID_TYPE, primary_key=True),
            sa.Column("object", sa.String(63), nullable=False),
            sa.Column("record_id", ID_TYPE, nullable=False),
            sa.Column("user_id", ID_TYPE),
            sa.Column("org_unit", ID_TYPE),
            sa.Column("access", sa.String(10), nullable=False),
            sa.Column("created_at", now, nullable=False),
            sa.Column("created_by", ID_TYPE),
            sa.Index("ix__record_shares_user", "object", "user_id", "record_id"),
            sa.Index("ix__record_shares_unit", "object", "org_unit", "record_id"),
            sa.Index("ix__record_shares_record", "object", "record_id"),
        ),
        sa.Table(
            "_files",
            metadata,
            sa.Column("id", ID_TYPE, primary_key=True),
            sa.Column("sha256", sa.String(64), nullable=False),
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("content_type", sa.String(127), nullable=False),
            sa.Column("size", sa.BigInteger, nullable=False),
            sa.Column("uploaded_by", ID_TYPE),
            sa.Column("uploaded_at", now, nullable=False),
        ),
        *_auth_tables(metadata, now),
    ]
    return {t.name.lstrip("_"): t for t in tables}


def _auth_tables(metadata: sa.MetaData, now: sa.types.TypeEngine) -> list[sa.Table]:
    """Users, their sessions and API tokens, and login attempts (for rate limiting).

    All of it is in the database, so any number of stateless servers share it.
    """
    return [
        sa.Table(
            "_users",
            metadata,
            sa.Column("id", ID_TYPE, primary_key=True),
            sa.Column("username", sa.String(150), nullable=False, unique=True),
            sa.Column("display_name", sa.String(200), nullable=False),
            sa.Column("email", sa.String(320)),
            sa.Column("password_hash", sa.String(400)),
            sa.Column("locale", sa.String(10), nullable=False, server_default="zh-CN"),
            sa.Column("timezone", sa.String(64), nullable=False, server_default="Asia/Shanghai"),
            sa.Column("org_unit", ID_TYPE),
            sa.Column("roles", JSON_TYPE, nullable=False),
            sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
            sa.Column("created_at", now, nullable=False),
        ),
        sa.Table(
            "_sessions",
            metadata,
            sa.Column("token_hash", sa.String(64), primary_key=True),
            sa.Column("user_id", ID_TYPE, nullable=False, index=True),
            sa.Column("csrf_token", sa.String(64), nullable=False),
            sa.Column("created_at", now, nullable=False),
            sa.Column("expires_at", now, nullable=False),
        ),
        sa.Table(
            "_api_tokens",
            metadata,
            sa.Column("id", ID_TYPE, primary_key=True),
            sa.Column("user_id", ID_TYPE, nullable=False, index=True),
            sa.Column("name", sa.String(100), nullable=False),
            sa.Column("prefix", sa.String(16), nullable=False),
            sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
            sa.Column("scopes", JSON_TYPE, nullable=False),
            sa.Column("created_at", now, nullable=False),
            sa.Column("expires_at", now),
            sa.Column("revoked_at", now),
            sa.Column("last_used_at", now),
        ),
        sa.Table(
            "_user_org_units",
            metadata,
            sa.Column("user_id", ID_TYPE, primary_key=True),
            sa.Column("org_unit", ID_TYPE, primary_key=True),
        ),
        sa.Table(
            "_login_attempts",
            metadata,
            _serial_id(),
            sa.Column("username", sa.String(150), nullable=False),
            sa.Column("client", sa.String(64), nullable=False),
            sa.Column("at", now, nullable=False),
            sa.Column("succeeded", sa.Boolean, nullable=False),
            sa.Index("ix__login_attempts_recent", "username", "at"),
            sa.Index("ix__login_attempts_client", "client", "at"),
        ),
        # Duplicate rules: one normalised match key per record and rule, hashed (the
        # table repeats no phone number or e-mail), indexed for the lookup of a write.
        sa.Table(
            "_match_keys",
            metadata,
            sa.Column("object", sa.String(63), primary_key=True),
            sa.Column("rule", sa.String(63), primary_key=True),
            sa.Column("record_id", ID_TYPE, primary_key=True),
            sa.Column("key", sa.String(64), nullable=False),
            sa.Index("ix__match_keys_key", "object", "rule", "key"),
        ),
        # Which rules' keys are complete, and for which form of the rule (its fields and
        # normalisers): a rule added or changed fills its keys once, on first use.
        sa.Table(
            "_match_rules",
            metadata,
            sa.Column("object", sa.String(63), primary_key=True),
            sa.Column("rule", sa.String(63), primary_key=True),
            sa.Column("signature", sa.String(64), nullable=False),
            sa.Column("filled_at", now, nullable=False),
        ),
        sa.Table(
            "_idempotency_keys",
            metadata,
            sa.Column("user_id", sa.String(36), primary_key=True),
            sa.Column("key", sa.String(200), primary_key=True),
            sa.Column("request_hash", sa.String(64), nullable=False),
            sa.Column("status_code", sa.Integer),
            sa.Column("response", JSON_TYPE),
            sa.Column("headers", JSON_TYPE),
            sa.Column("created_at", now, nullable=False),
        ),
    ]
