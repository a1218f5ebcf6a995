"""What an extending pack may change in a pack it requires: more picklist and value set
values, and validations, automations and list views switched off by name."""

from __future__ import annotations

from metadata import load_packs, resolve

CORE = {
    "pack.yaml": "name: core\nversion: 1.0.0\nlayer: base\n",
    "objects/lead.yaml": """\
        name: lead
        label: {en: Lead, zh-CN: 线索}
        fields:
          - {name: full_name, type: text, label: {en: Name, zh-CN: 姓名}}
          - name: status
            type: picklist
            label: {en: Status, zh-CN: 状态}
            values:
              - {value: new, label: {en: New, zh-CN: 新建}, order: 10}
              - {value: won, label: {en: Won, zh-CN: 赢单}, order: 20}
              - {value: lost, label: {en: Lost, zh-CN: 战败}, order: 30}
          - {name: source, type: picklist, label: {en: Source, zh-CN: 来源}, value_set: channel}
          - {name: score, type: integer, label: {en: Score, zh-CN: 评分}}
        validations:
          - name: name_needed
            rule: {"!!": [{var: full_name}]}
            message: {en: Give a name, zh-CN: 请填写姓名}
        """,
    "value_sets/channel.yaml": """\
        name: channel
        label: {en: Channel, zh-CN: 渠道}
        values:
          - {value: web, label: {en: Website, zh-CN: 官网}}
          - {value: phone, label: channel.phone}
        """,
    "i18n/en.yaml": "channel: {phone: Phone}\n",
    "i18n/zh-CN.yaml": "channel: {phone: 电话}\n",
    "automations/welcome.yaml": """\
        name: welcome
        object: lead
        trigger: {kind: record, "on": [create]}
        actions: [{type: set_fields, values: {score: 1}}]
        """,
    "layouts/lead.yaml": """\
        object: lead
        list_views:
          - {name: all_leads, label: {en: All, zh-CN: 全部}, columns: [full_name]}
          - {name: won_leads, label: {en: Won, zh-CN: 赢单}, columns: [full_name]}
        """,
}
REQUIRES_CORE = "version: 1.0.0\nrequires: {packs: {core: '>=1.0.0'}}\n"


def _resolve(make_pack, **packs: dict[str, str]):
    paths = [make_pack("core", CORE)]
    for name, files in packs.items():
        paths.append(make_pack(name, {"pack.yaml": f"name: {name}\n{REQUIRES_CORE}", **files}))
    loaded, problems = load_packs(paths)
    assert problems == []
    resolution = resolve(loaded)
    resolution.problems.sort(key=lambda p: (p.file or "", p.line or 0))
    return resolution


def _values(schema, obj: str, field: str) -> list[tuple[str, int, str]]:
    found = next(f for f in schema.objects[obj].fields if f.name == field)
    return [(v.value, v.order, v.label["zh-CN"]) for v in found.values]


def test_added_picklist_values_follow_the_base_unless_placed(make_pack):
    ext = {
        "objects/lead.yaml": """\
            extends: lead
            add_values:
              status:
                - {value: nurturing, label: {en: Nurturing, zh-CN: 培育中}, order: 15}
                - {value: dormant, label: {en: Dormant, zh-CN: 休眠}}
                - {value: new, label: {en: New, zh-CN: 新建}}
            """,
    }
    schema = _resolve(make_pack, ext=ext).unwrap()
    assert _values(schema, "lead", "status") == [
        ("new", 10, "新建"),
        ("nurturing", 15, "培育中"),
        ("won", 20, "赢单"),
        ("lost", 30, "战败"),
        ("dormant", 31, "休眠"),
    ]


def test_a_value_set_extension_adds_values_to_every_field_using_the_set(make_pack):
    ext = {
        "value_sets/channel.yaml": """\
            extends: channel
            values:
              - {value: douyin, label: {en: Douyin, zh-CN: 抖音}}
              - {value: phone, label: {en: Phone, zh-CN: 电话}}
            """,
    }
    schema = _resolve(make_pack, ext=ext).unwrap()
    expected = [("web", 0, "官网"), ("phone", 1, "电话"), ("douyin", 2, "抖音")]
    assert [(v.value, v.order, v.label["zh-CN"]) for v in schema.value_sets["channel"].values] == (
        expected
    )
    assert _values(schema, "lead", "source") == expected
    assert schema.value_sets["channel"].label == {"en": "Channel", "zh-CN": "渠道"}


def test_a_value_added_with_another_meaning_is_a_conflict_naming_both_files(make_pack):
    ext = {
        "objects/lead.yaml": """\
            extends: lead
            add_values:
              status:
                - {value: won, label: {en: Closed, zh-CN: 成交}}
            """,
        "value_sets/channel.yaml": "extends: channel\nvalues:\n  - {value: phone, active: false}\n",
    }
    errors = _resolve(make_pack, ext=ext).errors
    assert [(p.code, p.file.rsplit("/", 3)[-3:], p.path) for p in errors] == [
        ("conflict", ["ext", "objects", "lead.yaml"], "add_values.status[0]"),
        ("conflict", ["ext", "value_sets", "channel.yaml"], "values[0]"),
    ]
    assert "'won'" in errors[0].message and "core/objects/lead.yaml:10" in errors[0].message
    assert errors[0].line == 4
    assert "core/value_sets/channel.yaml:5" in errors[1].message


def test_two_unrelated_packs_adding_one_code_differently_conflict(make_pack):
    def adding(label: str) -> dict[str, str]:
        return {
            "objects/lead.yaml": "extends: lead\nadd_values:\n  status:\n"
            f"    - {{value: dormant, label: {{en: {label}, zh-CN: {label}}}}}\n"
        }

    same = _resolve(make_pack, one=adding("Dormant"), two=adding("Dormant"))
    assert same.errors == []
    assert [v[0] for v in _values(same.schema, "lead", "status")].count("dormant") == 1
    errors = _resolve(make_pack, one=adding("Dormant"), two=adding("Asleep")).errors
    assert [p.code for p in errors] == ["conflict"]
    assert errors[0].file.endswith("two/objects/lead.yaml")
    assert "one/objects/lead.yaml:4" in errors[0].message


def test_values_go_only_to_a_picklist_of_its_own_values(make_pack):
    ext = {
        "objects/lead.yaml": """\
            extends: lead
            add_values:
              stauts: [dormant]
              score: [high]
              source: [douyin]
            """,
    }
    errors = _resolve(make_pack, ext=ext).errors
    assert [(p.code, p.path, p.line) for p in errors] == [
        ("unknown_field", "add_values.stauts", 3),
        ("not_a_picklist", "add_values.score", 4),
        ("values_of_a_value_set", "add_values.source", 5),
    ]
    assert errors[0].suggestion == "status"
    assert errors[2].expected == "a file under value_sets/ with extends: channel"


def test_extending_a_value_set_needs_the_owner_and_a_real_name(make_pack):
    loose = {
        "pack.yaml": "name: loose\nversion: 1.0.0\n",
        "value_sets/channel.yaml": "extends: channel\nvalues: [douyin]\n",
    }
    typo = {"value_sets/chanel.yaml": "extends: chanel\nvalues: [douyin]\n"}
    relabel = {"value_sets/channel.yaml": "extends: channel\nlabel: Ways\nvalues: [douyin]\n"}
    paths = [make_pack("core", CORE), make_pack("loose", loose)]
    errors = resolve(load_packs(paths)[0]).errors
    assert [(p.code, p.path, p.expected) for p in errors] == [
        ("missing_requirement", "extends", "requires.packs.core in pack.yaml")
    ]
    errors = _resolve(make_pack, typo=typo, relabel=relabel).errors
    assert [(p.code, p.suggestion) for p in errors] == [
        ("label_in_extension", None),
        ("unknown_value_set", "channel"),
    ]


def test_disabled_parts_resolve_switched_off_or_gone(make_pack):
    ext = {
        "objects/lead.yaml": """\
            extends: lead
            disable:
              validations: [name_needed]
              automations: [welcome]
              list_views: [won_leads]
            """,
    }
    schema = _resolve(make_pack, ext=ext).unwrap()
    assert [(r.name, r.active) for r in schema.objects["lead"].validations] == [
        ("name_needed", False)
    ]
    assert schema.automations["welcome"].active is False
    assert [v.name for v in schema.layouts["lead"].list_views] == ["all_leads"]
    assert "layouts.lead.list_views.won_leads" not in schema.origins


def test_disabling_what_does_not_exist_says_what_does(make_pack):
    ext = {
        "objects/lead.yaml": """\
            extends: lead
            disable:
              validations: [name_neded]
              automations: [welcom]
              list_views: [won_lead]
            """,
    }
    errors = _resolve(make_pack, ext=ext).errors
    assert [(p.code, p.path, p.line, p.suggestion) for p in errors] == [
        ("unknown_validation", "disable.validations[0]", 3, "name_needed"),
        ("unknown_automation", "disable.automations[0]", 4, "welcome"),
        ("unknown_list_view", "disable.list_views[0]", 5, "won_leads"),
    ]
    assert all(p.file.endswith("ext/objects/lead.yaml") for p in errors)


def test_disabling_needs_the_pack_that_owns_it(make_pack):
    """A pack that requires core, but not the sibling that added the validation, may not
    switch that validation off; the owner's own file may not disable it either."""
    sibling = {
        "objects/lead.yaml": """\
            extends: lead
            validations:
              - {name: score_set, rule: {"!!": [{var: score}]}, message: {en: S, zh-CN: 分}}
            disable:
              validations: [score_set]
            """,
    }
    other = {"objects/lead.yaml": "extends: lead\ndisable:\n  validations: [score_set]\n"}
    errors = _resolve(make_pack, sibling=sibling, other=other).errors
    assert [(p.code, p.file.rsplit("/", 3)[-3], p.path) for p in errors] == [
        ("missing_requirement", "other", "disable.validations[0]"),
        ("disables_own", "sibling", "disable.validations[0]"),
    ]
    assert errors[0].expected == "requires.packs.sibling in pack.yaml"
    assert errors[1].expected.startswith("a validation of a required pack")


def test_an_automation_is_disabled_from_the_object_it_runs_on(make_pack):
    core = {**CORE, "objects/account.yaml": "name: account\nfields: [{name: name, type: text}]\n"}
    ext = {
        "pack.yaml": f"name: ext\n{REQUIRES_CORE}",
        "objects/account.yaml": "extends: account\ndisable: {automations: [welcome]}\n",
    }
    errors = resolve(load_packs([make_pack("core", core), make_pack("ext", ext)])[0]).errors
    assert [(p.code, p.path, p.expected) for p in errors] == [
        ("wrong_object", "disable.automations[0]", "disable it in an extension of 'lead'")
    ]


def test_only_an_extension_adds_values_or_disables(make_pack):
    own = {
        "objects/deal.yaml": """\
            name: deal
            fields: [{name: stage, type: picklist, values: [open]}]
            add_values: {stage: [closed]}
            disable: {validations: [x]}
            """,
    }
    errors = _resolve(make_pack, own=own).errors
    assert [(p.code, p.path) for p in errors] == [
        ("not_an_extension", "add_values"),
        ("not_an_extension", "disable"),
    ]


def test_a_replacing_value_set_keeps_every_value_it_replaces(make_pack):
    keeps = "name: channel\nvalues: [web, {value: phone, active: false}, douyin]\n"
    drops = "name: channel\nvalues: [web, douyin]\n"
    assert _resolve(make_pack, ext={"value_sets/channel.yaml": keeps}).errors == []
    errors = _resolve(make_pack, ext={"value_sets/channel.yaml": drops}).errors
    assert [(p.code, p.path, p.line) for p in errors] == [("value_removed", "values", 2)]
    assert "phone" in errors[0].message


def test_an_added_value_is_translated_where_it_was_written(make_pack):
    ext = {
        "objects/lead.yaml": """\
            extends: lead
            add_values:
              status:
                - {value: dormant, label: {en: Dormant}}
            """,
    }
    resolution = _resolve(make_pack, ext=ext)
    assert resolution.errors == []
    gaps = [
        p
        for p in resolution.problems
        if p.code == "missing_translation" and p.file.endswith("ext/objects/lead.yaml")
    ]
    assert [(p.line, p.path, p.message) for p in gaps] == [
        (4, "add_values.status[0].label", "no zh-CN translation; falls back to en")
    ]
    status = next(f for f in resolution.schema.objects["lead"].fields if f.name == "status")
    assert (status.values[-1].value, status.values[-1].label) == ("dormant", {"en": "Dormant"})
