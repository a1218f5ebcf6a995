"""A webhook carries what its automation declares and nothing else, whatever the record
holds: its ``fields``, personal ones masked unless it says ``include_pii``.

For every webhook of every pack stack on disk (and of the suite's own fixture pack over
base, since no shipped pack calls one yet), three records of its object are made alike
and then given values: X and Y the same in what the webhook may carry and different in
everything else, Z different from X only in what it may carry. The bodies queued for X
and Y must be the same, and Z's must differ from X's (or the probe told nothing). What
is each record's own by construction (its id, and carried fields the suite does not set,
such as a number) is set aside. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from engine.records import ValidationFailed
from engine.records.webhooks import WEBHOOK_TOPIC
from metadata.model.automations import CallWebhook, RecordTrigger

from .builder import SYSTEM, Unbuildable, rule_paths
from .cases import shown
from .conftest import KINDS
from .packs import compiled, fixture_stacks, stacks
from .secrets_of import COMPUTED, LINKS
from .values import secret_four

STACKS = {s.name: s for s in [*stacks(), *fixture_stacks()]}
WEBHOOKS = [
    (name, automation.name, i)
    for name, stack in STACKS.items()
    for automation in compiled(stack).schema.automations.values()
    if automation.active
    for i, action in enumerate(automation.actions)
    if isinstance(action, CallWebhook)
]


def _varied(schema: Any, obj: str) -> dict[str, list[Any]]:
    """The fields the suite can give four values each, on three records at once."""
    staged = {w.field for w in schema.workflows.values() if w.object == obj}  # moved, not set
    out = {}
    for fdef in schema.objects[obj].fields:
        plain = fdef.kind not in COMPUTED and fdef.kind not in LINKS and fdef.name not in staged
        if plain and not getattr(fdef, "read_only", False) and not getattr(fdef, "unique", False):
            four = secret_four(schema, fdef)
            if four is not None:
                out[fdef.name] = four
    return out


def _last_body(world: Any, automation: str) -> str:
    table = world.service.effects.outbox
    with world.db.read() as conn:
        rows = conn.execute(
            sa.select(table.c.payload).where(table.c.topic == WEBHOOK_TOPIC).order_by(table.c.id)
        ).scalars()
        bodies = [p["body"] for p in rows if p.get("automation") == automation]
    return bodies[-1] if bodies else ""


def _refused(obj: Any, refusal: ValidationFailed, varied: dict[str, Any]) -> set[str]:
    """The varied fields a refusal blames: those it names, and those its rules read."""
    rules = {v.name: v.rule for v in obj.validations}
    found = set()
    for error in refusal.errors:
        found |= {error.field, *rule_paths(rules.get(error.rule))}
    return found & set(varied)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("stack", "automation", "index"), WEBHOOKS,
                         ids=[f"{s}-{a}-{i}" for s, a, i in WEBHOOKS])  # fmt: skip
def test_a_webhook_carries_only_what_it_declares(world_for, kind, stack, automation, index):
    world = world_for(STACKS[stack], kind)
    schema, service = world.schema, world.service
    declared = schema.automations[automation]
    action = declared.actions[index]
    trigger = declared.trigger
    if not isinstance(trigger, RecordTrigger) or not {"create", "update"} & set(trigger.on):
        pytest.skip(f"{automation} fires on the clock, not on a write the suite can make")
    obj = declared.object
    fields = schema.objects[obj]
    carried = {n for n in action.fields if action.include_pii or not fields.field(n).pii}
    varied = _varied(schema, obj)
    # (carried, the rest): X and Y share what may leave, X and Z what may not
    picks = {"X": (1, 2), "Y": (1, 3), "Z": (3, 2)}
    try:
        made = {key: world.builder.build(obj, shown(schema, obj)) for key in picks}
    except Unbuildable as exc:
        pytest.skip(f"no {obj} record can be made from the metadata: {exc}")
    bodies: dict[str, str] = {}
    for _ in range(len(varied) + 1):  # a value a record refuses: that field is left out
        try:
            for key, (inside, outside) in picks.items():
                values = {n: f[inside if n in carried else outside] for n, f in varied.items()}
                service.update(obj, made[key]["id"], values, SYSTEM)
                bodies[key] = _last_body(world, automation)
            break
        except ValidationFailed as exc:
            refused = _refused(fields, exc, varied)
            if not refused:
                raise
            for name in refused:
                del varied[name]
    for key, record in made.items():  # what is its own: by construction not alike
        now = service.get(obj, record["id"], SYSTEM)
        for name in ["id", *(n for n in action.fields if n not in varied)]:
            if now.get(name) not in (None, ""):
                bodies[key] = bodies[key].replace(str(now[name]), f"<{name}>")
    assert bodies["X"], f"{automation} queued no body on an update"
    assert bodies["X"] == bodies["Y"], f"{automation} carries what it may not:\n{bodies}"
    if carried & set(varied):
        assert bodies["X"] != bodies["Z"], f"{automation} does not carry {sorted(carried)}"
