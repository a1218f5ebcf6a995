"""Order packs by what they require, and check that every requirement is met.

Packs apply in dependency order; packs that do not depend on each other are ordered by
layer (base, industry, plugin, tenant) and then by name, so the result never depends on
the order folders were given in.
"""

from __future__ import annotations

from collections.abc import Sequence

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from metadata.load import LoadedPack
from metadata.model.pack import Layer
from metadata.problems import Problem, did_you_mean

__all__ = ["ancestors", "order_packs"]

_LAYER_RANK = {layer: rank for rank, layer in enumerate(Layer)}


def order_packs(
    packs: Sequence[LoadedPack], engine_version: str
) -> tuple[list[LoadedPack], list[Problem]]:
    """Packs in the order their layers apply, and every unmet or circular requirement."""
    problems: list[Problem] = []
    by_name: dict[str, LoadedPack] = {}
    for pack in packs:
        if pack.name in by_name:
            problems.append(
                _problem(
                    pack,
                    "duplicate_pack",
                    f"pack {pack.name!r} is given twice",
                    path="name",
                    found=f"also in {by_name[pack.name].source.display}",
                )
            )
            continue
        by_name[pack.name] = pack
    for pack in by_name.values():
        problems.extend(_check_requirements(pack, by_name, engine_version))
    order, cycle_problems = _topological(by_name)
    return order, problems + cycle_problems


def ancestors(pack: str, packs: dict[str, LoadedPack]) -> set[str]:
    """Every pack that ``pack`` requires, directly or through others."""
    seen: set[str] = set()
    stack = [pack]
    while stack:
        current = packs.get(stack.pop())
        if current is None:
            continue
        for name in current.manifest.requires.packs:
            if name not in seen:
                seen.add(name)
                stack.append(name)
    return seen


def _check_requirements(
    pack: LoadedPack, by_name: dict[str, LoadedPack], engine_version: str
) -> list[Problem]:
    problems: list[Problem] = []
    requires = pack.manifest.requires
    if requires.engine is not None:
        problems.extend(
            _check_range(pack, ("requires", "engine"), requires.engine, engine_version, "engine")
        )
    for name, wanted in requires.packs.items():
        other = by_name.get(name)
        if other is None:
            problems.append(
                _problem(
                    pack,
                    "missing_pack",
                    f"requires pack {name!r}, which is not among the packs given",
                    path=f"requires.packs.{name}",
                    expected=f"{name} {wanted}",
                    suggestion=did_you_mean(name, by_name),
                )
            )
            continue
        problems.extend(
            _check_range(pack, ("requires", "packs", name), wanted, other.manifest.version, name)
        )
    return problems


def _check_range(
    pack: LoadedPack, path: tuple[str, ...], wanted: str, actual: str, what: str
) -> list[Problem]:
    try:
        spec = SpecifierSet(wanted, prereleases=True)
        version = Version(actual)
    except (InvalidSpecifier, InvalidVersion):
        return [
            _problem(
                pack,
                "bad_version_range",
                f"{wanted!r} is not a version range",
                path=".".join(path),
                expected="comparisons such as '>=1.0.0,<2.0.0'",
                found=repr(wanted),
            )
        ]
    if version in spec:
        return []
    return [
        _problem(
            pack,
            "version_mismatch",
            f"requires {what} {wanted}, but {what} is {actual}",
            path=".".join(path),
            expected=wanted,
            found=actual,
        )
    ]


def _topological(by_name: dict[str, LoadedPack]) -> tuple[list[LoadedPack], list[Problem]]:
    def rank(name: str) -> tuple[int, str]:
        return (_LAYER_RANK[by_name[name].manifest.layer], name)

    deps = {
        name: {d for d in pack.manifest.requires.packs if d in by_name}
        for name, pack in by_name.items()
    }
    order: list[LoadedPack] = []
    done: set[str] = set()
    while len(done) < len(deps):
        ready = sorted((n for n in deps if n not in done and deps[n] <= done), key=rank)
        if not ready:
            return order, [_cycle_problem(by_name, deps, done)]
        done.add(ready[0])
        order.append(by_name[ready[0]])
    return order, []


def _cycle_problem(
    by_name: dict[str, LoadedPack], deps: dict[str, set[str]], done: set[str]
) -> Problem:
    """Name the packs on one cycle, in order, so the loop can be seen and cut."""
    start = min(n for n in deps if n not in done)
    path = [start]
    while True:
        nxt = min(d for d in deps[path[-1]] if d not in done)
        if nxt in path:
            cycle = [*path[path.index(nxt) :], nxt]
            break
        path.append(nxt)
    return _problem(
        by_name[cycle[0]],
        "dependency_cycle",
        "packs require each other in a cycle: " + " -> ".join(cycle),
        path="requires.packs",
    )


def _problem(
    pack: LoadedPack, code: str, message: str, *, path: str, **extra: str | None
) -> Problem:
    dotted = tuple(path.split("."))
    return Problem(
        code=code,
        message=message,
        file=pack.source.display,
        line=pack.source.line_of(dotted),
        path=path,
        **extra,
    )
