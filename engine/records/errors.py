"""Record errors as values: a code, the field and rule to blame, a message per locale.

Surfaces turn these into their own shapes (RFC 9457 problem details in the API, messages
beside fields in the UI); the record service only says what went wrong and where.
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.records.messages import message
from metadata.model.common import Text

__all__ = [
    "FieldError",
    "Forbidden",
    "NotFound",
    "RecordError",
    "ValidationFailed",
    "VersionConflict",
    "WriteCollision",
    "localize",
]


def localize(text: Text, locale: str) -> str:
    """``text`` in ``locale``, falling back to English."""
    return text.get(locale) or text.get("en") or next(iter(text.values()), "")


class FieldError(msgspec.Struct, frozen=True, kw_only=True):
    """One field that failed one rule; ``rule`` is a built-in check or a validation's name.

    ``value`` is what the caller sent for ``field``, echoed back (or a conflict's current
    version), never a stored value: the write path sets it (``engine.records.disclosure``).
    """

    field: str | None
    rule: str
    code: str
    message: Text
    value: Any = None

    def text(self, locale: str) -> str:
        return localize(self.message, locale)


class RecordError(Exception):
    """Base of the record service's errors."""

    code = "record_error"


class ValidationFailed(RecordError):
    """The write broke one or more rules; every failure is listed, not just the first."""

    code = "validation_failed"

    def __init__(self, errors: list[FieldError], locale: str = "en"):
        self.errors = errors
        self.locale = locale
        super().__init__("; ".join(f"{e.field or '*'}: {e.text(locale)}" for e in errors))

    def row_errors(self) -> list[FieldError]:
        """The errors of the one row of a bulk call that this stopped."""
        return self.errors


class NotFound(RecordError):
    """No such record, or one the caller may not see (the two are not told apart)."""

    code = "not_found"

    def __init__(self, object_name: str, record_id: str):
        self.object_name = object_name
        self.record_id = record_id
        super().__init__(f"{object_name} {record_id} not found")

    def row_errors(self) -> list[FieldError]:
        text = message("no_record", object=self.object_name, id=self.record_id)
        return [FieldError(field="id", rule="exists", code=self.code, message=text)]


class Forbidden(RecordError):
    """The caller may see the record (or the object) but not do this to it."""

    code = "forbidden"

    def __init__(self, object_name: str, operation: str, message: Text):
        self.object_name = object_name
        self.operation = operation
        self.message = message
        super().__init__(localize(message, "en"))

    def text(self, locale: str) -> str:
        return localize(self.message, locale)

    def row_errors(self) -> list[FieldError]:
        return [FieldError(field=None, rule=self.operation, code=self.code, message=self.message)]


class VersionConflict(RecordError):
    """Someone else saved the record since the caller read it."""

    code = "version_conflict"

    def __init__(
        self, object_name: str, record_id: str, expected: int, current: int, changed: list[str]
    ):
        self.object_name = object_name
        self.record_id = record_id
        self.expected = expected
        self.current = current
        self.changed_fields = changed
        super().__init__(
            f"{object_name} {record_id} is at version {current}, not {expected}; "
            f"changed meanwhile: {', '.join(changed) or 'nothing visible'}"
        )

    def row_errors(self) -> list[FieldError]:
        text = message(
            "stale_version",
            expected=self.expected,
            current=self.current,
            fields=", ".join(self.changed_fields) or "-",
        )
        return [
            FieldError(
                field="version",
                rule="current_version",
                code=self.code,
                message=text,
                value=self.current,
            )
        ]


class WriteCollision(RecordError):
    """A concurrent write took a unique value or removed a referenced record between our
    checks and our write; nothing was written and the same request can be retried."""

    code = "write_collision"
