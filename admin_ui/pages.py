"""The UI's pages: sign-in, the object menu, list views, record pages and their forms.

Each page reads and writes through the record service as the signed-in user; a form post
carries the session's CSRF token. A failed save shows every error beside its field in the
user's language and keeps what they typed; a save over someone else's change says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Controller, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Stream, Template
from litestar.template.config import TemplateConfig

from admin_ui.fields import display, form_values, label, object_label
from admin_ui.fields import widget as widget_of
from admin_ui.session import (
    LOGIN_CSRF_COOKIE,
    SignInRequired,
    authenticator,
    check_csrf,
    new_login_token,
    signed_in,
)
from admin_ui.texts import TEXTS
from admin_ui.views import (
    Req,
    bulk_actions,
    field_errors,
    field_history,
    form_layout,
    form_sections,
    is_lookup,
    list_view,
    may_list,
    missing_required,
    next_sort,
    object_menu,
    object_of,
    offered_transition,
    related_lists,
    rule_state,
    service_of,
    stage_bars,
    text_of,
    title_of,
    titled,
)
from engine.api.auth import SESSION_COOKIE
from engine.auth import AuthError
from engine.compiled import CompiledObject
from engine.records import (
    Actor,
    BadQuery,
    NotFound,
    RecordError,
    ValidationFailed,
    VersionConflict,
    WriteOptions,
)
from engine.transfer import export_rows
from engine.transfer.csv_export import csv_chunks

__all__ = ["UiController", "ui_template_config"]

TEMPLATES = Path(__file__).parent / "templates"
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


def _not_found(request: Req, exc: Exception) -> Template:
    """A record the user may not see (or that does not exist) answers the same page."""
    try:
        session, actor = signed_in(request)
    except SignInRequired:
        return _page(request, "not_found.html", None, 404)
    return _page(request, "not_found.html", actor, 404, csrf=session.csrf_token,
                 nav=object_menu(request, actor))  # fmt: skip


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
        return _page(
            request, "home.html", actor, csrf=session.csrf_token, nav=object_menu(request, actor)
        )

    @get("/ui/search", sync_to_thread=True)
    def search(self, request: Req) -> Template:
        """Records whose title starts with what was typed, across the objects the user may
        read (a prefix match the title's index can serve)."""
        session, actor = signed_in(request)
        query = (request.query_params.get("q") or "").strip()[:100]
        groups = []
        if query:
            compiled = request.app.state.runtime.snapshot.compiled
            service = service_of(request)
            for name in sorted(compiled.objects):
                cobj = compiled.objects[name]
                title = cobj.obj.title_field
                readable = service.authorizer.readable(actor, cobj)
                if title is None or (readable is not None and title not in readable):
                    continue
                if not may_list(service, actor, cobj):
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
                     nav=object_menu(request, actor), query=query, groups=groups)  # fmt: skip

    @get("/ui/approvals", sync_to_thread=True)
    def inbox(self, request: Req) -> Template:
        """What awaits the user's decision, oldest first, each with its record."""
        session, actor = signed_in(request)
        compiled = request.app.state.runtime.snapshot.compiled
        service = service_of(request)
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
                "record": title_of(cobj, record), "kind": object_label(cobj, actor.locale),
                "process": text_of(process.label, actor.locale, process.name),
                "step": text_of(step.label, actor.locale, step.name) if step else "",
                "comment": row.get("comment") or "",
                "since": display(cobj, "created_at", row["waiting_since"], actor.locale,
                                 actor.tz),
            })  # fmt: skip
        return _page(request, "approvals.html", actor, csrf=session.csrf_token,
                     nav=object_menu(request, actor), items=items)  # fmt: skip

    @post("/ui/approvals/{approval_id:str}/decide", sync_to_thread=True)
    def decide(self, request: Req, approval_id: FromPath[str], data: Form) -> Redirect:
        session, actor = signed_in(request)
        check_csrf(session, data)
        service = service_of(request)
        comment = (data.get("comment") or "").strip() or None
        if data.get("decision") == "approve":
            service.approve(approval_id, actor, comment)
        elif data.get("decision") == "reject":
            service.reject(approval_id, actor, comment)
        return Redirect("/ui/approvals")

    @get("/ui/o/{object_name:str}", sync_to_thread=True)
    def list_page(self, request: Req, object_name: FromPath[str]) -> Template:
        session, actor = signed_in(request)
        cobj = object_of(request, object_name)
        views, view, columns, sort = list_view(request, cobj, actor)
        lookups = [c for c in columns if widget_of(cobj, c) == "text" and is_lookup(cobj, c)]
        try:
            page = service_of(request).list(
                object_name, actor, filter=view.filter if view else None, sort=sort,
                limit=view.page_size if view else 50, cursor=request.query_params.get("cursor"),
                expand=lookups,
            )  # fmt: skip
        except BadQuery:
            page = service_of(request).list(object_name, actor, limit=50)
            sort = []
        rows = [
            {"id": r["id"],
             "cells": [display(cobj, c, titled(request, cobj, c, r.get(c)), actor.locale,
                               actor.tz) for c in columns]}
            for r in page.records
        ]  # fmt: skip
        return _page(
            request, "list.html", actor, csrf=session.csrf_token, nav=object_menu(request, actor),
            object=cobj, title=object_label(cobj, actor.locale, plural=True),
            columns=[{"name": c, "label": label(cobj, c, actor.locale),
                      "sort": next_sort(c, sort)} for c in columns],
            rows=rows, views=[{"name": v.name, "label": text_of(v.label, actor.locale, v.name),
                               "current": v is view} for v in views],
            view=view.name if view else "", next_cursor=page.next_cursor, sort=sort,
            bulk=bulk_actions(request, cobj, actor),
        )  # fmt: skip

    @post("/ui/o/{object_name:str}/bulk", sync_to_thread=True, status_code=200)
    def bulk(self, request: Req, object_name: FromPath[str], data: Form) -> Template:
        """One action on the selected records, each on its own: the page reports what
        happened to every row (done, or why not)."""
        session, actor = signed_in(request)
        check_csrf(session, data)
        cobj = object_of(request, object_name)
        service = service_of(request)
        chosen = data.get("ids") or []
        ids = [chosen] if isinstance(chosen, str) else list(chosen)
        action, _, argument = str(data.get("action") or "").partition(":")
        value = str(data.get("value") or "").strip()
        results = []
        for record_id in ids[:200]:
            try:
                record = service.get(object_name, record_id, actor)
                if action == "delete":
                    service.delete(object_name, record_id, actor)
                elif action == "transition":
                    service.transition(object_name, record_id, argument, actor)
                elif action == "owner":
                    user = authenticator(request).users.by_username(value)
                    if user is None:
                        raise NotFound("user", value)
                    service.update(object_name, record_id, {"owner": user.id}, actor)
                elif action == "set" and argument in cobj.fields:
                    service.update(object_name, record_id, {argument: value or None}, actor)
                else:
                    raise NotFound("action", action)
                results.append({"id": record_id, "title": title_of(cobj, record), "ok": True})
            except RecordError as exc:
                results.append({"id": record_id, "title": record_id, "ok": False,
                                "why": _why(exc, actor)})  # fmt: skip
        return _page(request, "bulk.html", actor, csrf=session.csrf_token,
                     nav=object_menu(request, actor), object=cobj, results=results,
                     title=object_label(cobj, actor.locale, plural=True))  # fmt: skip

    @get("/ui/o/{object_name:str}/export.csv", sync_to_thread=True)
    def export(self, request: Req, object_name: FromPath[str]) -> Stream:
        """The list view as it is shown (its filter, columns and sort) as a CSV download,
        through the same audited export as the API (personal data masked unless the
        user's role may export it)."""
        _, actor = signed_in(request)
        cobj = object_of(request, object_name)
        _, view, columns, sort = list_view(request, cobj, actor)
        rows = export_rows(
            service_of(request), object_name, actor, filter=view.filter if view else None,
            fields=columns, sort=sort, locale=actor.locale,
        )  # fmt: skip
        name = f"{object_name}-{view.name}.csv" if view else f"{object_name}.csv"
        disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Stream(csv_chunks(rows), media_type="text/csv", headers=disposition)

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
        try:  # with a field missing, a dry run still collects the service's own errors
            options = WriteOptions(dry_run=True) if missing else WriteOptions()
            record = service_of(request).create(object_name, values, actor, options=options)
        except ValidationFailed as exc:
            missing = {**field_errors(exc, actor), **missing}
        if missing:
            return self._form(request, session, actor, cobj, {}, None, values, missing,
                              status=422)  # fmt: skip
        return Redirect(f"/ui/o/{object_name}/{record['id']}")

    @get("/ui/o/{object_name:str}/{record_id:str}", sync_to_thread=True)
    def record_page(
        self, request: Req, object_name: FromPath[str], record_id: FromPath[str]
    ) -> Template:
        session, actor = signed_in(request)
        return self._record(request, session, actor, object_name, record_id)

    def _record(
        self, request: Req, session: Any, actor: Actor, object_name: str, record_id: str,
        revealed: dict[str, Any] | None = None,
    ) -> Template:  # fmt: skip
        cobj = object_of(request, object_name)
        service = service_of(request)
        record = service.get(object_name, record_id, actor)
        sections = form_sections(request, cobj, actor, record)
        for f in (f for s in sections for f in s["fields"]):
            f.revealable = f.personal and service.authorizer.may_reveal(actor, cobj, f.name)
            if revealed and f.name in revealed:
                f.shown = display(cobj, f.name, revealed[f.name], actor.locale, actor.tz)
                f.revealable = False
        return _page(
            request, "record.html", actor, csrf=session.csrf_token,
            nav=object_menu(request, actor), stages=stage_bars(request, cobj, record, actor),
            object=cobj, record=record, related=related_lists(request, cobj, record, actor),
            title=title_of(cobj, record), object_title=object_label(cobj, actor.locale),
            sections=sections, history=field_history(request, cobj, record, actor),
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
        try:
            options = WriteOptions(dry_run=True) if missing else WriteOptions()
            service.update(object_name, record_id, values, actor, expected_version=version,
                           options=options)  # fmt: skip
        except ValidationFailed as exc:
            missing = {**field_errors(exc, actor), **missing}
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
        return _page(
            request, "move.html", actor, status, csrf=session.csrf_token,
            nav=object_menu(request, actor), object=cobj, record=record,
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
        conflict: str = "",
    ) -> Template:
        general = errors.pop("", "")
        return _page(
            request, "form.html", actor, status, csrf=session.csrf_token,
            nav=object_menu(request, actor), object=cobj, record=record, version=version,
            title=title_of(cobj, record) if record else object_label(cobj, actor.locale),
            sections=form_sections(request, cobj, actor, record, typed=typed, errors=errors,
                                   conflict=bool(conflict), editing=True),
            error_count=len(errors) + bool(general), general=general, conflict=conflict,
        )  # fmt: skip


def _login_cookie(token: str) -> Cookie:
    return Cookie(key=LOGIN_CSRF_COOKIE, value=token, httponly=True, samesite="strict",
                  path="/ui/login")  # fmt: skip


def _why(exc: Exception, actor: Actor) -> str:
    """A bulk row's failure in the user's language."""
    errors = getattr(exc, "row_errors", None)
    if errors is None:
        return str(exc)
    return " ".join(e.text(actor.locale) for e in errors())
