"""Steps 2-4 of the write path, without touching the database: from input to a checked row.

Defaults, coercion and normalisation, formulas, then the built-in checks (required, read
only, unknown fields), then the consultant's validation rules. Read-only and computed
fields are the engine's on a create as on an update: a caller naming one with a value is
refused (an empty value is ignored, so the default still applies). Built-in checks run first
and a rule is skipped when a field it blames already failed, so rules never see a value
the engine has already refused. Every failure is collected; nothing stops at the first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from engine.compiled import CompiledObject
from engine.records.actor import Actor
from engine.records.coerce import Invalid, coerce
from engine.records.disclosure import failure, shown
from engine.records.errors import FieldError
from engine.records.messages import message, text_of
from engine.rules import EvalEnv, RecordSource, RuleError, lock_key
from metadata.model.fields import FieldType, FormulaResult

__all__ = [
    "PROTECTED",
    "SYSTEM_LABELS",
    "Prepared",
    "compute_formulas",
    "field_label",
    "prepare",
    "set_by_engine",
    "with_related",
]

#: System columns nobody sets by hand (mass assignment of these is refused).
PROTECTED = frozenset(
    {"id", "created_at", "created_by", "updated_at", "updated_by", "version", "archived"}
)
#: System columns a caller may set; whether they may is the authorizer's call.
ASSIGNABLE = {"owner": FieldType.USER, "org_unit": FieldType.LOOKUP}
#: How error messages name the assignable system columns.
SYSTEM_LABELS = {
    "owner": {"en": "Owner", "zh-CN": "负责人"},
    "org_unit": {"en": "Org unit", "zh-CN": "组织单元"},
}
_EMPTY: tuple[Any, ...] = (None, "", [])
R = TypeVar("R", bound="Mapping[str, Any] | None")


@dataclass
class Prepared:
    """The row to write, what changed, and every error found."""

    row: dict[str, Any]
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)
    #: Stage moves the write makes (``engine.records.stages.Move``), logged once written.
    moves: list[Any] = field(default_factory=list)
    #: What the caller sent, the one thing its errors may quote (``engine.records.disclosure``);
    #: empty for values an automation made.
    sent: Mapping[str, Any] = field(default_factory=dict)
    #: Duplicate rules that matched and let the row through (``engine.records.duplicates``).
    warnings: list[Any] = field(default_factory=list)
    #: A create a duplicate rule turns into an update (``engine.records.duplicates.Merge``).
    merge: Any = None
    #: The record a merged create was written into, once it was.
    merged_into: str | None = None


@dataclass(frozen=True)
class _SystemField:
    name: str
    kind: FieldType
    label: dict[str, str]


def prepare(
    cobj: CompiledObject,
    values: Mapping[str, Any],
    actor: Actor,
    clock: Callable[[], dt.datetime],
    old: Mapping[str, Any] | None = None,
    related: Callable[[str, Any], Mapping[str, Any] | None] | None = None,
    stages: Sequence[Any] = (),
    via: str | None = None,
    engine_set: Sequence[tuple[str, Any]] = (),
    echo: bool = True,
    process: str = "",
    derived: Mapping[str, Any] | None = None,
    rules: bool = True,
    records: RecordSource | None = None,
) -> Prepared:
    """Check ``values`` for a create (``old`` is None) or an update of ``old``.

    ``related(field, id)`` returns the record a lookup points to, for rules that read
    through it (``contact.account``); rules see it under ``$related``. ``stages`` are the
    object's stage machines (``engine.records.stages``): a stage change is checked, and
    the stage's entry updates applied, before formulas and validation rules run, so
    those see the record as it will be; ``via`` names the transition asked for.
    ``engine_set`` are values the engine itself sets (an approval's final field updates):
    read-only fields included, after the stage step. ``process`` names the approval whose
    outcome this write carries out (``WriteOptions.process``). ``derived`` are values the
    engine worked out from other records (rollups, an org path), set as they are; such a
    recomputation passes ``rules=False``: formulas follow, but required fields and
    validation rules (about what a user enters) wait for the record's next save. Errors
    quote ``values`` only with ``echo`` (the caller sent them, rather than an automation).
    ``records`` is the write's read-only access to other records, for validations' record
    queries (``record_exists``...); formulas and defaults never get it, as their values
    are stored where the writer reads them.
    """
    creating = old is None
    if creating:  # an empty read-only field is as if not named: its default applies
        values = {k: v for k, v in values.items() if v not in _EMPTY or not _read_only(cobj, k)}
    row: dict[str, Any] = {} if old is None else dict(old)
    out = Prepared(row=row, sent=values if echo else {})
    failed: set[str] = set()
    env = EvalEnv(user=actor.as_user(), old=old, clock=clock, timezone=actor.timezone)
    tz = actor.tz

    def fail(name: str | None, code: str, rule: str | None = None, **extra: Any) -> None:
        label = field_label(cobj, name)
        if "value" in extra:
            extra["value"] = shown(out.sent, name, extra["value"])
        text = message(code, label=label, rule=rule or code, **extra)
        out.errors.append(FieldError(field=name, rule=rule or code, code=code, message=text))
        if name:
            failed.add(name)

    for name, raw in values.items():
        fdef = cobj.fields.get(name)
        if name in PROTECTED:
            fail(name, "read_only")
        elif name in ASSIGNABLE:
            _assign(out, name, _SystemField(name, ASSIGNABLE[name], {}), raw, tz, fail)
        elif fdef is None:
            fail(name, "unknown_field", object=cobj.obj.label, field=name)
        elif _read_only(cobj, name) and (creating or raw != row.get(name)):
            fail(name, "read_only")
        else:
            _assign(out, name, fdef, raw, tz, fail)
    if creating:
        _apply_defaults(cobj, values, out, env, tz, fail)
    for machine in stages:
        move = machine.step(old, out, actor, clock, via, related, process)
        if move is not None:
            out.moves.append(move)
    if engine_set:
        set_by_engine(cobj, out, old, engine_set, actor, env, "engine")
    for name, value in (derived or {}).items():
        _set(out, name, value)

    def data() -> Mapping[str, Any]:
        return with_related(row, cobj.walks, related, failed)

    for fdef, result, error in compute_formulas(cobj, row, env, related, failed):
        if error is not None:
            fail(fdef.name, "rule_error", rule=fdef.name, detail=failure(fdef.name, error))
        else:
            _set(out, fdef.name, result)
    if records is not None and cobj.searched:
        records.lock(_searched_locks(cobj, row, old))
    if not rules:
        return out
    for fdef in cobj.obj.fields:
        required = getattr(fdef, "required", False) or fdef.kind is FieldType.MASTER_DETAIL
        if required and fdef.name not in failed and row.get(fdef.name) in _EMPTY:
            fail(fdef.name, "required")
    operation = "create" if creating else "update"
    record = data()
    checks = env
    if records is not None and cobj.queries_records:
        checks = dataclasses.replace(env, records=records)
    for rule, check in cobj.validations:
        if operation not in rule.on or failed.intersection(rule.fields):
            continue
        try:
            ok = check(record, checks)
        except RuleError as exc:
            fail(
                rule.fields[0] if rule.fields else None,
                "rule_error",
                rule=rule.name,
                detail=failure(rule.name, exc),
            )
            continue
        if not ok:
            blamed: list[str | None] = [*rule.fields] or [None]
            for culprit in blamed:
                refusal = FieldError(field=culprit, rule=rule.name, code="validation",
                                     message=text_of(rule.message))  # fmt: skip
                out.errors.append(refusal)
    return out


def _searched_locks(
    cobj: CompiledObject, row: Mapping[str, Any], old: Mapping[str, Any] | None
) -> list[str]:
    """The locks of the record queries that search ``cobj``, for its old and new values:
    a concurrent check of such a query waits for this write (``rule_records``)."""
    keys = []
    for scope in cobj.searched:
        if scope is None:
            keys.append(lock_key(cobj.name))
            continue
        keys.append(lock_key(cobj.name, scope, row.get(scope)))
        if old is not None:
            keys.append(lock_key(cobj.name, scope, old.get(scope)))
    return keys


def _read_only(cobj: CompiledObject, name: str) -> bool:
    """Whether the field is declared read-only: set by the engine (defaults, stage entry,
    approval outcomes, automations), never by a caller. Computed fields are refused when
    coerced."""
    return bool(getattr(cobj.fields.get(name), "read_only", False))


def with_related(
    record: R,
    walks: Collection[str],
    related: Callable[[str, Any], Mapping[str, Any] | None] | None,
    skip: Collection[str] = (),
) -> R:
    """``record`` with the records its lookups in ``walks`` point to under ``$related``, as
    rules that read through lookups (``assigned_partner.partner_unit``) expect; ``record``
    itself when there is nothing to read (or no record). Lookups in ``skip`` (values that
    failed) are left out."""
    if record is None or not walks or related is None:
        return record
    linked = {f: related(f, record[f]) for f in walks if record.get(f) and f not in skip}
    return {**record, "$related": linked}  # type: ignore[return-value]


def compute_formulas(
    cobj: CompiledObject,
    row: Mapping[str, Any],
    env: EvalEnv,
    related: Callable[[str, Any], Mapping[str, Any] | None] | None = None,
    failed: Collection[str] = (),
) -> Iterator[tuple[Any, Any, Exception | None]]:
    """Each formula of ``cobj`` on ``row``, in declared order, as (field, value, error);
    the caller stores each value in ``row`` before the next formula reads it. Lookups in
    ``cobj.walks`` are read through ``related`` (skipping fields in ``failed``)."""
    for fdef, rule in cobj.formulas:
        data = with_related(row, cobj.walks, related, failed)
        try:
            yield fdef, _formula_value(fdef, rule(data, env)), None
        except (RuleError, ArithmeticError, ValueError, TypeError) as exc:
            yield fdef, None, exc


def _assign(out: Prepared, name: str, fdef: Any, raw: Any, tz: Any, fail: Any) -> None:
    try:
        value = coerce(fdef, raw, tz)
    except Invalid as exc:
        fail(name, exc.code, **exc.extra)
        return
    _set(out, name, value)


def _set(out: Prepared, name: str, value: Any) -> None:
    before = out.row.get(name)
    if before != value or name not in out.row:
        out.changed[name] = (before, value)
    out.row[name] = value


def _apply_defaults(
    cobj: CompiledObject,
    values: Mapping[str, Any],
    out: Prepared,
    env: EvalEnv,
    tz: Any,
    fail: Any,
) -> None:
    for fdef, default in cobj.defaults:
        if fdef.name in values:
            continue
        if callable(default):
            try:
                default = default(out.row, env)
            except RuleError as exc:
                rule = f"{fdef.name}.default"
                fail(fdef.name, "rule_error", rule=rule, detail=failure(rule, exc))
                continue
        _assign(out, fdef.name, fdef, default, tz, fail)


def _formula_value(fdef: Any, value: Any) -> Any:
    """Store a formula's result as its declared result type."""
    if value is None:
        return None
    result = FormulaResult(fdef.result_type)
    if result is FormulaResult.TEXT:
        return str(value)
    if result is FormulaResult.BOOLEAN:
        return bool(value)
    if result is FormulaResult.INTEGER:
        return int(value)
    if result in (FormulaResult.DATE, FormulaResult.DATETIME):
        return value
    number = Decimal(str(value))
    scale = fdef.scale if fdef.scale is not None else 6
    return number.quantize(Decimal(1).scaleb(-scale))


def field_label(cobj: CompiledObject, name: str | None) -> dict[str, str]:
    """How messages name a field: its label, a system column's label, or its name."""
    fdef = cobj.fields.get(name) if name else None
    if fdef is not None and fdef.label:
        return text_of(fdef.label)
    return SYSTEM_LABELS.get(name or "") or {"en": name or cobj.name}


def set_by_engine(
    cobj: CompiledObject,
    prepared: Prepared,
    old: Mapping[str, Any] | None,
    values: Iterable[tuple[str, Any]],
    actor: Actor,
    env: EvalEnv,
    rule: str,
) -> None:
    """Values the engine sets (stage entry, approval outcomes): each a literal or a
    compiled rule over the record, coerced to its field; read-only fields included."""
    for name, value in values:
        fdef = cobj.fields.get(name) or _SystemField(name, ASSIGNABLE[name], {})
        try:
            raw = value(dict(prepared.row), env) if callable(value) else value
            new = None if raw is None else coerce(fdef, raw, actor.tz)
        except (Invalid, RuleError, ValueError, TypeError) as exc:
            text = message("rule_error", rule=rule, detail=failure(rule, exc))
            prepared.errors.append(
                FieldError(field=name, rule=rule, code="rule_error", message=text)
            )
            continue
        prepared.row[name] = new
        previous = old.get(name) if old is not None else None
        if new != previous:
            prepared.changed[name] = (previous, new)
