"""List pages: a list view with its tabs, sort, filters and pages; one action on the
selected rows, row by row; and the view as a CSV download."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.params import FromPath
from litestar.response import Stream, Template

from admin_ui.fields import display, label, object_label
from admin_ui.fields import widget as widget_of
from admin_ui.list_filters import list_filters
from admin_ui.pages import Form
from admin_ui.rendering import UiPages, page
from admin_ui.session import authenticator, check_csrf, signed_in
from admin_ui.views import (
    Req,
    bulk_actions,
    is_lookup,
    list_view,
    next_sort,
    object_of,
    service_of,
    text_of,
    title_of,
    titled,
)
from engine.records import Actor, BadQuery, NotFound, RecordError
from engine.transfer import export_rows
from engine.transfer.csv_export import csv_chunks

__all__ = ["ListPages"]


class ListPages(UiPages):
    @get("/ui/o/{object_name:str}", sync_to_thread=True)
    def list_page(self, request: Req, object_name: FromPath[str]) -> Template:
        session, actor = signed_in(request)
        cobj = object_of(request, object_name)
        views, view, columns, sort = list_view(request, cobj, actor)
        filters = list_filters(cobj, columns, request.query_params, actor)
        lookups = [c for c in columns if widget_of(cobj, c) == "text" and is_lookup(cobj, c)]
        service = service_of(request)
        try:
            found = service.list(
                object_name, actor, filter=_and(view.filter if view else None, filters.rule),
                sort=sort, limit=view.page_size if view else 50,
                cursor=request.query_params.get("cursor"), expand=lookups,
            )  # fmt: skip
        except BadQuery:  # a sort on a column the user may not read, a stale cursor
            found = service.list(object_name, actor, limit=50)
            sort = []
        rows = [
            {"id": r["id"],
             "cells": [display(cobj, c, titled(request, cobj, c, r.get(c)), actor.locale,
                               actor.tz) for c in columns]}
            for r in found.records
        ]  # fmt: skip
        return page(
            request, "list.html", actor, session=session,
            object=cobj, title=object_label(cobj, actor.locale, plural=True),
            columns=[{"name": c, "label": label(cobj, c, actor.locale),
                      "sort": next_sort(c, sort)
                      if service.authorizer.may_search(actor, cobj, c) else None}
                     for c in columns],
            rows=rows, views=[{"name": v.name, "label": text_of(v.label, actor.locale, v.name),
                               "current": v is view} for v in views],
            view=view.name if view else "", next_cursor=found.next_cursor, sort=sort,
            bulk=bulk_actions(request, cobj, actor), filters=filters,
            exportable=service.authorizer.may_export(actor, cobj),
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
        return page(request, "bulk.html", actor, session=session, object=cobj, results=results,
                     title=object_label(cobj, actor.locale, plural=True))  # fmt: skip

    @get("/ui/o/{object_name:str}/export.csv", sync_to_thread=True)
    def export(self, request: Req, object_name: FromPath[str]) -> Stream:
        """The list view as it is shown (its filter, columns and sort) as a CSV download,
        through the same audited export as the API: for roles with ``export`` only, and
        personal data masked unless the role may also view it."""
        _, actor = signed_in(request)
        cobj = object_of(request, object_name)
        _, view, columns, sort = list_view(request, cobj, actor)
        filters = list_filters(cobj, columns, request.query_params, actor)
        rows = export_rows(
            service_of(request), object_name, actor,
            filter=_and(view.filter if view else None, filters.rule),
            fields=columns, sort=sort, locale=actor.locale,
        )  # fmt: skip
        name = f"{object_name}-{view.name}.csv" if view else f"{object_name}.csv"
        disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Stream(csv_chunks(rows), media_type="text/csv", headers=disposition)


def _and(*rules: Any) -> Any:
    """The rules that are there, and-ed (a view's saved filter and the ad-hoc ones)."""
    present = [r for r in rules if r is not None]
    return None if not present else present[0] if len(present) == 1 else {"and": present}


def _why(exc: Exception, actor: Actor) -> str:
    """A bulk row's failure in the user's language."""
    errors = getattr(exc, "row_errors", None)
    if errors is None:
        return str(exc)
    return " ".join(e.text(actor.locale) for e in errors())
