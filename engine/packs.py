"""Finding packs: the shipped industry packs, extra folders, and what a pack requires.

The search path is the project's ``industry_packs/`` plus any folders listed in
``METACRM_PACKS`` (separated like ``PATH``). Validating one pack pulls in the packs it
requires from the search path, so ``metacrm validate industry_packs/auto`` just works.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from metadata import LoadedPack, Problem, load_pack
from metadata.load import MANIFEST

__all__ = ["SHIPPED_PACKS", "discover", "expand_paths", "with_requirements"]

SHIPPED_PACKS = Path(__file__).resolve().parent.parent / "industry_packs"


def search_path() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("METACRM_PACKS", "").split(os.pathsep) if p]
    return [*extra, SHIPPED_PACKS]


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Pack folders from the given paths: a pack itself, or a folder of packs."""
    out: list[Path] = []
    for path in paths:
        if (path / MANIFEST).is_file() or not path.is_dir():
            out.append(path)
            continue
        children = sorted(p for p in path.iterdir() if (p / MANIFEST).is_file())
        out.extend(children or [path])
    return out


def discover() -> dict[str, Path]:
    """Name -> folder of every pack on the search path (earlier folders win)."""
    found: dict[str, Path] = {}
    for root in search_path():
        if not root.is_dir():
            continue
        for folder in expand_paths([root]):
            pack, _ = load_pack(folder)
            if pack is not None:
                found.setdefault(pack.name, folder)
    return found


def with_requirements(packs: list[LoadedPack]) -> tuple[list[LoadedPack], list[Problem]]:
    """Add, from the search path, every pack that the given ones require but lack."""
    have = {p.name: p for p in packs}
    available: dict[str, Path] | None = None
    problems: list[Problem] = []
    queue = list(packs)
    while queue:
        pack = queue.pop()
        for name in pack.manifest.requires.packs:
            if name in have:
                continue
            available = available if available is not None else discover()
            folder = available.get(name)
            if folder is None:
                continue  # reported by resolve as a missing requirement
            extra, found = load_pack(folder)
            problems.extend(found)
            if extra is not None:
                have[name] = extra
                queue.append(extra)
    return list(have.values()), problems
