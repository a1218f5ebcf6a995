"""A case a smaller stack already runs, unchanged, is not run again in a stack above it.

A pack's stack holds the stacks below it (auto holds base). A case (object, role) of the
bigger stack whose metadata is what it is in the smaller one — the object, the objects it
links to and that link to it, the role's grants and record rules on them, and the
workflows, approvals and automations on them — asks the engine the same questions and
gets the same answers, so it runs once, in the smallest stack that has it. Anything a
bigger stack adds or changes there (an extended object, a new child, a wider grant) gives
the case a new signature, and it runs there too.
"""

from __future__ import annotations

import functools

from metadata.schema import content_hash

from .packs import Stack, compiled, stacks
from .secrets_of import LINKS, links_to


@functools.cache
def signature(stack: Stack, obj: str, role: str) -> str | None:
    schema = compiled(stack).schema
    if obj not in schema.objects or role not in schema.roles:
        return None
    parents = {f.to for f in schema.objects[obj].fields if f.kind in LINKS}
    involved = sorted({obj, *parents, *(child for child, _ in links_to(schema, obj))})
    involved = [name for name in involved if name in schema.objects]
    granted = schema.roles[role]
    return content_hash(
        {
            "objects": [schema.objects[name] for name in involved],
            "grants": [granted.objects.get(name) for name in involved],
            "rules": [r for r in granted.record_rules if r.object in involved],
            "workflows": [w for w in schema.workflows.values() if w.object in involved],
            "approvals": [a for a in schema.approvals.values() if a.object in involved],
            "automations": [a for a in schema.automations.values() if a.object in involved],
        }
    )


def repeated(stack: Stack, obj: str, role: str) -> bool:
    """Whether a stack below ``stack`` runs this case with the same signature."""
    mine = signature(stack, obj, role)
    return any(
        len(other.paths) < len(stack.paths)
        and stack.paths[: len(other.paths)] == other.paths
        and signature(other, obj, role) == mine
        for other in stacks()
    )
