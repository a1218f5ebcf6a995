"""What a user learns from every read path, captured so two runs can be compared.

A capture maps each probe (a path and its arguments) to its outcome: the rows and bodies
it answered, or the kind and text of the refusal. Columns that change with every write
(``updated_at``, ``version``) are left out: they say that something changed, which the
user may know, not what it was.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from typing import Any

from engine.records import RecordError, ValidationFailed
from engine.transfer import export_rows

VOLATILE = frozenset({"updated_at", "version", "changed_at"})
#: Comparison operators, each with the literal it compares with: X1's run-A value (``a``)
#: or X2's (``c``); run A stores (w1, w3), run B (w4, w2).
COMPARISONS = [("==", "a"), ("===", "a"), ("!=", "a"), ("<", "c"), ("<=", "a"), (">", "a"),
               (">=", "c")]  # fmt: skip


def plain(value: Any) -> Any:
    """``value`` as JSON would carry it, volatile columns left out."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return value


def outcome(call: Callable[[], Any]) -> Any:
    try:
        return ["ok", plain(call())]
    except ValidationFailed as exc:
        return ["invalid", [[e.field, e.rule, e.code, e.text("en"), e.text("zh-CN"), plain(e.value)]
                            for e in exc.errors]]  # fmt: skip
    except RecordError as exc:
        return [type(exc).__name__, str(exc)]


def _strings(value: Any) -> list[tuple[str, Any]]:
    """The string operators and their literal for a text value."""
    if not isinstance(value, str) or len(value) < 4:
        return []
    middle = len(value) // 2
    return [
        ("starts_with", value[: middle + 1]),
        ("ends_with", value[middle - 1 :]),
        ("in", value[middle - 1 : middle + 2]),
    ]


def rules(paths: list[Any], a: Any, c: Any, depth: str) -> list[tuple[str, Any]]:
    """(name, JsonLogic) of the conditions probed on one field, named each way in
    ``paths`` (its ``var`` and ``val`` forms).

    ``depth`` is ``full`` (every comparison, string operator and emptiness test through
    ``var``, a few through ``val``), ``core`` or ``through`` (three, the ways alternating):
    one field of each class (hidden, masked, own) gets ``full`` and the others ``core``,
    since the resolver decides per class; a path through a lookup gets ``through``.
    """
    literals = {"a": a, "c": c}
    out = []
    for i, path in enumerate(paths):
        shown = _show(path)
        every = [(f"{op} {w}", {op: [path, literals[w]]}) for op, w in COMPARISONS]
        every.append(("in [a]", {"in": [path, [a]]}))
        for op, literal in _strings(a):
            rule = {"in": [literal, path]} if op == "in" else {op: [path, literal]}
            every.append((f"{op} {literal!r}", rule))
        every += [("!!", {"!!": [path]}), ("!", {"!": [path]})]
        if depth == "full" and i == 0:
            chosen = every
        else:
            wanted = {"full": ("< c", "starts_with", "!"), "core": ("== a", "< c", "!!"),
                      "through": ("== a", "< c", "!")}[depth]  # fmt: skip
            chosen = [e for e in every if e[0] in wanted or e[0].split(" ")[0] in wanted]
            chosen = chosen[i % 2 :: 2] if depth != "full" else chosen
        out += [(f"{shown} {name}", rule) for name, rule in chosen]
    return out


def _show(path: Any) -> str:
    return str(path).replace("'", "")


def list_ids(service: Any, obj: str, actor: Any, ids: list[str], **options: Any) -> Any:
    scoped = {"in": [{"var": "id"}, ids]}
    rule = options.pop("filter", None)
    where = {"and": [scoped, rule]} if rule is not None else scoped
    return outcome(lambda: [r for r in service.list(obj, actor, filter=where, **options).records])


def exported(service: Any, obj: str, actor: Any, ids: list[str], fields: list[str] | None) -> Any:
    where = {"in": [{"var": "id"}, ids]}
    return outcome(lambda: list(export_rows(service, obj, actor, filter=where, fields=fields,
                                            sort=["id"], header="name")))  # fmt: skip


def changes(history: list[dict[str, Any]]) -> list[Any]:
    """A record's history as the distinct changes it shows (field, from, to): each write
    adds entries, which says that the record changed, not what it holds."""
    seen = {(h["field"], repr(plain(h["old_value"])), repr(plain(h["new_value"]))) for h in history}
    return sorted(seen)
