"""The default operator registry: the JsonLogic community operators plus metacrm's."""

from __future__ import annotations

from . import (
    ops_arith,
    ops_array,
    ops_compare,
    ops_crm,
    ops_data,
    ops_logic,
    ops_records,
    ops_string,
)
from .registry import OperatorRegistry

__all__ = ["REGISTRY", "default_registry"]


def default_registry() -> OperatorRegistry:
    """A fresh registry holding every built-in operator."""
    registry = OperatorRegistry()
    modules = (ops_logic, ops_compare, ops_arith, ops_data, ops_array, ops_string, ops_crm,
               ops_records)  # fmt: skip
    for module in modules:
        for op in module.OPERATORS:
            registry.register(op)
    return registry


#: The registry compilers use unless given another; plugins register here at start-up.
REGISTRY = default_registry()
