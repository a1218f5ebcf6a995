"""Metadata pipeline speed: load + validate + resolve vs. bare YAML parsing, same files, same run.

Goal (issue 3): the whole pipeline within 3x of plain ``yaml.safe_load`` of the same files.
Run: .venv/bin/python bench/metadata.py
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.validate import validate_paths  # noqa: E402

BASE = ROOT / "industry_packs" / "base"
OBJECTS, FIELDS, ROUNDS = 300, 40, 3
KINDS = [
    "text",
    "integer",
    "decimal",
    "currency",
    "date",
    "datetime",
    "boolean",
    "email",
    "phone",
    "picklist",
    "lookup",
    "long_text",
    "percent",
    "url",
    "json",
]


def generate(root: Path) -> Path:
    pack = root / "generated"
    (pack / "objects").mkdir(parents=True)
    (pack / "pack.yaml").write_text(
        "name: generated\nversion: 1.0.0\nlabel: {en: Generated, zh-CN: 生成}\n"
        "requires: {packs: {base: '>=1.0.0'}}\n"
    )
    for o in range(OBJECTS):
        lines = [
            f"name: obj_{o}",
            f"label: {{en: Object {o}, zh-CN: 对象{o}}}",
            "title_field: f_0",
            "track_history: true",
            "fields:",
        ]
        for f in range(FIELDS):
            kind = KINDS[f % len(KINDS)]
            extra = ""
            if kind == "decimal":
                extra = ", precision: 12, scale: 3"
            elif kind == "picklist":
                extra = ", values: [{value: a, label: {en: A, zh-CN: 甲}}, {value: b}, {value: c}]"
            elif kind == "lookup":
                extra = f", to: obj_{(o + 1) % OBJECTS}, on_delete: set_null"
            lines.append(
                f"  - {{name: f_{f}, type: {kind}, label: {{en: Field {f}, zh-CN: 字段{f}}}"
                f", required: {str(f % 7 == 0).lower()}{extra}}}"
            )
        lines += [
            "validations:",
            "  - name: positive",
            "    rule: {'>=': [{var: f_1}, 0]}",
            "    message: {en: Must not be negative, zh-CN: 不能为负}",
            "    fields: [f_1]",
        ]
        (pack / "objects" / f"obj_{o}.yaml").write_text("\n".join(lines) + "\n")
    return pack


def files_of(*packs: Path) -> list[Path]:
    return sorted(p for pack in packs for p in pack.rglob("*.yaml"))


def best_of(fn, rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        generated = generate(Path(tmp))
        files = files_of(BASE, generated)
        texts = [f.read_text(encoding="utf-8") for f in files]
        size = sum(len(t) for t in texts)

        def bare_pure() -> None:
            for f in files:
                yaml.safe_load(f.read_text(encoding="utf-8"))

        def bare_libyaml() -> None:
            for f in files:
                yaml.load(f.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)

        def pipeline() -> None:
            report = validate_paths([BASE, generated])
            if report.errors:
                raise SystemExit("\n".join(p.render() for p in report.errors[:20]))

        pipeline()  # warm imports and caches once, outside the timings
        results = {
            "yaml.safe_load (the goal's baseline)": best_of(bare_pure),
            "yaml CSafeLoader (libyaml)": best_of(bare_libyaml),
            "metacrm load+validate+resolve": best_of(pipeline),
        }
    base = results["yaml.safe_load (the goal's baseline)"]
    print(
        f"python {platform.python_version()} on {platform.machine()}, {len(files)} files, "
        f"{size / 1e6:.1f} MB, {OBJECTS} generated objects x {FIELDS} fields + base pack; "
        f"best of {ROUNDS}"
    )
    for name, seconds in results.items():
        print(f"  {name:<40} {seconds:7.3f} s   {seconds / base:5.2f}x of yaml.safe_load")
    ratio = results["metacrm load+validate+resolve"] / base
    verdict = "met" if ratio <= 3 else "NOT met"
    print(f"goal: pipeline within 3x of yaml.safe_load -> {ratio:.2f}x ({verdict})")


if __name__ == "__main__":
    main()
