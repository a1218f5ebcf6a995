"""The base pack: valid in both languages, and shaped the way the industry packs rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.validate import validate_paths
from metadata.model.common import LOCALES
from metadata.model.fields import FieldType

BASE = Path(__file__).resolve().parents[2] / "industry_packs" / "base"

CORE_OBJECTS = {
    "org_unit",
    "account",
    "contact",
    "lead",
    "opportunity",
    "activity",
    "campaign",
    "product",
    "price_book",
    "quote",
    "sales_order",
    "service_case",
    "partner",
    "member",
}


@pytest.fixture(scope="module")
def report():
    return validate_paths([BASE], strict_i18n=True)


def test_base_pack_validates_with_strict_i18n(report):
    assert [p.render() for p in report.errors] == []


def test_base_pack_has_the_common_crm_objects(report):
    assert set(report.schema.objects) >= CORE_OBJECTS


def test_every_label_exists_in_every_shipped_locale(report):
    for obj in report.schema.objects.values():
        assert set(LOCALES) <= set(obj.label), obj.name
        for field in obj.fields:
            assert set(LOCALES) <= set(field.label), f"{obj.name}.{field.name}"


def test_org_units_form_a_tree(report):
    org_unit = report.schema.objects["org_unit"]
    parent = org_unit.field("parent")
    assert parent is not None and parent.kind is FieldType.LOOKUP and parent.to == "org_unit"
    kinds = {v.value for v in org_unit.field("kind").values}
    assert {"brand", "region", "dealer", "store"} <= kinds


def test_personal_data_is_marked(report):
    for obj in ("lead", "contact", "member"):
        phones = [f for f in report.schema.objects[obj].fields if f.kind is FieldType.PHONE]
        assert phones and all(f.pii for f in phones), obj


def test_opportunity_stages_have_a_workflow(report):
    workflows = [w for w in report.schema.workflows.values() if w.object == "opportunity"]
    assert workflows
    categories = {s.category for s in workflows[0].states}
    assert {"open", "won", "lost"} <= {str(c) for c in categories}


def test_business_roles_exist(report):
    assert {
        "administrator",
        "consultant",
        "sales_rep",
        "sales_manager",
        "dealer_staff",
        "dealer_manager",
        "service_agent",
        "marketing",
        "hq_analyst",
    } <= set(report.schema.roles)
