"""CSV import and export over the API: the CLI's transfer machinery behind two routes."""

from __future__ import annotations

import csv
import io

from litestar.testing import TestClient

from engine.api.app import AppConfig, create_app
from engine.api.auth import Authenticator

IMPORT = "/api/v1/objects/{}/import"
EXPORT = "/api/v1/objects/{}/export"
RECORDS = "/api/v1/objects/{}/records"


def csv_text(rows: list[list[str]]) -> str:
    stream = io.StringIO()
    csv.writer(stream).writerows(rows)
    return stream.getvalue()


def send(
    api,
    object_name: str,
    rows: list[list[str]] | str | bytes,
    token: str | None = None,
    params: dict[str, str] | None = None,
    **headers: str,
):
    body = rows if isinstance(rows, str | bytes) else csv_text(rows)
    return api.client.post(
        IMPORT.format(object_name),
        content=body.encode() if isinstance(body, str) else body,
        params=params or {},
        headers=api.auth(token, **{"Content-Type": "text/csv", **headers}),
    )


def records(api, object_name: str, **params: str) -> list[dict]:
    response = api.client.get(
        RECORDS.format(object_name), params={"limit": "500", **params}, headers=api.auth()
    )
    assert response.status_code == 200, response.text
    return response.json()["records"]


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def test_good_rows_land_and_bad_rows_come_back_with_row_numbers_and_reasons(api):
    response = send(
        api,
        "customer",
        [
            ["name", "code", "tier", "email"],
            ["Acme", "A-1", "gold", "acme@example.com"],
            ["", "B-1", "silver", ""],
            [],  # a blank line is not a row, but it is a line: row numbers follow the file
            ["Core", "C-1", "platinum", "not an address"],
            ["Delta", "D-1", "", ""],
        ],
        **{"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert {k: report[k] for k in ("rows", "created", "updated", "rejected", "dry_run")} == {
        "rows": 4, "created": 2, "updated": 0, "rejected": 2, "dry_run": False,
    }  # fmt: skip
    assert [r["row"] for r in report["rejects"]] == [3, 5]
    [missing] = report["rejects"][0]["errors"]
    assert (missing["column"], missing["field"], missing["code"]) == ("name", "name", "required")
    assert missing["message"] == "名称为必填项"
    core = {e["field"]: e for e in report["rejects"][1]["errors"]}
    assert set(core) == {"tier", "email"}
    assert core["tier"]["code"] == "not_a_choice" and "platinum" in core["tier"]["message"]
    assert core["email"]["message"] == "邮箱不是有效的邮箱地址"

    rejected = parse(report["reject_csv"])
    assert rejected[0] == ["_row", "name", "code", "tier", "email", "_errors"]
    assert [row[:5] for row in rejected[1:]] == [
        ["3", "", "B-1", "silver", ""],
        ["5", "Core", "C-1", "platinum", "not an address"],
    ]
    assert rejected[1][5] == "name: 名称为必填项"
    assert sorted((r["code"], r["tier"]) for r in records(api, "customer")) == [
        ("A-1", "gold"), ("D-1", "silver"),
    ]  # fmt: skip


def test_reasons_follow_accept_language_and_a_clean_file_has_no_reject_csv(api):
    bad = send(api, "customer", [["name", "tier"], ["X", "platinum"]], **{"Accept-Language": "en"})
    assert bad.json()["rejects"][0]["errors"][0]["message"] == (
        "Tier: platinum is not one of the choices"
    )
    good = send(api, "customer", [["名称", "编码"], ["Acme", "A-1"]])
    assert good.json()["rejected"] == 0 and good.json()["reject_csv"] is None
    assert good.json()["rejects"] == []


def test_a_form_upload_in_gbk_imports_like_a_raw_body(api):
    content = csv_text([["名称", "编码", "等级"], ["华东经销商", "E-1", "gold"]]).encode("gbk")
    response = api.client.post(
        IMPORT.format("customer"),
        files={"file": ("客户.csv", content, "text/csv")},
        headers=api.auth(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1 and response.json()["encoding"] == "gb18030"
    [row] = records(api, "customer")
    assert (row["name"], row["code"], row["tier"]) == ("华东经销商", "E-1", "gold")


def test_rows_whose_external_id_exists_update_instead_of_duplicating(api):
    first = send(api, "customer", [["code", "name", "tier"], ["A-1", "Acme", "silver"]])
    assert first.json()["created"] == 1
    again = send(
        api,
        "customer",
        [["code", "name", "tier"], ["A-1", "Acme Ltd", "gold"], ["B-1", "Beta", "silver"]],
    )
    assert (again.json()["created"], again.json()["updated"]) == (1, 1)
    by_code = {r["code"]: r for r in records(api, "customer")}
    assert set(by_code) == {"A-1", "B-1"}
    assert (by_code["A-1"]["name"], by_code["A-1"]["tier"]) == ("Acme Ltd", "gold")
    assert by_code["A-1"]["version"] == 2


def test_upsert_key_matches_on_another_field_and_must_exist(api):
    send(api, "customer", [["name", "email"], ["Acme", "acme@example.com"]])
    matched = send(
        api,
        "customer",
        [["email", "tier"], ["acme@example.com", "gold"]],
        params={"upsert_key": "email"},
    )
    assert (matched.json()["created"], matched.json()["updated"]) == (0, 1)
    assert [r["tier"] for r in records(api, "customer")] == ["gold"]
    unknown = send(api, "customer", [["name"], ["X"]], params={"upsert_key": "colour"})
    assert unknown.status_code == 422
    assert unknown.json()["reason"] == "no_upsert_key" and "colour" in unknown.json()["detail"]


def test_dry_run_reports_what_would_happen_and_writes_nothing(api):
    send(api, "customer", [["code", "name"], ["A-1", "Acme"]])
    before = records(api, "customer")
    response = send(
        api,
        "customer",
        [["code", "name", "tier"], ["A-1", "Acme Ltd", "gold"], ["B-1", "Beta", ""],
         ["C-1", "", "gold"]],
        params={"dry_run": "true"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["dry_run"] is True
    assert (report["created"], report["updated"], report["rejected"]) == (1, 1, 1)
    assert report["rejects"][0]["row"] == 4 and report["reject_csv"].startswith("_row,")
    assert records(api, "customer") == before


def test_import_needs_the_write_scope(api):
    response = send(api, "customer", [["name"], ["Acme"]], token=api.reader)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert records(api, "customer") == []
    anonymous = api.client.post(IMPORT.format("customer"), content=b"name\nAcme\n")
    assert anonymous.status_code == 401


def test_files_that_cannot_be_imported_are_422_problems_and_write_nothing(api):
    empty = send(api, "customer", b"")
    assert empty.status_code == 422
    assert empty.headers["content-type"].startswith("application/problem+json")
    assert (empty.json()["code"], empty.json()["reason"]) == ("unimportable_file", "empty_file")
    assert empty.json()["title"] == "The file cannot be imported"

    typo = send(api, "customer", [["nmae", "code"], ["Acme", "A-1"]],
                **{"Accept-Language": "zh-CN"})  # fmt: skip
    assert typo.status_code == 422 and typo.json()["reason"] == "unknown_headers"
    assert typo.json()["title"] == "文件无法导入"
    assert "nmae（是否为name？）" in typo.json()["detail"]

    binary = send(api, "customer", b"name\n\xff\xfe\x00\x81\xff\n")
    assert binary.status_code == 422 and binary.json()["reason"] == "unreadable"

    huge_cell = send(api, "customer", 'name\n"' + "x" * 200_000 + '"\n')
    assert huge_cell.status_code == 422 and huge_cell.json()["reason"] == "malformed_csv"
    assert "line 2" in huge_cell.json()["detail"]

    no_file = api.client.post(
        IMPORT.format("customer"), files={"upload": ("c.csv", b"name\nX\n")}, headers=api.auth()
    )
    assert no_file.status_code == 422 and "'file' part" in no_file.json()["detail"]
    assert records(api, "customer") == []


def test_bad_parameters_and_unknown_objects(api):
    assert send(api, "customer", [["name"], ["X"]], params={"dry_run": "maybe"}).status_code == 400
    missing = send(api, "spaceship", [["name"], ["X"]])
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert records(api, "customer") == []


def test_body_limits_are_per_route_kind(api):
    """The app's limit holds JSON bodies; an import takes files up to its own 10 MiB."""
    app = create_app(
        AppConfig(
            runtime=api.runtime,
            authenticator=Authenticator(api.runtime.db, api.runtime.snapshot.compiled.tables),
            max_body_bytes=1024,
        )
    )
    small = csv_text([["name"], *([f"Customer {i}"] for i in range(200))]).encode()
    too_big = b"name\n" + b"Customer\n" * (10 * 1024 * 1024 // 9 + 1)
    with TestClient(app) as client:
        record = client.post(
            "/api/v1/objects/customer/records", json={"name": "x" * 2000}, headers=api.auth()
        )
        assert record.status_code == 413 and record.json()["limit"] == 1024
        for body in ({"content": too_big}, {"files": {"file": ("c.csv", too_big)}}):
            headers = api.auth(**({"Content-Type": "text/csv"} if "content" in body else {}))
            response = client.post(IMPORT.format("customer"), headers=headers, **body)
            assert response.status_code == 413 and response.json()["code"] == "too_large"
            assert response.json()["limit"] == 10 * 1024 * 1024
        assert records(api, "customer") == []
        taken = client.post(
            IMPORT.format("customer"), content=small,
            headers=api.auth(**{"Content-Type": "text/csv"}),
        )  # fmt: skip
        assert taken.status_code == 200 and taken.json()["created"] == 200


def seed_customers(api) -> None:
    rows = [
        ["code", "name", "tier", "tags", "since", "phone"],
        ["A-1", "Acme", "gold", "vip;new", "2025-01-05", "13800138000"],
        ["B-1", "Beta", "silver", "", "2025-02-01", ""],
        ["C-1", "Core, Ltd", "gold", "online", "2024-12-31", ""],
        ["D-1", "Delta", "gold", "", "2025-03-01", ""],
    ]
    assert send(api, "customer", rows).json()["created"] == 4


def export(api, object_name: str, token: str | None = None, **params: str):
    return api.client.get(EXPORT.format(object_name), params=params, headers=api.auth(token))


def test_export_has_exactly_the_filtered_rows_in_the_asked_fields_and_order(api):
    seed_customers(api)
    response = export(
        api,
        "customer",
        tier="gold",
        since__gte="2025-01-01",
        filter='{"!=": [{"var": "code"}, "Z-9"]}',
        fields="code,name",
        sort="-code",
        header="name",
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="customer.csv"'
    assert response.content.startswith("\ufeff".encode())  # Excel reads it as UTF-8
    assert parse(response.text) == [["code", "name"], ["D-1", "Delta"], ["A-1", "Acme"]]


def test_export_headers_are_labels_in_the_callers_language_by_default(api):
    seed_customers(api)
    english = export(api, "customer", token=api.reader, fields="name,tier", code="C-1")
    assert english.status_code == 200  # the read scope is enough
    assert parse(english.text) == [["Name", "Tier"], ["Core, Ltd", "gold"]]
    response = api.client.get(
        EXPORT.format("customer"),
        params={"fields": "code,since", "code": "A-1"},
        headers=api.auth(**{"Accept-Language": "zh-CN"}),
    )
    assert parse(response.text) == [["编码", "起始日期"], ["A-1", "2025-01-05"]]


def test_export_without_fields_has_every_field_and_imports_back_unchanged(api):
    seed_customers(api)
    before = {r["code"]: r for r in records(api, "customer")}
    exported = export(api, "customer")
    table = parse(exported.text)
    assert table[0] == [
        "Name", "Code", "Phone", "E-mail", "Tier", "Tags", "Since", "Documents", "Profile"
    ]  # fmt: skip
    assert len(table) == 5
    again = send(api, "customer", exported.content)  # the file as downloaded, BOM and all
    report = again.json()
    assert (report["created"], report["updated"], report["rejected"]) == (0, 4, 0), report
    after = {r["code"]: r for r in records(api, "customer")}
    fields = ["name", "phone", "email", "tier", "tags", "since"]
    assert {c: [r[f] for f in fields] for c, r in after.items()} == {
        c: [r[f] for f in fields] for c, r in before.items()
    }


def test_exported_deals_import_back_as_equal_deals(api):
    seed_customers(api)
    ids = {r["code"]: r["id"] for r in records(api, "customer")}
    deals = [
        {"customer": ids["A-1"], "amount": "1200.50", "stage": "won", "close_date": "2025-06-30"},
        {"customer": ids["B-1"], "amount": "80", "discount": "10"},
        {"customer": ids["D-1"], "amount": "150"},
    ]
    for deal in deals:
        created = api.client.post(RECORDS.format("deal"), json=deal, headers=api.auth())
        assert created.status_code == 201, created.text
    fields = "customer,stage,amount,discount,close_date"
    exported = export(api, "deal", fields=fields, amount__gte="100", header="name")
    table = parse(exported.text)
    assert table[0] == fields.split(",") and len(table) == 3
    report = send(api, "deal", exported.text).json()
    assert (report["created"], report["rejected"]) == (2, 0), report
    mine = [(r["customer"], r["stage"], r["amount"], r["close_date"])
            for r in records(api, "deal", amount__gte="100")]  # fmt: skip
    assert sorted(mine) == sorted(
        [(ids["A-1"], "won", "1200.50", "2025-06-30"), (ids["D-1"], "open", "150.00", None)] * 2
    )


def test_export_streams_every_page(api):
    rows = [["code", "name"], *([f"K-{i:04d}", f"Customer {i}"] for i in range(620))]
    assert send(api, "customer", rows).json()["created"] == 620
    table = parse(export(api, "customer", fields="code", sort="code").text)
    assert table[1:] == [[f"K-{i:04d}"] for i in range(620)]


def test_export_errors_are_problems(api):
    assert export(api, "customer", colour="red").status_code == 400
    assert export(api, "customer", fields="name,colour").status_code == 400
    assert export(api, "customer", filter="{not json").status_code == 400
    assert export(api, "customer", header="title").status_code == 400
    assert export(api, "customer", limit="5").json()["detail"] == (
        "unknown field 'limit' in the query"
    )
    assert export(api, "spaceship").status_code == 404
    assert api.client.get(EXPORT.format("customer")).status_code == 401
