"""The pack manifest (``pack.yaml``): what a pack is and what it needs."""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec

from metadata.model.common import Label, Name, Spec

__all__ = ["SEMVER_PATTERN", "Layer", "PackManifest", "Requirements"]

SEMVER_PATTERN = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"
)

VersionRange = Annotated[
    str,
    msgspec.Meta(
        description="Comma-separated comparisons, e.g. '>=1.0.0,<2.0.0'.",
        examples=[">=1.0.0,<2.0.0"],
    ),
]


class Layer(enum.StrEnum):
    """Where a pack sits when layers are merged; ties in dependency order go by layer."""

    BASE = "base"
    INDUSTRY = "industry"
    PLUGIN = "plugin"
    TENANT = "tenant"


class Requirements(Spec, kw_only=True):
    engine: VersionRange | None = None
    packs: dict[Name, VersionRange] = msgspec.field(default_factory=dict)


class PackManifest(Spec, kw_only=True):
    name: Name
    version: Annotated[str, msgspec.Meta(pattern=SEMVER_PATTERN, examples=["1.0.0"])]
    label: Label | None = None
    description: Label | None = None
    layer: Layer = Layer.INDUSTRY
    requires: Requirements = msgspec.field(default_factory=Requirements)
