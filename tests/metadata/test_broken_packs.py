"""A folder of deliberately broken packs: every mistake is reported, in one run, precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.validate import validate_paths

BROKEN = Path(__file__).resolve().parents[1] / "fixtures" / "broken_packs"

# (code, file suffix, line, path, suggestion) for each deliberate mistake.
EXPECTED = [
    ("invalid_choice", "shop/objects/test_drive.yaml", 6, "fields[1].type", "datetime"),
    ("unknown_key", "shop/objects/test_drive.yaml", 10, "fields[5]", "required"),
    ("unknown_object", "shop/objects/test_drive.yaml", 5, "fields[0].to", "lead"),
    ("missing_key", "shop/objects/test_drive.yaml", 9, "fields[4]", None),
    ("wrong_type", "shop/objects/test_drive.yaml", 8, "fields[3].name", None),
    ("bad_autonumber", "shop/objects/test_drive.yaml", 7, "fields[2].pattern", "YYYY"),
    ("unknown_i18n_key", "shop/objects/test_drive.yaml", 11, "fields[6].label", "test_drive.notes"),
    ("unknown_value_set", "shop/objects/lead.yaml", 6, "fields[2].value_set", "lead_source"),
    ("bad_scale", "shop/objects/lead.yaml", 7, "fields[3].scale", None),
    ("reserved_name", "shop/objects/lead.yaml", 8, "fields[4].name", None),
    ("conflict", "shop/objects/lead.yaml", 9, "fields[5]", None),
    ("duplicate_name", "shop/objects/order.yaml", 4, "fields[1].name", None),
    ("wrong_field_type", "shop/objects/order.yaml", 5, "fields[2].field", None),
    ("unknown_object", "shop/objects/lead_extra.yaml", 1, "extends", "lead"),
    ("syntax", "shop/objects/broken_syntax.yaml", 3, "", None),
    ("unknown_folder", "shop/object", None, "", "objects"),
    ("not_a_picklist", "shop/workflows/lead_status.yaml", 3, "field", "status"),
    ("unknown_reference", "shop/workflows/lead_stage.yaml", 9, "states[2].value", "lost"),
    ("unknown_reference", "shop/workflows/lead_stage.yaml", 5, "initial_states[1]", "contacted"),
    ("unknown_reference", "shop/workflows/lead_stage.yaml", 11, "transitions[0].to", "contacted"),
    ("unknown_field", "shop/layouts/lead.yaml", 4, "list_views[0].columns[1]", "status"),
    ("unknown_key", "shop/layouts/lead.yaml", 3, "list_views[0]", None),
    ("duplicate_key", "shop/layouts/lead_forms.yaml", 10, "list_views[0].default", None),
    ("unknown_object", "shop/security/roles.yaml", 6, "roles[0].objects.vehicel", None),
    ("wrong_field_type", "shop/automations/remind.yaml", 3, "trigger.field", None),
    ("unknown_locale", "shop/pack.yaml", 3, "label", "zh-CN"),
    ("dependency_cycle", "loop_a/pack.yaml", 3, "requires.packs", None),
    (
        "rule_unknown_field",
        "shop/objects/test_drive.yaml",
        15,
        "validations[0].rule",
        "scheduled_at",
    ),
    ("rule_unknown_operator", "shop/objects/order.yaml", 8, "validations[0].rule", "starts_with"),
    ("wrong_type", "orphan/pack.yaml", 2, "version", None),
]


@pytest.fixture(scope="module")
def report():
    return validate_paths([BROKEN])


def test_every_mistake_is_reported_in_one_run(report):
    assert len({code for code, *_ in EXPECTED}) >= 15
    missing = []
    for code, file, line, path, suggestion in EXPECTED:
        hits = [
            p
            for p in report.errors
            if p.code == code and (p.file or "").endswith(file) and p.path == path
        ]
        if not hits:
            missing.append((code, file, path))
            continue
        assert hits[0].line == line, (code, file, path, hits[0].line)
        assert hits[0].suggestion == suggestion, (code, file, path, hits[0].suggestion)
    assert not missing, f"not reported: {missing}"


def test_messages_name_file_line_and_expectation(report):
    wrong_type = next(p for p in report.errors if p.code == "invalid_choice")
    text = wrong_type.render()
    assert "test_drive.yaml:6" in text
    assert "fields[1].type" in text
    assert "datetime" in text and "Did you mean" in text


def test_unmet_requirement_names_the_missing_pack(tmp_path):
    pack = tmp_path / "needs"
    pack.mkdir()
    (pack / "pack.yaml").write_text(
        "name: needs\nversion: 1.0.0\nrequires: {packs: {bsae: '>=1.0.0'}}\n"
    )
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "pack.yaml").write_text("name: bsae_like\nversion: 1.0.0\n")
    report = validate_paths([pack, tmp_path / "base"])
    problem = next(p for p in report.errors if p.code == "missing_pack")
    assert problem.path == "requires.packs.bsae"
    assert problem.line == 3


def test_version_range_is_enforced(tmp_path):
    for name, body in {
        "core": "name: core\nversion: 1.4.0\n",
        "addon": "name: addon\nversion: 0.1.0\nrequires: {packs: {core: '>=2.0.0'}}\n",
    }.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "pack.yaml").write_text(body)
    report = validate_paths([tmp_path])
    problem = next(p for p in report.errors if p.code == "version_mismatch")
    assert problem.expected == ">=2.0.0" and problem.found == "1.4.0"
