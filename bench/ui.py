"""Server time of the UI's pages against a minimal hand-written page of the same data,
same run (issue 9).

(a) a record page of an object with 40 fields in a form layout of 4 sections and 3
    related lists (5 children each); (b) a list page of 50 rows and 8 columns. The
    generated side is the whole request through the app in process (Litestar's test
    client: routing, session lookup, the record service with role checks and masking,
    layout, rules, template); the baseline reads the same rows with SQLAlchemy Core and
    renders them with a minimal autoescaping Jinja2 template — what a hand-written page
    that knows its object would do. SQLite file, one user with the administrator role.

Run: .venv/bin/python bench/ui.py [--rounds N] [--pages N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jinja2  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from litestar.testing import TestClient  # noqa: E402

from admin_ui import with_ui  # noqa: E402
from engine.api.app import AppConfig, create_app  # noqa: E402
from engine.api.auth import Authenticator  # noqa: E402
from engine.api.runtime import Runtime  # noqa: E402
from engine.auth import PasswordHasher, UserStore  # noqa: E402
from engine.records import Actor  # noqa: E402
from engine.storage.database import Database  # noqa: E402

SYSTEM = Actor(user_id=None, name="bench")
KINDS = ["text", "integer", "decimal", "date", "boolean", "email", "text", "long_text"]
CHILDREN = ("note", "visit", "payment")
RECORD_PAGE = jinja2.Template(
    """<!doctype html><html><head><title>{{ r.f00 }}</title></head><body><h1>{{ r.f00 }}</h1>
{% for s in sections %}<section><h2>{{ s.label }}</h2><dl>{% for f in s.fields %}
<dt>{{ f }}</dt><dd>{{ r[f] }}</dd>{% endfor %}</dl></section>{% endfor %}
{% for name, rows in related %}<section><h2>{{ name }}</h2><table>{% for c in rows %}
<tr><td><a href="/x/{{ c.id }}">{{ c.title }}</a></td><td>{{ c.amount }}</td></tr>
{% endfor %}</table></section>{% endfor %}</body></html>""",
    autoescape=True,
)
LIST_PAGE = jinja2.Template(
    """<!doctype html><html><head><title>list</title></head><body><table>
<tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for r in rows %}<tr>{% for c in columns %}<td>{{ r[c] }}</td>{% endfor %}</tr>{% endfor %}
</table></body></html>""",
    autoescape=True,
)


def write_pack(folder: Path) -> Path:
    pack = folder / "uibench"
    (pack / "objects").mkdir(parents=True)
    (pack / "layouts").mkdir()
    (pack / "pack.yaml").write_text("name: uibench\nversion: 1.0.0\n")
    fields = "\n".join(
        f"  - {{name: f{i:02d}, type: {KINDS[i % len(KINDS)]}, label: {{en: Field {i}, "
        f"zh-CN: 字段{i}}}}}"
        for i in range(40)
    )
    (pack / "objects" / "big.yaml").write_text(
        f"name: big\nlabel: {{en: Big, zh-CN: 大对象}}\ntitle_field: f00\nfields:\n{fields}\n"
    )
    for child in CHILDREN:
        (pack / "objects" / f"{child}.yaml").write_text(
            f"name: {child}\nlabel: {{en: {child}, zh-CN: {child}}}\ntitle_field: title\n"
            "fields:\n  - {name: title, type: text}\n  - {name: amount, type: decimal}\n"
            "  - {name: big, type: lookup, to: big}\n"
        )
    sections = "\n".join(
        f"      - name: s{s}\n        label: {{en: Section {s}, zh-CN: 分区{s}}}\n"
        f"        fields: [{', '.join(f'f{i:02d}' for i in range(s * 10, s * 10 + 10))}]"
        for s in range(4)
    )
    related = "\n".join(
        f"      - {{object: {c}, via: big, columns: [title, amount]}}" for c in CHILDREN
    )
    columns = ", ".join(f"f{i:02d}" for i in range(8))
    (pack / "layouts" / "big.yaml").write_text(
        f"object: big\nlist_views:\n  - name: all\n    default: true\n    columns: [{columns}]\n"
        f"    page_size: 50\nforms:\n  - name: main\n    default: true\n    sections:\n"
        f"{sections}\n    related:\n{related}\n"
    )
    return pack


def value(i: int, n: int) -> object:
    kind = KINDS[i % len(KINDS)]
    return {"text": f"值 {n}-{i}", "integer": n * i, "decimal": f"{n}.{i:02d}",
            "date": "2026-11-23", "boolean": n % 2 == 0, "email": f"u{n}@example.cn",
            "long_text": f"备注 {n} " * 5}[kind]  # fmt: skip


def best_rate(call, pages: int, rounds: int) -> tuple[float, float]:
    """(best pages/s over the rounds, median ms per page)."""
    rates, latencies = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(pages):
            t0 = time.perf_counter()
            call()
            latencies.append(time.perf_counter() - t0)
        rates.append(pages / (time.perf_counter() - start))
    return max(rates), statistics.median(latencies) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pages", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        db = Database(f"sqlite:///{tmp / 'ui.sqlite3'}")
        runtime = Runtime(db, [write_pack(tmp)])
        service = runtime.snapshot.service
        tables = runtime.snapshot.compiled.tables
        records = [service.create("big", {f"f{i:02d}": value(i, n) for i in range(40)}, SYSTEM)
                   for n in range(60)]  # fmt: skip
        target = records[0]["id"]
        for child in CHILDREN:
            for n in range(5):
                service.create(child, {"title": f"{child} {n}", "amount": n, "big": target},
                               SYSTEM)  # fmt: skip
        users = UserStore(db, tables, hasher=PasswordHasher(n=2**4))
        users.create_user("bench", "bench-password", "Bench", roles=["administrator"])
        app = create_app(with_ui(AppConfig(runtime=runtime,
                                           authenticator=Authenticator(db, tables))))  # fmt: skip
        big = tables["big"]
        names = [f"f{i:02d}" for i in range(40)]
        sections = [{"label": f"分区{s}", "fields": names[s * 10 : s * 10 + 10]}
                    for s in range(4)]  # fmt: skip

        def hand_record() -> str:
            with db.engine.connect() as conn:
                row = conn.execute(sa.select(big).where(big.c.id == target)).mappings().one()
                related = []
                for child in CHILDREN:
                    t = tables[child]
                    rows = conn.execute(
                        sa.select(t.c.id, t.c.title, t.c.amount).where(t.c.big == target)
                        .order_by(t.c.created_at.desc()).limit(10)
                    ).mappings().all()  # fmt: skip
                    related.append((child, rows))
            return RECORD_PAGE.render(r=row, sections=sections, related=related)

        columns = names[:8]

        def hand_list() -> str:
            with db.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(big.c.id, *(big.c[c] for c in columns))
                    .where(big.c.archived.is_(False)).order_by(big.c.id).limit(51)
                ).mappings().all()  # fmt: skip
            return LIST_PAGE.render(rows=rows[:50], columns=columns)

        with TestClient(app) as client:
            page = client.get("/ui/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            client.post("/ui/login", data={"csrf_token": token, "username": "bench",
                                           "password": "bench-password"})  # fmt: skip

            def ui_record() -> str:
                answer = client.get(f"/ui/o/big/{target}")
                assert answer.status_code == 200
                return answer.text

            def ui_list() -> str:
                answer = client.get("/ui/o/big")
                assert answer.status_code == 200
                return answer.text

            assert ui_record().count("<tr>") >= 15 and ui_list().count("<tr>") == 51
            for call in (ui_record, ui_list, hand_record, hand_list):  # warm up
                for _ in range(10):
                    call()
            results = {}
            for name, generated, hand in (("record page (40 fields, 3 related lists)",
                                           ui_record, hand_record),
                                          ("list page (50 rows, 8 columns)", ui_list,
                                           hand_list)):  # fmt: skip
                results[name] = (best_rate(generated, args.pages, args.rounds),
                                 best_rate(hand, args.pages, args.rounds))  # fmt: skip
        db.dispose()
    print(f"SQLite file, in-process requests; best of {args.rounds} rounds of {args.pages}")
    print(f"{'page':<42}{'generated':>12}{'hand-written':>14}{'gen p50':>10}{'ratio':>8}")
    for name, ((gen, gen_p50), (hand, _)) in results.items():
        print(f"{name:<42}{gen:>10.0f}/s{hand:>12.0f}/s{gen_p50:>7.2f} ms{gen / hand:>7.2f}x")


if __name__ == "__main__":
    main()
