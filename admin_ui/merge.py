"""Merging after an edit conflict, three ways: the values the form started from (its
``base``, carried in the form), what the user changed from them, and what someone else
saved meanwhile. The user's changes are laid over the record as it is now, so the other
person's changes to fields the user left alone are kept; a field both changed is shown
with the other value beside the user's, to keep one or take the other."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from admin_ui.fields import input_value
from engine.compiled import CompiledObject

__all__ = ["conflicting", "form_base", "my_changes"]


def _plain(value: Any) -> Any:
    """A form value and a stored value, made comparable (what a box shows)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value in ("True", "False"):
        return value.lower()
    if isinstance(value, list):
        return sorted(str(v) for v in value)
    if isinstance(value, dict) and "id" not in value:  # an address
        return {k: str(v) for k, v in value.items() if v not in (None, "")}
    return value


def _stored(cobj: CompiledObject, name: str, value: Any, tz: ZoneInfo) -> Any:
    if isinstance(value, list | dict | bool) and not (isinstance(value, dict) and "id" in value):
        return _plain(value)
    return _plain(input_value(cobj, name, value, tz))


def form_base(cobj: CompiledObject, record: Mapping[str, Any], names: Iterable[str],
              tz: ZoneInfo) -> str:  # fmt: skip
    """The editable fields' values as the form shows them, as JSON for a hidden input."""
    return json.dumps({n: _stored(cobj, n, record.get(n), tz) for n in names},
                      ensure_ascii=False, default=str)  # fmt: skip


def my_changes(values: Mapping[str, Any], base: str | None) -> dict[str, Any]:
    """The fields the user changed from the form's base (all of them without a base)."""
    try:
        started = json.loads(base) if base else None
    except ValueError:
        started = None
    if not isinstance(started, dict):
        return dict(values)
    return {k: v for k, v in values.items() if k not in started or _plain(v) != started[k]}


def conflicting(cobj: CompiledObject, mine: Mapping[str, Any], current: Mapping[str, Any],
                base: str | None, tz: ZoneInfo) -> set[str]:  # fmt: skip
    """Fields the user changed that the other person changed too, to something else."""
    try:
        started = json.loads(base) if base else None
    except ValueError:
        started = None
    found = set()
    for name, value in mine.items():
        now = _stored(cobj, name, current.get(name), tz)
        theirs_changed = not isinstance(started, dict) or now != started.get(name, now)
        if theirs_changed and now != _plain(value):
            found.add(name)
    return found
