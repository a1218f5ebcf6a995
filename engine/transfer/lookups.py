"""Turning what a spreadsheet says about a related record into that record's id.

People write ``C-0042`` (the target's external id) or ``Acme Ltd`` (its title field,
usually the name), sometimes the id an export gave them; never a UUID they made up.
A cell is resolved in that order of trust: an id of a live record, then the external
id, then the title. No match, or a title shared by several records, rejects the row
with the reason instead of guessing. Lookups are made through ``RecordService.list``,
one query per lookup field and kind per chunk, so the reader's row permissions apply:
a row cannot link to a record its importer may not see.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from engine.compiled import CompiledObject
from engine.records import Actor, FieldError, RecordService
from engine.transfer.errors import row_error
from metadata.model.fields import FieldType

__all__ = ["LookupResolver"]

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_PAGE = 500
_RELATIONS = (FieldType.LOOKUP, FieldType.MASTER_DETAIL)


class LookupResolver:
    """Resolves the lookup cells of one chunk of rows at a time.

    Args:
        service: The record service reads go through.
        cobj: The object being imported.
        actor: Whose permissions the look-ups run under.
        fields: The fields present in the file; only their lookups are resolved.
    """

    def __init__(
        self, service: RecordService, cobj: CompiledObject, actor: Actor, fields: Iterable[str]
    ):
        self.service = service
        self.actor = actor
        self.lookups: list[tuple[Any, CompiledObject]] = []
        for name in fields:
            fdef = cobj.fields.get(name)
            if fdef is not None and fdef.kind in _RELATIONS and fdef.to in service.compiled.objects:
                self.lookups.append((fdef, service.compiled.objects[fdef.to]))

    def resolve(self, rows: list[dict[str, Any]]) -> list[list[FieldError]]:
        """Replace each lookup cell in ``rows`` by an id; the errors of each row, in order.

        A row with an error keeps its original cell, for the reject file.
        """
        errors: list[list[FieldError]] = [[] for _ in rows]
        for fdef, target in self.lookups:
            wanted = {str(r[fdef.name]).strip() for r in rows if fdef.name in r}
            if not wanted:
                continue
            matches = self._matches(target, wanted)
            for row, row_errors in zip(rows, errors, strict=True):
                if fdef.name not in row:
                    continue
                cell = str(row[fdef.name]).strip()
                found = matches.get(cell, ())
                if len(found) == 1:
                    row[fdef.name] = next(iter(found))
                    continue
                code = "lookup_ambiguous" if found else "lookup_not_found"
                row_errors.append(
                    row_error(
                        code,
                        field=fdef.name,
                        value=cell,
                        label=fdef.label or {"en": fdef.name},
                        object=target.obj.label,
                        count=len(found),
                    )
                )
        return errors

    def _matches(self, target: CompiledObject, wanted: set[str]) -> dict[str, set[str]]:
        """Cell -> ids of the records it names, by the most trusted key that names any."""
        out: dict[str, set[str]] = {}
        ids = [v for v in wanted if _UUID.match(v)]
        keys = [
            key
            for key in (target.external_id, getattr(target.obj, "title_field", None))
            if key is not None and key in target.fields
        ]
        for key, values in [("id", ids), *((k, sorted(wanted)) for k in dict.fromkeys(keys))]:
            remaining = [v for v in values if v not in out]
            if not remaining:
                continue
            for record in self._records(target.name, key, remaining):
                value = str(record[key]).lower() if key == "id" else str(record[key])
                cells = [v for v in remaining if v.lower() == value] if key == "id" else [value]
                for cell in cells:
                    out.setdefault(cell, set()).add(str(record["id"]))
        return out

    def _records(self, object_name: str, key: str, values: list[Any]) -> Iterable[dict[str, Any]]:
        fields = ["id"] if key == "id" else [key]
        cursor = None
        while True:
            page = self.service.list(
                object_name,
                self.actor,
                filter={"in": [{"var": key}, values]},
                fields=fields,
                limit=_PAGE,
                cursor=cursor,
            )
            yield from page.records
            cursor = page.next_cursor
            if cursor is None:
                return
