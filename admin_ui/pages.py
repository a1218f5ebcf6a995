"""The UI's pages around the records: sign-in and sign-out, the language switch, the home
page, search across objects and the approvals inbox. List pages are in
``admin_ui.list_pages``, record pages and forms in ``admin_ui.record_pages``.
"""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from admin_ui.fields import display, object_label
from admin_ui.rendering import UiPages, page
from admin_ui.session import (
    LOGIN_CSRF_COOKIE,
    authenticator,
    check_csrf,
    new_login_token,
    signed_in,
)
from admin_ui.texts import TEXTS
from admin_ui.views import Req, may_list, service_of, text_of, title_of
from engine.api.auth import SESSION_COOKIE
from engine.auth import AuthError
from engine.records import BadQuery

__all__ = ["Form", "UiController"]

Form = URLEncodedBody[dict[str, Any]]


class UiController(UiPages):
    """Signing in and out, the language, the home page, search and the approvals inbox."""

    # -- signing in -----------------------------------------------------------------------

    @get("/ui/login", sync_to_thread=False)
    def login_page(self, request: Req) -> Template:
        token = new_login_token()
        shown = page(request, "login.html", None, csrf=token, error="", username="")
        shown.cookies.append(_login_cookie(token, authenticator(request).secure(request)))
        return shown

    @post("/ui/login", sync_to_thread=True)
    def login(self, request: Req, data: Form) -> Response[Any]:
        """Sign in from our own form: its page's origin is ours and it carries the token
        its cookie holds (a page of another site has neither)."""
        auth = authenticator(request)
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
        refusal = auth.sign_in_refusal(request)
        if refusal is not None:
            return page(request, "login.html", None, 403, csrf=expected or "", username="",
                         error=refusal.text("zh-CN"))  # fmt: skip
        if not expected or data.get("csrf_token") != expected:
            return page(request, "login.html", None, 403, csrf=expected or "", username="",
                         error=TEXTS["zh-CN"]["stale_form"])  # fmt: skip
        client = request.client.host if request.client else "unknown"  # as trusted proxies say
        try:
            session = auth.sessions.login(
                data.get("username", ""), data.get("password", ""), client
            )
        except AuthError as exc:
            locale = data.get("locale") or "zh-CN"
            return page(request, "login.html", None, 401, csrf=expected,
                         username=data.get("username", ""), error=exc.text(locale))  # fmt: skip
        response = Redirect("/ui")
        response.set_cookie(auth.session_cookie(request, session))
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
        return page(request, "home.html", actor, session=session)

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
                if title is None or not may_list(service, actor, cobj):
                    continue
                # The resolver decides: a title the user sees masked matches only on their
                # own records (view_pii: own), or not at all.
                try:
                    found = service.list(
                        name, actor, filter={"starts_with": [{"var": title}, query]},
                        limit=10, fields=["id", title],
                    )  # fmt: skip
                except BadQuery:
                    continue
                if found.records:
                    groups.append({
                        "object": name, "label": object_label(cobj, actor.locale, plural=True),
                        "hits": [{"id": r["id"], "title": str(r.get(title) or r["id"])}
                                 for r in found.records],
                    })  # fmt: skip
        return page(request, "search.html", actor, session=session, query=query, groups=groups)

    @get("/ui/approvals", sync_to_thread=True)
    def inbox(self, request: Req) -> Template:
        """What awaits the user's decision, oldest first, each with its record as they may
        read it; one they may not open is named by its kind only, and they decide it all
        the same (the process named them)."""
        session, actor = signed_in(request)
        compiled = request.app.state.runtime.snapshot.compiled
        items = []
        for row in service_of(request).inbox(actor):
            cobj = compiled.objects.get(row["object"])
            process = compiled.schema.approvals.get(row["process"])
            if cobj is None or process is None:
                continue
            step = process.steps[row["step"]] if row["step"] < len(process.steps) else None
            record = row["record"]
            items.append({
                "id": row["id"], "object": cobj.name,
                "record_id": record["id"] if record is not None else None,
                "record": title_of(cobj, record) if record is not None else "",
                "kind": object_label(cobj, actor.locale),
                "process": text_of(process.label, actor.locale, process.name),
                "step": text_of(step.label, actor.locale, step.name) if step else "",
                "comment": row.get("comment") or "",
                "since": display(cobj, "created_at", row["waiting_since"], actor.locale,
                                 actor.tz),
            })  # fmt: skip
        return page(request, "approvals.html", actor, session=session, items=items)  # fmt: skip

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

    @post("/ui/approvals/{approval_id:str}/recall", sync_to_thread=True)
    def recall(self, request: Req, approval_id: FromPath[str], data: Form) -> Redirect:
        """The submitter withdraws a waiting approval (where the process allows it)."""
        session, actor = signed_in(request)
        check_csrf(session, data)
        service_of(request).recall(approval_id, actor)
        back = str(data.get("next") or "/ui")
        return Redirect(back if back.startswith("/ui/") else "/ui")


def _login_cookie(token: str, secure: bool) -> Cookie:
    return Cookie(key=LOGIN_CSRF_COOKIE, value=token, httponly=True, samesite="strict",
                  path="/ui/login", secure=secure)  # fmt: skip
