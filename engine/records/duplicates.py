"""Duplicate rules, step 3 of the write path: a write that matches an existing record.

A rule (``duplicate_rules`` on an object) names fields and how each is normalised (a phone
to E.164, an e-mail lower-cased, text trimmed and case-folded), optional ``scope`` fields
that must be equal (the same dealer) and a ``condition`` the existing record must meet.
Every record's normalised values are kept as one hashed key per rule in ``_match_keys``,
maintained by the write steps (``keep`` after the row is written), so finding a match is
one indexed query per rule and call, in the write's own transaction. A rule added or
changed fills its keys for the rows already stored on first use (``_match_rules`` says for
which form of the rule they were made).

What a match does is the rule's ``action``: ``block`` refuses the row naming the rule and
the matched fields, ``warn`` lets it through with a warning, ``merge`` turns a create into
an update of the existing record. The message names the existing record (its title, as
the writer may see it) only when the writer may read it; otherwise it says a matching
record exists and nothing else: no id, no title, no stored value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import phonenumbers
import sqlalchemy as sa

from engine.compiled import CompiledObject, CompiledSchema
from engine.records.authorize import Authorizer, Operation, row_filter
from engine.records.errors import FieldError
from engine.records.messages import message, text_of
from engine.records.prepare import Prepared
from engine.records.unit_of_work import WriteContext
from engine.rules import EvalEnv, to_sql_with_env
from metadata.model.common import Text
from metadata.model.objects import DuplicateAction, DuplicateRule, MatchField, Normaliser

__all__ = [
    "MERGE_CAUSE",
    "Duplicate",
    "Duplicates",
    "Merge",
    "match_key",
    "normalise",
    "rule_message",
]

Record = dict[str, Any]
#: The cause a merge's update carries in history and audit (``duplicate rule <name>``).
MERGE_CAUSE = "duplicate rule"
#: Fields a merge never takes from the incoming row: who owns the record and where it
#: sits stay as the first touch left them (created_* and the rest are the engine's own).
KEPT_ON_MERGE = frozenset({"owner", "org_unit"})
_EMPTY: tuple[Any, ...] = (None, "", [])
_DEFAULT_REGION = "CN"
_ORDER = {DuplicateAction.MERGE: 0, DuplicateAction.BLOCK: 1, DuplicateAction.WARN: 2}


class Duplicate(msgspec.Struct, frozen=True, kw_only=True):
    """A rule that matched: what the writer is told. ``record_id`` and ``title`` are set
    only when the writer may read the existing record."""

    rule: str
    action: str
    fields: tuple[str, ...]
    message: Text
    record_id: str | None = None
    title: str | None = None


@dataclass
class Merge:
    """A create that becomes an update: of a stored record, or of an earlier row of the
    same call (``earlier``) once that one is written."""

    rule: DuplicateRule
    #: What the caller sent for the row (a merge fills from it, as sent).
    values: Mapping[str, Any]
    record_id: str | None = None
    earlier: Prepared | None = None

    def target(self) -> str | None:
        """The id of the record to merge into (an earlier row's, once it is written; None
        when that row was refused after all)."""
        if self.earlier is None:
            return str(self.record_id)
        written = self.earlier.merged_into or self.earlier.row.get("id")
        return None if self.earlier.errors or written is None else str(written)


def normalise(value: Any, match: MatchField, fdef: Any) -> str | None:
    """``value`` as ``match`` compares it; None for an empty value (it never matches)."""
    if value in _EMPTY:
        return None
    kind = match.normalise
    if kind is Normaliser.PHONE:
        region = match.region or getattr(fdef, "default_region", None) or _DEFAULT_REGION
        try:
            number = phonenumbers.parse(str(value), region)
        except phonenumbers.NumberParseException:
            number = None
        if number is not None and phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        digits = "".join(c for c in str(value) if c.isdigit())
        return digits or None
    if kind is Normaliser.EMAIL:
        return str(value).strip().lower() or None
    if kind is Normaliser.TEXT:
        return " ".join(str(value).casefold().split()) or None
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def match_key(cobj: CompiledObject, rule: DuplicateRule, row: Mapping[str, Any]) -> str | None:
    """The hashed key ``row`` has under ``rule``; None when a matched field is empty."""
    parts = []
    for match in rule.fields:
        part = normalise(row.get(match.field), match, cobj.fields.get(match.field))
        if part is None:
            return None
        parts.append(part)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _signature(rule: DuplicateRule) -> str:
    """What the stored keys depend on: the fields and their normalisers."""
    form = [(m.field, str(m.normalise), m.region) for m in rule.fields]
    return hashlib.sha256(json.dumps(form).encode()).hexdigest()


class Duplicates:
    """The duplicate rules of a compiled schema, run inside the write steps."""

    def __init__(self, compiled: CompiledSchema, authorizer: Authorizer):
        self.compiled = compiled
        self.authorizer = authorizer
        self.keys = compiled.tables.system["match_keys"]
        self.filled_rules = compiled.tables.system["match_rules"]
        #: ``(object, rule, signature)`` whose keys are known complete in the database.
        self._filled: set[tuple[str, str, str]] = set()
        self._lookups: dict[tuple[str, str], Any] = {}

    @staticmethod
    def rules(cobj: CompiledObject) -> list[DuplicateRule]:
        return [r for r in cobj.obj.duplicate_rules if r.active]

    # -- step 3: finding matches -------------------------------------------------------

    def check(
        self,
        ctx: WriteContext,
        cobj: CompiledObject,
        prepared: Sequence[Prepared],
        rows: Sequence[Mapping[str, Any]],
        old: Record | None,
    ) -> None:
        """Match each row that passed its checks against the stored records and the
        earlier rows of the call; act on each match as its rule says (errors, warnings
        and merges land on the row's Prepared)."""
        rules = self.rules(cobj)
        if not rules or str(ctx.cause or "").startswith(MERGE_CAUSE):
            return
        # A merge first: the row it takes into a match is no new record to block or warn of.
        for rule in sorted(rules, key=lambda r: _ORDER[r.action]):
            wanted: list[tuple[Prepared, Mapping[str, Any], str]] = []
            for p, values in zip(prepared, rows, strict=True):
                if p.errors or p.merge is not None:
                    continue
                watched = (*(m.field for m in rule.fields), *rule.scope)
                if old is not None and not any(f in p.changed for f in watched):
                    continue
                key = match_key(cobj, rule, p.row)
                if key is not None:
                    wanted.append((p, values, key))
            if not wanted:
                continue
            self._fill(ctx, cobj, rule)
            stored = self._stored(ctx, cobj, rule, {k for _, _, k in wanted})
            earlier: dict[str, list[Prepared]] = {}
            for p, values, key in wanted:
                scope = self._scope(ctx, rule, p.row)
                own = p.row.get("id")
                found = [
                    r
                    for r in stored.get(key, [])
                    if r["id"] != own and tuple(_same(r.get(f)) for f in rule.scope) == scope
                ]
                before = [e for e in earlier.get(key, ()) if self._scope(ctx, rule, e.row) == scope]
                earlier.setdefault(key, []).append(p)
                if found or before:
                    self._act(ctx, cobj, rule, p, values, found, before, creating=old is None)

    def _stored(
        self, ctx: WriteContext, cobj: CompiledObject, rule: DuplicateRule, keys: set[str]
    ) -> dict[str, list[Record]]:
        """The live records holding ``keys`` under ``rule`` that meet its condition,
        oldest first, by key."""
        query = self._lookup(ctx, cobj, rule)
        found: dict[str, list[Record]] = {}
        for row in ctx.conn.execute(query, {"keys": sorted(keys)}).mappings():
            record = dict(row)
            record["id"] = str(record["id"])
            found.setdefault(record.pop("key"), []).append(record)
        return found

    def _lookup(self, ctx: WriteContext, cobj: CompiledObject, rule: DuplicateRule) -> Any:
        """The query of ``rule``'s matches for the ``keys`` parameter, built once per rule
        (per write when its condition reads the user or the clock)."""
        kept = self._lookups.get((cobj.name, rule.name))
        if kept is not None:
            return kept
        table = self.compiled.tables[cobj.name]
        k = self.keys
        title = cobj.obj.title_field
        columns = {"id", "created_at", *rule.scope, *([title] if title else [])}
        query = (
            sa.select(k.c.key, *(table.c[c] for c in sorted(columns)))
            .join(table, table.c.id == k.c.record_id)
            .where(
                k.c.object == cobj.name,
                k.c.rule == rule.name,
                k.c.key.in_(sa.bindparam("keys", expanding=True)),
                table.c.archived.is_(False),
            )
            .order_by(table.c.created_at, table.c.id)
        )
        uses_env = False
        if rule.condition is not None:
            env = EvalEnv(user=ctx.actor.as_user(), clock=ctx.clock, timezone=ctx.actor.timezone)
            condition, uses_env = to_sql_with_env(
                rule.condition, table, cobj.context, tables=self.compiled.tables.objects, env=env
            )
            query = query.where(condition)
        if not uses_env:
            self._lookups[(cobj.name, rule.name)] = query
        return query

    @staticmethod
    def _scope(ctx: WriteContext, rule: DuplicateRule, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """The row's scope values, as stored once written (a create's owner and org unit
        default to the writer's)."""
        defaults = {"owner": ctx.actor.user_id, "org_unit": ctx.actor.org_unit}
        return tuple(_same(row[f] if f in row else defaults.get(f)) for f in rule.scope)

    # -- acting on a match ---------------------------------------------------------------

    def _act(
        self,
        ctx: WriteContext,
        cobj: CompiledObject,
        rule: DuplicateRule,
        p: Prepared,
        values: Mapping[str, Any],
        found: list[Record],
        before: list[Prepared],
        *,
        creating: bool,
    ) -> None:
        visible = self._may(ctx, cobj, Operation.READ, [r["id"] for r in found])
        shown = [r for r in found if r["id"] in visible]
        fields = tuple(m.field for m in rule.fields)
        action = rule.action
        if action is DuplicateAction.MERGE and creating:
            if before:  # the same call sent it twice: one record, filled from both
                p.merge = Merge(rule, values, earlier=before[0])
                return
            updatable = self._may(ctx, cobj, Operation.UPDATE, [r["id"] for r in shown])
            target = next((r for r in shown if r["id"] in updatable), None)
            if target is not None:
                p.merge = Merge(rule, values, record_id=target["id"])
                return
            action = DuplicateAction.BLOCK  # a record they cannot change: no second copy
        if shown:
            duplicate = self._named(cobj, rule, fields, ctx, shown[0])
        elif before and not found:
            title = before[0].row.get(cobj.obj.title_field or "")
            duplicate = self._named(
                cobj, rule, fields, ctx, {"id": None, "title": title}, same_call=True
            )
        else:
            text = rule_message(cobj, rule, None)
            duplicate = Duplicate(
                rule=rule.name, action=str(rule.action), fields=fields, message=text
            )
        if action is DuplicateAction.BLOCK:
            for name in fields:
                p.errors.append(
                    FieldError(
                        field=name, rule=rule.name, code="duplicate", message=duplicate.message
                    )
                )
        else:
            p.warnings.append(duplicate)

    def _named(
        self,
        cobj: CompiledObject,
        rule: DuplicateRule,
        fields: tuple[str, ...],
        ctx: WriteContext,
        existing: Record,
        *,
        same_call: bool = False,
    ) -> Duplicate:
        """The rule's message naming ``existing`` by its title as the writer sees it."""
        name = cobj.obj.title_field
        title: str | None
        if same_call:
            title = existing.get("title")
        elif name:
            presented = self.authorizer.present(ctx.actor, cobj, {name: existing.get(name)})
            title = presented.get(name)
        else:
            title = None
        text = rule_message(cobj, rule, str(title) if title not in _EMPTY else cobj.obj.label)
        record_id = None if same_call else existing["id"]
        return Duplicate(
            rule=rule.name,
            action=str(rule.action),
            fields=fields,
            message=text,
            record_id=record_id,
            title=None if title in _EMPTY else str(title),
        )

    def _may(
        self, ctx: WriteContext, cobj: CompiledObject, operation: Operation, ids: Iterable[str]
    ) -> set[str]:
        """Which of ``ids`` the writer may ``operation`` (the one access decision)."""
        ids = list(ids)
        if not ids:
            return set()
        allowed = row_filter(self.authorizer, ctx.actor, cobj, operation, self.compiled)
        if allowed is None:
            return set(ids)
        table = self.compiled.tables[cobj.name]
        query = sa.select(table.c.id).where(table.c.id.in_(ids), allowed)
        return {str(i) for i in ctx.conn.execute(query).scalars()}

    @staticmethod
    def merge_values(cobj: CompiledObject, p: Prepared, existing: Record) -> dict[str, Any]:
        """What a merge writes: the fields the incoming row filled that are empty on the
        existing record (never owner or org unit), as the caller sent them."""
        return {
            name: raw
            for name, raw in p.merge.values.items()
            if name in p.changed
            and name not in KEPT_ON_MERGE
            and cobj.writable(name)
            and existing.get(name) in _EMPTY
            and raw not in _EMPTY
        }

    # -- keeping the keys ----------------------------------------------------------------

    def keep(
        self,
        conn: sa.Connection,
        cobj: CompiledObject,
        records: Iterable[Record],
        changed: Callable[[str], bool] | None = None,
    ) -> None:
        """After the write: the keys of ``records`` (created, or updated where ``changed``
        says a field moved) under every rule of the object."""
        rules = self.rules(cobj)
        if not rules:
            return
        records = list(records)
        moved = [r for r in rules if changed is None or any(changed(m.field) for m in r.fields)]
        if not moved:
            return
        if changed is not None:
            conn.execute(
                self.keys.delete().where(
                    self.keys.c.object == cobj.name,
                    self.keys.c.rule.in_([r.name for r in moved]),
                    self.keys.c.record_id.in_([str(r["id"]) for r in records]),
                )
            )
        rows = [
            {"object": cobj.name, "rule": rule.name, "record_id": str(r["id"]), "key": key}
            for rule in moved
            for r in records
            if (key := match_key(cobj, rule, r)) is not None
        ]
        if rows:
            conn.execute(self.keys.insert(), rows)

    def forget(self, conn: sa.Connection, cobj: CompiledObject, record_id: Any) -> None:
        """A record removed for good takes its keys with it."""
        if self.rules(cobj):
            conn.execute(
                self.keys.delete().where(
                    self.keys.c.object == cobj.name, self.keys.c.record_id == str(record_id)
                )
            )

    def _fill(self, ctx: WriteContext, cobj: CompiledObject, rule: DuplicateRule) -> None:
        """The keys of every stored record under ``rule``, made once per form of the rule
        (in this transaction: a rollback or dry run leaves them to the next write)."""
        signature = _signature(rule)
        mark = (cobj.name, rule.name, signature)
        if mark in self._filled:
            return
        conn = ctx.conn
        t = self.filled_rules
        where = (t.c.object == cobj.name, t.c.rule == rule.name)
        stored = conn.execute(sa.select(t.c.signature).where(*where)).scalar()
        if stored != signature:
            k = self.keys
            conn.execute(k.delete().where(k.c.object == cobj.name, k.c.rule == rule.name))
            table = self.compiled.tables[cobj.name]
            columns = [table.c.id, *(table.c[m.field] for m in rule.fields)]
            batch: list[Record] = []
            for row in conn.execute(sa.select(*columns)).mappings():
                key = match_key(cobj, rule, dict(row))
                if key is not None:
                    batch.append(
                        {
                            "object": cobj.name,
                            "rule": rule.name,
                            "record_id": str(row["id"]),
                            "key": key,
                        }
                    )
                if len(batch) >= 1000:
                    conn.execute(k.insert(), batch)
                    batch = []
            if batch:
                conn.execute(k.insert(), batch)
            if stored is None:
                conn.execute(
                    t.insert().values(
                        object=cobj.name, rule=rule.name, signature=signature, filled_at=ctx.now()
                    )
                )
            else:
                conn.execute(
                    t.update().where(*where).values(signature=signature, filled_at=ctx.now())
                )
        ctx.on_commit.append(lambda: self._filled.add(mark))


def rule_message(cobj: CompiledObject, rule: DuplicateRule, existing: str | Text | None) -> Text:
    """``rule``'s message naming ``existing`` (a title, or the object's label); with None,
    the message that names no record (the writer may not read the one that matched)."""
    if existing is None:
        return message("duplicate_hidden", object=cobj.obj.label, rule=rule.name)
    templates = text_of(rule.message)
    names = existing if isinstance(existing, dict) else {loc: existing for loc in templates}
    return {
        loc: _fill(template, str(names.get(loc) or names.get("en", "")))
        for loc, template in templates.items()
    }


def _same(value: Any) -> Any:
    """A scope value as compared (an id column may come back as a UUID)."""
    return None if value is None else str(value)


def _fill(template: str, existing: str) -> str:
    """``template`` with ``{existing}`` replaced (no other placeholder is read)."""
    return template.replace("{existing}", existing)
