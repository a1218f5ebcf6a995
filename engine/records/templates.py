"""Templates consultants write (notification texts, webhook bodies), rendered in
Jinja2's sandbox: they see what they are given and nothing of the server."""

from __future__ import annotations

from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["render_template"]

_SANDBOX = ImmutableSandboxedEnvironment(autoescape=False)


def render_template(template: str, **context: Any) -> str:
    return _SANDBOX.from_string(template).render(**context)
