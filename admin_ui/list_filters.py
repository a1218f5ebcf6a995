"""Ad-hoc filters on a list page: one control per visible column, chosen by its type,
read from the query string (``f.stage=won``, ``f.amount.from=1000``) and turned into a
JsonLogic rule the list query compiles to SQL with bound values, never SQL text.

Text matches by prefix (what the columns' indexes serve), choices and yes/no by value,
numbers and dates by a range. Values are checked by the field's own coercion first, so a
range bound that is not a number is reported beside its box instead of reaching the query.
Personal fields and lookups get no filter: a prefix filter on a masked phone would let a
user probe for numbers they may not see.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from admin_ui.fields import label, options
from engine.compiled import CompiledObject
from engine.records import Actor
from engine.records.messages import message
from metadata.model.fields import FieldType

__all__ = ["ListFilter", "ListFilters", "list_filters"]

_TEXT = {FieldType.TEXT, FieldType.EMAIL, FieldType.URL, FieldType.AUTONUMBER}
_CHOICE = {FieldType.PICKLIST}
_RANGE = {FieldType.INTEGER, FieldType.DECIMAL, FieldType.CURRENCY, FieldType.PERCENT,
          FieldType.DATE, FieldType.DATETIME}  # fmt: skip
_YES_NO = {"en": (("true", "Yes"), ("false", "No")), "zh-CN": (("true", "是"), ("false", "否"))}


@dataclass
class ListFilter:
    """One column's filter control: its kind (text, choice, range) and what was asked."""

    name: str
    label: str
    kind: str
    input: str = "text"
    value: str = ""
    low: str = ""
    high: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    error: str = ""


@dataclass
class ListFilters:
    controls: list[ListFilter]
    #: The conditions asked for, and-ed (None when nothing is asked).
    rule: Any
    #: The query-string parameters that ask for them, to keep on sort and page links.
    params: list[tuple[str, str]]

    @property
    def active(self) -> bool:
        return bool(self.params)

    @property
    def query(self) -> str:
        return urlencode(self.params)


def list_filters(
    cobj: CompiledObject, columns: list[str], query: Any, actor: Actor
) -> ListFilters:
    """The filter controls for ``columns`` and the rule of what ``query`` asks for."""
    controls, rules, params = [], [], []
    for name in columns:
        fdef = cobj.fields.get(name)
        if fdef is None or getattr(fdef, "pii", False) or getattr(fdef, "to", None):
            continue
        kind = fdef.kind
        control = ListFilter(name=name, label=label(cobj, name, actor.locale), kind="")
        key = f"f.{name}"
        if kind in _TEXT or kind in _CHOICE or kind is FieldType.BOOLEAN:
            control.kind = "text" if kind in _TEXT else "choice"
            if kind in _CHOICE:
                control.options = options(fdef, actor.locale)
            elif kind is FieldType.BOOLEAN:
                control.options = list(_YES_NO.get(actor.locale, _YES_NO["en"]))
            control.value = (query.get(key) or "").strip()[:200]
            if control.value:
                params.append((key, control.value))
                if kind in _TEXT:
                    rules.append({"starts_with": [{"var": name}, control.value]})
                elif kind is FieldType.BOOLEAN:
                    rules.append({"==": [{"var": name}, control.value == "true"]})
                elif control.value in dict(control.options):
                    rules.append({"==": [{"var": name}, control.value]})
        elif kind in _RANGE:
            control.kind = "range"
            control.input = "date" if kind in (FieldType.DATE, FieldType.DATETIME) else "number"
            control.low = (query.get(f"{key}.from") or "").strip()[:40]
            control.high = (query.get(f"{key}.to") or "").strip()[:40]
            for op, raw, suffix in ((">=", control.low, "from"), ("<=", control.high, "to")):
                if not raw:
                    continue
                params.append((f"{key}.{suffix}", raw))
                bound = _bound(fdef, raw, op, actor)
                if bound is None:
                    control.error = message("not_a_number" if control.input == "number"
                                            else "bad_date", label=control.label)[actor.locale]
                else:
                    rules.append(bound)
        else:
            continue
        controls.append(control)
    rule = None if not rules else rules[0] if len(rules) == 1 else {"and": rules}
    return ListFilters(controls, rule, params)


def _bound(fdef: Any, raw: str, op: str, actor: Actor) -> Any:
    """``op`` against the typed value of ``raw``; None when ``raw`` is not one."""
    kind = fdef.kind
    try:
        if kind is FieldType.DATETIME:  # a day in the user's time zone, from its start or
            day = dt.date.fromisoformat(raw)  # up to its end
            edge = dt.datetime.combine(day, dt.time.min, actor.tz)
            if op == "<=":
                return {"<": [{"var": fdef.name}, (edge + dt.timedelta(days=1)).isoformat()]}
            return {">=": [{"var": fdef.name}, edge.isoformat()]}
        if kind is FieldType.DATE:
            return {op: [{"var": fdef.name}, dt.date.fromisoformat(raw).isoformat()]}
        number = Decimal(raw.replace(",", ""))
    except (ValueError, InvalidOperation):
        return None
    if not number.is_finite():
        return None
    return {op: [{"var": fdef.name}, int(number) if kind is FieldType.INTEGER else float(number)]}
