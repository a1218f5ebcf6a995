"""Bind a record into a rule: ``{"var": "$trigger.amount"}`` becomes the amount itself.

An automation's ``update_related`` selects related records with a rule over *them* that
may also read the record that fired it. Binding that record's values in as literals
before the rule is compiled keeps the rule one ordinary rule over one object, so it
compiles to SQL like any list filter and asks the same reader what it may read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .ops_data import var_path

__all__ = ["TRIGGER_ROOT", "bind_record", "reads_root"]

#: How an automation's rule over other records reads the record that fired it.
TRIGGER_ROOT = "$trigger"


def bind_record(rule: Any, root: str, record: Mapping[str, Any] | None) -> Any:
    """``rule`` with every ``var`` under ``root`` replaced by ``record``'s value (None
    when ``record`` is None: for checking the rule's shape without one)."""
    if isinstance(rule, list):
        return [bind_record(item, root, record) for item in rule]
    if not isinstance(rule, dict) or len(rule) != 1:
        return rule
    [(op, args)] = rule.items()
    if op == "var":
        path, default = (args[0], args[1] if len(args) > 1 else None) if isinstance(
            args, list
        ) and args else (args, None)
        keys = var_path(path)
        if keys and keys[0] == root:
            value = _literal(_dig(record, keys[1:]) if record is not None else None)
            return default if value is None else value
        return rule
    return {op: bind_record(args, root, record)}


def reads_root(rule: Any, root: str) -> bool:
    """Whether ``rule`` reads anything under ``root``."""
    return bind_record(rule, root, None) != rule


def _dig(record: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    value: Any = record
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _literal(value: Any) -> Any:
    """A value as a JsonLogic literal: numbers as numbers, moments as ISO text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_literal(v) for v in value]
    return value
