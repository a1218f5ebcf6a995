"""A customer's 10,000-row spreadsheet with 50 bad rows, then deals that point at it.

Exactly the good rows land; every bad row is in the reject file with the reason a
consultant needs to fix it, and its row number as the spreadsheet shows it.
"""

from __future__ import annotations

from pathlib import Path

from engine.transfer import import_csv

from .conftest import ALICE, count, read_csv, write_csv

CUSTOMERS = 10_000
HEADER = ["Name", "code", "Phone", "E-mail", "tier", "Tags", "since"]

#: (cells that differ from a good row, a phrase the reason must contain)
CUSTOMER_FAULTS: list[tuple[dict[int, str], str]] = [
    ({3: "not-an-email"}, "E-mail: E-mail is not an e-mail address"),
    ({2: "12345"}, "Phone: Phone is not a phone number"),
    ({0: ""}, "Name: Name is required"),
    ({4: "platinum"}, "tier: Tier: platinum is not one of the choices"),
    ({0: "x" * 41}, "Name: Name is longer than 40 characters"),
    ({4: "bronze"}, "tier: Tier: bronze is no longer offered"),
    ({5: "vip;bogus"}, "Tags: Tags: bogus is not one of the choices"),
    ({6: "2026-13-45"}, "since: Since must be a date"),
    ({7: "surplus"}, "the row has 8 cells but the header only 7"),
    ({0: "", 3: "bad@"}, "E-mail: E-mail is not an e-mail address; Name: Name is required"),
]


def customer_rows() -> tuple[list[list[str]], dict[int, str]]:
    """Rows (header first) and, by spreadsheet row number, the reason each bad row gives."""
    rows = [HEADER]
    expected: dict[int, str] = {}
    bad_every = CUSTOMERS // 50
    for i in range(CUSTOMERS):
        name = "Twin Co" if i in (1, 2) else f"Customer {i:05d}"
        phone = f"138{i:08d}" if i % 10 == 0 else ""
        email = f"c{i}@example.com" if i % 3 == 0 else ""
        tier = ("gold", "silver", "")[i % 3]
        tags = "vip;new" if i % 7 == 0 else ""
        cells = [name, f"C-{i:05d}", phone, email, tier, tags, "2025-01-02" if i % 5 else ""]
        if i % bad_every == bad_every - 1:
            changes, reason = CUSTOMER_FAULTS[(i // bad_every) % len(CUSTOMER_FAULTS)]
            cells += [""] * (max(changes) + 1 - len(cells))
            for position, value in changes.items():
                cells[position] = value
            expected[len(rows) + 1] = reason
        rows.append(cells)
    return rows, expected


def deal_rows() -> tuple[list[list[str]], dict[int, str]]:
    rows = [["客户", "Stage", "amount", "Discount", "close date", "note"]]
    expected: dict[int, str] = {}
    faults = [
        (["C-99999", "open", "500", "", "", ""], "no Customer has the code or name C-99999"),
        (["Nobody Ltd", "open", "500", "", "", ""], "no Customer has the code or name Nobody"),
        (["Twin Co", "open", "500", "", "", ""], "2 Customer records are named Twin Co"),
        (["C-00199", "open", "500", "", "", ""], "no Customer has the code or name C-00199"),
        (["C-00010", "won", "500", "", "", ""], "A won deal needs a close date"),
        (["C-00010", "open", "500", "80", "", ""], "Discount must be between 0 and 50%"),
        (["C-00010", "open", "abc", "", "", ""], "Amount must be a number"),
        (["C-00010", "maybe", "500", "", "", ""], "maybe is not one of the choices"),
        (["Customer 00011", "open", "500", "", "not a date", ""], "must be a date"),
        (["", "open", "500", "", "", ""], "Customer is required"),
    ]
    for i in range(500):
        if i % 10 == 9:
            cells, reason = faults[(i // 10) % len(faults)]
            expected[len(rows) + 1] = reason
        else:
            by_code = i % 2 or i == 2  # "Customer 00002" is one of the twins
            who = f"C-{i:05d}" if by_code else f"Customer {i:05d}"
            cells = [who, "won" if i % 4 == 0 else "open", f"{100 + i}.50", "5", "2026-01-31", ""]
        rows.append(cells)
    return rows, expected


def assert_rejects(path: Path, expected: dict[int, str]) -> None:
    rejected = read_csv(path)
    assert len(rejected) == len(expected)
    by_row = {int(r["_row"]): r["_errors"] for r in rejected}
    assert set(by_row) == set(expected)
    for number, reason in expected.items():
        assert reason in by_row[number], (number, by_row[number])


def test_ten_thousand_customers_then_deals_by_code_and_name(shop, tmp_path):
    rows, expected = customer_rows()
    assert len(expected) == 50 and len(rows) == CUSTOMERS + 1
    source = write_csv(tmp_path / "customers.csv", rows, encoding="utf-8-sig")  # Excel's BOM
    seen = []
    report = import_csv(
        shop, "customer", source, ALICE, reject_path=tmp_path / "rejects.csv",
        on_progress=seen.append,
    )  # fmt: skip
    assert (report.total, report.created, report.updated) == (CUSTOMERS, CUSTOMERS - 50, 0)
    assert report.rejected == 50 and report.reject_path == tmp_path / "rejects.csv"
    assert count(shop, "customer") == CUSTOMERS - 50
    assert_rejects(tmp_path / "rejects.csv", expected)
    assert seen[-1].bytes_read == seen[-1].total_bytes == source.stat().st_size
    assert [p.rows for p in seen[:3]] == [1000, 2000, 3000]

    page = shop.list("customer", ALICE, filter={"==": [{"var": "code"}, "C-00070"]})
    [record] = page.records
    assert record["phone"] == "+8613800000070" and record["tags"] == ["vip", "new"]
    assert record["tier"] == "silver"  # an empty cell takes the field's default

    deals, expected = deal_rows()
    source = write_csv(tmp_path / "deals.csv", deals)
    report = import_csv(shop, "deal", source, ALICE, reject_path=tmp_path / "deal_rejects.csv")
    assert (report.total, report.created, report.rejected) == (500, 450, 50)
    assert count(shop, "deal") == 450
    assert_rejects(tmp_path / "deal_rejects.csv", expected)
    by_name = shop.list("deal", ALICE, filter={"==": [{"var": "amount"}, 100.5]}).records
    by_code = shop.list("deal", ALICE, filter={"==": [{"var": "amount"}, 101.5]}).records
    assert by_name[0]["customer"] == _customer_id(shop, "C-00000")
    assert by_code[0]["customer"] == _customer_id(shop, "C-00001")


def _customer_id(service, code: str) -> str:
    [record] = service.list("customer", ALICE, filter={"==": [{"var": "code"}, code]}).records
    return record["id"]
