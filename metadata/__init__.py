"""The metadata language: Structs, loading packs from YAML/JSON, and layering them.

Typical use::

    packs, problems = load_packs([Path("industry_packs/base")])
    resolution = resolve(packs)
    schema = resolution.unwrap()   # raises MetadataError listing every problem
"""

from metadata.load import LoadedPack, load_pack, load_packs
from metadata.problems import MetadataError, Problem, Severity
from metadata.resolve import ENGINE_VERSION, Resolution, resolve
from metadata.schema import Origin, ResolvedObject, ResolvedSchema, content_hash

__all__ = [
    "ENGINE_VERSION",
    "LoadedPack",
    "MetadataError",
    "Origin",
    "Problem",
    "Resolution",
    "ResolvedObject",
    "ResolvedSchema",
    "Severity",
    "content_hash",
    "load_pack",
    "load_packs",
    "resolve",
]
