"""The whole check a consultant runs on packs: load, layer, cross-check, and rules.

Shared by ``metacrm validate``, the server's start-up and the tests, so all three agree
on what a valid pack is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from engine.packs import expand_paths, with_requirements
from engine.rule_checks import check_rules
from engine.template_checks import check_templates
from metadata import LoadedPack, Problem, ResolvedSchema, Severity, load_packs, resolve

__all__ = ["Report", "validate_paths"]


@dataclass
class Report:
    packs: list[LoadedPack]
    schema: ResolvedSchema
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]


def validate_paths(paths: Iterable[Path], *, strict_i18n: bool = False) -> Report:
    """Validate the packs at ``paths`` (and the packs they require) in one run."""
    packs, problems = load_packs(expand_paths(paths))
    packs, found = with_requirements(packs)
    problems.extend(found)
    resolution = resolve(packs)
    problems.extend(resolution.problems)
    problems.extend(check_rules(resolution.schema, resolution.sources))
    problems.extend(check_templates(resolution.schema, resolution.sources))
    if strict_i18n:
        problems = [
            msgspec.structs.replace(p, severity=Severity.ERROR)
            if p.code == "missing_translation"
            else p
            for p in problems
        ]
    problems.sort(key=lambda p: (p.file or "", p.line or 0, p.path))
    return Report(packs=packs, schema=resolution.schema, problems=problems)
