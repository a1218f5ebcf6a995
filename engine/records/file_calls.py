"""The record service's file calls: keep an upload, open a file through its record.

A feature of ``RecordService``; what a file is and who may attach it is in
``engine.records.files``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import Any

import sqlalchemy as sa

from engine.records.actor import Actor, WriteOptions
from engine.records.authorize import Operation
from engine.records.errors import FieldError, NotFound, ValidationFailed
from engine.records.files import content_type, reference, upload_limit
from engine.records.messages import message
from engine.records.parts import Feature
from engine.storage.blobs import TooLarge
from metadata.model.fields import FieldType

__all__ = ["FileCalls"]

Record = dict[str, Any]
_MB = 1024 * 1024


class FileCalls(Feature):
    def upload(
        self, actor: Actor, name: str, declared_type: str | None,
        chunks: Iterable[bytes],
    ) -> Record:  # fmt: skip
        """Keep an uploaded file, to be attached by a later write; return its reference
        (``id``, ``name``, ``content_type``, ``size``).

        Raises:
            ValidationFailed: Larger than any attachment field of the schema accepts.
        """
        limit = upload_limit(self.compiled)
        try:
            sha, size = self.files.put(chunks, limit)
        except TooLarge:
            shown = PurePath(name).name or "file"
            error = FieldError(
                field="file", rule="max_size_mb", code="file_too_large", value=shown,
                message=message("file_too_large", label={"en": "File", "zh-CN": "文件"},
                                value=shown, limit=limit // _MB),
            )  # fmt: skip
            raise ValidationFailed([error], actor.locale) from None
        row = {
            "id": str(uuid.uuid4()),
            "sha256": sha,
            "name": (PurePath(name.replace("\\", "/")).name or "file")[:255],
            "content_type": content_type(name, declared_type),
            "size": size,
            "uploaded_by": actor.user_id,
            "uploaded_at": self.clock(),
        }
        with self.transactions.begin(actor, WriteOptions()) as ctx:
            ctx.conn.execute(sa.insert(self.compiled.tables.system["files"]), row)
        return reference(row)

    def open_file(
        self, object_name: str, record_id: str, field: str, file_id: str,
        actor: Actor,
    ) -> tuple[Record, Path]:  # fmt: skip
        """A file attached to a record's field, for an actor who may read that field of
        that record: its reference and where its bytes are.

        Raises:
            NotFound: No such record, field or file on it, or the actor may not read them.
        """
        cobj = self.object_named(object_name)
        with self.db.read() as conn:
            stored = self.writer.fetch(conn, cobj, record_id, actor, Operation.READ)
        record = self.authorizer.present(actor, cobj, stored)
        fdef = cobj.fields.get(field)
        if fdef is None or fdef.kind is not FieldType.ATTACHMENT or field not in record:
            raise NotFound(f"{object_name}.{field}", file_id)
        if file_id not in {ref.get("id") for ref in record.get(field) or []}:
            raise NotFound("file", file_id)
        table = self.compiled.tables.system["files"]
        with self.db.read() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == file_id)).mappings().first()
        if row is None:
            raise NotFound("file", file_id)
        return reference(dict(row)), self.files.path(row["sha256"])
