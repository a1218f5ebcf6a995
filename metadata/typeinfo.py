"""Small helpers over ``msgspec.inspect`` types, shared by decoding, i18n and the docs."""

from __future__ import annotations

import msgspec.inspect as mi

__all__ = ["is_label", "leaves", "unwrap"]


def unwrap(info: mi.Type) -> mi.Type:
    """Strip ``Annotated`` metadata wrappers."""
    while isinstance(info, mi.Metadata):
        info = info.type
    return info


def leaves(info: mi.Type) -> list[mi.Type]:
    """The members of a (possibly nested, annotated) union, flattened; else ``[info]``."""
    info = unwrap(info)
    if isinstance(info, mi.UnionType):
        return [leaf for member in info.types for leaf in leaves(member)]
    return [info]


def is_label(info: mi.Type) -> bool:
    """True for ``Label`` (text or a locale mapping), optional or not."""
    kinds = {type(leaf) for leaf in leaves(info)}
    return (
        mi.StrType in kinds
        and mi.DictType in kinds
        and kinds
        <= {
            mi.StrType,
            mi.DictType,
            mi.NoneType,
        }
    )
