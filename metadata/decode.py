"""Turn parsed YAML/JSON into metadata Structs, reporting every problem with its location.

msgspec stops at the first error. To report all of them in one run, the offending list
element (or key) is set aside and decoding is tried again, keeping a map from the
shrinking lists back to the indices the author wrote. msgspec's terse messages are
rewritten into what a consultant can act on, with a "did you mean" from the Struct's own
keys, tags and enum values.
"""

from __future__ import annotations

import copy
import enum
import functools
import re
from typing import Any, TypeVar

import msgspec
import msgspec.inspect as mi

from metadata.problems import Problem, did_you_mean, format_path
from metadata.source import SourceDoc
from metadata.typeinfo import leaves, unwrap

__all__ = ["decode_document"]

T = TypeVar("T")

_MAX_ROUNDS = 200
_ERROR_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<key>.+)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<key>.+)`$")
_INVALID = re.compile(r"^Invalid (?:enum )?value (?P<value>.+)$")
_EXPECTED = re.compile(r"^Expected `(?P<what>[^`]+)`(?P<rest>.*?)(?:, got `(?P<got>[^`]+)`)?$")

_FRIENDLY_TYPES = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "array": "a list",
    "object": "a mapping",
    "str | object": "text or a mapping of locale to text",
}
_NAME_PATTERN = "^[a-z][a-z0-9_]*$"

Path = tuple[str | int, ...]


def decode_document(doc: SourceDoc, typ: type[T]) -> tuple[T | None, list[Problem]]:
    """Decode ``doc.data`` as ``typ``; return the value (None if unusable) and all problems.

    Faulty elements are reported and left out, and the rest is returned, so checks that
    run later still see every good part of the document. None is returned only when the
    document as a whole is unusable (a required key is missing or wrong).
    """
    try:
        return msgspec.convert(doc.data, typ, strict=False), []
    except msgspec.ValidationError:
        pass  # find every problem on a copy that faulty parts can be cut from
    root_info = _type_info(typ)
    work = copy.deepcopy(doc.data)
    alive: dict[int, list[int]] = {}
    problems: list[Problem] = []
    removed: set[str] = set()
    for _ in range(_MAX_ROUNDS):
        try:
            return msgspec.convert(work, typ, strict=False), problems
        except msgspec.ValidationError as exc:
            message, raw_path = _split(str(exc))
            missing = _MISSING.match(message)
            if not (missing and missing["key"] in removed and not raw_path):
                path = _original_path(work, raw_path, alive)
                problems.append(_describe(doc, root_info, message, path, work, raw_path))
            set_aside = _set_aside(work, raw_path, message, alive, doc)
            if set_aside is None:
                return None, problems
            removed.add(set_aside)
    return None, problems


@functools.cache
def _type_info(typ: type[Any]) -> mi.Type:
    """Inspecting a Struct tree is costly; each document kind is inspected once."""
    return mi.type_info(typ)


def _split(text: str) -> tuple[str, list[str | int]]:
    match = _ERROR_AT.match(text)
    if match is None:
        return text, []
    parts: list[str | int] = []
    for key, index in _PATH_PART.findall(match["path"] or ""):
        if key:
            parts.append(key)
        else:
            parts.append(-1 if index == "..." else int(index))
    return match["msg"], parts


def _original_path(work: Any, raw: list[str | int], alive: dict[int, list[int]]) -> Path:
    """Map a path into the pruned data back to the indices in the author's file."""
    out: list[str | int] = []
    node = work
    for part in raw:
        if isinstance(part, int) and part >= 0 and isinstance(node, list):
            indices = alive.get(id(node))
            out.append(indices[part] if indices else part)
            node = node[part] if part < len(node) else None
        elif part == -1:
            break  # a value inside a dict; msgspec does not say which key
        else:
            out.append(part)
            node = node.get(part) if isinstance(node, dict) else None
    return tuple(out)


def _set_aside(
    work: Any, raw: list[str | int], message: str, alive: dict[int, list[int]], doc: SourceDoc
) -> str | None:
    """Remove the smallest enclosing piece that holds the error so decoding can go on.

    Returns what was removed (a key, or "" for a list element), None if nothing could be.
    """
    unknown = _UNKNOWN.match(message)
    if unknown:
        target = _walk(work, raw)
        if isinstance(target, dict) and unknown["key"] in target:
            del target[unknown["key"]]
            return unknown["key"]
        return None
    # Prefer dropping the innermost list element on the path; else the key itself.
    cut = [i for i, part in enumerate(raw) if isinstance(part, int) and part >= 0]
    if cut:
        at = cut[-1]
        parent = _walk(work, raw[:at])
        if isinstance(parent, list) and raw[at] < len(parent):
            if id(parent) not in alive:
                alive[id(parent)] = list(range(len(parent)))
                doc.renumbered[_original_path(work, raw[:at], alive)] = alive[id(parent)]
            indices = alive[id(parent)]
            indices.pop(raw[at])  # type: ignore[arg-type]
            del parent[raw[at]]  # type: ignore[arg-type]
            return ""
    keys = [p for p in raw if isinstance(p, str)]
    if keys and not _MISSING.match(message):
        end = raw.index(keys[-1])
        parent = _walk(work, raw[:end])
        if isinstance(parent, dict) and keys[-1] in parent:
            del parent[keys[-1]]
            return keys[-1]
    return None


def _walk(node: Any, path: list[str | int]) -> Any:
    for part in path:
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node


def _describe(
    doc: SourceDoc,
    root: mi.Type,
    message: str,
    path: Path,
    work: Any,
    raw: list[str | int],
) -> Problem:
    line = doc.line_of(path)
    where = dict(file=doc.display, line=line, path=format_path(path))
    found_value = _walk(work, raw)
    if m := _UNKNOWN.match(message):
        keys = _struct_keys(_type_at(root, work, raw))
        return Problem(
            code="unknown_key",
            message=f"unknown key {m['key']!r}",
            expected="one of " + ", ".join(sorted(keys)) if keys else None,
            suggestion=did_you_mean(m["key"], keys),
            **where,
        )
    if m := _MISSING.match(message):
        return Problem(
            code="missing_key",
            message=f"missing required key {m['key']!r}",
            **where,
        )
    if m := _INVALID.match(message):
        choices = _choices(root, work, raw)
        found = str(found_value) if found_value is not None else m["value"].strip("'")
        return Problem(
            code="invalid_choice",
            message="value is not one of the allowed choices",
            expected="one of " + ", ".join(choices) if choices else None,
            found=repr(found),
            suggestion=did_you_mean(found, choices) if choices else None,
            **where,
        )
    if m := _EXPECTED.match(message):
        what = _FRIENDLY_TYPES.get(m["what"], m["what"])
        rest = m["rest"] or ""
        if _NAME_PATTERN in rest:
            what, rest = "a lower_snake_case name (letters, digits, _; starting with a letter)", ""
        expected = f"{what}{rest}".strip()
        found = repr(found_value) if found_value is not None else m["got"]
        return Problem(
            code="wrong_type",
            message="value has the wrong form",
            expected=expected,
            found=found,
            **where,
        )
    return Problem(code="invalid", message=message, **where)


def _type_at(root: mi.Type, work: Any, raw: list[str | int]) -> mi.Type | None:
    """The msgspec type that describes the value at ``raw``, resolving tagged unions."""
    info: mi.Type | None = unwrap(root)
    node = work
    for part in [*raw, None]:
        info = _pick_union_member(info, node)
        if part is None or info is None:
            return info
        if isinstance(info, mi.StructType) and isinstance(part, str):
            field = next((f for f in info.fields if f.encode_name == part), None)
            info = unwrap(field.type) if field else None
            node = node.get(part) if isinstance(node, dict) else None
        elif isinstance(info, mi.ListType) and isinstance(part, int):
            info = unwrap(info.item_type)
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        elif isinstance(info, mi.DictType):
            info = unwrap(info.value_type)
            node = None
        else:
            return None
    return info


def _pick_union_member(info: mi.Type | None, node: Any) -> mi.Type | None:
    if not isinstance(info, mi.UnionType):
        return info
    members = leaves(info)
    structs = [t for t in members if isinstance(t, mi.StructType)]
    if isinstance(node, dict) and structs:
        tagged = [s for s in structs if s.tag_field and node.get(s.tag_field) == s.tag]
        return tagged[0] if tagged else structs[0]
    for member in members:
        if isinstance(node, list) and isinstance(member, mi.ListType):
            return member
    return info


def _struct_keys(info: mi.Type | None) -> list[str]:
    if isinstance(info, mi.StructType):
        return [f.encode_name for f in info.fields]
    return []


def _choices(root: mi.Type, work: Any, raw: list[str | int]) -> list[str]:
    """Allowed values at ``raw``: union tags when the key is a tag field, else enum values."""
    if raw and isinstance(raw[-1], str):
        parent = _type_at(root, work, raw[:-1])
        container = _type_at_container(root, work, raw[:-1])
        if isinstance(container, mi.UnionType):
            tags = [
                str(t.tag)
                for t in leaves(container)
                if isinstance(t, mi.StructType) and t.tag_field == raw[-1]
            ]
            if tags:
                return tags
        if isinstance(parent, mi.StructType) and parent.tag_field == raw[-1]:
            return [str(parent.tag)]
    info = _type_at(root, work, raw)
    return _enum_values(info)


def _type_at_container(root: mi.Type, work: Any, raw: list[str | int]) -> mi.Type | None:
    """Like ``_type_at`` but leaves a union unresolved, to list its tags."""
    if not raw:
        return unwrap(root)
    parent = _type_at(root, work, raw[:-1])
    part = raw[-1]
    if isinstance(parent, mi.StructType) and isinstance(part, str):
        field = next((f for f in parent.fields if f.encode_name == part), None)
        return unwrap(field.type) if field else None
    if isinstance(parent, mi.ListType):
        return unwrap(parent.item_type)
    if isinstance(parent, mi.DictType):
        return unwrap(parent.value_type)
    return None


def _enum_values(info: mi.Type | None) -> list[str]:
    if isinstance(info, mi.UnionType):
        return [v for t in leaves(info) for v in _enum_values(t)]
    if isinstance(info, mi.EnumType) and issubclass(info.cls, enum.Enum):
        return [str(m.value) for m in info.cls]
    if isinstance(info, mi.LiteralType):
        return [str(v) for v in info.values]
    return []
