"""What an error may say about a record's values: only what the request itself sent.

An error is shown to the writer, who may not be allowed to read the record's other
fields, or to read them unmasked. So no stored value ever goes into an error: a field
error's ``value`` (and a message that quotes a value) is the value this request sent for
that field, echoed back, or nothing. Writes whose values an automation made echo
nothing, as the triggering user did not send them. Rules and templates that fail to run
are named, not quoted: their exception text may hold the data they were reading.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import msgspec

from engine.records.errors import FieldError
from engine.rules import RuleError

__all__ = ["HIDDEN", "echo", "failure", "shown"]

#: What a message shows in place of a value the request did not send.
HIDDEN = "***"
log = logging.getLogger(__name__)
#: The JsonLogic error types the engine raises itself; a ``throw`` may raise any value,
#: a field's included, so other types are not shown.
_BUILT_IN = frozenset({"NaN", "Invalid Arguments", "Unknown Operator", "Unknown Field",
                       "Type Mismatch", "Invalid", "Not SQL", "Error"})  # fmt: skip


def echo(errors: list[FieldError], sent: Mapping[str, Any]) -> list[FieldError]:
    """``errors`` with each ``value`` set to what ``sent`` holds for its field, or None:
    whatever a check put there, the writer gets back only their own input."""
    out = []
    for error in errors:
        value = sent.get(error.field) if error.field is not None else None
        if value is not error.value:
            error = msgspec.structs.replace(error, value=value)
        out.append(error)
    return out


def shown(sent: Mapping[str, Any], name: str | None, value: Any) -> Any:
    """``value`` (read from or made of the input for ``name``) for a message: itself if
    the request sent ``name``, else HIDDEN."""
    return value if name is not None and name in sent else HIDDEN


def failure(rule: str, exc: BaseException) -> str:
    """How a rule or template failed, without its data: the JsonLogic error type of a
    rule error, or the kind of exception; the whole text goes to the log."""
    log.warning("%s failed: %s", rule, exc)
    kind = getattr(exc, "type", None)
    if isinstance(exc, RuleError) and isinstance(kind, str) and kind in _BUILT_IN:
        return kind
    return type(exc).__name__
