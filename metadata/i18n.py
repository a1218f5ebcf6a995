"""Resolve labels to ``{locale: text}`` everywhere in a metadata value.

A label is inline (``{en: Lead, zh-CN: 线索}``) or a key into the packs' ``i18n/`` catalogs.
Any Struct attribute typed ``Label`` is found by inspecting the Struct, so a new kind of
metadata gets translated without touching this module. A missing translation falls back
to ``en`` and is recorded as a warning, which ``--strict-i18n`` turns into an error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import msgspec
import msgspec.inspect as mi

from metadata.model.common import LOCALES, Text
from metadata.problems import Problem, Severity, did_you_mean, format_path
from metadata.typeinfo import is_label, leaves

__all__ = ["Translator", "humanize"]

Path = tuple[str | int, ...]
Locate = Callable[[Path], tuple[str | None, int | None]]

_FALLBACK = "en"
_NAME_KEYS = ("name", "value")


def humanize(name: str) -> str:
    """``test_drive`` -> ``Test drive``: the English label when none is written."""
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


class Translator:
    """Turns labels into Text using merged catalogs, collecting problems as it goes."""

    def __init__(self, catalogs: dict[str, dict[str, str]]):
        self.catalogs = catalogs
        self.problems: list[Problem] = []
        self._keys = sorted({k for catalog in catalogs.values() for k in catalog})

    def text(
        self, label: Any, path: Path, locate: Locate, default: str | None = None
    ) -> Text | None:
        """Resolve one label found at ``path``; ``default`` (English) fills a missing label."""
        file, line = locate(path)
        where = {"file": file, "line": line, "path": format_path(path)}
        if label is None:
            if default is None:
                return None
            self._missing(where, [loc for loc in LOCALES if loc != _FALLBACK], "label")
            return {_FALLBACK: default}
        if isinstance(label, dict):
            return self._inline(label, where)
        return self._keyed(str(label), where, default)

    def translate(self, value: Any, path: Path, locate: Locate) -> Any:
        """A copy of ``value`` (a Struct, list or dict of them) with every label resolved."""
        if isinstance(value, msgspec.Struct):
            return self._struct(value, path, locate)
        if isinstance(value, list | tuple):
            out = [self.translate(v, (*path, i), locate) for i, v in enumerate(value)]
            return type(value)(out)
        if isinstance(value, dict):
            return {k: self.translate(v, (*path, k), locate) for k, v in value.items()}
        return value

    def _struct(self, value: msgspec.Struct, path: Path, locate: Locate) -> msgspec.Struct:
        changes: dict[str, Any] = {}
        labels, nested = _label_fields(type(value))
        own_name = next((getattr(value, k) for k in _NAME_KEYS if hasattr(value, k)), None)
        for name in labels:
            current = getattr(value, name)
            default = humanize(own_name) if name == "label" and isinstance(own_name, str) else None
            resolved = self.text(current, (*path, name), locate, default)
            if resolved is not current:
                changes[name] = resolved
        for name in nested:
            current = getattr(value, name)
            translated = self.translate(current, (*path, name), locate)
            if translated is not current:
                changes[name] = translated
        return msgspec.structs.replace(value, **changes) if changes else value

    def _inline(self, label: dict[str, str], where: dict[str, Any]) -> Text:
        unknown = [loc for loc in label if loc not in LOCALES]
        for loc in unknown:
            self.problems.append(
                Problem(
                    code="unknown_locale",
                    message=f"no such locale {loc!r}",
                    expected="one of " + ", ".join(LOCALES),
                    suggestion=did_you_mean(loc, LOCALES),
                    **where,
                )
            )
        text = {loc: label[loc] for loc in LOCALES if loc in label}
        self._missing(where, [loc for loc in LOCALES if loc not in text], "translation")
        if _FALLBACK not in text and text:
            text[_FALLBACK] = next(iter(text.values()))
        return text or {_FALLBACK: ""}

    def _keyed(self, key: str, where: dict[str, Any], default: str | None) -> Text:
        text = {
            loc: self.catalogs[loc][key] for loc in LOCALES if key in self.catalogs.get(loc, {})
        }
        if not text:
            self.problems.append(
                Problem(
                    code="unknown_i18n_key",
                    message=f"no translation has the key {key!r}",
                    expected="an inline {en: ..., zh-CN: ...} label or a key in i18n/<locale>.yaml",
                    suggestion=did_you_mean(key, self._keys),
                    **where,
                )
            )
            return {_FALLBACK: default or key}
        self._missing(where, [loc for loc in LOCALES if loc not in text], f"translation of {key!r}")
        if _FALLBACK not in text:
            text[_FALLBACK] = next(iter(text.values()))
        return text

    def _missing(self, where: dict[str, Any], locales: list[str], what: str) -> None:
        for loc in locales:
            self.problems.append(
                Problem(
                    code="missing_translation",
                    message=f"no {loc} {what}; falls back to {_FALLBACK}",
                    severity=Severity.WARNING,
                    **where,
                )
            )


@functools.cache
def _label_fields(cls: type[msgspec.Struct]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split a Struct's attributes into labels and those that may contain labels."""
    labels: list[str] = []
    nested: list[str] = []
    for field in mi.type_info(cls).fields:
        if is_label(field.type):
            labels.append(field.name)
        elif _may_nest(field.type):
            nested.append(field.name)
    return tuple(labels), tuple(nested)


def _may_nest(info: mi.Type) -> bool:
    members = leaves(info)
    if len(members) > 1:
        return any(_may_nest(t) for t in members)
    info = members[0]
    if isinstance(info, mi.StructType):
        return True
    if isinstance(info, mi.ListType | mi.VarTupleType):
        return _may_nest(info.item_type)
    if isinstance(info, mi.DictType):
        return _may_nest(info.value_type)
    return False
