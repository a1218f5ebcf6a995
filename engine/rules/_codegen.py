"""Python source generation for compiled rules.

A rule becomes one Python function built with ``compile()`` once. Operators contribute
expression source through their ``python`` generator; every value (constants, var keys,
helper functions) enters the generated code as a bound name (``_k3``) whose value lives
in the function's keyword-only defaults, so no data is ever spliced into source text.

Generated functions see three locals: ``d`` (the current data: the record, or the item in
an iterator), ``s`` (the scope tuple ``val`` climbs: outer data and iterator metadata
alternate, innermost last) and ``e`` (the ``EvalEnv``).

The top-level function has two bodies. The *fast* body is optimistic: it reads fields
with ``d[key]`` and compares with native operators, relying on Python raising
``TypeError``/``KeyError``/``AttributeError`` exactly where JsonLogic would need a
coercion (a missing key, ``None``, a string against a number, data that is not a dict).
Any such exception re-runs the *generic* body, which applies the full semantics of
``values``. Rules are pure, so running the generic body after a partial fast run is safe.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from .context import NUMBER_TYPES, TEXT_TYPES, RuleContext
from .env import EvalEnv
from .nodes import ArrayNode, Literal, Node, OpNode
from .registry import Kind
from .values import invalid, is_number, truthy

__all__ = ["Emitter", "build_function", "build_rule", "gen_eager", "spread"]

#: Exceptions that send the fast body to the generic one.
FALLBACK = (KeyError, TypeError, AttributeError, IndexError)
#: Operator nesting inlined into one function; deeper parts become functions of their own
#: (keeps Python's parser far from its nesting limits).
MAX_INLINE_DEPTH = 12

DEFAULT_ENV = EvalEnv()


class _Unit:
    """State shared by all functions generated for one rule."""

    def __init__(self, context: RuleContext | None) -> None:
        self.context = context
        self.ns: dict[str, Any] = {"__builtins__": {}}
        self.counter = 0
        self.by_id: dict[int, str] = {}
        self.sources: list[str] = []

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"


class Emitter:
    """Builds the source of one generated function.

    Attributes:
        fast: Emitting the optimistic body (see module doc); generators may use native
            operations that raise ``FALLBACK`` exceptions instead of calling helpers.
        record_scope: ``d`` is the record itself (not an iterator item or error object),
            so context field types apply to ``var``.
    """

    def __init__(self, unit: _Unit, *, fast: bool, record_scope: bool) -> None:
        self.unit = unit
        self.fast = fast
        self.record_scope = record_scope
        self.used: dict[str, None] = {}
        self.uses_env = False
        self.uses_scope = False
        self.depth = 0

    @property
    def context(self) -> RuleContext | None:
        return self.unit.context

    # -- names -------------------------------------------------------------------------

    def const(self, value: Any) -> str:
        """Bind ``value`` to a fresh name usable in this function's source."""
        name = self.unit.name("_k")
        self.unit.ns[name] = value
        self.used[name] = None
        return name

    def helper(self, fn: Any) -> str:
        """Bind a helper (shared by identity across the rule's functions)."""
        name = self.unit.by_id.get(id(fn))
        if name is None:
            name = self.unit.name("_h")
            self.unit.by_id[id(fn)] = name
            self.unit.ns[name] = fn
        self.used[name] = None
        return name

    def tmp(self) -> str:
        """A fresh local for ``:=``."""
        return self.unit.name("_t")

    def env(self) -> str:
        """Source for the ``EvalEnv``; marks the function as needing it."""
        self.uses_env = True
        return "e"

    def scope(self) -> str:
        """Source for the scope tuple; marks the function as needing it."""
        self.uses_scope = True
        return "s"

    # -- expressions -------------------------------------------------------------------

    def expr(self, node: Node) -> str:
        """Python source evaluating ``node`` to its JsonLogic value."""
        if isinstance(node, Literal):
            return self.literal(node.value)
        if isinstance(node, ArrayNode):
            return "[" + "".join(self.expr(item) + ", " for item in node.items) + "]"
        if self.depth >= MAX_INLINE_DEPTH:
            return self.call(node)
        self.depth += 1
        try:
            return node.spec.python(self, node)
        finally:
            self.depth -= 1

    def literal(self, value: Any) -> str:
        if value is None:
            return "None"
        if value is True:
            return "True"
        if value is False:
            return "False"
        if isinstance(value, dict | list):
            return f"{self.helper(copy.deepcopy)}({self.const(value)})"
        return self.const(value)

    def truth(self, node: Node) -> str:
        """Source for a Python bool (or a value with the same truthiness) of ``node``."""
        source = self.expr(node)
        if self.kind(node) is Kind.BOOL:
            return source
        return f"{self.helper(truthy)}({source})"

    def call(self, node: Node, *, record_scope: bool | None = None) -> str:
        """Source calling ``node`` compiled as a function of its own with ``(d, s, e)``."""
        scope = self.record_scope if record_scope is None else record_scope
        fn = build_function(self.unit, node, record_scope=scope)
        return f"{self.const(fn)}(d, {self.scope()}, {self.env()})"

    def function(self, node: Node, *, record_scope: bool = False) -> tuple[str, bool]:
        """Bind ``node`` compiled as a function ``(d, s, e)``.

        Returns:
            Its name, and whether it reads the scope tuple (iterators build the tuple per
            item only when it does).
        """
        fn, scoped = _build(self.unit, node, record_scope=record_scope)
        if scoped:
            self.uses_scope = True
        self.uses_env = True
        return self.const(fn), scoped

    # -- static knowledge ----------------------------------------------------------------

    def constant(self, node: Node) -> tuple[bool, Any]:
        """``(True, value)`` when ``node`` is a constant (a literal or array of them)."""
        if isinstance(node, Literal):
            return True, node.value
        if isinstance(node, ArrayNode):
            values = []
            for item in node.items:
                ok, value = self.constant(item)
                if not ok:
                    return False, None
                values.append(value)
            return True, values
        return False, None

    def constant_list(self, nodes: list[Node]) -> tuple[bool, list[Any]]:
        """``(True, values)`` when every node is a constant."""
        values = []
        for node in nodes:
            ok, value = self.constant(node)
            if not ok:
                return False, []
            values.append(value)
        return True, values

    def kind(self, node: Node) -> Kind:
        """What ``node`` evaluates to, as far as is known statically."""
        if isinstance(node, Literal):
            return literal_kind(node.value)
        if isinstance(node, ArrayNode):
            return Kind.LIST
        if node.op in ("and", "or") and node.args:
            kinds = {self.kind(a) for a in node.args}
            return Kind.BOOL if kinds == {Kind.BOOL} else Kind.ANY
        field_type = self.field_type(node)
        if field_type == "boolean":
            return Kind.BOOL  # bool or None: same truthiness and and/or results in Python
        return node.spec.result

    def field_type(self, node: Node) -> str | None:
        """The declared value type when ``node`` reads one field of the record."""
        if not (self.record_scope and self.context and isinstance(node, OpNode)):
            return None
        if node.op not in ("var", "val") or len(node.args) != 1 or node.dynamic is not None:
            return None
        arg = node.args[0]
        if not isinstance(arg, Literal) or arg.value.__class__ is not str:
            return None
        ref = self.context.fields.get(arg.value)
        return ref.value_type if ref is not None else None

    def is_text_field(self, node: Node) -> bool:
        return self.field_type(node) in TEXT_TYPES

    def is_number_field(self, node: Node) -> bool:
        return self.field_type(node) in NUMBER_TYPES


def literal_kind(value: Any) -> Kind:
    if value is None:
        return Kind.NULL
    if value.__class__ is bool:
        return Kind.BOOL
    if value.__class__ is str:
        return Kind.STRING
    if is_number(value):
        return Kind.NUMBER
    if isinstance(value, list):
        return Kind.LIST
    if isinstance(value, Mapping):
        return Kind.OBJECT
    return Kind.ANY


def _exec(unit: _Unit, name: str, header: str, body: list[str], used: dict[str, None]) -> Any:
    """Compile ``def name(header): body`` inside a factory whose parameters are the bound
    values, so the function reads them as closure cells (as fast as locals, and nothing
    to fill in per call as keyword defaults would need)."""
    params = ", ".join(used)
    lines = [f"def _make_{name}({params}):", f"    def {name}({header}):"]
    lines += ["        " + line for line in body]
    lines.append(f"    return {name}")
    source = "\n".join(lines) + "\n"
    unit.sources.append(source)
    code = compile(source, f"<rule {name}>", "exec")
    scope: dict[str, Any] = {"__builtins__": {}}
    exec(code, scope)
    return scope[f"_make_{name}"](*(unit.ns[n] for n in used))


def build_function(unit: _Unit, node: Node, *, record_scope: bool) -> Callable[..., Any]:
    """Compile ``node`` (generic semantics) as ``fn(d, s, e)``."""
    return _build(unit, node, record_scope=record_scope)[0]


def _build(unit: _Unit, node: Node, *, record_scope: bool) -> tuple[Callable[..., Any], bool]:
    em = Emitter(unit, fast=False, record_scope=record_scope)
    body = em.expr(node)
    name = unit.name("_f")
    return _exec(unit, name, "d, s, e", [f"return {body}"], em.used), em.uses_scope


def build_rule(
    node: Node, context: RuleContext | None, *, optimise: bool = True
) -> tuple[Callable[..., Any], list[str]]:
    """Compile the rule's root as ``fn(data, env=None)``; returns it and its sources.

    ``optimise=False`` emits the generic body only (tests compare the two).
    """
    unit = _Unit(context)
    em = Emitter(unit, fast=optimise, record_scope=True)
    fast = em.expr(node)
    em.fast = False
    generic = em.expr(node)
    lines = []
    if em.uses_env or em.uses_scope:
        lines.append(f"e = {em.const(DEFAULT_ENV)} if env is None else env")
    if em.uses_scope:
        lines.append("s = ()")
    if fast == generic:
        lines.append(f"return {generic}")
    else:
        fallback = em.const(FALLBACK)
        lines += ["try:", f"    return {fast}", f"except {fallback}:", f"    return {generic}"]
    fn = _exec(unit, "_rule", "d, env=None", lines, em.used)
    return fn, unit.sources


# -- eager operators -------------------------------------------------------------------


def spread(fn: Callable[..., Any], value: Any, lo: int, hi: int | None) -> Any:
    """Call ``fn`` with the run-time arguments ``value`` (a list is spread)."""
    args = value if isinstance(value, list) else [value]
    if len(args) < lo or (hi is not None and len(args) > hi):
        invalid(f"expected {lo}..{hi if hi is not None else ''} arguments, got {len(args)}")
    return fn(*args)


def gen_eager(em: Emitter, node: OpNode) -> str:
    """Generator for ``Operator.eager``: evaluate every argument, then call the function."""
    fn = em.helper(node.spec.eager_fn)
    if node.dynamic is not None:
        lo, hi = node.spec.min_args, node.spec.max_args
        return f"{em.helper(spread)}({fn}, {em.expr(node.dynamic)}, {em.const(lo)}, {em.const(hi)})"
    return f"{fn}(" + "".join(em.expr(a) + ", " for a in node.args) + ")"
