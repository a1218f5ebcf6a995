"""Type coercion and normalisation: what a field accepts and how it is stored.

Input arrives as JSON-ish values (strings from forms and CSV, numbers from the API).
Each field type has one coercer, registered by type; it returns the stored value or
raises ``Invalid`` with an error code. Normalisation is part of coercion: text is
trimmed, e-mails lower-cased, phones stored in E.164 (default region from the field,
CN unless set), decimals quantised to the field's scale, date-times made aware (the
user's time zone when none is given) and stored in UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import nh3
import phonenumbers

from engine.rules.errors import RuleError
from engine.rules.safe_regex import compile_matcher
from metadata.model.fields import FieldType

__all__ = ["RICH_TEXT_TAGS", "URL_SCHEMES", "Invalid", "coerce", "sanitize_html"]

_FILE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = {"true", "1", "yes", "y", "是", "on"}
_FALSE = {"false", "0", "no", "n", "否", "off"}


class Invalid(ValueError):
    """A value the field cannot hold; ``code`` keys the message, ``extra`` fills it."""

    def __init__(self, code: str, **extra: object):
        self.code = code
        self.extra = extra
        super().__init__(code)


Coercer = Callable[[Any, Any, ZoneInfo], Any]


def coerce(field: Any, value: Any, tz: ZoneInfo) -> Any:
    """The stored form of ``value`` for ``field``; None and "" mean no value."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return [] if field.kind is FieldType.MULTI_PICKLIST else None
    return _COERCERS[field.kind](field, value, tz)


def _text(field: Any, value: Any, _tz: ZoneInfo) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise Invalid("not_text")
    text = str(value).strip()
    if "\x00" in text:  # no database stores it in text (PostgreSQL refuses it outright)
        raise Invalid("control_character")
    limit = getattr(field, "max_length", None)
    if limit is not None and len(text) > limit:
        raise Invalid("too_long", limit=limit)
    pattern = getattr(field, "pattern", None)
    if pattern:
        try:
            matched = _whole_match(pattern)(text)
        except RuleError:  # longer than the matcher takes
            matched = False
        if not matched:
            raise Invalid("pattern")
    return text


@functools.lru_cache(maxsize=512)
def _whole_match(pattern: str) -> Callable[[Any], bool]:
    """A linear-time matcher for the whole value (patterns are checked at validate time)."""
    return compile_matcher(f"^(?:{pattern})$")


#: What an integer column holds (64 bits on either database).
_INTEGER_RANGE = (-(2**63), 2**63 - 1)


def _integer(field: Any, value: Any, _tz: ZoneInfo) -> int:
    number = _decimal_of(value)
    low, high = _INTEGER_RANGE  # checked first: int() of 1E+999999999 would never end
    if number < low:
        raise Invalid("below_min", limit=low)
    if number > high:
        raise Invalid("above_max", limit=high)
    if number != number.to_integral_value():
        raise Invalid("not_an_integer")
    result = int(number)
    _check_range(field, result)
    return result


def _decimal(field: Any, value: Any, _tz: ZoneInfo) -> Decimal:
    number = _decimal_of(value)
    quantum = Decimal(1).scaleb(-field.scale)
    try:
        rounded = number.quantize(quantum, rounding=ROUND_HALF_EVEN)
    except InvalidOperation:  # more digits than any field holds (1E+40 at scale 2)
        raise Invalid("too_many_digits", precision=field.precision, scale=field.scale) from None
    if rounded != number or len(rounded.as_tuple().digits) > field.precision:
        raise Invalid("too_many_digits", precision=field.precision, scale=field.scale)
    _check_range(field, rounded)
    return rounded


def _decimal_of(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise Invalid("not_a_number")
    try:
        number = (
            Decimal(str(value).strip().replace(",", ""))
            if isinstance(value, str)
            else Decimal(str(value))
        )
    except InvalidOperation as exc:
        raise Invalid("not_a_number") from exc
    if not number.is_finite():
        raise Invalid("not_a_number")
    return number


def _check_range(field: Any, number: Any) -> None:
    low, high = getattr(field, "min_value", None), getattr(field, "max_value", None)
    if low is not None and number < Decimal(str(low)):
        raise Invalid("below_min", limit=low)
    if high is not None and number > Decimal(str(high)):
        raise Invalid("above_max", limit=high)


def _boolean(_field: Any, value: Any, _tz: ZoneInfo) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Invalid("not_boolean")


def _date(_field: Any, value: Any, tz: ZoneInfo) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.astimezone(tz).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise Invalid("bad_date") from exc


def _datetime(_field: Any, value: Any, tz: ZoneInfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).strip())
        except ValueError as exc:
            raise Invalid("bad_datetime") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(dt.UTC)


def _time(_field: Any, value: Any, _tz: ZoneInfo) -> dt.time:
    """A wall-clock time of day (opening hours, a call window): no time zone, so any two
    compare. An offset is refused rather than dropped, since dropping it changes the time."""
    if not isinstance(value, dt.time):
        try:
            value = dt.time.fromisoformat(str(value).strip())
        except ValueError as exc:
            raise Invalid("bad_time") from exc
    if not isinstance(value, dt.time) or value.tzinfo is not None:
        raise Invalid("bad_time")
    return value


def _email(field: Any, value: Any, tz: ZoneInfo) -> str:
    text = _text(field, value, tz).lower()
    if len(text) > 320 or not _EMAIL.match(text):
        raise Invalid("bad_email")
    return text


def _phone(field: Any, value: Any, _tz: ZoneInfo) -> str:
    try:
        number = phonenumbers.parse(str(value), field.default_region)
    except phonenumbers.NumberParseException as exc:
        raise Invalid("bad_phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise Invalid("bad_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


#: Schemes a url field holds: web pages only (e-mail addresses have the ``email`` type),
#: so no stored link can run script (``javascript:``) or carry a document (``data:``).
URL_SCHEMES = frozenset({"http", "https"})
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:(?!\d)")  # "host:8080" is a port, not one
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def _url(_field: Any, value: Any, _tz: ZoneInfo) -> str:
    """A web address: http(s), a real host name or IP address, no user name or password
    (``https://bank.com@evil.example`` shows one host and opens another). A bare host
    (``example.com/x``) gets ``https://``; anything else with a scheme is refused."""
    if not isinstance(value, str):
        raise Invalid("bad_url")
    text = value.strip()
    if len(text) > 2048 or any(c.isspace() or not c.isprintable() for c in text):
        raise Invalid("bad_url")
    if "://" not in text:
        if _SCHEME.match(text):
            raise Invalid("bad_url")  # javascript:…, mailto:…, data:…
        text = "https://" + text
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        raise Invalid("bad_url") from None
    if parts.scheme.lower() not in URL_SCHEMES or "@" in parts.netloc:
        raise Invalid("bad_url")
    if not _real_host(parts.hostname or ""):
        raise Invalid("bad_url")
    return text


def _real_host(host: str) -> bool:
    """An IP address, or a dotted DNS name (IDNA, so 例子.中国 too) whose top label is not
    all digits."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        name = host.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = name.split(".")
    return (
        len(labels) > 1
        and len(name) <= 253
        and all(_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


def _picklist(field: Any, value: Any, _tz: ZoneInfo) -> str:
    return _choice(field, str(value).strip())


def _choice(field: Any, code: str) -> str:
    for option in field.values:
        if option.value == code:
            if not option.active:
                raise Invalid("inactive_choice", value=code)
            return code
    raise Invalid("not_a_choice", value=code)


def _multi_picklist(field: Any, value: Any, _tz: ZoneInfo) -> list[str]:
    items = value.split(";") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise Invalid("not_a_choice", value=value)
    chosen = list(dict.fromkeys(_choice(field, str(i).strip()) for i in items if str(i).strip()))
    if field.max_selections is not None and len(chosen) > field.max_selections:
        raise Invalid("too_many_choices", limit=field.max_selections)
    return chosen


def _reference(_field: Any, value: Any, _tz: ZoneInfo) -> str:
    if isinstance(value, dict) and "id" in value:
        value = value["id"]
    text = str(value).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", text):
        raise Invalid("bad_reference")
    return (
        text if "-" in text else f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    )


def _json(_field: Any, value: Any, _tz: ZoneInfo) -> Any:
    if not isinstance(value, dict | list | str | int | float | bool):
        raise Invalid("bad_json")
    return value


#: What rich text may keep: structure and emphasis, links to web and mail addresses.
#: Everything else (scripts, styles, event attributes, images, frames) is removed.
RICH_TEXT_TAGS = frozenset(
    {"p", "br", "b", "strong", "i", "em", "u", "s", "ul", "ol", "li", "a", "h3", "h4",
     "blockquote", "code", "pre"}
)  # fmt: skip


def sanitize_html(html: str) -> str:
    """``html`` reduced to the rich-text allow-list (nh3, an HTML5 parser, does the work)."""
    return nh3.clean(
        html,
        tags=set(RICH_TEXT_TAGS),
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def _rich_text(field: Any, value: Any, tz: ZoneInfo) -> str:
    return sanitize_html(_text(field, value, tz))


def _attachments(field: Any, value: Any, _tz: ZoneInfo) -> list[dict[str, str]]:
    """Uploaded files by id (``"id"``, ``{"id": ...}`` or a list of either); the record
    service checks that they exist and fills in their name, type and size."""
    items = value if isinstance(value, list) else [value]
    refs = []
    for item in items:
        file_id = item.get("id") if isinstance(item, dict) else item
        if not isinstance(file_id, str) or not _FILE_ID.fullmatch(file_id.strip().lower()):
            raise Invalid("bad_file")  # files are named by uuid (PostgreSQL refuses others)
        refs.append({"id": file_id.strip().lower()})
    if len(refs) > 1 and not field.multiple:
        raise Invalid("too_many_files")
    return refs


def _geolocation(_field: Any, value: Any, _tz: ZoneInfo) -> dict[str, float]:
    try:
        lat, lng = float(value["lat"]), float(value["lng"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Invalid("bad_geolocation") from exc
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise Invalid("bad_geolocation")
    return {"lat": lat, "lng": lng}


def _address(field: Any, value: Any, _tz: ZoneInfo) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) - set(field.components):
        raise Invalid("bad_address", limit=", ".join(field.components))
    return {k: str(v).strip() for k, v in value.items() if v not in (None, "")}


def _computed(_field: Any, _value: Any, _tz: ZoneInfo) -> Any:
    raise Invalid("computed")


_COERCERS: dict[FieldType, Coercer] = {
    FieldType.TEXT: _text,
    FieldType.LONG_TEXT: _text,
    FieldType.RICH_TEXT: _rich_text,
    FieldType.INTEGER: _integer,
    FieldType.DECIMAL: _decimal,
    FieldType.CURRENCY: _decimal,
    FieldType.PERCENT: _decimal,
    FieldType.BOOLEAN: _boolean,
    FieldType.DATE: _date,
    FieldType.DATETIME: _datetime,
    FieldType.TIME: _time,
    FieldType.EMAIL: _email,
    FieldType.PHONE: _phone,
    FieldType.URL: _url,
    FieldType.PICKLIST: _picklist,
    FieldType.MULTI_PICKLIST: _multi_picklist,
    FieldType.LOOKUP: _reference,
    FieldType.MASTER_DETAIL: _reference,
    FieldType.USER: _reference,
    FieldType.FORMULA: _computed,
    FieldType.ROLLUP: _computed,
    FieldType.AUTONUMBER: _computed,
    FieldType.JSON: _json,
    FieldType.ATTACHMENT: _attachments,
    FieldType.GEOLOCATION: _geolocation,
    FieldType.ADDRESS: _address,
}
