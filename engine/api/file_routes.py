"""Files over HTTP: upload one, then attach it by id in a create or update; download one
through the record it is attached to (``engine.records.files`` says who may do what).

Downloads are always served as attachments with ``nosniff``, so an uploaded HTML or SVG
file is never rendered by the browser on our origin.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException
from litestar.params import FromPath
from litestar.response import File
from litestar.utils.sync import sync_to_thread

from engine.api.auth import require_scope
from engine.api.record_routes import object_snapshot, request_actor
from engine.auth import Scope

__all__ = ["FILE_ROUTES", "download", "upload_chunks"]

_CHUNK = 1024 * 1024
#: The most any attachment field may accept (1 GiB) and room for the form around it; each
#: upload is held to the schema's own largest field limit as it is read.
_MAX_BODY = 1024 * _CHUNK + _CHUNK


@post("/api/v1/files", guards=[require_scope(Scope.RECORDS_WRITE)], status_code=201,
      request_max_body_size=_MAX_BODY)  # fmt: skip
async def upload_file(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Keep a file (the form's ``file`` part); the answer's ``id`` goes into an attachment
    field of a later create or update."""
    if request.content_type[0] != RequestEncodingType.MULTI_PART:
        raise ValidationException("send the file as the 'file' part of a multipart form")
    part = (await request.form()).get("file")
    if not isinstance(part, UploadFile):
        raise ValidationException("send the file as the 'file' part of a multipart form")
    try:
        await part.seek(0)
        service = request.app.state.runtime.snapshot.service
        actor = request_actor(request)
        return await sync_to_thread(
            service.upload, actor, part.filename, part.content_type, upload_chunks(part.file)
        )
    finally:
        await part.close()


@get("/api/v1/objects/{object_name:str}/records/{record_id:str}/files/{field:str}/{file_id:str}",
     guards=[require_scope(Scope.RECORDS_READ)], sync_to_thread=True)  # fmt: skip
def download_file(
    request: Request[Any, Any, Any], object_name: FromPath[str], record_id: FromPath[str],
    field: FromPath[str], file_id: FromPath[str],
) -> File:  # fmt: skip
    """One file of a record's attachment field, for whoever may read that field."""
    service = object_snapshot(request, object_name).service
    return download(service.open_file(object_name, record_id, field, file_id,
                                      request_actor(request)))  # fmt: skip


def download(found: tuple[dict[str, Any], Path]) -> File:
    """An attached file (``RecordService.open_file``) as a download: always an attachment,
    never sniffed, so an uploaded HTML or SVG file does not render on our origin."""
    ref, path = found
    return File(
        path=path, filename=ref["name"], media_type=ref["content_type"],
        content_disposition_type="attachment", headers={"X-Content-Type-Options": "nosniff"},
    )  # fmt: skip


def upload_chunks(source: IO[bytes]) -> Iterator[bytes]:
    """An uploaded part's bytes, a megabyte at a time, for ``RecordService.upload``."""
    while chunk := source.read(_CHUNK):
        yield chunk


FILE_ROUTES = [upload_file, download_file]
