"""Importing a CSV file through the record service: good rows land, bad rows come back.

The file is read row by row and written in chunks (one transaction each), so a file of
any size runs in bounded memory and a progress bar can follow the bytes read. Cells are
passed to the record service as the strings they are; its coercion parses numbers,
dates, booleans and picklists exactly as it does for the API and forms. Every row ends
either written or in the reject file, a copy of the original columns with the row
number and, in ``_errors``, each failure as "column: message" in the actor's language.
Fix the reject file and import it again: ``_row`` and ``_errors`` are ignored on import.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from engine.compiled import CompiledObject
from engine.records import Actor, FieldError, NotFound, RecordService, WriteOptions
from engine.records.errors import localize
from engine.transfer._writer import write_chunk
from engine.transfer.encoding import Source, open_source
from engine.transfer.errors import TransferError, row_error
from engine.transfer.headers import ERRORS_COLUMN, ROW_COLUMN, HeaderMap, map_headers
from engine.transfer.lookups import LookupResolver

__all__ = ["ImportProgress", "ImportReport", "RejectedRow", "WarnedRow", "import_csv"]

_DEFAULT = WriteOptions()


@dataclass(frozen=True)
class ImportProgress:
    """How far an import is, after each chunk (for a progress bar)."""

    rows: int
    bytes_read: int
    total_bytes: int | None


@dataclass(frozen=True)
class ImportReport:
    """What an import did.

    Attributes:
        total: Data rows read (blank lines are not rows).
        created: Records created.
        updated: Existing records updated (upsert).
        merged: Rows a duplicate rule merged into an existing record (counted in neither
            ``created`` nor ``updated``).
        warnings: Rows written that a duplicate rule warned of, in file order.
        rejected: Rows written to the reject file instead.
        reject_path: The reject file, or None when no row was rejected.
        encoding: How the file was decoded (``utf-8-sig`` or ``gb18030``).
        ignored_columns: Columns read but not written (system or computed fields).
    """

    total: int
    created: int
    updated: int
    rejected: int
    reject_path: Path | None
    encoding: str = ""
    ignored_columns: list[str] = field(default_factory=list)
    merged: int = 0
    warnings: list[WarnedRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.rejected == 0


@dataclass(frozen=True)
class WarnedRow:
    """A row that was written although a duplicate rule matched it (a ``warn`` rule).

    Attributes:
        row: Its row number in the spreadsheet (the header is row 1).
        rule: The duplicate rule's name.
        message: The rule's message in the report's language.
    """

    row: int
    rule: str
    message: str


@dataclass(frozen=True)
class RejectedRow:
    """A row that went to the reject file, for callers that show the reasons themselves.

    Attributes:
        row: Its row number in the spreadsheet (the header is row 1).
        errors: Why it was rejected.
        columns: The column each error is about (None: the row as a whole), in step with
            ``errors``.
    """

    row: int
    errors: tuple[FieldError, ...]
    columns: tuple[str | None, ...]


def import_csv(
    service: RecordService,
    object_name: str,
    path_or_stream: str | os.PathLike[str] | IO[Any],
    actor: Actor,
    *,
    reject_path: str | os.PathLike[str],
    upsert_key: str | None = None,
    chunk_size: int = 1000,
    options: WriteOptions = _DEFAULT,
    locale: str | None = None,
    on_progress: Callable[[ImportProgress], None] | None = None,
    on_reject: Callable[[RejectedRow], None] | None = None,
) -> ImportReport:
    """Import the CSV at ``path_or_stream`` into ``object_name`` as ``actor``.

    Records are matched on ``upsert_key`` (default: the object's external id, when the
    file has that column) and updated instead of duplicated. Each chunk commits on its
    own, so an interrupted import keeps the chunks before it; rerun with an upsert key.

    Args:
        reject_path: Where rejected rows go; written only when a row is rejected (a file
            left there by an earlier run is replaced or removed).
        options: Passed to every write; with ``dry_run`` each chunk is checked through
            the record service and rolled back, so the counts and rejects say what an
            import would do (rows of one chunk do not see those of earlier chunks).
        locale: The language of the reasons in the reject file (default: the actor's).
        on_reject: Called with each rejected row as it is written to the reject file.

    Raises:
        TransferError: The file cannot be imported at all (unknown columns, unreadable
            bytes, an upsert key the object lacks); nothing was written. Also a line
            the CSV reader cannot parse, in which case earlier chunks stay written.
        NotFound: No such object.
    """
    cobj = _object(service, object_name)
    rejects = _Rejects(Path(reject_path), locale or actor.locale, on_reject)
    counts = {"total": 0, "created": 0, "updated": 0, "rejected": 0, "merged": 0}
    warnings: list[WarnedRow] = []
    with open_source(path_or_stream) as source, rejects:
        reader = _parsed(csv.reader(source.text))
        header_row = next(reader, None)
        if not header_row:
            raise TransferError.of("empty_file")
        headers = map_headers(cobj, header_row)
        key = _upsert_key(cobj, headers, upsert_key, service.authorizer.readable(actor, cobj))
        resolver = LookupResolver(service, cobj, actor, [name for _, name in headers.columns])
        for chunk in _chunks(reader, max(1, chunk_size)):
            _import_chunk(
                service, cobj, actor, options, key, headers, resolver, chunk, rejects, counts,
                warnings,
            )
            if on_progress is not None:
                on_progress(ImportProgress(counts["total"], source.bytes_read, source.total_bytes))
        if on_progress is not None:
            on_progress(ImportProgress(counts["total"], _end(source), source.total_bytes))
    return ImportReport(
        **counts,
        reject_path=rejects.path if counts["rejected"] else None,
        encoding=source.encoding,
        ignored_columns=headers.ignored,
        warnings=warnings,
    )


def _import_chunk(
    service: RecordService,
    cobj: CompiledObject,
    actor: Actor,
    options: WriteOptions,
    key: str | None,
    headers: HeaderMap,
    resolver: LookupResolver,
    chunk: list[tuple[int, list[str]]],
    rejects: _Rejects,
    counts: dict[str, int],
    warnings: list[WarnedRow],
) -> None:
    counts["total"] += len(chunk)
    width = len(headers.headers)
    rows = [headers.values(cells) for _, cells in chunk]
    errors = resolver.resolve(rows)
    for (_, cells), row_errors in zip(chunk, errors, strict=True):
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            row_errors.append(row_error("extra_cells", count=len(cells), limit=width))
    todo = [i for i, e in enumerate(errors) if not e]
    outcomes = write_chunk(service, cobj.name, [rows[i] for i in todo], actor, key, options)
    for i, outcome in zip(todo, outcomes, strict=True):
        if outcome.ok:
            kind = "merged" if outcome.merged else "created" if outcome.created else "updated"
            counts[kind] += 1
            number = chunk[i][0]
            warnings.extend(WarnedRow(number, w.rule, localize(w.message, rejects.locale))
                            for w in outcome.warnings)  # fmt: skip
        else:
            errors[i] = list(outcome.errors)
    for (number, cells), row_errors in zip(chunk, errors, strict=True):
        if row_errors:
            counts["rejected"] += 1
            rejects.write(headers, number, cells, row_errors)


def _parsed(reader: Any) -> Iterator[list[str]]:
    """The reader's rows; a line it cannot parse (a cell over its size limit) stops here."""
    try:
        yield from reader
    except csv.Error as exc:
        raise TransferError.of("malformed_csv", line=reader.line_num, detail=str(exc)) from None


def _chunks(reader: Iterator[list[str]], size: int) -> Iterator[list[tuple[int, list[str]]]]:
    """Consecutive chunks of (spreadsheet row number, cells); blank lines are skipped."""
    chunk: list[tuple[int, list[str]]] = []
    for index, cells in enumerate(reader, start=2):  # the header is row 1
        if not any(c.strip() for c in cells):
            continue
        chunk.append((index, cells))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _upsert_key(
    cobj: CompiledObject, headers: HeaderMap, wanted: str | None, readable: frozenset[str] | None
) -> str | None:
    """The field rows are matched on. One named must be a field the importer may read,
    since matching on it would tell them its values; any other is refused as if it did
    not exist. The external id, when the file has it, is refused by the lookup itself."""
    if wanted is not None:
        if not cobj.writable(wanted) or (readable is not None and wanted not in readable):
            raise TransferError.of("no_upsert_key", object=cobj.obj.label, key=wanted)
        return wanted
    present = {name for _, name in headers.columns}
    return cobj.external_id if cobj.external_id in present else None


def _object(service: RecordService, name: str) -> CompiledObject:
    try:
        return service.compiled.objects[name]
    except KeyError:
        raise NotFound(name, "*") from None


def _end(source: Source) -> int:
    return source.total_bytes if source.total_bytes is not None else source.bytes_read


class _Rejects:
    """The reject file: opened on the first rejected row, removed if none was rejected."""

    def __init__(self, path: Path, locale: str, on_reject: Callable[[RejectedRow], None] | None):
        self.path = path
        self.locale = locale
        self.on_reject = on_reject
        self._stack = ExitStack()
        self._writer: Any = None
        self._keep: list[int] = []

    def __enter__(self) -> _Rejects:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        if self._writer is None:
            self.path.unlink(missing_ok=True)  # an earlier run's rejects no longer apply

    def write(
        self, headers: HeaderMap, number: int, cells: list[str], errors: list[FieldError]
    ) -> None:
        if self._writer is None:
            # UTF-8 with a BOM: Excel opens it with the Chinese text intact.
            stream = self._stack.enter_context(
                self.path.open("w", encoding="utf-8-sig", newline="")
            )
            self._writer = csv.writer(stream)
            # A reject file being imported again: its old _row/_errors are not carried.
            self._keep = [
                i for i, h in enumerate(headers.headers) if h not in (ROW_COLUMN, ERRORS_COLUMN)
            ]
            self._writer.writerow(
                [ROW_COLUMN, *(headers.headers[i] for i in self._keep), ERRORS_COLUMN]
            )
        kept = [cells[i] if i < len(cells) else "" for i in self._keep]
        extra = cells[len(headers.headers) :]
        reasons = "; ".join(
            f"{headers.header_of(e.field)}: {e.text(self.locale)}"
            if e.field
            else e.text(self.locale)
            for e in errors
        )
        self._writer.writerow([number, *kept, reasons, *extra])  # surplus cells kept, last
        if self.on_reject is not None:
            columns = tuple(headers.header_of(e.field) if e.field else None for e in errors)
            self.on_reject(RejectedRow(number, tuple(errors), columns))
