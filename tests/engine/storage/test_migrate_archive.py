"""Nothing is lost: renames keep data, removals archive, reappearing restores, purge asks."""

from __future__ import annotations

import pytest

from engine.storage.migrate import apply_migration, is_archived, plan_migration, sync

LEAD = """
- {name: company, type: text}
- {name: mobile, type: phone}
- {name: fax, type: text, max_length: 40, unique: true}
"""
NOTE = "- {name: body, type: long_text}"


@pytest.fixture
def v1(database, make_schema):
    schema = make_schema({"lead": LEAD, "note": NOTE})
    sync(database, schema, "t")
    return schema


def _archived(names) -> list[str]:
    return [n for n in names if is_archived(n)]


def test_rename_via_renamed_from_keeps_values(database, live, make_schema, v1):
    ids = live.insert(v1, "lead", [{"company": "Acme", "mobile": "138"}, {"company": "Beta"}])
    v2 = make_schema(
        {
            "lead": LEAD.replace("{name: mobile,", "{name: phone, renamed_from: mobile,"),
            "note": NOTE,
        }
    )
    plan = plan_migration(database, v2)
    assert plan.describe() == ["rename field lead.mobile → lead.phone"]
    sync(database, v2, "t")
    assert "mobile" not in live.columns("lead")
    assert live.fetch("lead", "company", "phone") == {
        ids[0]: ("Acme", "138"),
        ids[1]: ("Beta", None),
    }
    assert plan_migration(database, v2).describe() == []


def test_drop_plus_add_without_renamed_from_is_archive_and_add(database, live, make_schema, v1):
    ids = live.insert(v1, "lead", [{"company": "Acme", "mobile": "138"}])
    v2 = make_schema({"lead": LEAD.replace("{name: mobile,", "{name: phone,"), "note": NOTE})
    words = plan_migration(database, v2).describe()
    assert "add field lead.phone (text(32))" in words
    assert any(w.startswith("archive field lead.mobile as _archived__mobile__") for w in words)
    sync(database, v2, "t")
    (archived,) = _archived(live.columns("lead"))
    assert live.fetch("lead", "phone", archived) == {ids[0]: (None, "138")}


def test_archive_field_then_restore_brings_data_back(database, live, make_schema, v1):
    ids = live.insert(v1, "lead", [{"company": "Acme", "fax": "010-1"}, {"company": "Beta"}])
    without_fax = make_schema(
        {"lead": LEAD.replace("- {name: fax", "# - {name: fax"), "note": NOTE}
    )
    plan = plan_migration(database, without_fax)
    assert any("archive field lead.fax as _archived__fax__" in w for w in plan.describe())
    assert "drop unique constraint uq_lead_fax on lead (no data lost)" in plan.describe()
    sync(database, without_fax, "t")
    (archived,) = _archived(live.columns("lead"))
    assert "fax" not in live.columns("lead")
    assert live.fetch("lead", archived) == {ids[0]: ("010-1",), ids[1]: (None,)}
    assert plan_migration(database, without_fax).describe() == []  # archives stay put
    live.insert(without_fax, "lead", [{"company": "Gamma"}])  # new rows need no fax

    plan = plan_migration(database, v1)
    assert f"restore field lead.fax from {archived} (1 values back)" in plan.describe()
    sync(database, v1, "t")
    assert not _archived(live.columns("lead"))
    values = live.fetch("lead", "fax")
    assert values[ids[0]] == ("010-1",) and values[ids[1]] == (None,)


def test_restore_needs_the_same_type(database, live, make_schema, v1):
    live.insert(v1, "lead", [{"company": "Acme", "fax": "010-1"}])
    sync(
        database,
        make_schema({"lead": LEAD.replace("- {name: fax", "# - {name: fax"), "note": NOTE}),
        "t",
    )
    as_number = make_schema(
        {"lead": LEAD.replace("type: text, max_length: 40", "type: integer"), "note": NOTE}
    )
    words = plan_migration(database, as_number).describe()
    assert "add field lead.fax (integer)" in words and not any("restore" in w for w in words)


def test_archive_object_then_restore_brings_rows_back(database, live, make_schema, v1):
    ids = live.insert(v1, "note", [{"body": "first"}, {"body": "second"}])
    lead_only = make_schema({"lead": LEAD})
    plan = plan_migration(database, lead_only)
    assert len(plan.describe()) == 1
    assert plan.describe()[0].startswith("archive object note as _archived__note__")
    assert plan.describe()[0].endswith("(2 rows kept)")
    sync(database, lead_only, "t")
    assert "note" not in live.tables()
    (archived,) = _archived(live.tables())
    assert live.fetch(archived, "body") == {ids[0]: ("first",), ids[1]: ("second",)}

    back = make_schema({"lead": LEAD, "note": NOTE + "\n- {name: pinned, type: boolean}"})
    words = plan_migration(database, back).describe()
    assert words == [
        f"restore object note from {archived} (2 rows back)",
        "add field note.pinned (boolean)",
    ]
    sync(database, back, "t")
    assert live.fetch("note", "body", "pinned") == {
        ids[0]: ("first", None),
        ids[1]: ("second", None),
    }
    assert not _archived(live.tables())


def test_purge_only_when_asked(database, live, make_schema, v1):
    live.insert(v1, "lead", [{"company": "Acme", "fax": "1"}])
    live.insert(v1, "note", [{"body": "x"}])
    slim = make_schema({"lead": LEAD.replace("- {name: fax", "# - {name: fax")})
    sync(database, slim, "t")
    assert _archived(live.tables()) and _archived(live.columns("lead"))
    assert plan_migration(database, slim).describe() == []  # a normal run never purges

    plan = plan_migration(database, slim, purge=True)
    words = plan.describe()
    assert len(words) == 2 and all(w.startswith("purge archived") for w in words)
    assert any("(1 rows deleted for good)" in w for w in words)
    apply_migration(database, slim, plan, "t")
    assert not _archived(live.tables()) and not _archived(live.columns("lead"))
    assert list(live.fetch("lead", "company").values()) == [("Acme",)]


def test_rename_and_type_change_together(database, live, make_schema, v1):
    ids = live.insert(v1, "lead", [{"mobile": "138"}, {"mobile": "139"}])
    v2 = make_schema(
        {
            "lead": LEAD.replace(
                "{name: mobile, type: phone", "{name: ext, renamed_from: mobile, type: integer"
            ),
            "note": NOTE,
        }
    )
    assert plan_migration(database, v2).describe() == [
        "change lead.mobile from text(32) to integer (2 rows convert)",
        "rename field lead.mobile → lead.ext",
    ]
    sync(database, v2, "t")
    assert live.fetch("lead", "ext") == {ids[0]: (138,), ids[1]: (139,)}
