"""CSV import and export over HTTP: ``metacrm import`` and ``metacrm export`` as routes.

``POST /api/v1/objects/{object}/import`` takes the file as the request body (``text/csv``)
or as the ``file`` part of a form upload and runs ``engine.transfer.import_csv`` for the
caller: good rows land, bad rows come back with their row numbers and reasons in the
caller's language, and as a reject file to fix and send again. ``GET .../export`` streams
what the same list request shows, as CSV that imports back. Everything else (mapping,
lookups, coercion, permissions, the write itself) is the transfer package's and the
record service's; this module only translates HTTP.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import IO, Any

from litestar import Request, Response, get, post
from litestar.concurrency import sync_to_thread
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException
from litestar.params import FromPath
from litestar.response import Stream

from engine.api.auth import require_scope
from engine.api.limits import MAX_BULK_BODY_BYTES
from engine.api.problems import problem, request_locale
from engine.api.record_routes import comma_list, list_rule, object_snapshot, request_actor
from engine.auth import Scope
from engine.records import BadQuery, WriteOptions
from engine.transfer import HeaderStyle, RejectedRow, TransferError, export_rows, import_csv
from engine.transfer.csv_export import csv_chunks

__all__ = ["TRANSFER_ROUTES"]

#: Query parameters of the export itself; every other one is a field condition.
_EXPORT_PARAMS = frozenset({"filter", "sort", "fields", "header"})
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_PATH = "/api/v1/objects/{object_name:str}"


@post(f"{_PATH}/import", guards=[require_scope(Scope.RECORDS_WRITE)], status_code=200,
      request_max_body_size=MAX_BULK_BODY_BYTES)  # fmt: skip
async def import_records(
    request: Request[Any, Any, Any], object_name: FromPath[str]
) -> Response[Any]:
    """Import a CSV file (UTF-8 or GBK) as the caller; see the module docstring.

    Query: ``upsert_key`` (match existing records on this field; default the external id
    when the file has that column) and ``dry_run`` (check every row, write nothing).
    """
    params = dict(request.query_params)
    upsert_key = params.get("upsert_key") or None
    dry_run = _boolean(params.get("dry_run"), "dry_run")
    upload: UploadFile | None = None
    if request.content_type[0] == RequestEncodingType.MULTI_PART:
        part = (await request.form()).get("file")
        if isinstance(part, UploadFile):
            upload = part
            await upload.seek(0)
            source: IO[bytes] = upload.file  # type: ignore[assignment]
        elif isinstance(part, str):
            source = io.BytesIO(part.encode())
        else:
            raise ValidationException("send the CSV file as the form's 'file' part")
    else:
        source = io.BytesIO(await request.body())
    try:
        return await sync_to_thread(
            _import, request, object_name, source, upsert_key, WriteOptions(dry_run=dry_run)
        )
    finally:
        if upload is not None:
            await upload.close()


def _import(
    request: Request[Any, Any, Any],
    object_name: str,
    source: IO[bytes],
    upsert_key: str | None,
    options: WriteOptions,
) -> Response[Any]:
    snapshot = object_snapshot(request, object_name)
    locale = request_locale(request)
    rejected: list[RejectedRow] = []
    with tempfile.TemporaryDirectory(prefix="metacrm-import-") as folder:
        try:
            report = import_csv(
                snapshot.service,
                object_name,
                source,
                request_actor(request),
                reject_path=Path(folder) / "rejects.csv",
                upsert_key=upsert_key,
                options=options,
                locale=locale,
                on_reject=rejected.append,
            )
        except TransferError as exc:
            return problem(
                422, "unimportable_file", locale, detail=exc.text(locale), reason=exc.code
            )
        reject_csv = None
        if report.reject_path is not None:
            with report.reject_path.open(encoding="utf-8-sig", newline="") as stream:
                reject_csv = stream.read()
    return Response(
        {
            "object": object_name,
            "dry_run": options.dry_run,
            "rows": report.total,
            "created": report.created,
            "updated": report.updated,
            "rejected": report.rejected,
            "merged": report.merged,
            "warnings": [
                {"row": w.row, "rule": w.rule, "message": w.message} for w in report.warnings
            ],
            "encoding": report.encoding,
            "ignored_columns": report.ignored_columns,
            "rejects": [_rejected(r, locale) for r in rejected],
            "reject_csv": reject_csv,
        }
    )


def _rejected(row: RejectedRow, locale: str) -> dict[str, Any]:
    return {
        "row": row.row,
        "errors": [
            {
                "column": column,
                "field": e.field,
                "rule": e.rule,
                "code": e.code,
                "message": e.text(locale),
            }
            for e, column in zip(row.errors, row.columns, strict=True)
        ],
    }


@get(f"{_PATH}/export", guards=[require_scope(Scope.RECORDS_READ)], sync_to_thread=True)
def export_records(request: Request[Any, Any, Any], object_name: FromPath[str]) -> Stream:
    """The records a list with the same filters shows, as a CSV download.

    Query: the list's field conditions (``tier=gold``, ``amount__gte=1000``), ``filter``
    (JsonLogic), ``fields`` and ``sort``; ``header`` is ``label`` (default, in the
    ``Accept-Language`` language) or ``name``.
    """
    snapshot = object_snapshot(request, object_name)
    params = dict(request.query_params)
    header = params.get("header", HeaderStyle.LABEL)
    if header not in {style.value for style in HeaderStyle}:
        raise BadQuery("header must be label or name")
    rows = export_rows(
        snapshot.service,
        object_name,
        request_actor(request),
        filter=list_rule(params, snapshot.compiled.object(object_name), _EXPORT_PARAMS),
        fields=comma_list(params.get("fields")),
        sort=comma_list(params.get("sort")),
        locale=request_locale(request),
        header=header,
    )
    return Stream(
        csv_chunks(rows),
        media_type="text/csv",  # Litestar adds the charset, utf-8
        headers={"Content-Disposition": f'attachment; filename="{object_name}.csv"'},
    )


def _boolean(raw: str | None, name: str) -> bool:
    if raw is None or raw == "":
        return False
    try:
        return _BOOLEANS[raw.lower()]
    except KeyError:
        raise BadQuery(f"{name} must be true or false") from None


TRANSFER_ROUTES = [import_records, export_records]
