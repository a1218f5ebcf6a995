"""Files on records: uploading, attaching through a write, and reading one back.

A file is uploaded first (its bytes to the blob store, what it is to ``_files``) and then
attached by setting an attachment field to its id through an ordinary create or update, so
the field-level and record-level checks of the one write path decide who may attach what.
A file is read back through the record it is attached to: whoever may read that record and
field may download it, nobody else. A user may attach only files they uploaded themselves
(or that the record already holds), so an id seen elsewhere opens nothing.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.records.actor import Actor
from engine.records.errors import FieldError
from engine.records.messages import message
from engine.records.prepare import Prepared, field_label
from metadata.model.fields import AttachmentField, FieldType

if TYPE_CHECKING:
    from engine.compiled import CompiledObject

__all__ = ["check_attachments", "content_type", "reference", "upload_limit"]

Record = dict[str, Any]
_MB = 1024 * 1024
_DEFAULT_LIMIT_MB = 20


def upload_limit(compiled: Any) -> int:
    """The largest upload any attachment field accepts, in bytes."""
    sizes = [
        fdef.max_size_mb
        for cobj in compiled.objects.values()
        for fdef in cobj.obj.fields
        if fdef.kind is FieldType.ATTACHMENT
    ]
    return max(sizes, default=_DEFAULT_LIMIT_MB) * _MB


def check_attachments(
    conn: sa.Connection, files: sa.Table, cobj: CompiledObject, prepared: Sequence[Prepared],
    actor: Actor,
) -> None:  # fmt: skip
    """Attachment fields name uploaded files the writer may attach, of a size and type the
    field accepts; each value is completed with the files' names, types and sizes."""
    fields = [f for f in cobj.obj.fields if isinstance(f, AttachmentField)]
    for fdef in fields:
        wanted = {
            ref["id"]
            for p in prepared
            if fdef.name in p.changed
            for ref in p.row.get(fdef.name) or []
        }
        if not wanted:
            continue
        found = {
            row["id"]: dict(row)
            for row in conn.execute(sa.select(files).where(files.c.id.in_(wanted))).mappings()
        }
        for p in prepared:
            if fdef.name not in p.changed:
                continue
            before = {ref.get("id") for ref in p.changed[fdef.name][0] or []}
            refs = []
            for ref in p.row.get(fdef.name) or []:
                row = found.get(ref["id"])
                mine = row is not None and (
                    actor.user_id is None or row["uploaded_by"] == actor.user_id
                )
                if row is None or not (mine or ref["id"] in before):
                    _refuse(p, cobj, fdef.name, "bad_file", ref["id"])
                elif row["size"] > fdef.max_size_mb * _MB and ref["id"] not in before:
                    _refuse(p, cobj, fdef.name, "file_too_large", row["name"],
                            limit=fdef.max_size_mb)  # fmt: skip
                elif fdef.accept and not _accepted(row, fdef.accept) and ref["id"] not in before:
                    _refuse(p, cobj, fdef.name, "file_type", row["name"],
                            limit=", ".join(fdef.accept))  # fmt: skip
                else:
                    refs.append(reference(row))
            p.row[fdef.name] = refs
            if refs == p.changed[fdef.name][0]:  # the same files again: nothing changed
                del p.changed[fdef.name]
            else:
                p.changed[fdef.name] = (p.changed[fdef.name][0], refs)


def _refuse(p: Prepared, cobj: CompiledObject, name: str, code: str, value: str,
            **extra: Any) -> None:  # fmt: skip
    p.errors.append(
        FieldError(
            field=name,
            rule=code,
            code=code,
            value=value,
            message=message(code, label=field_label(cobj, name), value=value, **extra),
        )
    )


def _accepted(row: Record, accept: Sequence[str]) -> bool:
    """The field's ``accept`` list as a browser reads it: types, ``type/*`` or suffixes."""
    kind = row["content_type"].lower()
    suffix = PurePath(row["name"]).suffix.lower()
    for pattern in (a.strip().lower() for a in accept):
        if pattern.startswith("."):
            if suffix == pattern:
                return True
        elif pattern.endswith("/*"):
            if kind.startswith(pattern[:-1]):
                return True
        elif kind == pattern:
            return True
    return False


def content_type(name: str, declared: str | None) -> str:
    """The type the file's name says (what a download will be served as); the uploader's
    claim only when the name says nothing."""
    guessed, _ = mimetypes.guess_type(name)
    claim = (declared or "").split(";")[0].strip().lower()
    return guessed or (claim if "/" in claim else "application/octet-stream")


def reference(row: Record) -> Record:
    return {k: row[k] for k in ("id", "name", "content_type", "size")}
