"""Templates consultants write (notification texts, webhook bodies), rendered in
Jinja2's sandbox: they see what they are given and nothing of the server.

A reach for Python's internals (``__class__``, ``_private``, ``|attr('__globals__')``) or
a call that would change the data they are given is refused with ``SecurityError`` when
rendered, and the same reaches written plainly are refused by ``metacrm validate``
(``template_problem``), so a consultant learns of them before any record does.
"""

from __future__ import annotations

from typing import Any, NoReturn

from jinja2 import TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["SecurityError", "record_reads", "render_template", "template_problem"]


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's sandbox, raising instead of rendering an unsafe attribute as empty."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> NoReturn:
        raise SecurityError(f"templates may not read {attribute!r} of a {type(obj).__name__} value")


_SANDBOX = _Sandbox(autoescape=False)


def render_template(template: str, **context: Any) -> str:
    return _SANDBOX.from_string(template).render(**context)


def template_problem(template: str) -> str | None:
    """Why ``template`` is refused (a syntax error, an attribute or item that starts with
    an underscore), or None."""
    try:
        tree = _SANDBOX.parse(template)
    except TemplateSyntaxError as exc:
        return f"line {exc.lineno}: {exc.message}"
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Getattr):
            names = [node.attr]
        elif isinstance(node, nodes.Getitem):
            names = [node.arg.value] if isinstance(node.arg, nodes.Const) else []
        elif isinstance(node, nodes.Filter):
            names = [a.value for a in node.args if isinstance(a, nodes.Const)]
            names = names if node.name == "attr" else []
        else:
            names = []
        for name in names:
            if isinstance(name, str) and name.startswith("_"):
                return f"{name!r} reaches into the server's internals"
    return None


def record_reads(template: str) -> set[str]:
    """The fields ``template`` reads by name from ``record`` (``record.name``,
    ``record['name']``); a template that does not parse reads nothing."""
    try:
        tree = _SANDBOX.parse(template)
    except TemplateSyntaxError:
        return set()
    found = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if not isinstance(node, nodes.Getattr | nodes.Getitem):
            continue
        if not (isinstance(node.node, nodes.Name) and node.node.name == "record"):
            continue
        if isinstance(node, nodes.Getattr):
            found.add(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            found.add(node.arg.value)
    return found
