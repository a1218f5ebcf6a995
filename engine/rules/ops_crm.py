"""CRM operators: the clock, date arithmetic, the acting user and update rules.

All of them read the evaluation environment (``EvalEnv``) rather than globals:

* ``{"now": []}``: the current date-time, aware, in the user's time zone.
* ``{"today": []}``: the current calendar date in the user's time zone.
* ``{"date_add": [value, amount, unit]}``: ``value`` moved by ``amount`` units
  (``years``, ``months``, ``weeks``, ``days``, ``hours``, ``minutes``, ``seconds``).
* ``{"date_diff": [end, start, unit]}``: whole units from ``start`` to ``end``,
  truncated toward zero (negative when ``end`` is earlier).
* ``{"has_role": [role, ...]}``: the user holds any of the roles.
* ``{"changed": "field"}``: the field's value differs from the stored record's.
* ``{"old": "field"}``: the stored record's value of the field (null on create).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ._codegen import Emitter
from .env import EvalEnv
from .errors import ProblemCode, RuleProblem
from .nodes import Literal, OpNode
from .registry import Kind, Operator
from .values import invalid, strict_eq, to_number

__all__ = ["DATE_UNITS", "OPERATORS"]

DATE_UNITS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")
_CALENDAR_UNITS = {"years", "months", "weeks", "days"}
_SECONDS = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}


def _to_temporal(value: Any, e: EvalEnv) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = (
                datetime.fromisoformat(value)
                if ("T" in value or " " in value)
                else (date.fromisoformat(value))
            )
        except ValueError:
            invalid(f"not a date: {value[:40]!r}")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return value
    invalid("expected a date or date-time")


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        invalid("date out of range")
    last = calendar.monthrange(year, month + 1)[1]
    return day.replace(year=year, month=month + 1, day=min(day.day, last))


def date_add(e: EvalEnv, value: Any, amount: Any, unit: Any = "days") -> Any:
    """``value`` moved by ``amount`` ``unit``s; null stays null."""
    moment = _to_temporal(value, e)
    if moment is None:
        return None
    if unit not in DATE_UNITS:
        invalid(f"unknown date unit {unit!r}")
    number = to_number(amount)
    try:
        if unit in ("years", "months"):
            return _add_months(moment, int(number) * (12 if unit == "years" else 1))
        if not isinstance(moment, datetime) and unit not in _CALENDAR_UNITS:
            moment = datetime.combine(moment, datetime.min.time(), tzinfo=e.tz)
        return moment + timedelta(seconds=float(number) * _SECONDS[unit])
    except (OverflowError, ValueError):
        invalid("date out of range")


def date_diff(e: EvalEnv, end: Any, start: Any, unit: Any = "days") -> Any:
    """Whole ``unit``s from ``start`` to ``end`` (truncated toward zero); null if either is."""
    a, b = _to_temporal(end, e), _to_temporal(start, e)
    if a is None or b is None:
        return None
    if unit not in DATE_UNITS:
        invalid(f"unknown date unit {unit!r}")
    if unit in ("years", "months"):
        months = (a.year - b.year) * 12 + a.month - b.month
        if months > 0 and a.day < b.day:
            months -= 1
        elif months < 0 and a.day > b.day:
            months += 1
        return int(months / 12) if unit == "years" else months
    if isinstance(a, datetime) != isinstance(b, datetime):
        a = a.astimezone(e.tz).date() if isinstance(a, datetime) else a
        b = b.astimezone(e.tz).date() if isinstance(b, datetime) else b
    seconds = (a - b).total_seconds()
    return int(seconds / _SECONDS[unit])


def has_role(e: EvalEnv, *roles: Any) -> bool:
    """The acting user holds at least one of ``roles``."""
    user = e.user
    if user is None:
        return False
    wanted = roles[0] if len(roles) == 1 and isinstance(roles[0], list) else roles
    return any(role in user.roles for role in wanted)


def changed(d: Any, e: EvalEnv, field: Any) -> bool:
    """The field differs from the stored record; on create, it has a value."""
    new = d.get(field) if isinstance(d, Mapping) else None
    if e.old is None:
        return new is not None
    return not strict_eq(new, e.old.get(field))


def old(e: EvalEnv, field: Any) -> Any:
    """The stored record's value of ``field``; null on create."""
    return e.old.get(field) if e.old is not None else None


def _gen_env(fn: Any, *, with_data: bool = False) -> Any:
    def gen(em: Emitter, node: OpNode) -> str:
        head = f"{em.helper(fn)}(" + ("d, " if with_data else "") + f"{em.env()}"
        return head + "".join(", " + em.expr(a) for a in node.args) + ")"

    return gen


def _gen_now(em: Emitter, node: OpNode) -> str:
    return f"{em.env()}.now()"


def _gen_today(em: Emitter, node: OpNode) -> str:
    return f"{em.env()}.now().date()"


def _check_unit(node: OpNode, context: Any) -> list[RuleProblem]:
    if len(node.args) > 2:
        unit = node.args[2]
        if isinstance(unit, Literal) and unit.value not in DATE_UNITS:
            return [RuleProblem(unit.path, ProblemCode.INVALID_ARGUMENTS,
                                f"unknown date unit {unit.value!r}",
                                _closest(unit.value, DATE_UNITS))]  # fmt: skip
    return []


def _check_field_name(node: OpNode, context: Any) -> list[RuleProblem]:
    arg = node.args[0] if node.args else None
    if not isinstance(arg, Literal) or arg.value.__class__ is not str:
        return [RuleProblem(node.path, ProblemCode.INVALID_ARGUMENTS,
                            f"{node.op!r} takes a field name written in the rule")]  # fmt: skip
    if context is not None and arg.value not in context.fields:
        return [RuleProblem(arg.path, ProblemCode.UNKNOWN_FIELD,
                            f"{context.object_name!r} has no field {arg.value!r}",
                            _closest(arg.value, list(context.fields)))]  # fmt: skip
    return []


def _closest(name: Any, options: Any) -> str | None:
    import difflib

    found = difflib.get_close_matches(str(name), list(options), n=1, cutoff=0.6)
    return found[0] if found else None


OPERATORS = [
    Operator("now", _gen_now, max_args=0, result=Kind.DATETIME, uses_env=True,
             doc="current date-time in the user's time zone"),
    Operator("today", _gen_today, max_args=0, result=Kind.DATE, uses_env=True,
             doc="current date in the user's time zone"),
    Operator("date_add", _gen_env(date_add), min_args=2, max_args=3, result=Kind.ANY,
             check=_check_unit, uses_env=True, doc="date moved by an amount of units"),
    Operator("date_diff", _gen_env(date_diff), min_args=2, max_args=3, result=Kind.NUMBER,
             check=_check_unit, uses_env=True, doc="whole units between two dates"),
    Operator("has_role", _gen_env(has_role), min_args=1, result=Kind.BOOL, uses_env=True,
             doc="the acting user holds one of the roles"),
    Operator("changed", _gen_env(changed, with_data=True), min_args=1, max_args=1,
             result=Kind.BOOL, check=_check_field_name, uses_env=True,
             doc="field differs from the stored record"),
    Operator("old", _gen_env(old), min_args=1, max_args=1, check=_check_field_name,
             uses_env=True, doc="the stored record's value of a field"),
]  # fmt: skip
