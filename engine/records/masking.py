"""Masked forms of personal data, per field type.

A masked value keeps just enough to recognise a record (``138****5678``, ``z***@qq.com``,
``张*``) and never enough to contact the person. Masks keep the field's JSON type where a
partial value makes sense; a date masks to null (a partial birthday is still personal).
"""

from __future__ import annotations

from typing import Any

import phonenumbers

from metadata.model.fields import FieldType

__all__ = ["mask"]

_STAR = "*"
_TEXTS = (FieldType.TEXT, FieldType.LONG_TEXT, FieldType.RICH_TEXT, FieldType.URL)


def mask(kind: FieldType, value: Any) -> Any:
    """``value`` of a field of type ``kind``, masked."""
    if value is None:
        return None
    if kind is FieldType.PHONE:
        return _phone(str(value))
    if kind is FieldType.EMAIL:
        return _email(str(value))
    if kind is FieldType.ADDRESS and isinstance(value, dict):
        return _address(value)
    if kind in _TEXTS and isinstance(value, str):
        return _text(value)
    return None  # dates, numbers, JSON: nothing partial is safe to show


def _keep_ends(text: str, head: int, tail: int) -> str:
    hidden = len(text) - head - tail
    return text[:head] + _STAR * hidden + (text[-tail:] if tail else "")


def _phone(value: str) -> str:
    """``+8613812345678`` → ``138****5678``: the national number, middle digits hidden."""
    if value.startswith("+86") and value[3:].isdigit():
        national = value[3:]  # stored numbers are E.164: most are Chinese, parsed at once
    else:
        try:
            national = str(phonenumbers.parse(value, None).national_number)
        except phonenumbers.NumberParseException:
            national = "".join(ch for ch in value if ch.isdigit())
    if len(national) >= 8:
        return _keep_ends(national, 3, 4)
    return _keep_ends(national, 0, min(2, len(national)))


def _email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not at:
        return _text(value)
    return f"{local[:1]}***@{domain}"


def _text(value: str) -> str:
    """Identifiers (8+ characters, no spaces) keep their first 3 and last 4 characters;
    names keep the first character of each word: ``张三丰`` → ``张**``, ``Li Lei`` →
    ``L* L**``."""
    if len(value) >= 8 and " " not in value:
        return _keep_ends(value, 3, 4)
    return " ".join(word[:1] + _STAR * (len(word) - 1) for word in value.split(" "))


def _address(value: dict[str, Any]) -> dict[str, Any]:
    """Province and city stay (they place a customer, not a person); the rest is hidden."""
    return {
        key: part if key in ("province", "city", "country") or part in (None, "") else "***"
        for key, part in value.items()
    }
