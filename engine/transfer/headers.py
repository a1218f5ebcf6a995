"""Which field each CSV column fills: by field name, or by its zh-CN or English label.

Consultants receive spreadsheets headed ``名称, 电话, 邮箱`` or ``Name, Phone, E-mail``
as often as ``name, phone, email``, so all three are accepted, ignoring case, spaces,
underscores and hyphens. A field name wins over a label; a label shared by two fields
is refused rather than guessed. Columns that cannot be written on purpose (system
columns such as ``id``, computed fields, a reject file's ``_row``/``_errors``) are
listed as ignored, so an export or a fixed-up reject file imports as it is. Any other
column nobody can map stops the import before a row is written, with a "did you mean".
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from engine.compiled import CompiledObject
from engine.transfer.errors import TransferError, transfer_message
from metadata.check import SYSTEM_FIELDS as SYSTEM_COLUMNS
from metadata.model.common import Text
from metadata.model.fields import FieldType

__all__ = ["ERRORS_COLUMN", "ROW_COLUMN", "HeaderMap", "map_headers", "normalize"]

ROW_COLUMN = "_row"
ERRORS_COLUMN = "_errors"
#: System columns a caller may set (the record service asks the authorizer).
_ASSIGNABLE = frozenset({"owner", "org_unit"})
_COMPUTED = (FieldType.FORMULA, FieldType.ROLLUP, FieldType.AUTONUMBER)
_LOCALES = ("zh-CN", "en")
_NOISE = re.compile(r"[\s_\-\ufeff]+")


def normalize(header: str) -> str:
    """The form headers are compared in: case-folded, without spaces, ``_`` or ``-``."""
    return _NOISE.sub("", header).casefold()


@dataclass(frozen=True)
class HeaderMap:
    """Column positions and the fields they fill.

    Attributes:
        headers: The file's header cells as written (a BOM removed).
        columns: (position, field name) of every column that is imported.
        ignored: Headers of columns read but not written (system or computed fields).
    """

    headers: list[str]
    columns: list[tuple[int, str]]
    ignored: list[str] = field(default_factory=list)

    def header_of(self, field_name: str | None) -> str:
        """The column a field came from, for messages the user reads beside the file."""
        for position, name in self.columns:
            if name == field_name:
                return self.headers[position]
        return field_name or "*"

    def values(self, cells: list[str]) -> dict[str, str]:
        """The row's non-empty cells by field; an empty cell gives the field no value."""
        out: dict[str, str] = {}
        for position, name in self.columns:
            if position < len(cells) and cells[position].strip():
                out[name] = cells[position]
        return out


def map_headers(cobj: CompiledObject, headers: list[str]) -> HeaderMap:
    """Map ``headers`` onto ``cobj``'s fields.

    Raises:
        TransferError: ``unknown_headers`` (with suggestions), ``ambiguous_header`` or
            ``duplicate_header``; nothing has been written.
    """
    headers = [h.lstrip("\ufeff").strip() for h in headers]
    by_name, by_label, shown = _index(cobj)
    columns: list[tuple[int, str]] = []
    ignored: list[str] = []
    unknown: list[str] = []
    taken: dict[str, str] = {}
    for position, header in enumerate(headers):
        if header in (ROW_COLUMN, ERRORS_COLUMN):
            ignored.append(header)
            continue
        key = normalize(header)
        name = by_name.get(header) or by_name.get(key)
        if name is None and key in by_label:
            candidates = sorted(by_label[key])
            if len(candidates) > 1:
                fields = ", ".join(candidates)
                raise TransferError.of("ambiguous_header", header=header, fields=fields)
            name = candidates[0]
        if name is None:
            if header:
                unknown.append(header)
            continue
        fdef = cobj.fields.get(name)
        if (name in SYSTEM_COLUMNS and name not in _ASSIGNABLE) or (
            fdef is not None and fdef.kind in _COMPUTED
        ):
            ignored.append(header)
            continue
        if name in taken:
            raise TransferError.of("duplicate_header", first=taken[name], second=header, field=name)
        taken[name] = header
        columns.append((position, name))
    if unknown:
        raise TransferError.of(
            "unknown_headers", object=cobj.obj.label, headers=_hints(unknown, shown)
        )
    return HeaderMap(headers=headers, columns=columns, ignored=ignored)


def _index(cobj: CompiledObject) -> tuple[dict[str, str], dict[str, set[str]], dict[str, str]]:
    """Lookup tables: exact and normalised names, normalised labels, and display forms."""
    by_name: dict[str, str] = {}
    by_label: dict[str, set[str]] = {}
    shown: dict[str, str] = {}  # normalised candidate -> how to suggest it
    for name in [*cobj.fields, *SYSTEM_COLUMNS]:
        by_name[name] = name
        by_name.setdefault(normalize(name), name)
        shown.setdefault(normalize(name), name)
    for fdef in cobj.obj.fields:
        label: Text = fdef.label or {}
        for locale in _LOCALES:
            text = label.get(locale)
            if text:
                by_label.setdefault(normalize(text), set()).add(fdef.name)
                shown.setdefault(normalize(text), text)
    return by_name, by_label, shown


def _hints(unknown: list[str], shown: dict[str, str]) -> Text:
    """The unknown headers, each with its closest field name or label when one is close."""
    out: Text = {}
    for locale in _LOCALES:
        parts = []
        for header in unknown:
            close = difflib.get_close_matches(normalize(header), list(shown), n=1, cutoff=0.6)
            if close:
                hint = transfer_message("did_you_mean", header=header, hint=shown[close[0]])
                parts.append(hint[locale])
            else:
                parts.append(header)
        out[locale] = ", ".join(parts)
    return out
