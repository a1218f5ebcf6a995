"""The web UI end users work in: sign-in, navigation, list views and record forms, all
generated from the packs' layouts and served by ``metacrm serve`` beside the API.

Pages are rendered on the server (Jinja2 with autoescaping: every value from records or
metadata is escaped) and work without JavaScript. Every read and write goes through the
record service as the signed-in user, so the UI shows and changes exactly what the API
would let that user see and change.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from admin_ui.list_pages import ListPages
from admin_ui.pages import UiController
from admin_ui.record_pages import RecordPages
from admin_ui.rendering import ui_template_config
from admin_ui.session import SignInRequired
from engine.api.app import AppConfig

__all__ = ["with_ui"]

STATIC = Path(__file__).parent / "static"
#: Paths the API's token middleware leaves alone: the UI signs users in by itself.
PUBLIC_PATHS = ("/", "/ui(/.*)?", "/ui-static/.*")


def with_ui(config: AppConfig) -> AppConfig:
    """``config`` with the UI's pages, static files and sign-in redirect added."""
    return dataclasses.replace(
        config,
        public_paths=(*config.public_paths, *PUBLIC_PATHS),
        extra_handlers=[
            *config.extra_handlers,
            UiController,
            ListPages,
            RecordPages,
            create_static_files_router(path="/ui-static", directories=[STATIC]),
        ],
        template_config=ui_template_config(),
        extra_exception_handlers={
            **config.extra_exception_handlers,
            SignInRequired: _to_sign_in,
        },
    )


def _to_sign_in(request: Request[Any, Any, Any], exc: Exception) -> Redirect:
    return Redirect("/ui/login")
