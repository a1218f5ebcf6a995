"""Hostile input over HTTP: every request gets a 4xx problem naming the limit or the field,
never a 500. The classes here were found by a hostile tester on the demo, or by hand
against create, update, bulk, upsert, list and filter; each runs on SQLite and PostgreSQL.

The shop pack is widened by a tenant pack with a field of each remaining type (url,
geolocation, address, json, integer, date-time, time, boolean, decimal), so every field
type meets wrong JSON types.
"""

from __future__ import annotations

import base64
import json
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from litestar.testing import TestClient

from engine.api.app import AppConfig, create_app
from engine.api.auth import Authenticator
from engine.api.runtime import Runtime
from engine.auth import PasswordHasher, TokenStore, UserStore
from engine.records import BadQuery

SHOP = Path(__file__).resolve().parents[2] / "fixtures" / "shop_pack"
URL = "/api/v1/objects/customer/records"
WIDER = """\
    extends: customer
    fields:
      - {name: website, type: url, label: {en: Website, zh-CN: 网站}}
      - {name: spot, type: geolocation, label: {en: Spot, zh-CN: 位置}}
      - {name: address, type: address, label: {en: Address, zh-CN: 地址}}
      - {name: extra, type: json, label: {en: Extra, zh-CN: 附加}}
      - {name: visits, type: integer, label: {en: Visits, zh-CN: 到访次数}}
      - {name: seen_at, type: datetime, label: {en: Seen at, zh-CN: 到访时间}}
      - {name: opens, type: time, label: {en: Opens, zh-CN: 营业时间}}
      - {name: active, type: boolean, label: {en: Active, zh-CN: 活跃}}
      - {name: score, type: decimal, precision: 10, scale: 2, label: {en: Score, zh-CN: 评分}}
"""


@dataclass
class Shop:
    client: TestClient
    runtime: Runtime
    writer: dict[str, str]
    clerk: dict[str, str]
    alice: Any


def _serve(database, folder: Path) -> Iterator[Shop]:
    wider = folder / "wider"
    (wider / "objects").mkdir(parents=True)
    (wider / "pack.yaml").write_text(
        "name: wider\nversion: 1.0.0\nlayer: tenant\nrequires: {packs: {shop: '>=1.0.0'}}\n"
    )
    (wider / "objects" / "customer.yaml").write_text(textwrap.dedent(WIDER))
    runtime = Runtime(database, [SHOP, wider])
    tables = runtime.snapshot.compiled.tables
    users = UserStore(database, tables, hasher=PasswordHasher(n=2**4))
    alice = users.create_user("alice", "correct horse", "Alice", roles=["sales_rep"], locale="en")
    carl = users.create_user("carl", None, "Carl", roles=["clerk"], locale="en")
    tokens = TokenStore(users)
    writer, _ = tokens.create(alice, "tests", ["records:write"])
    clerk, _ = tokens.create(carl, "clerk", ["records:write"])
    app = create_app(AppConfig(runtime=runtime, authenticator=Authenticator(database, tables)))
    with TestClient(app) as client:
        yield Shop(
            client,
            runtime,
            {"Authorization": f"Bearer {writer}"},
            {"Authorization": f"Bearer {clerk}"},
            users.actor_for(alice),
        )


@pytest.fixture
def shop(database, tmp_path) -> Iterator[Shop]:
    """The widened shop on an empty database of its own."""
    yield from _serve(database, tmp_path)


@pytest.fixture(scope="module")
def shared_shop(module_database, tmp_path_factory) -> Iterator[Shop]:
    """The widened shop on one database per kind for the module: for tests that check only
    the answer to their own write (many values of one field), never what else is stored."""
    yield from _serve(module_database, tmp_path_factory.mktemp("shared-shop"))


def problem_of(response, status: int) -> dict[str, Any]:
    """The problem body of a refused request, after checking its status and media type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    return body


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# -- JSON depth, body size, URL length -------------------------------------------------------


def test_a_json_body_nested_past_32_levels_is_400_before_it_is_parsed_even_unsigned(shop):
    """10,000 levels crashed the decoder (RecursionError, 500) on sign-in, unauthenticated."""
    json_body = {"content-type": "application/json"}
    signin = shop.client.post("/api/v1/auth/login", content=nested(10_000), headers=json_body)
    body = problem_of(signin, 400)
    assert (body["code"], body["limit"]) == ("too_deep", 32)
    assert "10000 levels" in body["detail"]
    created = shop.client.post(URL, content=nested(33), headers={**shop.writer, **json_body})
    assert problem_of(created, 400)["limit"] == 32


def test_a_body_of_exactly_32_levels_is_accepted(shop):
    """The body object is level 1, so its json field may nest 31 levels."""
    value: Any = "deep"
    for _ in range(31):
        value = [value]
    created = shop.client.post(URL, json={"name": "Deep", "extra": value}, headers=shop.writer)
    assert created.status_code == 201, created.text
    assert created.json()["extra"] == value


def test_brackets_inside_strings_do_not_count_as_nesting(shop):
    note = '[{"' * 50 + "]"
    created = shop.client.post(URL, json={"name": "Brackets", "profile": note}, headers=shop.writer)
    assert created.status_code == 201, created.text


def test_a_record_body_over_4_mib_is_413_naming_the_limit(shop):
    big = {"name": "Big", "profile": "x" * (4 * 1024 * 1024)}
    body = problem_of(shop.client.post(URL, json=big, headers=shop.writer), 413)
    assert (body["code"], body["limit"]) == ("too_large", 4 * 1024 * 1024)


def test_a_bulk_body_may_be_larger_than_a_record_body(shop):
    rows = [{"name": f"Big {i}", "profile": "x" * 120_000} for i in range(40)]  # 4.8 MB
    response = shop.client.post(f"{URL}/bulk", json={"records": rows}, headers=shop.writer)
    assert response.status_code == 200, response.text
    assert response.json()["ok"]


def test_a_bulk_write_of_more_than_1000_records_is_413_and_writes_nothing(shop):
    rows = [{"name": f"C{i}"} for i in range(1001)]
    response = shop.client.post(f"{URL}/bulk", json={"records": rows}, headers=shop.writer)
    body = problem_of(response, 413)
    assert (body["code"], body["limit"]) == ("too_many_rows", 1000)
    assert "1001 records" in body["detail"]
    assert shop.client.get(URL, headers=shop.writer).json()["records"] == []


def test_a_bulk_write_of_1000_records_is_taken(shop):
    rows = [{"id": str(uuid.uuid4()), "name": "Nobody"} for _ in range(1000)]
    response = shop.client.post(
        f"{URL}/bulk",
        json={"operation": "update", "records": rows, "all_or_none": False},
        headers=shop.writer,
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["results"]) == 1000


def test_a_url_over_8_kib_is_414_naming_the_limit_signed_in_or_not(shop):
    long_query = f"{URL}?name={'a' * 8200}"
    body = problem_of(shop.client.get(long_query, headers=shop.writer), 414)
    assert (body["code"], body["limit"]) == ("uri_too_long", 8192)
    assert problem_of(shop.client.get(long_query), 414)["limit"] == 8192
    just_under = f"{URL}?name={'a' * (8192 - len(URL) - 6)}"
    assert shop.client.get(just_under, headers=shop.writer).status_code == 200


# -- filters: JSON depth, rule depth and size ------------------------------------------------


def rule_nested(levels: int) -> dict[str, Any]:
    """``levels`` nested ``!`` around a field: its name is ``levels + 1`` levels down."""
    rule: Any = {"var": "name"}
    for _ in range(levels):
        rule = {"!": [rule]}
    return rule


def test_a_filter_1000_deep_is_refused_not_a_500(shop):
    """Found on the demo: json.loads recursed to a 500. Such a filter does not fit in a URL."""
    deep = '{"!": [' * 1000 + '{"var": "name"}' + "]}" * 1000
    response = shop.client.get(URL, params={"filter": deep}, headers=shop.writer)
    assert problem_of(response, 414)["limit"] == 8192
    deep = '{"!": [' * 20 + '{"var": "name"}' + "]}" * 20
    body = problem_of(shop.client.get(URL, params={"filter": deep}, headers=shop.writer), 400)
    assert (body["code"], body["limit"]) == ("too_deep", 32)
    assert "the filter nests 41 levels" in body["detail"]


def test_a_filter_rule_deeper_than_12_levels_is_400_naming_the_limit(shop):
    too_deep = json.dumps(rule_nested(12))
    response = shop.client.get(URL, params={"filter": too_deep}, headers=shop.writer)
    body = problem_of(response, 400)
    assert body["code"] == "bad_query"
    assert "a rule run as SQL nests at most 12" in body["detail"]
    at_limit = json.dumps(rule_nested(11))
    assert shop.client.get(URL, params={"filter": at_limit}, headers=shop.writer).status_code == 200


def clauses(n: int) -> str:
    """An ``or`` of ``n`` comparisons: 4 nodes each (the operator, the var, the field's name
    and the value) and the ``or``; compact, so that 126 of them fit in a URL."""
    rule = {"or": [{"==": [{"var": "visits"}, i]} for i in range(n)]}
    return json.dumps(rule, separators=(",", ":"))


def test_a_filter_of_more_than_500_nodes_is_400_naming_the_limit(shop):
    def listed(rule: str) -> Any:  # ":" and "," need no escaping in a query string
        return shop.client.get(f"{URL}?filter={quote(rule, safe=':,')}", headers=shop.writer)

    body = problem_of(listed(clauses(125)), 400)  # 501 nodes
    assert "more than 500 nodes" in body["detail"] and "at most 500" in body["detail"]
    fits = listed(clauses(124))
    assert fits.status_code == 200, fits.text


def test_a_list_of_values_counts_as_one_node(shop):
    """An import looks up a chunk's codes with one ``in``; SQL binds the list flat."""
    codes = [f"C-{i}" for i in range(5000)]
    rule = {"in": [{"var": "code"}, codes]}
    assert shop.runtime.snapshot.service.list("customer", shop.alice, filter=rule).records == []


def test_an_and_of_500_clauses_is_refused_by_the_url_and_by_the_rule_bound(shop):
    """Found on the demo: SQLite refused the statement ('Expression tree is too large')."""
    rule = {"and": [{"==": [{"var": "name"}, str(i)]} for i in range(500)]}
    response = shop.client.get(URL, params={"filter": json.dumps(rule)}, headers=shop.writer)
    assert problem_of(response, 414)["code"] == "uri_too_long"
    with pytest.raises(BadQuery, match="at most 500"):
        shop.runtime.snapshot.service.list("customer", shop.alice, filter=rule)


def _worst_shapes() -> dict[str, Any]:
    """Rules at the SQL bound in the shapes that cost the database most per level or node:
    every one must run. Probed on SQLite 3.40: nested ``if`` failed from 15 levels, an
    ``and`` of 500 comparisons (1,000 terms) failed, ``!`` from 50 levels."""
    lookup = {"var": "deal.customer.name"}
    shapes: dict[str, Any] = {}
    rule: Any = {"==": [lookup, "b"]}
    for _ in range(10):
        rule = {"if": [{"==": [lookup, "a"]}, rule, False]}
    shapes["if nested in then, 12 levels"] = rule
    rule = {"==": [lookup, "b"]}
    for _ in range(10):
        rule = {"if": [{"!=": [lookup, "a"]}, False, rule]}
    shapes["if nested in else, 12 levels"] = rule
    rule = {"var": "product"}
    for _ in range(5):
        rule = {"and": [{"!=": [lookup, "a"]}, {"or": [{"<": [{"var": "price"}, 5]}, rule]}]}
    shapes["and/or alternating, 12 levels"] = rule
    shapes["and of bare fields, 500 nodes"] = {"and": [{"var": "product"}] * 249}
    shapes["and of comparisons, 500 nodes"] = {
        "and": [{"!=": [{"var": "product"}, str(i)]} for i in range(99)]
    }
    shapes["in of 19,990 values"] = {"in": [{"var": "product"}, [str(i) for i in range(19_990)]]}
    shapes["if of 49 branches, 500 nodes"] = {
        "if": [*[c for i in range(49) for c in ({"==": [lookup, str(i)]}, True)], False]
    }
    return shapes


@pytest.mark.parametrize("shape", list(_worst_shapes()))
def test_rules_at_the_sql_bound_run_on_the_database(shop, shape):
    rule = _worst_shapes()[shape]
    page = shop.runtime.snapshot.service.list("deal_line", shop.alice, filter=rule)
    assert page.records == []


# -- cursors ---------------------------------------------------------------------------------


def cursor_of(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def test_forged_cursors_are_400_with_a_clear_message(shop):
    for name in ("A", "B", "C"):
        shop.client.post(URL, json={"name": name, "since": "2024-01-01"}, headers=shop.writer)
    an_id = str(uuid.uuid4())
    forged = {
        ("", "garbage!"): "the cursor is not valid",
        ("", base64.urlsafe_b64encode(b"[" * 5000).decode()): "the cursor is not valid",
        ("", cursor_of({"a": 1})): "the cursor is not valid",
        ("", cursor_of(["a", "b"])): "another sort order",
        ("", cursor_of(["not-a-uuid"])): "cursor's value for id",
        ("", cursor_of([[1, 2]])): "cursor's value for id",
        ("since", cursor_of(["2024-01-01", an_id])): "cursor's value for since",
        ("since", cursor_of([{"D": "not a date"}, an_id])): "cursor's value for since",
        ("since", cursor_of([{"t": "2024-01-01T00:00:00+00:00"}, an_id])): "value for since",
        ("created_at", cursor_of([{"t": "2024-01-01T00:00:00"}, an_id])): "for created_at",
        ("created_at", cursor_of([None, an_id])): "cursor's value for created_at",
        ("version", cursor_of([2**40, an_id])): "cursor's value for version",
        ("version", cursor_of([True, an_id])): "cursor's value for version",
        ("score", cursor_of([{"d": "NaN"}, an_id])): "cursor's value for score",
        ("score", cursor_of([1.5, an_id])): "cursor's value for score",
        ("name", cursor_of(["a\u0000b", an_id])): "cursor's value for name",
    }
    for (sort, cursor), message in forged.items():
        params = {"cursor": cursor, **({"sort": sort} if sort else {})}
        response = shop.client.get(URL, params=params, headers=shop.writer)
        body = problem_of(response, 400)
        assert message in body["detail"], (sort, cursor, body)


def test_real_cursors_page_through_every_sortable_type(shop):
    """A time field's cursor could not even be written (json.dumps of a time: 500), nor a
    boolean one read back (``active > true``: 500)."""
    for i in range(3):
        record = {
            "name": f"C{i}", "opens": f"0{i}:30", "seen_at": f"2024-01-0{i + 1}T08:00:00+08:00",
            "score": f"{i}.5", "visits": i, "active": i % 2 == 0, "since": f"2024-02-0{i + 1}",
            "tags": ["vip", "new", "online"][: i + 1], "address": {"city": f"City {i}"},
            "extra": {"rank": i}, "spot": {"lat": i, "lng": i},
        }  # fmt: skip
        assert shop.client.post(URL, json=record, headers=shop.writer).status_code == 201
    keys = ("opens", "seen_at", "score", "visits", "active", "since", "-name", "created_at",
            "tags", "address", "extra", "spot")  # fmt: skip
    for key in keys:
        seen, cursor = [], None
        while True:
            params = {"sort": key, "limit": 1, **({"cursor": cursor} if cursor else {})}
            page = shop.client.get(URL, params=params, headers=shop.writer)
            assert page.status_code == 200, (key, page.text)
            seen += [r["name"] for r in page.json()["records"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == ["C0", "C1", "C2"], key


# -- URL fields ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "https://javascript:alert(1)",
        "https://javascript:alert(document.cookie)",
        "javascript:alert(document.cookie)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "mailto:someone@example.com",
        "ftp://example.com/file",
        "https://bank.example@evil.example/",
        "https://exa mple.com",
        "https://localhost/",
        "https://example.com:99999/",
        "https:example.com",
        [None, None],
        ["https://example.com"],
        {"href": "https://example.com"},
        42,
        True,
        "https://example.com/" + "a" * 2048,
    ],
)
def test_a_url_field_refuses_what_is_not_a_web_address_as_a_field_error(shared_shop, value):
    shop = shared_shop
    response = shop.client.post(URL, json={"name": "Web", "website": value}, headers=shop.writer)
    body = problem_of(response, 422)
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("website", "bad_url")]


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("https://example.com/path?q=1#top", "https://example.com/path?q=1#top"),
        ("http://example.com", "http://example.com"),
        ("www.example.com/x", "https://www.example.com/x"),
        ("example.com:8080/x", "https://example.com:8080/x"),
        ("https://例子.中国/", "https://例子.中国/"),
        ("http://192.0.2.1/status", "http://192.0.2.1/status"),
    ],
)
def test_a_url_field_keeps_web_addresses(shared_shop, value, stored):
    shop = shared_shop
    response = shop.client.post(URL, json={"name": "Web", "website": value}, headers=shop.writer)
    assert response.status_code == 201, response.text
    assert response.json()["website"] == stored


# -- wrong JSON types for every field type ---------------------------------------------------

WRONG_TYPES: dict[str, list[Any]] = {
    "name": [[1], {"a": 1}, True, "x" * 100_000, "nul\u0000"],
    "phone": [[1], {"a": 1}, 10**400],
    "email": [[1], {"a": 1}, 5],
    "tier": [[1], {"a": 1}, 5, ["gold"]],
    "tags": [[[1]], {"a": 1}, 5, [{"a": 1}]],
    "since": [[1], {"a": 1}, 5, "99999-01-01", True],
    "seen_at": [[1], {"a": 1}, 5, 1e308, "2020-01-01T99:00"],
    "opens": [[1], {"a": 1}, 5, "25:00"],
    "visits": [[1], {"a": 1}, 10**400, 10**30, 1e308, "NaN", "Infinity", "1e999999999", 1.5],
    "score": [[1], {"a": 1}, 10**400, 1e308, "NaN", "1e999999999"],
    "active": [[1], {"a": 1}, 5, "perhaps"],
    "spot": [[1, 2], "x", 5, {"lat": "NaN", "lng": 1}, {"lat": [1], "lng": 1}, {"lat": 1e308}],
    "address": [[1], "x", 5],
    "documents": [[[1]], {"a": 1}, 5, [None], "not-a-file-id"],
}


def test_wrong_json_types_for_every_field_type_are_422_field_errors(shop):
    record = shop.client.post(URL, json={"name": "Target"}, headers=shop.writer).json()
    for field, values in WRONG_TYPES.items():
        for value in values:
            body = {"name": "n", field: value} if field != "name" else {"name": value}
            created = shop.client.post(URL, json=body, headers=shop.writer)
            assert field in {e["field"] for e in problem_of(created, 422)["errors"]}, field
            patched = shop.client.patch(
                f"{URL}/{record['id']}", json={field: value}, headers=shop.writer
            )
            assert field in {e["field"] for e in problem_of(patched, 422)["errors"]}, field
            bulk = shop.client.post(f"{URL}/bulk", json={"records": [body]}, headers=shop.writer)
            assert bulk.status_code == 200, (field, value, bulk.text)
            [row] = bulk.json()["results"]
            assert field in {e["field"] for e in row["errors"]}, (field, value)
    assert [r["name"] for r in shop.client.get(URL, headers=shop.writer).json()["records"]] == [
        "Target"
    ]


def test_filters_on_every_field_type_with_wrong_values_are_4xx(shop):
    for field, values in WRONG_TYPES.items():
        for value in [*values, None]:
            if isinstance(value, float) or (isinstance(value, int) and abs(value) > 2**64):
                continue  # JSON cannot carry them as the tester sent them; covered below
            for op in ("==", "<", "in"):
                rule = {op: [{"var": field}, value]}
                response = shop.client.get(
                    URL, params={"filter": json.dumps(rule)[:4000]}, headers=shop.writer
                )
                assert response.status_code < 500, (rule, response.text)
            simple = shop.client.get(URL, params={field: str(value)[:1000]}, headers=shop.writer)
            assert simple.status_code < 500, (field, value, simple.text)


def test_a_filter_value_its_column_cannot_hold_is_400_on_postgresql(shop, database):
    """PostgreSQL refuses text that is no uuid for an id column, and NUL in any text; that
    failed the query (500). SQLite compares them and finds nothing."""
    queries = [
        {"id": "x"},
        {"owner": "nope"},
        {"filter": json.dumps({"==": [{"var": "created_by"}, "x"]})},
        {"filter": json.dumps({"==": [{"var": "name"}, "nul\u0000"]})},
    ]
    for params in queries:
        response = shop.client.get(URL, params=params, headers=shop.writer)
        if database.is_sqlite:
            assert response.json()["records"] == [], params
        else:
            body = problem_of(response, 400)
            assert body["detail"] == "the filter compares a field with a value it cannot hold"


# -- upsert keys and related lists -----------------------------------------------------------


def test_an_upsert_key_the_writer_may_not_read_is_400_as_if_it_did_not_exist(shop):
    """The clerk may not read ``code``; matching on it would tell them which codes exist."""
    taken = {"name": "Gold Co", "code": "G-1", "tier": "gold"}
    assert shop.client.post(URL, json=taken, headers=shop.writer).status_code == 201
    rows = [{"name": "Mine", "code": "G-1"}]
    hidden = shop.client.post(
        f"{URL}/bulk", json={"operation": "upsert", "key": "code", "records": rows},
        headers=shop.clerk,
    )  # fmt: skip
    unknown = shop.client.post(
        f"{URL}/bulk", json={"operation": "upsert", "key": "colour", "records": rows},
        headers=shop.clerk,
    )  # fmt: skip
    hidden_body, unknown_body = problem_of(hidden, 400), problem_of(unknown, 400)
    assert hidden_body["detail"] == "cannot upsert on customer.code: no such field you may read"
    assert unknown_body["detail"] == hidden_body["detail"].replace("code", "colour")
    default_key = shop.client.post(
        f"{URL}/bulk", json={"operation": "upsert", "records": rows}, headers=shop.clerk
    )  # the external id, ``code``, is the default key: just as hidden
    assert problem_of(default_key, 400)["detail"] == hidden_body["detail"]
    gold = shop.client.get(URL, params={"code": "G-1"}, headers=shop.writer).json()["records"]
    assert [r["name"] for r in gold] == ["Gold Co"]


def test_an_import_keyed_on_a_field_the_importer_may_not_read_is_refused_alike(shop):
    imports = "/api/v1/objects/customer/import"
    csv = b"name,code\r\nMine,G-1\r\n"
    refused = {}
    for key in ("code", "colour"):
        response = shop.client.post(
            imports, params={"upsert_key": key}, content=csv,
            headers={**shop.clerk, "Content-Type": "text/csv"},
        )  # fmt: skip
        body = problem_of(response, 422)
        assert body["reason"] == "no_upsert_key", body
        refused[key] = body["detail"]
    assert refused["colour"] == refused["code"].replace("code", "colour")


def test_an_upsert_key_the_writer_may_read_still_matches(shop):
    rows = [{"name": "Acme", "code": "A-1"}]
    first = shop.client.post(
        f"{URL}/bulk", json={"operation": "upsert", "records": rows}, headers=shop.writer
    )
    again = shop.client.post(
        f"{URL}/bulk",
        json={"operation": "upsert", "key": "code", "records": [{"code": "A-1", "tier": "gold"}]},
        headers=shop.writer,
    )
    assert [r["created"] for r in first.json()["results"]] == [True]
    assert again.status_code == 200 and "created" not in again.json()["results"][0]
    [acme] = shop.client.get(URL, headers=shop.writer).json()["records"]
    assert (acme["name"], acme["tier"]) == ("Acme", "gold")


def test_upsert_rows_whose_key_the_field_cannot_hold_are_that_rows_errors(shop):
    """Matching on the raw value reached the database (a list, 10**30, text for a date-time:
    500); the key is matched as the field stores it, and a value it refuses fails the row."""
    for key, value in (("visits", [1]), ("visits", 10**30), ("seen_at", "soon"),
                       ("name", {"a": 1}), ("website", "javascript:alert(1)")):  # fmt: skip
        rows = [{"name": "Row", key: value}] if key != "name" else [{key: value}]
        response = shop.client.post(
            f"{URL}/bulk", json={"operation": "upsert", "key": key, "records": rows},
            headers=shop.writer,
        )  # fmt: skip
        assert response.status_code == 200, (key, value, response.text)
        [row] = response.json()["results"]
        assert key in {e["field"] for e in row["errors"]}, (key, value, row)
    assert shop.client.get(URL, headers=shop.writer).json()["records"] == []


def test_an_upsert_row_without_its_key_creates_rather_than_matching_an_empty_key(shop):
    keyless = shop.client.post(URL, json={"name": "No code"}, headers=shop.writer).json()
    response = shop.client.post(
        f"{URL}/bulk", json={"operation": "upsert", "records": [{"name": "Also no code"}]},
        headers=shop.writer,
    )  # fmt: skip
    assert response.json()["results"][0]["created"] is True
    names = {r["name"] for r in shop.client.get(URL, headers=shop.writer).json()["records"]}
    assert names == {"No code", "Also no code"}
    assert shop.client.get(f"{URL}/{keyless['id']}", headers=shop.writer).json()["version"] == 1


def test_a_related_list_takes_exactly_the_list_parameters(shop):
    customer = shop.client.post(URL, json={"name": "Acme"}, headers=shop.writer).json()
    deals = "/api/v1/objects/deal/records"
    for amount, note in ((100, "small"), (300, "big"), (200, "small")):
        deal = {"customer": customer["id"], "amount": amount, "note": note}
        assert shop.client.post(deals, json=deal, headers=shop.writer).status_code == 201
    related = f"{URL}/{customer['id']}/related/deal"

    def amounts(**params: str) -> list[str]:
        response = shop.client.get(related, params=params, headers=shop.writer)
        assert response.status_code == 200, response.text
        return [r["amount"] for r in response.json()["records"]]

    assert amounts(sort="-amount") == ["300.00", "200.00", "100.00"]
    assert amounts(note="small", sort="amount") == ["100.00", "200.00"]
    assert amounts(filter=json.dumps({">": [{"var": "amount"}, 150]}), sort="amount") == [
        "200.00",
        "300.00",
    ]
    for params in ({"bogus": "1"}, {"colour": "red"}, {"amount__near": "1"}):
        response = shop.client.get(related, params=params, headers=shop.writer)
        assert problem_of(response, 400)["code"] == "bad_query", params
    garbled = shop.client.get(related, params={"cursor": "zz"}, headers=shop.writer)
    assert "cursor" in problem_of(garbled, 400)["detail"]
    assert problem_of(shop.client.get(URL, params={"bogus": "1"}, headers=shop.writer), 400)
