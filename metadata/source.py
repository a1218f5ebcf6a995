"""Read one YAML or JSON document, remembering the line of every value.

Line numbers come from PyYAML's composed node tree (parsed by libyaml when available),
so errors found long after parsing can still point at the line a consultant wrote.
Duplicate keys, which PyYAML would silently collapse, are reported instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from metadata.problems import Problem, format_path

__all__ = ["SourceDoc", "read_document"]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Key = tuple[str | int, ...]


class SourceDoc:
    """A parsed document: its data, where it came from, and the line of each path."""

    __slots__ = ("data", "display", "lines", "path", "renumbered")

    def __init__(self, path: Path, display: str, data: Any, lines: dict[_Key, int]):
        self.path = path
        self.display = display
        self.data = data
        self.lines = lines
        #: list path -> original index of each element kept after faulty ones were set aside
        self.renumbered: dict[_Key, list[int]] = {}

    def original(self, path: _Key) -> _Key:
        """Map a path into the decoded value back to the path the author wrote."""
        out: list[str | int] = []
        for part in path:
            if isinstance(part, int):
                kept = self.renumbered.get(tuple(out))
                part = kept[part] if kept is not None and part < len(kept) else part
            out.append(part)
        return tuple(out)

    def line_of(self, path: _Key) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


def read_document(path: Path, display: str | None = None) -> tuple[SourceDoc | None, list[Problem]]:
    """Parse ``path`` (``.yaml``/``.yml``/``.json``); return the document or the problems."""
    display = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(code="unreadable", message=f"cannot read file: {exc}", file=display)]
    if path.suffix == ".json":
        return _read_json(path, display, text)
    return _read_yaml(path, display, text)


def _read_json(path: Path, display: str, text: str) -> tuple[SourceDoc | None, list[Problem]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [
            Problem(
                code="syntax", message=f"invalid JSON: {exc.msg}", file=display, line=exc.lineno
            )
        ]
    return SourceDoc(path, display, data, {(): 1}), []


def _read_yaml(path: Path, display: str, text: str) -> tuple[SourceDoc | None, list[Problem]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return None, [
            Problem(
                code="syntax",
                message=f"invalid YAML: {exc.problem or exc.context}",
                file=display,
                line=mark.line + 1 if mark else None,
            )
        ]
    except yaml.YAMLError as exc:
        return None, [Problem(code="syntax", message=f"invalid YAML: {exc}", file=display)]
    finally:
        loader.dispose()
    if node is None:
        return SourceDoc(path, display, None, {(): 1}), []
    builder = _Builder(display)
    data = builder.build(node, ())
    return SourceDoc(path, display, data, builder.lines), builder.problems


class _Builder:
    """Construct Python data from YAML nodes, recording lines and duplicate keys."""

    def __init__(self, display: str):
        self.display = display
        self.lines: dict[_Key, int] = {}
        self.problems: list[Problem] = []
        self._constructor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, key: _Key) -> Any:
        self.lines[key] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            self._constructor.flatten_mapping(node)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                name = self._constructor.construct_object(key_node, deep=True)
                if not isinstance(name, str | int | float | bool) and name is not None:
                    name = str(name)
                if name in out:
                    self.problems.append(
                        Problem(
                            code="duplicate_key",
                            message=f"key {name!r} appears twice; the later one would win",
                            file=self.display,
                            line=key_node.start_mark.line + 1,
                            path=format_path((*key, str(name))),
                        )
                    )
                out[name] = self.build(value_node, (*key, str(name)))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*key, i)) for i, item in enumerate(node.value)]
        return self._constructor.construct_object(node, deep=True)
