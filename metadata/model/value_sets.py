"""Global value sets: picklist values shared by several objects (provinces, channels)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from metadata.model.common import Label, Name, Spec
from metadata.model.fields import PicklistCode, PicklistValue

__all__ = ["ValueSet"]


class ValueSet(Spec, kw_only=True):
    """One file under ``value_sets/``: a new set (``name``), a replacement of a required
    pack's set of that name, or more values for it (``extends``).

    ``extends`` adds ``values`` after the base's (or where their ``order`` puts them);
    it never removes one, as records may hold it.
    """

    name: Name | None = None
    extends: Name | None = None
    label: Label | None = None
    values: Annotated[list[PicklistCode | PicklistValue], msgspec.Meta(min_length=1)]
