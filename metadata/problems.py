"""Metadata problems as values: what went wrong, where, and what would be right.

A consultant fixes a pack from these messages alone, so every problem names the file, the
line when the source has one, the path inside the document (``fields[3].type``), what was
found, what was expected, and a "did you mean" when a near name exists.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable

import msgspec

__all__ = ["MetadataError", "Problem", "Severity", "did_you_mean", "format_path"]


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One thing wrong with a pack, located precisely enough to jump to it in an editor."""

    code: str
    message: str
    file: str | None = None
    line: int | None = None
    path: str = ""
    expected: str | None = None
    found: str | None = None
    suggestion: str | None = None
    severity: Severity = Severity.ERROR

    def render(self) -> str:
        """One human line: ``file:line: path: message (expected …, found …; did you mean …?)``."""
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        head = f"{where}: {self.path}: " if self.path else f"{where}: "
        details = []
        if self.expected is not None:
            details.append(f"expected {self.expected}")
        if self.found is not None:
            details.append(f"found {self.found}")
        tail = f" ({', '.join(details)})" if details else ""
        hint = f" Did you mean {self.suggestion!r}?" if self.suggestion else ""
        return f"{head}{self.message}{tail}{hint}"


class MetadataError(Exception):
    """Raised when metadata cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(p.render() for p in self.problems))


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelled ``name``, or None when nothing is close."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def format_path(parts: Iterable[str | int]) -> str:
    """Render ``("fields", 3, "type")`` as ``fields[3].type``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
