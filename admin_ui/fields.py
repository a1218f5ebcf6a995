"""Fields as the UI shows them: labels in the user's language, values for reading and for
editing, the widget each type gets, and form input turned back into record values.

Turning input into typed values is the record service's job (it coerces strings as an
import does); here an empty box only becomes "no value" and a checkbox a boolean.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

from engine.compiled import CompiledObject
from engine.records.coerce import sanitize_html
from engine.storage.tables import SYSTEM_COLUMNS
from metadata.model.fields import FieldType

__all__ = [
    "FieldView", "address_parts", "currency_symbol", "display", "file_size", "form_values", "label",
    "object_label", "rich_text", "widget",
]  # fmt: skip

_WIDGETS = {
    FieldType.LONG_TEXT: "textarea",
    FieldType.RICH_TEXT: "textarea",
    FieldType.INTEGER: "number",
    FieldType.DECIMAL: "number",
    FieldType.CURRENCY: "number",
    FieldType.PERCENT: "number",
    FieldType.DATE: "date",
    FieldType.DATETIME: "datetime-local",
    FieldType.BOOLEAN: "checkbox",
    FieldType.PICKLIST: "select",
    FieldType.MULTI_PICKLIST: "multiselect",
    FieldType.EMAIL: "email",
    FieldType.PHONE: "tel",
    FieldType.URL: "url",
    FieldType.ATTACHMENT: "files",
    FieldType.ADDRESS: "address",
}
_SYSTEM_LABELS = {
    "id": {"en": "ID", "zh-CN": "编号"},
    "owner": {"en": "Owner", "zh-CN": "负责人"},
    "org_unit": {"en": "Org unit", "zh-CN": "所属组织"},
    "created_at": {"en": "Created", "zh-CN": "创建时间"},
    "updated_at": {"en": "Last modified", "zh-CN": "最后修改"},
}
_YES_NO = {"en": ("Yes", "No"), "zh-CN": ("是", "否")}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "HKD": "HK$", "JPY": "JP¥",
            "TWD": "NT$", "KRW": "₩"}  # fmt: skip
#: An address's parts as the form labels them.
ADDRESS_PARTS = {
    "country": {"en": "Country", "zh-CN": "国家"},
    "province": {"en": "Province", "zh-CN": "省份"},
    "city": {"en": "City", "zh-CN": "城市"},
    "district": {"en": "District", "zh-CN": "区县"},
    "street": {"en": "Street", "zh-CN": "街道地址"},
    "postal_code": {"en": "Postal code", "zh-CN": "邮编"},
}


@dataclass
class FieldView:
    """One field on a form: everything the template needs, nothing it must work out."""

    name: str
    label: str
    widget: str
    value: str = ""
    values: list[str] = field(default_factory=list)
    shown: str = ""
    required: bool = False
    read_only: bool = False
    error: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    #: Hidden by the layout's ``visible_when`` as the form stands.
    hidden: bool = False
    #: Personal data: reads show it masked, so its box starts empty (the masked value as
    #: a hint) and an empty box leaves the stored value as it is.
    personal: bool = False
    #: Required by the layout's ``required_when`` as the form stands (checked by the UI;
    #: the object's own required fields are the record service's to check).
    required_now: bool = False
    #: Shown masked to a role that may see it unmasked (one value at a time, audited).
    revealable: bool = False
    #: After a conflict: the value the other person saved, where it differs from ours.
    theirs: str = ""
    theirs_value: str = ""
    #: An attachment field's files (id, name, size), each downloadable from the record.
    files: list[dict[str, Any]] = field(default_factory=list)
    #: Rich text as markup, sanitised to the allow-list again as it is shown.
    html: Markup | None = None
    #: What an attachment field takes: the file chooser's ``accept``, one file or many.
    accept: str = ""
    multiple: bool = False
    #: The object a lookup points to (its form box searches as the user types).
    lookup: str = ""
    #: Where the record a lookup shows lives in the UI (when the user may read it).
    link: str = ""
    #: Rich text: the box takes the allow-listed HTML tags.
    rich: bool = False
    #: A currency field's symbol, shown before its box.
    symbol: str = ""
    #: An address's boxes: (part, label, value), in the field's order of parts.
    parts: list[tuple[str, str, str]] = field(default_factory=list)


def _text(labels: Mapping[str, str] | None, locale: str, fallback: str) -> str:
    if not labels:
        return fallback
    return labels.get(locale) or labels.get("en") or next(iter(labels.values()), fallback)


def label(cobj: CompiledObject, name: str, locale: str) -> str:
    fdef = cobj.fields.get(name)
    if fdef is None:
        return _text(_SYSTEM_LABELS.get(name), locale, name)
    return _text(fdef.label, locale, name)


def object_label(cobj: CompiledObject, locale: str, plural: bool = False) -> str:
    labels = (cobj.obj.plural_label if plural else None) or cobj.obj.label
    return _text(labels, locale, cobj.name)


def widget(cobj: CompiledObject, name: str) -> str:
    fdef = cobj.fields.get(name)
    return _WIDGETS.get(fdef.kind, "text") if fdef is not None else "text"


def options(fdef: Any, locale: str) -> list[tuple[str, str]]:
    """(value, label) of a picklist's active choices, in their order."""
    choices = [v for v in getattr(fdef, "values", []) if getattr(v, "active", True)]
    choices.sort(key=lambda v: (v.order is None, v.order or 0))
    return [(v.value, _text(v.label, locale, v.value)) for v in choices]


def display(cobj: CompiledObject, name: str, value: Any, locale: str, tz: ZoneInfo) -> str:
    """``value`` as a person reads it: choice labels, yes/no, local date-times."""
    if value is None or value == "" or value == []:
        return ""
    fdef = cobj.fields.get(name)
    kind = fdef.kind if fdef is not None else None
    if kind is FieldType.ATTACHMENT and isinstance(value, list):
        return ", ".join(str(ref.get("name", "")) for ref in value if isinstance(ref, dict))
    if isinstance(value, dict) and "id" in value:  # an expanded lookup
        title = value.get("title")
        return str(title if title is not None else value["id"])
    if kind in (FieldType.PICKLIST, FieldType.MULTI_PICKLIST):
        names = dict(options(fdef, locale))
        chosen = value if isinstance(value, list) else [value]
        return ", ".join(names.get(v, str(v)) for v in chosen)
    if isinstance(value, bool):
        yes, no = _YES_NO.get(locale, _YES_NO["en"])
        return yes if value else no
    if isinstance(value, str) and kind in (FieldType.DATE, FieldType.DATETIME):
        value = _parsed(value, kind)
    if isinstance(value, dt.datetime):
        local = value.astimezone(tz)
        return f"{_day(local.date(), locale)} {local:%H:%M}"
    if isinstance(value, dt.date):
        return _day(value, locale)
    if kind is FieldType.CURRENCY and isinstance(value, Decimal | int | float):
        code = fdef.currency
        return f"{_SYMBOLS.get(code, code + ' ')}{Decimal(str(value)):,.{fdef.scale}f}"
    if kind is FieldType.PERCENT and isinstance(value, Decimal | int | float):
        return f"{_number(Decimal(str(value)))}%"
    if isinstance(value, Decimal):
        return _number(value)
    if kind is FieldType.ADDRESS and isinstance(value, dict):
        parts = [str(value[c]) for c in fdef.components if value.get(c)]
        return ("" if locale == "zh-CN" else ", ").join(parts)
    if isinstance(value, dict):
        return " ".join(str(v) for v in value.values() if v)
    return str(value)


def address_parts(
    fdef: Any, value: Any, locale: str, personal: bool
) -> list[tuple[str, str, str]]:
    """The boxes of an address field; a personal one starts empty (it is read masked)."""
    given = value if isinstance(value, dict) and not personal else {}
    return [(c, _text(ADDRESS_PARTS[c], locale, c), str(given.get(c) or ""))
            for c in fdef.components]  # fmt: skip


def rich_text(value: Any) -> Markup | None:
    """Stored rich text as markup to show: only what the sanitiser's allow-list keeps."""
    return Markup(sanitize_html(str(value))) if value else None


def file_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def currency_symbol(fdef: Any) -> str:
    return _SYMBOLS.get(fdef.currency, fdef.currency) if fdef.kind is FieldType.CURRENCY else ""


def _parsed(text: str, kind: FieldType) -> Any:
    """A date or date-time as JSON keeps it (field history), back as a value; the text as
    it is when it is neither."""
    try:
        if kind is FieldType.DATE:
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    except ValueError:
        return text


def _day(day: dt.date, locale: str) -> str:
    """A date as people in the locale write it (ISO in Chinese, as 2026-11-23 reads there)."""
    if locale == "en":
        return f"{_MONTHS[day.month - 1]} {day.day}, {day.year}"
    return day.isoformat()


def _number(value: Decimal) -> str:
    return f"{value:,.{max(0, -value.as_tuple().exponent)}f}"  # type: ignore[operator]


def input_value(cobj: CompiledObject, name: str, value: Any, tz: ZoneInfo) -> str:
    """``value`` as an input box holds it."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, dict) and "id" in value:
        return str(value["id"])
    return str(value)


def form_values(cobj: CompiledObject, names: list[str], form: Any, tz: ZoneInfo) -> dict[str, Any]:
    """The fields ``names`` from a submitted form, for the record service."""
    values: dict[str, Any] = {}
    for name in names:
        fdef = cobj.fields.get(name)
        if fdef is None or name in SYSTEM_COLUMNS:
            continue
        if fdef.kind is FieldType.BOOLEAN:
            values[name] = form.get(name) == "on"
        elif fdef.kind is FieldType.ATTACHMENT:  # files come and go on the record page
            continue
        elif fdef.kind is FieldType.ADDRESS:
            parts = {c: str(form.get(f"{name}.{c}") or "").strip() for c in fdef.components}
            values[name] = {c: v for c, v in parts.items() if v} or None
        elif fdef.kind is FieldType.MULTI_PICKLIST:
            chosen = form.get(name) or []
            values[name] = [v for v in ([chosen] if isinstance(chosen, str) else chosen) if v]
        else:
            text = str(form.get(name) or "").strip()
            if fdef.kind is FieldType.DATETIME and text:
                moment = dt.datetime.fromisoformat(text)
                text = moment.replace(tzinfo=moment.tzinfo or tz).isoformat()
            values[name] = text or None
    return values
