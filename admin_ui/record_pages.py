"""Record pages and their forms: reading a record (stage bars, related lists, history,
the activity timeline), creating and editing one, a stage move that asks for fields,
revealing one personal value, and the layout's rules as the user edits.

A failed save shows every error beside its field in the user's language and keeps what
was typed; a save over someone else's change says so and offers to merge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import File, Redirect, Template

from admin_ui.fields import display, form_values, object_label
from admin_ui.merge import conflicting, form_base, my_changes
from admin_ui.pages import Form
from admin_ui.rendering import UiPages, page
from admin_ui.session import check_csrf, signed_in
from admin_ui.texts import TEXTS
from admin_ui.timeline import timeline
from admin_ui.views import (
    Req,
    field_errors,
    form_layout,
    form_sections,
    lookup_targets,
    lookup_titles,
    missing_required,
    not_offered,
    object_of,
    offered_transition,
    pending_approvals,
    related_lists,
    related_of,
    rule_state,
    service_of,
    stage_bars,
    text_of,
    title_of,
)
from engine.api.file_routes import download, upload_chunks
from engine.compiled import CompiledObject
from engine.records import (
    Actor,
    NotFound,
    RowResult,
    ValidationFailed,
    VersionConflict,
    WriteOptions,
)
from engine.records.duplicates import rule_message
from engine.records.errors import localize

__all__ = ["RecordPages"]

Upload = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
#: The most any attachment field accepts (1 GiB), and room for the form around it.
MAX_UPLOAD = 1025 * 1024 * 1024


class RecordPages(UiPages):
    @post("/ui/o/{object_name:str}/{record_id:str}/reveal/{field:str}", sync_to_thread=True)
    def reveal(
        self, request: Req, object_name: FromPath[str], record_id: FromPath[str],
        field: FromPath[str], data: Form,
    ) -> Template:  # fmt: skip
        """One personal value unmasked, for a role that may see it; audited."""
        session, actor = signed_in(request)
        check_csrf(session, data)
        value = service_of(request).reveal(object_name, record_id, field, actor)
        return self._record(request, session, actor, object_name, record_id,
                            revealed={field: value})  # fmt: skip

    @get("/ui/o/{object_name:str}/new", sync_to_thread=True)
    def new_page(self, request: Req, object_name: FromPath[str]) -> Template:
        session, actor = signed_in(request)
        cobj = object_of(request, object_name)
        given = {  # the fields' literal defaults, and what the link filled in
            f.name: str(f.default).lower() if isinstance(f.default, bool) else str(f.default)
            for f in cobj.obj.fields
            if getattr(f, "default", None) is not None and not isinstance(f.default, dict)
        }
        given |= {k: v for k, v in request.query_params.items() if k in cobj.fields}
        return self._form(request, session, actor, cobj, {}, None, given, {})

    @post("/ui/o/{object_name:str}/new", sync_to_thread=True)
    def create(
        self,
        request: Req,
        object_name: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        session, actor = signed_in(request)
        check_csrf(session, data)
        cobj = object_of(request, object_name)
        names = [f.name for s in form_sections(request, cobj, actor, {}) for f in s["fields"]
                 if not f.read_only]  # fmt: skip
        values = form_values(cobj, names, data, actor.tz)
        sections = form_sections(request, cobj, actor, {}, typed=values)
        # a box left empty on a new record takes the field's default, as in the API
        values = {k: v for k, v in values.items() if v is not None and v != []}
        missing = missing_required(sections, values, actor.locale)
        missing |= not_offered(cobj, names, data, actor.locale)
        try:  # with a field missing, a dry run still collects the service's own errors
            options = WriteOptions(dry_run=True) if missing else WriteOptions()
            result = service_of(request).create_row(object_name, values, actor, options=options)
        except ValidationFailed as exc:
            missing = {**field_errors(exc, actor), **missing}
        if missing:
            return self._form(request, session, actor, cobj, {}, None, values, missing,
                              status=422)  # fmt: skip
        record = result.record or {}
        return Redirect(f"/ui/o/{object_name}/{record['id']}{_saved(result)}")

    @get("/ui/o/{object_name:str}/{record_id:str}", sync_to_thread=True)
    def record_page(
        self, request: Req, object_name: FromPath[str], record_id: FromPath[str]
    ) -> Template:
        session, actor = signed_in(request)
        notices = _saved_notices(request, object_name, actor)
        return self._record(request, session, actor, object_name, record_id, notices=notices)

    def _record(
        self, request: Req, session: Any, actor: Actor, object_name: str, record_id: str,
        revealed: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
        status: int = 200, notices: list[dict[str, str]] | None = None,
    ) -> Template:  # fmt: skip
        cobj = object_of(request, object_name)
        service = service_of(request)
        record = service.get(object_name, record_id, actor)
        approvals = service.approvals_of(object_name, record_id, actor)
        reachable = related_of(request, cobj, actor)
        titles = lookup_titles(request, cobj, actor, record_id)
        sections = form_sections(request, cobj, actor, record, titles=titles)
        for f in (f for s in sections for f in s["fields"]):
            f.revealable = f.personal and service.authorizer.may_reveal(
                actor, cobj, f.name, record.get("owner")
            )
            if revealed and f.name in revealed:
                f.shown = display(cobj, f.name, revealed[f.name], actor.locale, actor.tz)
                f.revealable = False
            if errors and f.name in errors:
                f.error = errors[f.name]
        return page(
            request, "record.html", actor, status, session=session,
            stages=stage_bars(request, cobj, record, actor),
            object=cobj, record=record, related=related_lists(request, reachable, record, actor),
            title=title_of(cobj, record), object_title=object_label(cobj, actor.locale),
            sections=sections,
            timeline=timeline(request, cobj, record, actor, approvals, reachable),
            pending=pending_approvals(request, approvals, actor), notices=notices or [],
        )  # fmt: skip

    @get("/ui/o/{object_name:str}/{record_id:str}/edit", sync_to_thread=True)
    def edit_page(
        self, request: Req, object_name: FromPath[str], record_id: FromPath[str]
    ) -> Template:
        session, actor = signed_in(request)
        cobj = object_of(request, object_name)
        record = service_of(request).get(object_name, record_id, actor)
        return self._form(request, session, actor, cobj, record, record["version"], {}, {})

    @post("/ui/o/{object_name:str}/{record_id:str}/edit", sync_to_thread=True)
    def update(
        self,
        request: Req,
        object_name: FromPath[str],
        record_id: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        session, actor = signed_in(request)
        check_csrf(session, data)
        cobj = object_of(request, object_name)
        service = service_of(request)
        record = service.get(object_name, record_id, actor)
        fields = [f for s in form_sections(request, cobj, actor, record) for f in s["fields"]]
        names = [f.name for f in fields if not f.read_only]
        values = form_values(cobj, names, data, actor.tz)
        for f in fields:  # an untouched personal field stays as stored
            if f.personal and values.get(f.name) is None:
                values.pop(f.name, None)
        version = int(data.get("version") or record["version"])
        missing = missing_required(
            form_sections(request, cobj, actor, record, typed=values), values, actor.locale
        )
        missing |= not_offered(cobj, names, data, actor.locale)
        result = None
        try:
            options = WriteOptions(dry_run=True) if missing else WriteOptions()
            result = service.update_row(object_name, record_id, values, actor,
                                        expected_version=version, options=options)  # fmt: skip
        except ValidationFailed as exc:
            missing = {**field_errors(exc, actor), **missing}
        except VersionConflict:  # lay the user's changes over the record as it is now
            current = service.get(object_name, record_id, actor)
            mine = my_changes(values, data.get("base"))
            clashes = conflicting(cobj, mine, current, data.get("base"), actor.tz)
            return self._form(request, session, actor, cobj, current, current["version"],
                              mine, {}, status=409, conflicts=clashes)  # fmt: skip
        if missing:
            return self._form(request, session, actor, cobj, record, version, values, missing,
                              status=422)  # fmt: skip
        return Redirect(f"/ui/o/{object_name}/{record_id}{_saved(result)}")

    @get("/ui/o/{object_name:str}/{record_id:str}/move/{name:str}", sync_to_thread=True)
    def move_page(
        self, request: Req, object_name: FromPath[str], record_id: FromPath[str],
        name: FromPath[str],
    ) -> Template:  # fmt: skip
        """A transition that needs fields filled first asks for them here."""
        session, actor = signed_in(request)
        cobj = object_of(request, object_name)
        record = service_of(request).get(object_name, record_id, actor)
        return self._move_form(request, session, actor, cobj, record, name, {}, {})

    @post("/ui/o/{object_name:str}/{record_id:str}/move/{name:str}", sync_to_thread=True)
    def move(
        self, request: Req, object_name: FromPath[str], record_id: FromPath[str],
        name: FromPath[str], data: Form,
    ) -> Response[Any]:  # fmt: skip
        session, actor = signed_in(request)
        check_csrf(session, data)
        cobj = object_of(request, object_name)
        service = service_of(request)
        record = service.get(object_name, record_id, actor)
        offered = offered_transition(service, object_name, record_id, actor, name)
        asked = list(offered["required_fields"]) if offered else []
        values = form_values(cobj, asked, data, actor.tz)
        forged = not_offered(cobj, [*asked, "comment"], data, actor.locale)
        if forged:
            return self._move_form(request, session, actor, cobj, record, name, values, forged,
                                   status=422)  # fmt: skip
        try:
            service.transition(object_name, record_id, name, actor, values,
                               expected_version=int(data.get("version") or record["version"]),
                               comment=(data.get("comment") or "").strip() or None)  # fmt: skip
        except ValidationFailed as exc:
            return self._move_form(request, session, actor, cobj, record, name, values,
                                   field_errors(exc, actor), status=422)  # fmt: skip
        except VersionConflict:
            return Redirect(f"/ui/o/{object_name}/{record_id}")
        return Redirect(f"/ui/o/{object_name}/{record_id}")

    def _move_form(
        self, request: Req, session: Any, actor: Actor, cobj: CompiledObject,
        record: dict[str, Any], name: str, typed: dict[str, Any], errors: dict[str, str],
        *, status: int = 200,
    ) -> Template:  # fmt: skip
        service = service_of(request)
        offered = offered_transition(service, cobj.name, record["id"], actor, name)
        if offered is None:
            raise NotFound(f"{cobj.name} transition", name)
        asked = set(offered["required_fields"]) | {k for k in errors if k}
        sections = form_sections(
            request, cobj, actor, record, typed=typed, errors=errors, editing=True
        )
        fields = [f for s in sections for f in s["fields"] if f.name in asked]
        general = " ".join(v for k, v in errors.items() if not k or k not in asked)
        return page(
            request, "move.html", actor, status, session=session, object=cobj, record=record,
            title=title_of(cobj, record), name=name, fields=fields, general=general,
            transition=text_of(offered["label"], actor.locale, name),
        )  # fmt: skip

    @post("/ui/o/{object_name:str}/form-state", sync_to_thread=True, status_code=200)
    def form_state(self, request: Req, object_name: FromPath[str], data: Form) -> dict[str, Any]:
        """The layout's rules on the form as it is now: what shows, what is required."""
        session, actor = signed_in(request)
        check_csrf(session, data)
        cobj = object_of(request, object_name)
        names = [f.name for f in cobj.obj.fields]
        values = form_values(cobj, names, {k: v for k, v in data.items() if k in names},
                             actor.tz)  # fmt: skip
        for name in names:  # a field the form does not carry (read-only, personal) is not
            if name not in data and values.get(name) in (None, False, []):  # in its values
                values.pop(name, None)
        record_id = data.get("record_id")
        stored = service_of(request).get(object_name, record_id, actor) if record_id else {}
        layout = form_layout(request, cobj)
        return rule_state(request, cobj, actor, layout, {**stored, **values}).to_json()

    def _form(
        self,
        request: Req,
        session: Any,
        actor: Actor,
        cobj: CompiledObject,
        record: dict[str, Any],
        version: int | None,
        typed: dict[str, Any],
        errors: dict[str, str],
        *,
        status: int = 200,
        conflicts: set[str] | None = None,
    ) -> Template:
        general = errors.pop("", "")
        sections = form_sections(request, cobj, actor, record, typed=typed, errors=errors,
                                 conflicts=conflicts or (), editing=True)  # fmt: skip
        placed = {f.name for s in sections for f in s["fields"]}
        general = " ".join([general, *(v for k, v in errors.items() if k not in placed)]).strip()
        editable = [f.name for s in sections for f in s["fields"]
                    if not f.read_only and not f.personal]  # fmt: skip
        conflict = TEXTS[actor.locale]["conflict"] if conflicts is not None else ""
        return page(
            request, "form.html", actor, status, session=session, object=cobj, record=record,
            version=version,
            title=title_of(cobj, record) if record else object_label(cobj, actor.locale),
            sections=sections, error_count=len(errors) + bool(general), general=general,
            conflict=conflict,
            base=form_base(cobj, record, editable, actor.tz) if record.get("id") else "",
        )  # fmt: skip

    # -- files ----------------------------------------------------------------------------

    @post("/ui/o/{object_name:str}/{record_id:str}/files/{field:str}", sync_to_thread=True,
          request_max_body_size=MAX_UPLOAD)  # fmt: skip
    def add_files(
        self, request: Req, object_name: FromPath[str], record_id: FromPath[str],
        field: FromPath[str], data: Upload,
    ) -> Response[Any]:  # fmt: skip
        """Upload the chosen files and attach them to the field, in one save of the record
        (so the record's checks decide, and the files' names go into its history). Adding
        files only adds to the field as it is now, so an edit someone made meanwhile
        neither blocks it nor is undone by it."""
        session, actor = signed_in(request)
        check_csrf(session, data)
        service = service_of(request)
        chosen = data.get("file")
        uploads = [u for u in (chosen if isinstance(chosen, list) else [chosen])
                   if isinstance(u, UploadFile) and u.filename]  # fmt: skip
        multiple = getattr(object_of(request, object_name).fields.get(field), "multiple", False)
        try:
            added = [service.upload(actor, u.filename, u.content_type, upload_chunks(u.file))["id"]
                     for u in uploads]  # fmt: skip
            _change_files(service, object_name, record_id, field, actor,
                          lambda kept: [*kept, *added] if multiple else added[-1:] or kept)
        except ValidationFailed as exc:
            errors = {(field if k in ("", "file") else k): v  # the upload's own refusal too
                      for k, v in field_errors(exc, actor).items()}  # fmt: skip
            return self._record(request, session, actor, object_name, record_id,
                                errors=errors, status=422)  # fmt: skip
        return Redirect(f"/ui/o/{object_name}/{record_id}")

    @post("/ui/o/{object_name:str}/{record_id:str}/files/{field:str}/{file_id:str}/remove",
          sync_to_thread=True)  # fmt: skip
    def remove_file(
        self, request: Req, object_name: FromPath[str], record_id: FromPath[str],
        field: FromPath[str], file_id: FromPath[str], data: Form,
    ) -> Redirect:  # fmt: skip
        session, actor = signed_in(request)
        check_csrf(session, data)
        _change_files(service_of(request), object_name, record_id, field, actor,
                      lambda kept: [i for i in kept if i != file_id])  # fmt: skip
        return Redirect(f"/ui/o/{object_name}/{record_id}")

    @get("/ui/o/{object_name:str}/{record_id:str}/files/{field:str}/{file_id:str}",
         sync_to_thread=True)  # fmt: skip
    def download(
        self, request: Req, object_name: FromPath[str], record_id: FromPath[str],
        field: FromPath[str], file_id: FromPath[str],
    ) -> File:  # fmt: skip
        """A file of the record, for a user who may read the field (always a download)."""
        _, actor = signed_in(request)
        return download(service_of(request).open_file(object_name, record_id, field, file_id,
                                                      actor))  # fmt: skip

    # -- lookups --------------------------------------------------------------------------

    @get("/ui/o/{object_name:str}/lookup/{field:str}", sync_to_thread=True)
    def lookup(
        self, request: Req, object_name: FromPath[str], field: FromPath[str]
    ) -> list[dict[str, str]]:
        """Records a lookup box may offer whose title starts with ``?q=``: only those the
        user may read, twenty at most."""
        _, actor = signed_in(request)
        fdef = object_of(request, object_name).fields.get(field)
        target = getattr(fdef, "to", None)
        if target is None:
            raise NotFound(f"{object_name} lookup", field)
        query = (request.query_params.get("q") or "").strip()[:100]
        return [{"id": value, "title": text}
                for value, text in lookup_targets(request, target, actor, query, limit=20)]


def _saved(result: RowResult | None) -> str:
    """The query the page after a save reads its notices from: ``merged`` when a duplicate
    rule merged the create, one ``duplicate=rule:id`` per rule that warned (the id only of
    a record the user may read)."""
    if result is None or not (result.merged or result.warnings):
        return ""
    query = [("merged", "1")] if result.merged else []
    query += [("duplicate", f"{w.rule}:{w.record_id or ''}") for w in result.warnings]
    return "?" + urlencode(query)


def _saved_notices(request: Req, object_name: str, actor: Actor) -> list[dict[str, str]]:
    """What the page a save lands on says of it (``_saved``): the existing record is named
    and linked only if the user may read it now, asked of the service like any read."""
    texts = TEXTS[actor.locale]
    params = request.query_params
    notices = [{"text": texts["saved_merged"], "link": ""}] if params.get("merged") else []
    cobj = object_of(request, object_name)
    rules = {r.name: r for r in cobj.obj.duplicate_rules}
    for value in params.getall("duplicate", [])[:10]:
        name, _, existing_id = value.partition(":")
        rule = rules.get(name)
        if rule is None:
            continue
        try:
            existing = service_of(request).get(object_name, existing_id, actor) if existing_id \
                else None  # fmt: skip
        except NotFound:
            existing = None
        text = rule_message(cobj, rule, title_of(cobj, existing) if existing else None)
        link = f"/ui/o/{object_name}/{existing_id}" if existing else ""
        notices.append({"text": localize(text, actor.locale), "link": link})
    return notices


def _change_files(
    service: Any, object_name: str, record_id: str, field: str, actor: Actor,
    change: Callable[[list[str]], list[str]],
) -> None:  # fmt: skip
    """Save ``change`` of the field's file ids as they are now; when someone saves the
    record in between, read it again and apply the change to theirs (a few times)."""
    for attempt in range(3):
        record = service.get(object_name, record_id, actor)
        kept = [ref["id"] for ref in record.get(field) or []]
        try:
            service.update(object_name, record_id, {field: change(kept)}, actor,
                           expected_version=record["version"])  # fmt: skip
            return
        except VersionConflict:
            if attempt == 2:
                raise
