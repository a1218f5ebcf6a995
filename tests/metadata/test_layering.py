"""Layering across packs: extends chains, overrides by dependants, conflicts, cycles."""

from __future__ import annotations

import copy

import pytest

from metadata import MetadataError, load_packs, resolve

CORE = {
    "pack.yaml": """\
        name: core
        version: 1.2.0
        layer: base
        """,
    "objects/lead.yaml": """\
        name: lead
        label: {en: Lead, zh-CN: 线索}
        title_field: full_name
        fields:
          - {name: full_name, type: text, required: true, label: {en: Name, zh-CN: 姓名}}
          - {name: status, type: picklist, values: [new, won, lost]}
        """,
    "layouts/lead.yaml": """\
        object: lead
        list_views:
          - {name: all, label: {en: All, zh-CN: 全部}, columns: [full_name, status]}
        """,
}
AUTO = {
    "pack.yaml": """\
        name: auto
        version: 1.0.0
        requires: {packs: {core: ">=1.0.0,<2.0.0"}}
        """,
    "objects/lead.yaml": """\
        extends: lead
        fields:
          - {name: intended_model, type: text, label: {en: Model, zh-CN: 意向车型}}
        validations:
          - name: model_needed
            rule: {"!!": [{"var": "intended_model"}]}
            message: {en: Say which model, zh-CN: 请填写意向车型}
            fields: [intended_model]
        """,
    "layouts/lead.yaml": """\
        object: lead
        list_views:
          - name: all
            label: {en: All leads, zh-CN: 全部线索}
            columns: [full_name, intended_model]
        """,
}
TENANT = {
    "pack.yaml": """\
        name: acme
        version: 0.1.0
        layer: tenant
        requires: {packs: {auto: ">=1.0.0"}}
        """,
    "objects/lead.yaml": """\
        extends: lead
        label: {en: Prospect, zh-CN: 潜客}
        fields:
          - {name: wechat_id, type: text, pii: true, label: {en: WeChat, zh-CN: 微信号}}
        """,
}


@pytest.fixture
def three(make_pack):
    return [make_pack("acme", TENANT), make_pack("core", CORE), make_pack("auto", AUTO)]


def test_extends_chain_across_three_packs(three):
    packs, problems = load_packs(three)
    assert problems == []
    schema = resolve(packs).unwrap()
    assert [p.name for p in schema.packs] == ["core", "auto", "acme"]
    lead = schema.objects["lead"]
    assert lead.field_names == ["full_name", "status", "intended_model", "wechat_id"]
    assert [lead.origins[f"fields.{n}"].pack for n in lead.field_names] == [
        "core",
        "core",
        "auto",
        "acme",
    ]
    assert lead.packs == ("core", "auto", "acme")
    assert lead.label == {"en": "Prospect", "zh-CN": "潜客"}
    assert [v.name for v in lead.validations] == ["model_needed"]
    assert lead.title_field == "full_name"
    view = schema.layouts["lead"].list_views[0]
    assert view.columns == ["full_name", "intended_model"]
    assert schema.origins["layouts.lead.list_views.all"].pack == "auto"


def test_order_of_folders_does_not_change_the_result(three):
    first = resolve(load_packs(three)[0]).unwrap()
    second = resolve(load_packs(list(reversed(three)))[0]).unwrap()
    assert first == second
    assert first.content_hash == second.content_hash


def test_resolve_does_not_mutate_its_inputs(three):
    packs, _ = load_packs(three)

    def values():
        return [[d.value for docs in p.documents.values() for d in docs] for p in packs]

    before = copy.deepcopy(values())
    resolve(packs)
    assert values() == before


def test_same_field_defined_differently_by_unrelated_packs_is_a_conflict(make_pack):
    other = {
        "pack.yaml": "name: other\nversion: 1.0.0\nrequires: {packs: {core: '>=1.0.0'}}\n",
        "objects/lead.yaml": """\
            extends: lead
            fields:
              - {name: intended_model, type: long_text}
            """,
    }
    paths = [make_pack("core", CORE), make_pack("auto", AUTO), make_pack("other", other)]
    resolution = resolve(load_packs(paths)[0])
    conflict = next(p for p in resolution.errors if p.code == "conflict")
    assert conflict.file.endswith("other/objects/lead.yaml")
    assert conflict.path == "fields[0]"
    assert "auto/objects/lead.yaml:3" in conflict.message
    with pytest.raises(MetadataError) as raised:
        resolution.unwrap()
    assert "intended_model" in str(raised.value)


def test_identical_redefinition_is_not_a_conflict(make_pack):
    twin = {
        "pack.yaml": "name: twin\nversion: 1.0.0\nrequires: {packs: {core: '>=1.0.0'}}\n",
        "objects/lead.yaml": """\
            extends: lead
            fields:
              - {name: intended_model, type: text, label: {en: Model, zh-CN: 意向车型}}
            """,
    }
    paths = [make_pack("core", CORE), make_pack("auto", AUTO), make_pack("twin", twin)]
    schema = resolve(load_packs(paths)[0]).unwrap()
    assert schema.objects["lead"].field_names.count("intended_model") == 1


def test_unrelated_packs_overriding_the_same_view_conflict(make_pack):
    rival = {
        "pack.yaml": "name: rival\nversion: 1.0.0\nrequires: {packs: {core: '>=1.0.0'}}\n",
        "layouts/lead.yaml": """\
            object: lead
            list_views:
              - {name: all, columns: [status]}
            """,
    }
    paths = [make_pack("core", CORE), make_pack("auto", AUTO), make_pack("rival", rival)]
    errors = resolve(load_packs(paths)[0]).errors
    assert [p.code for p in errors] == ["conflict"]
    assert "list view" in errors[0].message


def test_extending_an_object_of_a_pack_not_required_is_refused(make_pack):
    loose = {
        "pack.yaml": "name: loose\nversion: 1.0.0\n",
        "objects/lead.yaml": "extends: lead\nfields: [{name: x, type: text}]\n",
    }
    # 'loose' sorts after 'core' by layer, but does not require it.
    paths = [make_pack("core", CORE), make_pack("loose", loose)]
    errors = resolve(load_packs(paths)[0]).errors
    assert [p.code for p in errors] == ["missing_requirement"]


def test_dependency_cycle_is_reported_with_its_path(make_pack):
    paths = [
        make_pack("a", {"pack.yaml": "name: a\nversion: 1.0.0\nrequires: {packs: {b: '>=1'}}\n"}),
        make_pack("b", {"pack.yaml": "name: b\nversion: 1.0.0\nrequires: {packs: {c: '>=1'}}\n"}),
        make_pack("c", {"pack.yaml": "name: c\nversion: 1.0.0\nrequires: {packs: {a: '>=1'}}\n"}),
    ]
    errors = resolve(load_packs(paths)[0]).errors
    assert [p.code for p in errors] == ["dependency_cycle"]
    assert "a -> b -> c -> a" in errors[0].message


def test_role_grants_merge_across_packs(make_pack):
    core = {
        **CORE,
        "security/roles.yaml": """\
        roles:
          - name: sales_rep
            label: {en: Sales rep, zh-CN: 销售顾问}
            objects: {lead: {read: own, create: own}}
        """,
    }
    auto = {
        **AUTO,
        "objects/vehicle.yaml": "name: vehicle\nfields: [{name: vin, type: text}]\n",
        "security/roles.yaml": """\
        roles:
          - name: sales_rep
            objects: {vehicle: {read: org_unit}}
        """,
    }
    schema = resolve(load_packs([make_pack("core", core), make_pack("auto", auto)])[0]).unwrap()
    role = schema.roles["sales_rep"]
    assert set(role.objects) == {"lead", "vehicle"}
    assert role.label == {"en": "Sales rep", "zh-CN": "销售顾问"}


def test_a_pack_is_named_by_its_own_catalog_when_a_pack_above_reuses_the_key(make_pack):
    """Both packs label themselves with the key ``pack.label``: the catalogs merge (a pack
    above may re-word a shared key), but each pack's own name comes from its own."""
    core = {**CORE, "pack.yaml": "name: core\nversion: 1.2.0\nlayer: base\nlabel: pack.label\n",
            "i18n/en.yaml": "pack: {label: Core CRM}\n",
            "i18n/zh-CN.yaml": "pack: {label: 基础 CRM}\n"}  # fmt: skip
    auto = {**AUTO, "pack.yaml": "name: auto\nversion: 1.0.0\nlabel: pack.label\n"
                                 "requires: {packs: {core: '>=1.0.0,<2.0.0'}}\n",
            "i18n/en.yaml": "pack: {label: Automotive CRM}\n",
            "i18n/zh-CN.yaml": "pack: {label: 汽车行业 CRM}\n"}  # fmt: skip
    schema = resolve(load_packs([make_pack("core", core), make_pack("auto", auto)])[0]).unwrap()
    labels = {p.name: p.label for p in schema.packs}
    assert labels == {"core": {"en": "Core CRM", "zh-CN": "基础 CRM"},
                      "auto": {"en": "Automotive CRM", "zh-CN": "汽车行业 CRM"}}  # fmt: skip
