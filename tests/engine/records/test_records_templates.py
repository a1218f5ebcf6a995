"""Consultant templates run in the sandbox: reaching for Python's internals or changing
the data is refused when rendered, and refused by ``metacrm validate`` when written."""

from __future__ import annotations

import pytest

from engine.records.templates import SecurityError, render_template
from engine.validate import validate_paths

from .conftest import shop_pack

ESCAPES = [
    "{{ record.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ record['__class__'] }}",
    "{{ record | attr('__class__') }}",
    "{{ render.__globals__ }}",
    "{{ record.update({'owner': 'me'}) }}",
    "{{ record.tags.append('vip') }}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_an_escape_from_the_sandbox_is_refused_when_rendered(template):
    record = {"name": "Acme", "tags": ["new"], "owner": "u1"}
    with pytest.raises(SecurityError):
        render_template(template, record=record, render=render_template)
    assert record == {"name": "Acme", "tags": ["new"], "owner": "u1"}


def test_plain_templates_still_render():
    text = "{{ record.name | upper }} {{ record.tags | join(',') }} {{ record.missing }}"
    assert render_template(text, record={"name": "acme", "tags": ["a", "b"]}) == "ACME a,b "


def test_validate_names_the_file_and_path_of_an_unsafe_or_broken_template(tmp_path):
    pack = shop_pack(tmp_path)
    (pack / "automations" / "sneaky.yaml").write_text("""
name: sneaky
object: customer
trigger: {kind: record, "on": [create]}
actions:
  - type: notify
    to: [owner]
    subject: {en: "Hi {{ record.__class__.__mro__ }}", zh-CN: "你好"}
    body: {en: "{% if %}", zh-CN: "{{ record | attr('__init__') }}"}
  - {type: webhook, url: "http://127.0.0.1:9/x", fields: [name],
     body: '{"x": {{ record._secret }}}'}
""")
    report = validate_paths([pack])
    found = {(p.path, p.code) for p in report.errors}
    assert found == {
        ("actions[0].subject.en", "bad_template"),
        ("actions[0].body.en", "bad_template"),
        ("actions[0].body.zh-CN", "bad_template"),
        ("actions[1].body", "bad_template"),
    }
    assert all(p.file.endswith("automations/sneaky.yaml") and p.line for p in report.errors)
    messages = " ".join(p.message for p in report.errors)
    assert "'__mro__' reaches into the server's internals" in messages
    assert "line 1:" in messages  # the syntax error, located
