"""The UI's pages: sign-in, the object menu, list views, record pages and their forms.

Each page reads and writes through the record service as the signed-in user; a form post
carries the session's CSRF token. A failed save shows every error beside its field in the
user's language and keeps what they typed; a save over someone else's change says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig

from admin_ui.fields import FieldView, display, form_values, input_value, label, object_label
from admin_ui.fields import options as choices
from admin_ui.fields import widget as widget_of
from admin_ui.form_rules import FormState, form_state, typed_values
from admin_ui.session import (
    LOGIN_CSRF_COOKIE,
    SignInRequired,
    authenticator,
    check_csrf,
    new_login_token,
    signed_in,
)
from admin_ui.texts import TEXTS
from engine.api.auth import SESSION_COOKIE
from engine.auth import AuthError
from engine.compiled import CompiledObject
from engine.records import (
    Actor,
    BadQuery,
    NotFound,
    ValidationFailed,
    VersionConflict,
    WriteOptions,
)
from engine.records.authorize import Operation
from engine.records.messages import message
from engine.rules import EvalEnv
from metadata.model.layouts import FormField, FormLayout

__all__ = ["UiController", "ui_template_config"]

TEMPLATES = Path(__file__).parent / "templates"
Req = Request[Any, Any, Any]
Form = URLEncodedBody[dict[str, Any]]


def ui_template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja2 with autoescaping on for every page: values from records and metadata are
    text, never markup."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True)
    )
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))


def _page(
    request: Req,
    template: str,
    actor: Actor | None,
    status_code: int = 200,
    **context: Any,
) -> Template:
    locale = actor.locale if actor is not None else "zh-CN"
    return Template(
        template_name=template,
        context={"t": TEXTS[locale], "locale": locale, "me": actor,
                 "request_path": request.url.path, **context},
        status_code=status_code,
    )  # fmt: skip


def _service(request: Req) -> Any:
    return request.app.state.runtime.snapshot.service


def _object(request: Req, name: str) -> CompiledObject:
    cobj = request.app.state.runtime.snapshot.compiled.objects.get(name)
    if cobj is None:
        raise NotFound("object", name)
    return cobj


def _nav(request: Req, actor: Actor) -> list[dict[str, Any]]:
    """The objects of each installed pack the user may read, as a menu."""
    compiled = request.app.state.runtime.snapshot.compiled
    service = _service(request)
    menu = []
    for pack in compiled.schema.packs:
        items = []
        for name in sorted(compiled.objects):
            cobj = compiled.objects[name]
            if cobj.obj.packs[:1] != (pack.name,) or not _may_list(service, actor, cobj):
                continue
            items.append({"name": name, "label": object_label(cobj, actor.locale, plural=True)})
        if items:
            menu.append({"pack": pack.name, "items": items})
    return menu


def _may_list(service: Any, actor: Actor, cobj: CompiledObject) -> bool:
    """Whether the user reaches any of the object's records at all (their read scope is
    not none, or a rule or share may open some)."""
    if actor.user_id is None:
        return True
    access = service.authorizer.row_access(actor, cobj, Operation.READ, service.compiled)
    return access is None or bool(access.paths) or access.units is not None


def _form_layout(request: Req, cobj: CompiledObject) -> FormLayout | None:
    layouts = request.app.state.runtime.snapshot.compiled.schema.layouts.get(cobj.name)
    forms = layouts.forms if layouts is not None else []
    return next((f for f in forms if f.default), forms[0] if forms else None)


def _sections(
    request: Req,
    cobj: CompiledObject,
    actor: Actor,
    record: dict[str, Any],
    *,
    typed: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    conflict: bool = False,
) -> list[dict[str, Any]]:
    """The form layout's sections with the fields the user may read, each with its value
    (what they typed, after a failed save), its error and whether they may change it."""
    service = _service(request)
    readable = service.authorizer.readable(actor, cobj)
    layout = _form_layout(request, cobj)
    if layout is not None:
        placed = [(s.name, s.label, s.columns, s.fields) for s in layout.sections]
    else:  # no layout: every field, in declared order
        placed = [("main", None, 2, [f.name for f in cobj.obj.fields])]
    access = service.authorizer.access(actor, cobj) if actor.user_id else None
    state = _state(request, cobj, actor, layout, {**record, **(typed or {})})
    sections = []
    for name, title, columns, items in placed:
        views = []
        for item in items:
            field = item.field if isinstance(item, FormField) else item
            fdef = cobj.fields.get(field)
            if fdef is None or (readable is not None and field not in readable):
                continue
            value = record.get(field)
            lookup = getattr(fdef, "to", None)
            view = FieldView(
                name=field,
                label=label(cobj, field, actor.locale),
                widget="select" if lookup else widget_of(cobj, field),
                required=bool(getattr(fdef, "required", False)),
                read_only=not cobj.writable(field)
                or (access is not None and not access.can_edit(field)),
                options=_targets(request, lookup, actor) if lookup else choices(fdef, actor.locale),
                shown=display(cobj, field, value, actor.locale, actor.tz),
                error=(errors or {}).get(field, ""),
            )
            visible, required, read_only = state.fields.get(field, (True, False, False))
            view.hidden = not visible
            view.required = view.required or required
            view.required_now = required
            view.read_only = view.read_only or read_only
            view.personal = bool(getattr(fdef, "pii", False)) and bool(record.get("id"))
            if view.personal:
                view.value = str((typed or {}).get(field) or "")
            elif typed is not None and field in typed:
                raw = typed[field]
                view.value = "" if raw is None else raw if isinstance(raw, str) else str(raw)
                view.values = raw if isinstance(raw, list) else []
                if conflict and view.value != input_value(cobj, field, value, actor.tz):
                    view.theirs = view.shown
            else:
                view.value = input_value(cobj, field, value, actor.tz)
                view.values = value if isinstance(value, list) else []
            views.append(view)
        if views:
            text = title.get(actor.locale) or title.get("en") if title else ""
            sections.append({"name": name, "label": text, "columns": columns, "fields": views,
                             "hidden": not state.sections.get(name, True)})  # fmt: skip
    return sections


def _targets(request: Req, object_name: str, actor: Actor) -> list[tuple[str, str]]:
    """The records a lookup may point to, as (id, title): only those the user may read,
    through the same list the API serves (the first 200 by title)."""
    compiled = request.app.state.runtime.snapshot.compiled
    target = compiled.objects.get(object_name)
    if target is None or not _may_list(_service(request), actor, target):
        return []
    title = target.obj.title_field
    readable = _service(request).authorizer.readable(actor, target)
    if title is not None and readable is not None and title not in readable:
        title = None
    page = _service(request).list(
        object_name, actor, limit=200, sort=[title] if title else [],
        fields=["id", title] if title else ["id"],
    )  # fmt: skip
    return [(str(r["id"]), str(r.get(title) or r["id"]) if title else str(r["id"]))
            for r in page.records]  # fmt: skip


def _state(
    request: Req,
    cobj: CompiledObject,
    actor: Actor,
    layout: FormLayout | None,
    values: dict[str, Any],
) -> FormState:
    """The layout's rules on ``values`` (as typed), for ``actor``."""
    service = _service(request)
    env = EvalEnv(user=actor.as_user(), clock=service.clock, timezone=actor.timezone)
    typed = typed_values(cobj, values, actor.tz)
    return form_state(service.compiled.content_hash, cobj, layout, typed, env)


def _missing(sections: list[dict[str, Any]], values: dict[str, Any], locale: str) -> dict[str, str]:
    """Fields the layout requires right now (``required_when``) that are empty; the record
    service checks the object's own required fields itself."""
    found = {}
    for section in sections:
        for f in section["fields"]:
            if f.required_now and not f.hidden and not f.read_only and values.get(f.name) in (
                None, "", []
            ) and not (f.personal and f.value == ""):  # fmt: skip
                found[f.name] = message("required", label=f.label)[locale]
    return found


def _not_found(request: Req, exc: Exception) -> Template:
    """A record the user may not see (or that does not exist) answers the same page."""
    try:
        session, actor = signed_in(request)
    except SignInRequired:
        return _page(request, "not_found.html", None, 404)
    return _page(request, "not_found.html", actor, 404, csrf=session.csrf_token,
                 nav=_nav(request, actor))  # fmt: skip


class UiController(Controller):
    path = "/"
    include_in_schema = False
    exception_handlers = {NotFound: _not_found}  # noqa: RUF012 (Litestar reads it)

    # -- signing in -----------------------------------------------------------------------

    @get("/ui/login", sync_to_thread=False)
    def login_page(self, request: Req) -> Template:
        token = new_login_token()
        page = _page(request, "login.html", None, csrf=token, error="", username="")
        page.cookies.append(_login_cookie(token))
        return page

    @post("/ui/login", sync_to_thread=True)
    def login(self, request: Req, data: Form) -> Response[Any]:
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
        if not expected or data.get("csrf_token") != expected:
            return _page(request, "login.html", None, 403, csrf=expected or "", username="",
                         error=TEXTS["zh-CN"]["stale_form"])  # fmt: skip
        auth = authenticator(request)
        client = request.client.host if request.client else "unknown"
        try:
            session = auth.sessions.login(
                data.get("username", ""), data.get("password", ""), client
            )
        except AuthError as exc:
            locale = data.get("locale") or "zh-CN"
            return _page(request, "login.html", None, 401, csrf=expected,
                         username=data.get("username", ""), error=exc.text(locale))  # fmt: skip
        response = Redirect("/ui")
        response.set_cookie(
            SESSION_COOKIE, session.token, httponly=True, samesite="lax",
            secure=auth.secure_cookies, path="/", expires=int(session.expires_at.timestamp()),
        )  # fmt: skip
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")
        return response

    @post("/ui/logout", sync_to_thread=True)
    def logout(self, request: Req, data: Form) -> Redirect:
        session, _ = signed_in(request)
        check_csrf(session, data)
        authenticator(request).sessions.logout(session.token)
        response = Redirect("/ui/login")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @post("/ui/locale", sync_to_thread=True)
    def switch_locale(self, request: Req, data: Form) -> Redirect:
        """Remember the user's language (it is theirs, on every device)."""
        session, _ = signed_in(request)
        check_csrf(session, data)
        authenticator(request).users.set_locale(session.user.username, data.get("locale", ""))
        back = data.get("next", "/ui")
        return Redirect(back if back.startswith("/ui") else "/ui")

    # -- pages ----------------------------------------------------------------------------

    @get("/", sync_to_thread=False)
    def root(self) -> Redirect:
        return Redirect("/ui")

    @get("/ui", sync_to_thread=True)
    def home(self, request: Req) -> Template:
        session, actor = signed_in(request)
        return _page(request, "home.html", actor, csrf=session.csrf_token, nav=_nav(request, actor))

    @get("/ui/search", sync_to_thread=True)
    def search(self, request: Req) -> Template:
        """Records whose title starts with what was typed, across the objects the user may
        read (a prefix match the title's index can serve)."""
        session, actor = signed_in(request)
        query = (request.query_params.get("q") or "").strip()[:100]
        groups = []
        if query:
            compiled = request.app.state.runtime.snapshot.compiled
            service = _service(request)
            for name in sorted(compiled.objects):
                cobj = compiled.objects[name]
                title = cobj.obj.title_field
                readable = service.authorizer.readable(actor, cobj)
                if title is None or (readable is not None and title not in readable):
                    continue
                if not _may_list(service, actor, cobj):
                    continue
                page = service.list(name, actor, filter={"starts_with": [{"var": title}, query]},
                                    limit=10, fields=["id", title])  # fmt: skip
                if page.records:
                    groups.append({
                        "object": name, "label": object_label(cobj, actor.locale, plural=True),
                        "hits": [{"id": r["id"], "title": str(r.get(title) or r["id"])}
                                 for r in page.records],
                    })  # fmt: skip
        return _page(request, "search.html", actor, csrf=session.csrf_token,
                     nav=_nav(request, actor), query=query, groups=groups)  # fmt: skip

    @get("/ui/approvals", sync_to_thread=True)
    def inbox(self, request: Req) -> Template:
        """What awaits the user's decision, oldest first, each with its record."""
        session, actor = signed_in(request)
        compiled = request.app.state.runtime.snapshot.compiled
        service = _service(request)
        items = []
        for row in service.inbox(actor):
            cobj = compiled.objects.get(row["object"])
            process = compiled.schema.approvals.get(row["process"])
            if cobj is None or process is None:
                continue
            step = process.steps[row["step"]] if row["step"] < len(process.steps) else None
            try:
                record = service.get(cobj.name, str(row["record_id"]), actor)
            except NotFound:
                continue
            items.append({
                "id": row["id"], "object": cobj.name, "record_id": record["id"],
                "record": _title(cobj, record), "kind": object_label(cobj, actor.locale),
                "process": _label(process.label, actor.locale, process.name),
                "step": _label(step.label, actor.locale, step.name) if step else "",
                "comment": row.get("comment") or "",
                "since": display(cobj, "created_at", row["waiting_since"], actor.locale,
                                 actor.tz),
            })  # fmt: skip
        return _page(request, "approvals.html", actor, csrf=session.csrf_token,
                     nav=_nav(request, actor), items=items)  # fmt: skip

    @post("/ui/approvals/{approval_id:str}/decide", sync_to_thread=True)
    def decide(self, request: Req, approval_id: FromPath[str], data: Form) -> Redirect:
        session, actor = signed_in(request)
        check_csrf(session, data)
        service = _service(request)
        comment = (data.get("comment") or "").strip() or None
        if data.get("decision") == "approve":
            service.approve(approval_id, actor, comment)
        elif data.get("decision") == "reject":
            service.reject(approval_id, actor, comment)
        return Redirect("/ui/approvals")

    @get("/ui/o/{object_name:str}", sync_to_thread=True)
    def list_page(self, request: Req, object_name: FromPath[str]) -> Template:
        session, actor = signed_in(request)
        cobj = _object(request, object_name)
        layouts = request.app.state.runtime.snapshot.compiled.schema.layouts.get(object_name)
        views = layouts.list_views if layouts is not None else []
        chosen = request.query_params.get("view")
        view = next((v for v in views if v.name == chosen), None) or next(
            (v for v in views if v.default), views[0] if views else None
        )
        readable = _service(request).authorizer.readable(actor, cobj)
        columns = list(view.columns) if view else [f.name for f in cobj.obj.fields][:6]
        columns = [c for c in columns if readable is None or c in readable]
        sort = [s for s in request.query_params.getall("sort", []) if s]
        if not sort and view is not None:
            sort = [("-" if k.order == "desc" else "") + k.field for k in view.sort]
        lookups = [c for c in columns if widget_of(cobj, c) == "text" and _is_lookup(cobj, c)]
        try:
            page = _service(request).list(
                object_name, actor, filter=view.filter if view else None, sort=sort,
                limit=view.page_size if view else 50, cursor=request.query_params.get("cursor"),
                expand=lookups,
            )  # fmt: skip
        except BadQuery:
            page = _service(request).list(object_name, actor, limit=50)
            sort = []
        rows = [
            {"id": r["id"],
             "cells": [display(cobj, c, _titled(request, cobj, c, r.get(c)), actor.locale,
                               actor.tz) for c in columns]}
            for r in page.records
        ]  # fmt: skip
        return _page(
            request, "list.html", actor, csrf=session.csrf_token, nav=_nav(request, actor),
            object=cobj, title=object_label(cobj, actor.locale, plural=True),
            columns=[{"name": c, "label": label(cobj, c, actor.locale),
                      "sort": _next_sort(c, sort)} for c in columns],
            rows=rows, views=[{"name": v.name, "label": _label(v.label, actor.locale, v.name),
                               "current": v is view} for v in views],
            view=view.name if view else "", next_cursor=page.next_cursor, sort=sort,
        )  # fmt: skip

    @get("/ui/o/{object_name:str}/new", sync_to_thread=True)
    def new_page(self, request: Req, object_name: FromPath[str]) -> Template:
        session, actor = signed_in(request)
        cobj = _object(request, object_name)
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
        cobj = _object(request, object_name)
        names = [f.name for s in _sections(request, cobj, actor, {}) for f in s["fields"]
                 if not f.read_only]  # fmt: skip
        values = form_values(cobj, names, data, actor.tz)
        sections = _sections(request, cobj, actor, {}, typed=values)
        # a box left empty on a new record takes the field's default, as in the API
        values = {k: v for k, v in values.items() if v is not None and v != []}
        missing = _missing(sections, values, actor.locale)
        try:  # with a field missing, a dry run still collects the service's own errors
            options = WriteOptions(dry_run=True) if missing else WriteOptions()
            record = _service(request).create(object_name, values, actor, options=options)
        except ValidationFailed as exc:
            missing = {**_errors(exc, actor), **missing}
        if missing:
            return self._form(request, session, actor, cobj, {}, None, values, missing,
                              status=422)  # fmt: skip
        return Redirect(f"/ui/o/{object_name}/{record['id']}")

    @get("/ui/o/{object_name:str}/{record_id:str}", sync_to_thread=True)
    def record_page(
        self, request: Req, object_name: FromPath[str], record_id: FromPath[str]
    ) -> Template:
        session, actor = signed_in(request)
        cobj = _object(request, object_name)
        record = _service(request).get(object_name, record_id, actor)
        return _page(
            request, "record.html", actor, csrf=session.csrf_token, nav=_nav(request, actor),
            stages=_stage_bars(request, cobj, record, actor), object=cobj, record=record,
            related=_related(request, cobj, record, actor),
            title=_title(cobj, record),
            object_title=object_label(cobj, actor.locale),
            sections=_sections(request, cobj, actor, record),
        )  # fmt: skip

    @get("/ui/o/{object_name:str}/{record_id:str}/edit", sync_to_thread=True)
    def edit_page(
        self, request: Req, object_name: FromPath[str], record_id: FromPath[str]
    ) -> Template:
        session, actor = signed_in(request)
        cobj = _object(request, object_name)
        record = _service(request).get(object_name, record_id, actor)
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
        cobj = _object(request, object_name)
        service = _service(request)
        record = service.get(object_name, record_id, actor)
        fields = [f for s in _sections(request, cobj, actor, record) for f in s["fields"]]
        names = [f.name for f in fields if not f.read_only]
        values = form_values(cobj, names, data, actor.tz)
        for f in fields:  # an untouched personal field stays as stored
            if f.personal and values.get(f.name) is None:
                values.pop(f.name, None)
        version = int(data.get("version") or record["version"])
        missing = _missing(
            _sections(request, cobj, actor, record, typed=values), values, actor.locale
        )
        try:
            options = WriteOptions(dry_run=True) if missing else WriteOptions()
            service.update(object_name, record_id, values, actor, expected_version=version,
                           options=options)  # fmt: skip
        except ValidationFailed as exc:
            missing = {**_errors(exc, actor), **missing}
        except VersionConflict:
            current = service.get(object_name, record_id, actor)
            conflict = TEXTS[actor.locale]["conflict"]
            return self._form(request, session, actor, cobj, current, current["version"],
                              values, {}, status=409, conflict=conflict)  # fmt: skip
        if missing:
            return self._form(request, session, actor, cobj, record, version, values, missing,
                              status=422)  # fmt: skip
        return Redirect(f"/ui/o/{object_name}/{record_id}")

    @get("/ui/o/{object_name:str}/{record_id:str}/move/{name:str}", sync_to_thread=True)
    def move_page(
        self, request: Req, object_name: FromPath[str], record_id: FromPath[str],
        name: FromPath[str],
    ) -> Template:  # fmt: skip
        """A transition that needs fields filled first asks for them here."""
        session, actor = signed_in(request)
        cobj = _object(request, object_name)
        record = _service(request).get(object_name, record_id, actor)
        return self._move_form(request, session, actor, cobj, record, name, {}, {})

    @post("/ui/o/{object_name:str}/{record_id:str}/move/{name:str}", sync_to_thread=True)
    def move(
        self, request: Req, object_name: FromPath[str], record_id: FromPath[str],
        name: FromPath[str], data: Form,
    ) -> Response[Any]:  # fmt: skip
        session, actor = signed_in(request)
        check_csrf(session, data)
        cobj = _object(request, object_name)
        service = _service(request)
        record = service.get(object_name, record_id, actor)
        offered = _offered(service, object_name, record_id, actor, name)
        asked = list(offered["required_fields"]) if offered else []
        values = form_values(cobj, asked, data, actor.tz)
        try:
            service.transition(object_name, record_id, name, actor, values,
                               expected_version=int(data.get("version") or record["version"]),
                               comment=(data.get("comment") or "").strip() or None)  # fmt: skip
        except ValidationFailed as exc:
            return self._move_form(request, session, actor, cobj, record, name, values,
                                   _errors(exc, actor), status=422)  # fmt: skip
        except VersionConflict:
            return Redirect(f"/ui/o/{object_name}/{record_id}")
        return Redirect(f"/ui/o/{object_name}/{record_id}")

    def _move_form(
        self, request: Req, session: Any, actor: Actor, cobj: CompiledObject,
        record: dict[str, Any], name: str, typed: dict[str, Any], errors: dict[str, str],
        *, status: int = 200,
    ) -> Template:  # fmt: skip
        service = _service(request)
        offered = _offered(service, cobj.name, record["id"], actor, name)
        if offered is None:
            raise NotFound(f"{cobj.name} transition", name)
        asked = set(offered["required_fields"]) | {k for k in errors if k}
        sections = _sections(request, cobj, actor, record, typed=typed, errors=errors)
        fields = [f for s in sections for f in s["fields"] if f.name in asked]
        general = " ".join(v for k, v in errors.items() if not k or k not in asked)
        return _page(
            request, "move.html", actor, status, csrf=session.csrf_token,
            nav=_nav(request, actor), object=cobj, record=record, title=_title(cobj, record),
            transition=_label(offered["label"], actor.locale, name), name=name, fields=fields,
            general=general,
        )  # fmt: skip

    @post("/ui/o/{object_name:str}/form-state", sync_to_thread=True, status_code=200)
    def form_state(self, request: Req, object_name: FromPath[str], data: Form) -> dict[str, Any]:
        """The layout's rules on the form as it is now: what shows, what is required."""
        session, actor = signed_in(request)
        check_csrf(session, data)
        cobj = _object(request, object_name)
        names = [f.name for f in cobj.obj.fields]
        values = form_values(cobj, names, {k: v for k, v in data.items() if k in names},
                             actor.tz)  # fmt: skip
        for name in names:  # a field the form does not carry (read-only, personal) is not
            if name not in data and values.get(name) in (None, False, []):  # in its values
                values.pop(name, None)
        record_id = data.get("record_id")
        stored = _service(request).get(object_name, record_id, actor) if record_id else {}
        layout = _form_layout(request, cobj)
        return _state(request, cobj, actor, layout, {**stored, **values}).to_json()

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
        conflict: str = "",
    ) -> Template:
        general = errors.pop("", "")
        return _page(
            request, "form.html", actor, status, csrf=session.csrf_token,
            nav=_nav(request, actor), object=cobj, record=record, version=version,
            title=_title(cobj, record) if record else object_label(cobj, actor.locale),
            sections=_sections(
                request, cobj, actor, record, typed=typed, errors=errors, conflict=bool(conflict)
            ),
            error_count=len(errors) + bool(general), general=general, conflict=conflict,
        )  # fmt: skip


def _related(
    request: Req, cobj: CompiledObject, record: dict[str, Any], actor: Actor
) -> list[dict[str, Any]]:
    """The layout's related lists: the first children the user may read, with a "new"
    link that fills in the link to this record."""
    layout = _form_layout(request, cobj)
    compiled = request.app.state.runtime.snapshot.compiled
    service = _service(request)
    lists = []
    for related in layout.related if layout is not None else []:
        child = compiled.objects.get(related.object)
        if child is None or not _may_list(service, actor, child):
            continue
        links = [f.name for f in child.obj.fields if getattr(f, "to", None) == cobj.name]
        via = related.via or (links[0] if len(links) == 1 else None)
        if via not in links:
            continue
        readable = service.authorizer.readable(actor, child)
        columns = [c for c in (related.columns or [child.obj.title_field or "id"])
                   if readable is None or c in readable]  # fmt: skip
        page = service.list(child.name, actor, filter={"==": [{"var": via}, record["id"]]},
                            limit=10, sort=["-created_at"])  # fmt: skip
        lists.append({
            "object": child.name, "via": via,
            "label": _label(related.label, actor.locale, object_label(child, actor.locale, True)),
            "columns": [label(child, c, actor.locale) for c in columns],
            "rows": [{"id": r["id"], "cells": [display(child, c, r.get(c), actor.locale,
                                                       actor.tz) for c in columns]}
                     for r in page.records],
            "more": page.next_cursor is not None,
        })  # fmt: skip
    return lists


def _offered(
    service: Any, object_name: str, record_id: str, actor: Actor, name: str
) -> dict[str, Any] | None:
    return next(
        (t for t in service.transitions(object_name, record_id, actor) if t["name"] == name),
        None,
    )


def _stage_bars(
    request: Req, cobj: CompiledObject, record: dict[str, Any], actor: Actor
) -> list[dict[str, Any]]:
    """Per workflow of the object: its states in order (the current one marked) and the
    transitions this user may take now, each saying whether it asks for fields first."""
    service = _service(request)
    offered = service.transitions(cobj.name, record["id"], actor)
    bars = []
    for machine in service.stages.get(cobj.name, ()):
        workflow = machine.workflow
        current = record.get(workflow.field)
        states = [{"value": st.value, "label": _label(st.label, actor.locale, st.value),
                   "current": st.value == current} for st in workflow.states]  # fmt: skip
        moves = [
            {"name": t["name"], "label": _label(t["label"], actor.locale, t["name"]),
             "asks": bool(t["required_fields"]), "blocked": not t["guard_met"],
             "why": _label(t["guard_message"], actor.locale, "") if t["guard_message"] else ""}
            for t in offered if t["workflow"] == workflow.name
        ]  # fmt: skip
        bars.append({"label": _label(workflow.label, actor.locale, workflow.name),
                     "states": states, "moves": moves})  # fmt: skip
    return bars


def _errors(exc: ValidationFailed, actor: Actor) -> dict[str, str]:
    """Each field's messages in the user's language ('' for the record as a whole)."""
    found: dict[str, str] = {}
    for error in exc.errors:
        text = error.message.get(actor.locale) or error.message.get("en", "")
        key = error.field or ""
        found[key] = f"{found[key]} {text}".strip() if key in found else text
    return found


def _is_lookup(cobj: CompiledObject, name: str) -> bool:
    fdef = cobj.fields.get(name)
    return fdef is not None and getattr(fdef, "to", None) is not None


def _titled(request: Req, cobj: CompiledObject, name: str, value: Any) -> Any:
    """An expanded lookup shown by its target's title field."""
    if not isinstance(value, dict):
        return value
    target = request.app.state.runtime.snapshot.compiled.objects.get(cobj.fields[name].to)
    title = target.obj.title_field if target is not None else None
    return {"id": value.get("id"), "title": value.get(title) if title else None}


def _title(cobj: CompiledObject, record: dict[str, Any]) -> str:
    field = cobj.obj.title_field
    value = record.get(field) if field else None
    return str(value) if value not in (None, "") else str(record.get("id", ""))


def _label(labels: Any, locale: str, fallback: str) -> str:
    return (labels.get(locale) or labels.get("en")) if labels else fallback


def _next_sort(column: str, sort: list[str]) -> str:
    """What clicking a column header sorts by: ascending, or descending when it already is."""
    return f"-{column}" if sort[:1] == [column] else column


def _login_cookie(token: str) -> Cookie:
    return Cookie(key=LOGIN_CSRF_COOKIE, value=token, httponly=True, samesite="strict",
                  path="/ui/login")  # fmt: skip
