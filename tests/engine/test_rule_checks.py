"""Rules inside packs are checked against the object they run on."""

from __future__ import annotations

from pathlib import Path

from engine.rule_checks import _SYSTEM_TYPES, rule_contexts
from engine.validate import validate_paths
from metadata.check import SYSTEM_FIELDS

STABLE = Path(__file__).resolve().parents[1] / "fixtures" / "stable_pack"


def test_every_system_field_has_a_rule_type():
    assert set(_SYSTEM_TYPES) == set(SYSTEM_FIELDS)


def test_context_has_declared_and_system_fields():
    schema = validate_paths([STABLE]).schema
    context = rule_contexts(schema)["visit"]
    assert context.fields["amount"].type == "currency"
    assert context.fields["owner"].type == "user"
    assert set(context.objects) == {"visit", "user"}  # a user, read through user fields
    assert set(context.objects["user"]) == {"id", "username", "display_name", "org_unit",
                                            "disabled"}  # fmt: skip


def test_rule_mistakes_in_every_place_are_located(tmp_path):
    pack = tmp_path / "rules"
    (pack / "objects").mkdir(parents=True)
    (pack / "layouts").mkdir()
    (pack / "workflows").mkdir()
    (pack / "pack.yaml").write_text("name: rules\nversion: 1.0.0\n")
    (pack / "objects" / "deal.yaml").write_text(
        "name: deal\n"
        "fields:\n"
        "  - {name: amount, type: currency}\n"
        "  - {name: stage, type: picklist, values: [open, won]}\n"
        "  - {name: score, type: formula, result_type: integer,\n"
        "     expression: {'+': [{var: amout}]}}\n"
    )
    (pack / "layouts" / "deal.yaml").write_text(
        "object: deal\n"
        "forms:\n"
        "  - name: main\n"
        "    sections:\n"
        "      - name: basics\n"
        "        fields:\n"
        "          - {field: amount, visible_when: {'==': [{var: stag}, won]}}\n"
    )
    (pack / "workflows" / "stage.yaml").write_text(
        "name: stage\nobject: deal\nfield: stage\ninitial: open\n"
        "states: [{value: open}, {value: won}]\n"
        "transitions:\n"
        "  - {name: win, from: [open], to: won, guard: {'>>': [{var: amount}, 0]}}\n"
    )
    found = {
        (p.code, p.file.rsplit("/", 1)[-1], p.line, p.path, p.suggestion)
        for p in validate_paths([pack]).errors
    }
    assert found == {
        ("rule_unknown_field", "deal.yaml", 6, "fields[2].expression", "amount"),
        (
            "rule_unknown_field",
            "deal.yaml",
            7,
            "forms[0].sections[0].fields[0].visible_when",
            "stage",
        ),
        ("rule_unknown_operator", "stage.yaml", 7, "transitions[0].guard", ">"),
    }


def test_a_text_pattern_that_could_hang_a_worker_is_refused_where_written(tmp_path):
    pack = tmp_path / "patterns"
    (pack / "objects").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: patterns\nversion: 1.0.0\n")
    (pack / "objects" / "lead.yaml").write_text(
        "name: lead\n"
        "fields:\n"
        "  - {name: code, type: text, pattern: '[A-Z]{2}-\\d+'}\n"
        "  - {name: ref, type: text, pattern: '(a+)+$'}\n"
        "  - {name: bad, type: text, pattern: '([a-z'}\n"
    )
    found = {(p.code, p.line, p.path) for p in validate_paths([pack]).errors}
    assert found == {
        ("unsafe_pattern", 4, "fields[1].pattern"),
        ("unsafe_pattern", 5, "fields[2].pattern"),
    }


def test_clock_triggers_are_checked_where_written(tmp_path):
    pack = tmp_path / "timed"
    (pack / "objects").mkdir(parents=True)
    (pack / "automations").mkdir()
    (pack / "pack.yaml").write_text("name: timed\nversion: 1.0.0\n")
    (pack / "objects" / "deal.yaml").write_text(
        "name: deal\nfields:\n"
        "  - {name: close_date, type: date}\n"
        "  - {name: amount, type: currency}\n"
    )
    (pack / "automations" / "nightly.yaml").write_text(
        "name: nightly\nobject: deal\n"
        "trigger:\n"
        "  kind: schedule\n"
        "  cron: '0 25 * * *'\n"
        "  timezone: Mars/Olympus\n"
        "  filter: {'>=': [{date_add: [{var: close_date}, 1, days]}, {today: []}]}\n"
        "actions: [{type: set_fields, values: {amount: 0}}]\n"
    )
    (pack / "automations" / "soon.yaml").write_text(
        "name: soon\nobject: deal\n"
        "trigger: {kind: time, field: close_date, offset_hours: -24}\n"
        "actions: [{type: set_fields, values: {amount: 1}}]\n"
        "run: in_transaction\n"
    )
    found = {(p.code, p.file.rsplit("/", 1)[-1], p.path) for p in validate_paths([pack]).errors}
    assert found == {
        ("bad_cron", "nightly.yaml", "trigger.cron"),
        ("unknown_timezone", "nightly.yaml", "trigger.timezone"),
        ("no_transaction", "soon.yaml", "run"),
        ("rule_no_sql", "nightly.yaml", "trigger.filter"),  # it runs as a query
    }
