"""The built-in checks' messages, in every shipped locale.

Consultant-written validation rules carry their own messages; these are the engine's own
(required, too long, not a number ...), keyed by the error code.
"""

from __future__ import annotations

from collections.abc import Mapping

from metadata.model.common import Text

__all__ = ["message", "text_of"]

_MESSAGES: dict[str, Text] = {
    "required": {"en": "{label} is required", "zh-CN": "{label}为必填项"},
    "unknown_field": {"en": "{object} has no field {field}", "zh-CN": "{object}没有字段{field}"},
    "read_only": {"en": "{label} cannot be changed", "zh-CN": "{label}不可修改"},
    "too_long": {
        "en": "{label} is longer than {limit} characters",
        "zh-CN": "{label}不能超过{limit}个字符",
    },
    "not_text": {"en": "{label} must be text", "zh-CN": "{label}必须是文本"},
    "pattern": {"en": "{label} has the wrong format", "zh-CN": "{label}格式不正确"},
    "not_a_number": {"en": "{label} must be a number", "zh-CN": "{label}必须是数字"},
    "not_an_integer": {"en": "{label} must be a whole number", "zh-CN": "{label}必须是整数"},
    "too_many_digits": {
        "en": "{label} allows {scale} decimal places and {precision} digits",
        "zh-CN": "{label}最多{precision}位数字、{scale}位小数",
    },
    "below_min": {"en": "{label} must be at least {limit}", "zh-CN": "{label}不能小于{limit}"},
    "above_max": {"en": "{label} must be at most {limit}", "zh-CN": "{label}不能大于{limit}"},
    "not_boolean": {"en": "{label} must be yes or no", "zh-CN": "{label}必须为是或否"},
    "bad_date": {
        "en": "{label} must be a date (YYYY-MM-DD)",
        "zh-CN": "{label}必须是日期（YYYY-MM-DD）",
    },
    "bad_datetime": {
        "en": "{label} must be a date and time",
        "zh-CN": "{label}必须是日期时间",
    },
    "bad_time": {
        "en": "{label} must be a time of day without a time zone (HH:MM)",
        "zh-CN": "{label}必须是不带时区的时间（HH:MM）",
    },
    "control_character": {
        "en": "{label} contains a NUL character",
        "zh-CN": "{label}包含空字符（NUL）",
    },
    "bad_email": {"en": "{label} is not an e-mail address", "zh-CN": "{label}不是有效的邮箱地址"},
    "bad_phone": {"en": "{label} is not a phone number", "zh-CN": "{label}不是有效的电话号码"},
    "bad_url": {
        "en": "{label} is not a web address (http:// or https:// and a host)",
        "zh-CN": "{label}不是有效的网址（须为http://或https://加主机名）",
    },
    "not_a_choice": {
        "en": "{label}: {value} is not one of the choices",
        "zh-CN": "{label}：{value}不是可选值",
    },
    "inactive_choice": {
        "en": "{label}: {value} is no longer offered",
        "zh-CN": "{label}：{value}已停用",
    },
    "too_many_choices": {
        "en": "{label} allows at most {limit} choices",
        "zh-CN": "{label}最多选择{limit}项",
    },
    "bad_reference": {"en": "{label}: no such record", "zh-CN": "{label}：记录不存在"},
    "not_unique": {
        "en": "{label}: another record already has {value}",
        "zh-CN": "{label}：已有其他记录使用{value}",
    },
    "duplicate_hidden": {
        "en": "a matching {object} already exists (duplicate rule {rule})",
        "zh-CN": "已存在匹配的{object}（查重规则{rule}）",
    },
    "taken": {
        "en": "{label}: another record already has this value",
        "zh-CN": "{label}：已有其他记录使用该值",
    },
    "bad_json": {"en": "{label} must be JSON data", "zh-CN": "{label}必须是JSON数据"},
    "bad_file": {"en": "{label}: no such uploaded file", "zh-CN": "{label}：上传的文件不存在"},
    "too_many_files": {"en": "{label} holds one file", "zh-CN": "{label}只能上传一个文件"},
    "file_too_large": {
        "en": "{label}: {value} is larger than {limit} MB",
        "zh-CN": "{label}：{value}超过{limit} MB",
    },
    "file_type": {
        "en": "{label}: {value} is not one of {limit}",
        "zh-CN": "{label}：{value}不是允许的类型（{limit}）",
    },
    "bad_geolocation": {
        "en": "{label} needs lat (-90..90) and lng (-180..180)",
        "zh-CN": "{label}需要纬度(-90..90)和经度(-180..180)",
    },
    "bad_address": {
        "en": "{label} has parts that are not {limit}",
        "zh-CN": "{label}只能包含{limit}",
    },
    "computed": {
        "en": "{label} is computed and cannot be set",
        "zh-CN": "{label}为计算字段，不能设置",
    },
    "in_use": {
        "en": "{count} {object} still point to this record",
        "zh-CN": "仍有{count}条{object}引用此记录",
    },
    "cycle": {
        "en": "a unit cannot be placed under itself or a unit below it",
        "zh-CN": "组织单元不能挂在自身或其下级单元之下",
    },
    "forbidden": {
        "en": "you may not {operation} this {object}",
        "zh-CN": "您无权{operation}此{object}",
    },
    "out_of_scope": {
        "en": "{label} would put the record outside what you may {operation}",
        "zh-CN": "{label}会使记录超出您可{operation}的范围",
    },
    "share_grantee": {
        "en": "share with exactly one user or one org unit",
        "zh-CN": "请指定一个用户或一个组织单元进行共享",
    },
    "no_transition": {
        "en": "{label} cannot go from {from} to {to}",
        "zh-CN": "{label}不能从{from}变为{to}",
    },
    "transition_role": {
        "en": "only {roles} may {transition}",
        "zh-CN": "只有{roles}可以执行“{transition}”",
    },
    "required_for_stage": {
        "en": "{label} is required to {transition}",
        "zh-CN": "执行“{transition}”须填写{label}",
    },
    "not_initial_state": {
        "en": "a new record cannot start as {state}: {label} starts as {allowed}",
        "zh-CN": "新记录不能直接为“{state}”：{label}只能从{allowed}开始",
    },
    "required_for_state": {
        "en": "{label} is required in the stage {state}",
        "zh-CN": "处于“{state}”阶段须填写{label}",
    },
    "approval_outcome": {
        "en": "{to} is reached only through the approval {process}",
        "zh-CN": "“{to}”只能经“{process}”审批后进入",
    },
    "guard_failed": {
        "en": "the conditions to {transition} are not met",
        "zh-CN": "不满足“{transition}”的条件",
    },
    "approval_not_applicable": {
        "en": "this record does not meet the entry criteria of {process}",
        "zh-CN": "此记录不满足“{process}”的提交条件",
    },
    "approval_pending": {
        "en": "{process} is already pending for this record",
        "zh-CN": "此记录已在“{process}”审批中",
    },
    "no_approver": {
        "en": "nobody can decide the step {step}",
        "zh-CN": "审批步骤“{step}”找不到审批人",
    },
    "locked_for_approval": {
        "en": "the record is locked while it awaits approval",
        "zh-CN": "记录审批中，已锁定",
    },
    "cascade_loop": {
        "en": "writes caused each other in a loop or more than {depth} deep: {chain}",
        "zh-CN": "连锁写入形成循环或超过{depth}层：{chain}",
    },
    "no_reveal": {
        "en": "you may see {label} only masked",
        "zh-CN": "您只能查看脱敏后的{label}",
    },
    "no_record": {
        "en": "no {object} with id {id}, or not one you may change",
        "zh-CN": "{object}记录{id}不存在或无权修改",
    },
    "stale_version": {
        "en": "changed by someone else since version {expected} (now {current}): {fields}",
        "zh-CN": "自版本{expected}以来已被他人修改（当前版本{current}）：{fields}",
    },
    "rule_error": {
        "en": "rule {rule} could not be evaluated: {detail}",
        "zh-CN": "规则{rule}无法计算：{detail}",
    },
}


def message(code: str, **values: object) -> Text:
    """The message for ``code`` in every locale, with ``values`` filled in.

    A value given as Text (locale -> text, such as a label) is shown in each message's
    own locale; other values are used as they are.
    """
    values.setdefault("label", "")
    out: Text = {}
    for locale, template in _MESSAGES[code].items():
        local = {
            k: (v.get(locale) or v.get("en", "")) if isinstance(v, dict) else v
            for k, v in values.items()
        }
        out[locale] = template.format(**local)
    return out


def text_of(label: str | Mapping[str, str]) -> Text:
    """A label of resolved metadata as text per locale (resolution turns every label
    into one; a bare string reads as English)."""
    return {"en": label} if isinstance(label, str) else dict(label)
