"""The Litestar app factory: configuration in, app out.

Routes are generic and read the runtime's current schema; authentication resolves every
request (but health checks and sign-in) to an Actor before any handler runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware

from engine.api.approval_routes import APPROVAL_ROUTES
from engine.api.auth import AUTH_ROUTES, Authenticator
from engine.api.clients import ProxyHeadersMiddleware, TrustedProxies
from engine.api.file_routes import FILE_ROUTES
from engine.api.limits import (
    MAX_BODY_BYTES,
    LimitedRequest,
    LimitExceeded,
    UrlLimitMiddleware,
    limit_error_handler,
)
from engine.api.metadata_routes import MetadataController
from engine.api.notification_routes import NotificationController
from engine.api.observability import RequestIdMiddleware, internal_error_handler
from engine.api.problems import http_error_handler, record_error_handler
from engine.api.record_routes import RecordController
from engine.api.runtime import Runtime
from engine.api.security_headers import add_security_headers
from engine.api.system_routes import SYSTEM_ROUTES
from engine.api.transfer_routes import TRANSFER_ROUTES
from engine.records import RecordError

__all__ = ["AppConfig", "create_app"]


@dataclass
class AppConfig:
    """What an app needs: the runtime it serves, how requests prove who they are, and
    which peers are proxies whose forwarded headers are believed (none by default)."""

    runtime: Runtime
    authenticator: Authenticator
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)
    public_paths: tuple[str, ...] = (
        "/healthz",
        "/readyz",
        "/api/v1/auth/login",
        "/api/v1/openapi.json",
        "/api/v1/docs",
    )
    #: Routes that take more (bulk writes, imports, files) say so themselves.
    max_body_bytes: int = MAX_BODY_BYTES
    extra_handlers: list[Any] = field(default_factory=list)
    #: Pages rendered from templates (the web UI), and how its exceptions answer.
    template_config: Any = None
    extra_exception_handlers: dict[Any, Any] = field(default_factory=dict)


class _AuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        found = connection.app.state.authenticator(connection)
        if found is None:
            raise NotAuthorizedException("sign in or send a valid API token")
        actor, grant = found
        return AuthenticationResult(user=actor, auth=grant)


def create_app(config: AppConfig) -> Litestar:
    auth = DefineMiddleware(_AuthMiddleware, exclude=[f"^{p}$" for p in config.public_paths])
    return Litestar(
        route_handlers=[
            RecordController,
            *APPROVAL_ROUTES,
            NotificationController,
            MetadataController,
            *TRANSFER_ROUTES,
            *FILE_ROUTES,
            *SYSTEM_ROUTES,
            *AUTH_ROUTES,
            *config.extra_handlers,
        ],
        middleware=[
            DefineMiddleware(ProxyHeadersMiddleware, proxies=config.trusted_proxies),
            RequestIdMiddleware,
            UrlLimitMiddleware,
            auth,
        ],
        before_send=[add_security_headers],
        exception_handlers={
            RecordError: record_error_handler,
            LimitExceeded: limit_error_handler,
            HTTPException: http_error_handler,
            Exception: internal_error_handler,
            **config.extra_exception_handlers,
        },
        template_config=config.template_config,
        request_max_body_size=config.max_body_bytes,
        request_class=LimitedRequest,
        state=State({"runtime": config.runtime, "authenticator": config.authenticator}),
        openapi_config=None,
        logging_config=None,  # the process decides (metacrm serve: JSON lines)
    )
