from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def make_pack(tmp_path: Path) -> Callable[..., Path]:
    """Write a pack folder from ``{relative path: yaml text}`` and return its path."""

    def make(name: str, files: dict[str, str], *, root: Path | None = None) -> Path:
        folder = (root or tmp_path) / name
        for rel, text in files.items():
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text), encoding="utf-8")
        return folder

    return make
