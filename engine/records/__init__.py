"""The record service: the one write path, and the reads that go with it."""

from engine.records.actor import Actor, WriteOptions
from engine.records.authorize import AllowAll, Authorizer, Operation
from engine.records.errors import (
    FieldError,
    Forbidden,
    NotFound,
    RecordError,
    ValidationFailed,
    VersionConflict,
    WriteCollision,
)
from engine.records.query import BadQuery, Page
from engine.records.service import RecordService, RowResult

__all__ = [
    "Actor",
    "AllowAll",
    "Authorizer",
    "BadQuery",
    "FieldError",
    "Forbidden",
    "NotFound",
    "Operation",
    "Page",
    "RecordError",
    "RecordService",
    "RowResult",
    "ValidationFailed",
    "VersionConflict",
    "WriteCollision",
    "WriteOptions",
]
