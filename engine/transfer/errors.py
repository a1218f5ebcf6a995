"""Import and export errors as values: a code and a message in every shipped locale.

Two kinds: a ``TransferError`` stops a whole file before any row is written (a header
nobody can map, a file that is neither UTF-8 nor GBK), and is raised; a row's own
problems are ``FieldError`` values that end up in the reject file beside the row.
"""

from __future__ import annotations

from engine.records.errors import FieldError, localize
from metadata.model.common import Text

__all__ = ["TransferError", "row_error", "transfer_message"]

_MESSAGES: dict[str, Text] = {
    "unknown_headers": {
        "en": "{object} has no field for column(s): {headers}",
        "zh-CN": "{object}没有与以下列对应的字段：{headers}",
    },
    "did_you_mean": {
        "en": "{header} (did you mean {hint}?)",
        "zh-CN": "{header}（是否为{hint}？）",
    },
    "duplicate_header": {
        "en": "columns {first} and {second} both fill {field}",
        "zh-CN": "列{first}和{second}都对应字段{field}",
    },
    "ambiguous_header": {
        "en": "column {header} could be any of {fields}; use the field name",
        "zh-CN": "列{header}可对应多个字段（{fields}），请改用字段名",
    },
    "empty_file": {"en": "the file has no header row", "zh-CN": "文件没有表头行"},
    "malformed_csv": {
        "en": "line {line} cannot be read as CSV: {detail}",
        "zh-CN": "第{line}行无法按CSV读取：{detail}",
    },
    "unreadable": {
        "en": "the file is neither UTF-8 nor GBK text (byte {offset})",
        "zh-CN": "文件既不是UTF-8也不是GBK文本（第{offset}字节）",
    },
    "no_upsert_key": {
        "en": "{object} has no field {key} to match existing records on",
        "zh-CN": "{object}没有可用于匹配已有记录的字段{key}",
    },
    "lookup_not_found": {
        "en": "{label}: no {object} has the code or name {value}",
        "zh-CN": "{label}：找不到编码或名称为{value}的{object}",
    },
    "lookup_ambiguous": {
        "en": "{label}: {count} {object} records are named {value}; use the code",
        "zh-CN": "{label}：有{count}条名为{value}的{object}记录，请改用编码",
    },
    "extra_cells": {
        "en": "the row has {count} cells but the header only {limit}",
        "zh-CN": "该行有{count}个单元格，但表头只有{limit}列",
    },
    "write_failed": {
        "en": "the row could not be saved: {detail}",
        "zh-CN": "该行无法保存：{detail}",
    },
}


def transfer_message(code: str, **values: object) -> Text:
    """The message for ``code`` in every locale; Text values are shown in each locale."""
    out: Text = {}
    for locale, template in _MESSAGES[code].items():
        local = {k: localize(v, locale) if isinstance(v, dict) else v for k, v in values.items()}
        out[locale] = template.format(**local)
    return out


def row_error(
    code: str, field: str | None = None, value: object = None, **values: object
) -> FieldError:
    """A FieldError for a row problem found by the import itself, not the record service."""
    return FieldError(
        field=field,
        rule="import",
        code=code,
        message=transfer_message(code, value=value, **values),
        value=value,
    )


class TransferError(Exception):
    """The whole file cannot be imported as given; nothing was written.

    Attributes:
        code: A stable key (``unknown_headers``, ``unreadable`` ...).
        message: The explanation in every shipped locale.
    """

    def __init__(self, code: str, message: Text):
        self.code = code
        self.message = message
        super().__init__(localize(message, "en"))

    @classmethod
    def of(cls, code: str, **values: object) -> TransferError:
        return cls(code, transfer_message(code, **values))

    def text(self, locale: str) -> str:
        return localize(self.message, locale)
