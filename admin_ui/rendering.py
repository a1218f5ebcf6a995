"""How a UI page is rendered: the Jinja2 environment (autoescaping everything), the
context every page gets (texts in the user's language, the menu, the CSRF token), and
the one "not found" page for records the user may not see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Controller
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from admin_ui.session import SignInRequired, signed_in
from admin_ui.texts import TEXTS
from admin_ui.views import Req, object_menu
from engine.records import Actor, NotFound

__all__ = ["UiPages", "page", "ui_template_config"]

TEMPLATES = Path(__file__).parent / "templates"


def ui_template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja2 with autoescaping on for every page: values from records and metadata are
    text, never markup."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True)
    )
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))


def page(
    request: Req,
    template: str,
    actor: Actor | None,
    status_code: int = 200,
    *,
    session: Any = None,
    **context: Any,
) -> Template:
    """``template`` with ``context``; for a signed-in ``session`` also its CSRF token and
    the user's menu."""
    locale = actor.locale if actor is not None else "zh-CN"
    if session is not None and actor is not None:
        context |= {"csrf": session.csrf_token, "nav": object_menu(request, actor)}
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
        return page(request, "not_found.html", None, 404)
    return page(request, "not_found.html", actor, 404, session=session)


class UiPages(Controller):
    """What every controller of the UI shares: pages, not API operations, and the same
    answer for a missing record as for one the user may not see."""

    path = "/"
    include_in_schema = False
    exception_handlers = {NotFound: _not_found}  # noqa: RUF012 (Litestar reads it)
