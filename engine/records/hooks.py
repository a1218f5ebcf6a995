"""Plugin hooks around a write: before-write (in the transaction) and after-commit."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pluggy

from engine.records.effects import jsonable
from engine.records.errors import FieldError, ValidationFailed
from plugins import hookspecs

__all__ = ["PluginManager", "WriteEvent", "plugin_manager"]

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "metacrm.plugins"


@dataclass
class WriteEvent:
    operation: str
    object: str
    record: dict[str, Any]
    actor_id: str | None
    old: dict[str, Any] | None = None

    def payload(self) -> dict[str, Any]:
        """The event as JSON data, as it is kept in the outbox and given to after-commit
        hooks (records in the API's JSON form)."""
        return {
            "operation": self.operation,
            "object": self.object,
            "id": self.record.get("id"),
            "version": self.record.get("version"),
            "actor": self.actor_id,
            "record": jsonable(self.record),
            "old": jsonable(self.old),
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> WriteEvent:
        return cls(
            operation=payload["operation"],
            object=payload["object"],
            record=payload.get("record") or {"id": payload.get("id")},
            actor_id=payload.get("actor"),
            old=payload.get("old"),
        )


class PluginManager:
    """A pluggy manager with the two write hooks and the error shape the service needs."""

    def __init__(self, load_entry_points: bool = True):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        if load_entry_points:
            self.pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)

    def register(self, plugin: Any, name: str | None = None) -> None:
        self.pm.register(plugin, name)

    def has_after_commit(self) -> bool:
        return bool(self.pm.hook.metacrm_after_commit.get_hookimpls())

    def run_before_write(self, event: WriteEvent, locale: str) -> None:
        for impl in reversed(self.pm.hook.metacrm_before_write.get_hookimpls()):
            try:
                impl.function(event=event)
            except ValidationFailed:
                raise
            except Exception as exc:  # a plugin's failure aborts the write, naming the plugin
                raise ValidationFailed(
                    [
                        FieldError(
                            field=None,
                            rule=f"plugin:{impl.plugin_name}",
                            code="plugin_refused",
                            message={
                                "en": f"plugin {impl.plugin_name} refused: {exc}",
                                "zh-CN": f"插件{impl.plugin_name}拒绝：{exc}",
                            },
                        )
                    ],
                    locale,
                ) from exc

    def deliver(self, topic: str, payload: dict[str, Any]) -> None:
        """An outbox row to every after-commit hook; a failure leaves the row to be
        retried, and then every hook sees the event again (at least once)."""
        event = WriteEvent.from_payload(payload)
        for impl in self.pm.hook.metacrm_after_commit.get_hookimpls():
            impl.function(event=event)


def plugin_manager() -> PluginManager:
    return PluginManager()
