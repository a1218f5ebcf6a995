"""``metacrm init``: a new pack that validates as created.

The object's labels are i18n keys with both catalogs filled in, so a consultant sees both
ways of writing labels (keys here, inline ``{en, zh-CN}`` in the shipped packs).
"""

from __future__ import annotations

import re
from pathlib import Path

from metadata.resolve import ENGINE_VERSION

__all__ = ["scaffold_pack"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def scaffold_pack(path: Path, object_name: str = "item") -> list[Path]:
    """Create the pack folder ``path``; return the files written."""
    name = path.name
    for what, value in (("pack name (the folder name)", name), ("object name", object_name)):
        if not _NAME.match(value):
            raise ValueError(f"{what} {value!r} must be lower_snake_case, e.g. 'acme_auto'")
    if path.exists() and any(path.iterdir()):
        raise FileExistsError(f"{path} already exists and is not empty")
    major, minor = ENGINE_VERSION.split(".")[:2]
    files = {
        "pack.yaml": f"""\
name: {name}
version: 0.1.0
label: {{en: {_title(name)}, zh-CN: {_title(name)}}}
description: {{en: "Describe what this pack adds.", zh-CN: "说明此扩展包的用途。"}}
layer: industry
requires:
  engine: ">={major}.{minor}.0"
  packs:
    base: ">=1.0.0,<2.0.0"
""",
        f"objects/{object_name}.yaml": f"""\
name: {object_name}
label: objects.{object_name}.label
plural_label: objects.{object_name}.plural_label
icon: box
title_field: name
track_history: true
fields:
  - {{name: name, type: text, label: objects.{object_name}.fields.name, required: true}}
  - name: status
    type: picklist
    label: objects.{object_name}.fields.status
    default: active
    values:
      - {{value: active, label: objects.{object_name}.values.active}}
      - {{value: inactive, label: objects.{object_name}.values.inactive}}
""",
        "i18n/en.yaml": f"""\
objects:
  {object_name}:
    label: {_title(object_name)}
    plural_label: {_title(object_name)}s
    fields: {{name: Name, status: Status}}
    values: {{active: Active, inactive: Inactive}}
""",
        "i18n/zh-CN.yaml": f"""\
objects:
  {object_name}:
    label: {_title(object_name)}
    plural_label: {_title(object_name)}
    fields: {{name: 名称, status: 状态}}
    values: {{active: 启用, inactive: 停用}}
""",
    }
    written = []
    for rel, text in files.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def _title(name: str) -> str:
    return name.replace("_", " ").title()
