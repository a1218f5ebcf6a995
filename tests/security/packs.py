"""Every pack shipped, found on disk: a folder of ``industry_packs/`` with a ``pack.yaml``.

A pack is tested as its stack: itself and every pack it requires (read from its own
manifest, not from the engine's loader), so a pack added later brings its cases with no
change to the suite.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from engine.compiled import CompiledSchema, compile_schema
from engine.validate import validate_paths

PACKS = Path(__file__).resolve().parents[2] / "industry_packs"


@dataclass(frozen=True)
class Stack:
    """One pack shipped and the packs under it, in the order they apply."""

    name: str
    paths: tuple[Path, ...]


def _requires(folder: Path) -> list[str]:
    manifest = yaml.safe_load((folder / "pack.yaml").read_text(encoding="utf-8")) or {}
    return list(((manifest.get("requires") or {}).get("packs") or {}).keys())


def stacks() -> list[Stack]:
    folders = {p.parent.name: p.parent for p in sorted(PACKS.glob("*/pack.yaml"))}

    def below(pack: str, order: list[str]) -> list[str]:
        """``pack`` after the packs it requires, each once."""
        for required in _requires(folders[pack]):
            if required not in order:
                below(required, order)
        if pack not in order:
            order.append(pack)
        return order

    return [Stack(name, tuple(folders[p] for p in below(name, []))) for name in folders]


@functools.cache
def compiled(stack: Stack) -> CompiledSchema:
    """The stack validated and compiled, once per session (case generation needs it at
    collection)."""
    report = validate_paths(list(stack.paths))
    assert not report.errors, report.errors
    return compile_schema(report.schema)


FIXTURES = Path(__file__).resolve().parent / "fixture_packs"


def fixture_stacks() -> list[Stack]:
    """The suite's own packs (``fixture_packs/``), each over the shipped packs it requires:
    for a path no shipped pack takes yet (a webhook), so that it is probed all the same."""
    shipped = {s.name: s for s in stacks()}
    found = []
    for manifest in sorted(FIXTURES.glob("*/pack.yaml")):
        below = [p for name in _requires(manifest.parent) for p in shipped[name].paths]
        found.append(Stack(manifest.parent.name, (*dict.fromkeys(below), manifest.parent)))
    return found
