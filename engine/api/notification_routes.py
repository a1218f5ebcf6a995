"""In-app notifications over HTTP: the caller's list, and marking one read."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath

from engine.api.auth import require_scope
from engine.api.record_routes import request_actor
from engine.auth import Scope
from engine.records.effects import jsonable

__all__ = ["NotificationController"]

READ = require_scope(Scope.RECORDS_READ)


class NotificationController(Controller):
    path = "/api/v1/notifications"

    @get("/", sync_to_thread=True, guards=[READ])
    def notifications(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        """The caller's notifications, unread first."""
        service = request.app.state.runtime.snapshot.service
        return {"notifications": jsonable(service.notifications(request_actor(request)))}

    @post("/{notification_id:str}/read", sync_to_thread=True, guards=[READ], status_code=204)
    def mark_read(self, request: Request[Any, Any, Any], notification_id: FromPath[str]) -> None:
        service = request.app.state.runtime.snapshot.service
        service.mark_notification_read(notification_id, request_actor(request))
