"""Import cases a consultant meets: Chinese headers, re-imports, GBK files, bad columns."""

from __future__ import annotations

import io

import pytest

from engine.transfer import TransferError, import_csv

from .conftest import ALICE, BOB, count, read_csv, write_csv


def records(service, object_name: str) -> dict[str, dict]:
    return {r["code"]: r for r in service.list(object_name, ALICE, limit=500).records}


def test_zh_cn_labels_map_columns_and_rejects_speak_chinese(shop, tmp_path):
    source = write_csv(
        tmp_path / "客户.csv",
        [
            ["名称", "编码", " 电话 ", "邮箱", "等级", "标签"],
            ["上海某某贸易", "SH-1", "13800138000", "li@example.cn", "gold", "vip"],
            ["北京某某", "BJ-1", "", "不是邮箱", "", ""],
        ],
    )
    report = import_csv(shop, "customer", source, BOB, reject_path=tmp_path / "r.csv")
    assert (report.created, report.rejected) == (1, 1)
    [rejected] = read_csv(tmp_path / "r.csv")
    assert rejected["_row"] == "3" and rejected["名称"] == "北京某某"
    assert rejected["_errors"] == "邮箱: 邮箱不是有效的邮箱地址"
    saved = records(shop, "customer")["SH-1"]
    assert (saved["name"], saved["phone"], saved["tier"]) == (
        "上海某某贸易",
        "+8613800138000",
        "gold",
    )


def test_english_labels_and_names_ignore_case_and_spaces(shop, tmp_path):
    source = write_csv(
        tmp_path / "c.csv", [["NAME", "Code", "e-mail", "TIER"], ["Acme", "A-1", "a@b.co", "Gold"]]
    )
    report = import_csv(shop, "customer", source, ALICE, reject_path=tmp_path / "r.csv")
    assert report.rejected == 1  # picklist values are codes, and codes are exact
    assert "Gold is not one of the choices" in read_csv(tmp_path / "r.csv")[0]["_errors"]


def test_upsert_by_external_id_updates_instead_of_duplicating(shop, tmp_path):
    first = [["name", "code", "tier"], ["Acme", "A-1", "silver"], ["Beta", "B-1", "silver"]]
    import_csv(
        shop,
        "customer",
        write_csv(tmp_path / "1.csv", first),
        ALICE,
        reject_path=tmp_path / "r1.csv",
    )
    again = [
        ["name", "code", "tier"],
        ["Acme Ltd", "A-1", "gold"],
        ["Gamma", "G-1", ""],
        ["Gamma Co", "G-1", "gold"],  # twice in one file: created, then updated
    ]
    report = import_csv(
        shop,
        "customer",
        write_csv(tmp_path / "2.csv", again),
        ALICE,
        reject_path=tmp_path / "r2.csv",
    )
    assert (report.total, report.created, report.updated, report.rejected) == (3, 1, 2, 0)
    assert report.reject_path is None and not (tmp_path / "r2.csv").exists()
    saved = records(shop, "customer")
    assert len(saved) == 3 == count(shop, "customer")
    assert (saved["A-1"]["name"], saved["A-1"]["tier"]) == ("Acme Ltd", "gold")
    assert (saved["G-1"]["name"], saved["G-1"]["tier"]) == ("Gamma Co", "gold")
    assert saved["B-1"]["name"] == "Beta"


def test_upsert_on_another_field_and_a_bad_row_among_updates(shop, tmp_path):
    shop.create("customer", {"name": "Acme", "code": "A-1"}, ALICE)
    shop.create("customer", {"name": "Beta", "code": "B-1"}, ALICE)
    rows = [["name", "email"], ["Acme", "acme@example.com"], ["Beta", "nope"]]
    report = import_csv(
        shop, "customer", write_csv(tmp_path / "c.csv", rows), ALICE,
        reject_path=tmp_path / "r.csv", upsert_key="name",
    )  # fmt: skip
    assert (report.created, report.updated, report.rejected) == (0, 1, 1)
    assert records(shop, "customer")["A-1"]["email"] == "acme@example.com"
    with pytest.raises(TransferError) as caught:
        import_csv(
            shop, "customer", write_csv(tmp_path / "c.csv", rows), ALICE,
            reject_path=tmp_path / "r.csv", upsert_key="nickname",
        )  # fmt: skip
    assert caught.value.code == "no_upsert_key"


def test_gbk_file_from_chinese_excel(shop, tmp_path):
    rows = [["名称", "编码", "标签"], ["广州某某家居", "GZ-1", "vip;new"], ["深圳某某", "SZ-1", ""]]
    source = write_csv(tmp_path / "gbk.csv", rows, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        source.read_bytes().decode("utf-8")
    report = import_csv(shop, "customer", source, BOB, reject_path=tmp_path / "r.csv")
    assert (report.created, report.encoding) == (2, "gb18030")
    assert records(shop, "customer")["GZ-1"]["name"] == "广州某某家居"


def test_streams_are_accepted_binary_or_text(shop, tmp_path):
    text = "name,code\nAcme,A-1\n"
    binary = io.BytesIO(text.encode("gbk"))
    assert import_csv(shop, "customer", binary, ALICE, reject_path=tmp_path / "r.csv").created == 1
    stream = io.StringIO("\ufeffname,code\nBeta,B-1\n")
    assert import_csv(shop, "customer", stream, ALICE, reject_path=tmp_path / "r.csv").created == 1
    assert count(shop, "customer") == 2


def test_unknown_columns_stop_the_import_with_suggestions(shop, tmp_path):
    source = write_csv(tmp_path / "c.csv", [["nmae", "邮相", "colour"], ["Acme", "", "red"]])
    with pytest.raises(TransferError) as caught:
        import_csv(shop, "customer", source, ALICE, reject_path=tmp_path / "r.csv")
    error = caught.value
    assert error.code == "unknown_headers"
    assert "nmae (did you mean name?)" in error.text("en") and "colour" in error.text("en")
    assert "客户没有与以下列对应的字段" in error.text("zh-CN")
    assert count(shop, "customer") == 0


def test_system_and_computed_columns_are_reported_as_ignored(shop, tmp_path):
    rows = [["id", "name", "code", "_row", "_errors"], ["x", "Acme", "A-1", "3", "old reason"]]
    source = write_csv(tmp_path / "c.csv", rows)
    report = import_csv(shop, "customer", source, ALICE, reject_path=tmp_path / "r.csv")
    assert report.created == 1 and report.ignored_columns == ["id", "_row", "_errors"]


def test_duplicate_columns_are_refused(shop, tmp_path):
    source = write_csv(tmp_path / "c.csv", [["name", "名称"], ["a", "b"]])
    with pytest.raises(TransferError) as caught:
        import_csv(shop, "customer", source, ALICE, reject_path=tmp_path / "r.csv")
    assert caught.value.code == "duplicate_header"


def test_a_row_in_a_state_records_do_not_start_in_is_rejected_and_not_written(shop, tmp_path):
    customer = shop.create("customer", {"name": "Acme", "code": "A-1"}, ALICE)
    source = write_csv(
        tmp_path / "deals.csv",
        [
            ["customer", "amount", "stage", "close_date"],
            [customer["id"], "100", "open", ""],
            [customer["id"], "200", "lost", ""],
            [customer["id"], "300", "won", "2026-10-31"],
        ],
    )
    report = import_csv(shop, "deal", source, ALICE, reject_path=tmp_path / "r.csv")
    assert (report.created, report.rejected) == (2, 1)
    [rejected] = read_csv(tmp_path / "r.csv")
    assert (rejected["_row"], rejected["amount"]) == ("3", "200")
    assert rejected["_errors"] == (
        "stage: a new record cannot start as Lost: Stage starts as Open, Won"
    )
    stored = {(r["amount"], r["stage"]) for r in shop.list("deal", ALICE).records}
    assert stored == {(100, "open"), (300, "won")}
