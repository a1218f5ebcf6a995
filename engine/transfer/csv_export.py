"""Exporting records to CSV, page by page through the record service.

Reads go through ``RecordService.list`` with its keyset cursor, so an export of any size
runs in bounded memory, sees exactly what the same filter shows in a list, and gets the
reader's row and field permissions from the service. Values are written plainly so the
file imports back unchanged: decimals as written digits, dates and times in ISO 8601,
multi-picklists as ``a;b``, lookups as the target's id, booleans as true/false.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
from collections.abc import Iterator
from decimal import Decimal
from enum import StrEnum
from typing import IO, Any

from engine.records import Actor, Page, RecordService
from engine.records.errors import localize

__all__ = ["HeaderStyle", "csv_chunks", "export_csv", "export_rows", "plain"]

_PAGE = 500


class HeaderStyle(StrEnum):
    """What the header row says: field labels (for people) or names (for scripts)."""

    LABEL = "label"
    NAME = "name"


def export_csv(
    service: RecordService,
    object_name: str,
    stream: IO[str],
    actor: Actor,
    *,
    filter: Any = None,
    fields: list[str] | None = None,
    sort: list[str] | None = None,
    locale: str = "en",
    header: HeaderStyle | str = HeaderStyle.LABEL,
) -> int:
    """Write ``object_name``'s records matching ``filter`` to ``stream``; the row count.

    Args:
        stream: A text stream opened with ``newline=""`` (``utf-8-sig`` for Excel).
        filter: A JsonLogic rule, as for a list.
        fields: Columns in order; default every field of the object the reader may read
            (no system columns).
        sort: Field names, ``-name`` for descending, as for a list.
        locale: The language of label headers.
        header: ``label`` or ``name``.

    Raises:
        NotFound: No such object.
        Forbidden: The actor's roles do not grant ``export`` on the object.
        BadQuery: An unknown field or a filter without an SQL form.
    """
    rows = export_rows(
        service,
        object_name,
        actor,
        filter=filter,
        fields=fields,
        sort=sort,
        locale=locale,
        header=header,
    )
    writer = csv.writer(stream)
    writer.writerow(next(rows))
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


_FLUSH = 64 * 1024  # characters of CSV per streamed chunk


def csv_chunks(rows: Iterator[list[str]]) -> Iterator[bytes]:
    """CSV bytes for a download, in chunks, read page by page as the client takes them;
    with a BOM, so Excel reads the UTF-8 (and the Chinese) right."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() >= _FLUSH:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def export_rows(
    service: RecordService,
    object_name: str,
    actor: Actor,
    *,
    filter: Any = None,
    fields: list[str] | None = None,
    sort: list[str] | None = None,
    locale: str = "en",
    header: HeaderStyle | str = HeaderStyle.LABEL,
) -> Iterator[list[str]]:
    """The cells ``export_csv`` writes: the header row, then one row per record.

    The first page is read before this returns, so a request that cannot run raises
    here rather than part-way through the rows; later pages are read as rows are taken.
    The arguments are those of ``export_csv``.

    Raises:
        NotFound: No such object.
        Forbidden: The actor's roles do not grant ``export`` on the object.
        BadQuery: An unknown field or a filter without an SQL form.
        ValueError: ``header`` is neither ``label`` nor ``name``.
    """
    style = HeaderStyle(header)
    cobj = service.compiled.objects.get(object_name)
    names = fields or (_visible(service, cobj, actor) if cobj else [])
    pages = service.export(object_name, actor, filter=filter, fields=names, sort=sort, limit=_PAGE)
    first = next(pages)  # raises now for a request that cannot run
    return _rows(first, pages, names, _headers(cobj, names, locale, style))


def _visible(service: RecordService, cobj: Any, actor: Actor) -> list[str]:
    """The default columns: every field of the object the reader may read, in order."""
    readable = service.authorizer.readable(actor, cobj)
    return [f.name for f in cobj.obj.fields if readable is None or f.name in readable]


def _rows(
    first: Page, pages: Iterator[Page], names: list[str], head: list[str]
) -> Iterator[list[str]]:
    yield head
    for page in itertools.chain([first], pages):
        for record in page.records:
            yield [plain(record.get(name)) for name in names]


def plain(value: Any) -> str:
    """A stored value as a CSV cell that the import's coercion reads back as the same value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _headers(cobj: Any, names: list[str], locale: str, style: HeaderStyle) -> list[str]:
    if style is HeaderStyle.NAME or cobj is None:
        return list(names)
    out = []
    for name in names:
        fdef = cobj.fields.get(name)
        out.append(localize(fdef.label, locale) if fdef is not None and fdef.label else name)
    return out
