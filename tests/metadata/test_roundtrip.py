"""Property tests: a resolved schema survives JSON and YAML unchanged; its hash is canonical."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import msgspec
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metadata import ResolvedSchema, content_hash, load_packs, resolve
from metadata.check import SYSTEM_FIELDS

names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda n: n not in SYSTEM_FIELDS
)
labels = st.fixed_dictionaries(
    {"en": st.text(min_size=1, max_size=12), "zh-CN": st.text(min_size=1, max_size=12)}
)


@st.composite
def field_specs(draw, name: str, others: list[str]):
    kind = draw(
        st.sampled_from(
            [
                "text",
                "integer",
                "decimal",
                "boolean",
                "date",
                "datetime",
                "picklist",
                "lookup",
                "email",
                "phone",
                "json",
                "formula",
            ]
        )
    )
    spec: dict = {"name": name, "type": kind, "label": draw(labels)}
    if kind == "decimal":
        precision = draw(st.integers(1, 38))
        spec |= {"precision": precision, "scale": draw(st.integers(0, min(precision, 18)))}
    elif kind == "picklist":
        values = draw(
            st.lists(
                st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True),
                min_size=1,
                max_size=5,
                unique=True,
            )
        )
        spec["values"] = [{"value": v, "label": draw(labels)} for v in values]
    elif kind == "lookup":
        spec |= {
            "to": draw(st.sampled_from(others)),
            "on_delete": draw(st.sampled_from(["restrict", "set_null", "cascade"])),
        }
    elif kind == "formula":
        spec |= {"expression": {"+": [1, draw(st.integers(-5, 5))]}, "result_type": "integer"}
    if kind not in ("formula",):
        spec["required"] = draw(st.booleans())
    return spec


@st.composite
def packs(draw):
    object_names = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    objects = {}
    for obj in object_names:
        field_names = draw(st.lists(names, min_size=1, max_size=6, unique=True))
        objects[obj] = {
            "name": obj,
            "label": draw(labels),
            "track_history": draw(st.booleans()),
            "fields": [draw(field_specs(f, object_names)) for f in field_names],
        }
    return objects


def _write(root: Path, objects: dict, shuffle: random.Random | None = None) -> Path:
    pack = root / "gen"
    (pack / "objects").mkdir(parents=True, exist_ok=True)
    (pack / "pack.yaml").write_text("name: gen\nversion: 1.0.0\n")
    for name, spec in objects.items():
        if shuffle is not None:
            spec = _shuffled(spec, shuffle)
        (pack / "objects" / f"{name}.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    return pack


def _shuffled(value, rng: random.Random):
    """The same document with every mapping's keys in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


def _resolve(pack: Path) -> ResolvedSchema:
    loaded, problems = load_packs([pack])
    assert problems == []
    return resolve(loaded).unwrap()


SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(objects=packs())
def test_resolved_schema_round_trips_through_json_and_yaml(tmp_path_factory, objects):
    schema = _resolve(_write(tmp_path_factory.mktemp("p"), objects))
    via_json = msgspec.json.decode(msgspec.json.encode(schema), type=ResolvedSchema)
    assert via_json == schema
    as_yaml = yaml.safe_dump(msgspec.to_builtins(schema), allow_unicode=True)
    via_yaml = msgspec.convert(yaml.safe_load(as_yaml), ResolvedSchema)
    assert via_yaml == schema
    assert content_hash(via_yaml) == schema.content_hash


@SETTINGS
@given(objects=packs(), seed=st.integers(0, 2**32))
def test_hash_does_not_depend_on_key_order(tmp_path_factory, objects, seed):
    plain = _resolve(_write(tmp_path_factory.mktemp("a"), objects))
    shuffled = _resolve(_write(tmp_path_factory.mktemp("b"), objects, random.Random(seed)))
    assert shuffled == plain
    assert shuffled.content_hash == plain.content_hash


@SETTINGS
@given(objects=packs())
def test_hash_changes_when_the_schema_does(tmp_path_factory, objects):
    plain = _resolve(_write(tmp_path_factory.mktemp("a"), objects))
    first = next(iter(objects))
    changed = {
        **objects,
        first: {**objects[first], "track_history": not objects[first]["track_history"]},
    }
    assert (
        _resolve(_write(tmp_path_factory.mktemp("b"), changed)).content_hash != plain.content_hash
    )


def test_hash_is_stable_across_processes():
    code = (
        "from pathlib import Path; from metadata import load_packs, resolve;"
        "print(resolve(load_packs([Path('tests/fixtures/stable_pack')])[0]).unwrap().content_hash)"
    )
    root = Path(__file__).resolve().parents[2]
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed), "PATH": ""},
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(runs) == 1
    assert len(runs.pop().strip()) == 64
