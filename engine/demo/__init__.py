"""The demo CRMs `metacrm demo` seeds and serves: ``auto`` (the default, what `make run`
starts: a car brand, its regions and dealers on the base and auto packs) and ``base`` (the
base pack's own small demo). Each writes its data through the RecordService, as its users.
"""

from __future__ import annotations

from engine.demo.common import Demo, DemoUser

__all__ = ["DEMOS", "Demo", "DemoUser", "demo_named"]


def _demos() -> dict[str, Demo]:
    from engine.demo import auto, base

    return {"auto": auto.DEMO, "base": base.DEMO}


DEMOS: dict[str, Demo] = _demos()


def demo_named(name: str) -> Demo:
    """The demo called ``name``.

    Raises:
        KeyError: There is no such demo.
    """
    return DEMOS[name]
