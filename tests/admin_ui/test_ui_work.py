"""The UI in a real browser, continued: ad-hoc filters on a list (and the export that
follows them), type-ahead lookups limited to what the user may read, files on a record,
the activity timeline, and merging after an edit conflict."""

from __future__ import annotations

from pathlib import Path

from .conftest import SYSTEM
from .test_ui_browser import _lead


def test_ad_hoc_filters_narrow_the_list_and_the_export_follows_them(live, sign_in):
    hot = _lead(live, "pudong", "筛选客户 甲", company="筛选公司 北", rating="hot")
    cold = _lead(live, "pudong", "筛选客户 乙", company="筛选公司 南", rating="cold")
    elsewhere = _lead(live, "xihu", "筛选客户 丙", company="筛选公司 北", rating="hot")
    page = sign_in("pudong.gm")  # a manager: staff may not export
    page.goto(f"{live.url}/ui/o/lead?view=all_leads")
    page.locator("details.filters summary").click()
    page.select_option("#ff-rating", "hot")
    page.fill("#ff-company", "筛选公司")
    page.get_by_role("button", name="筛选", exact=True).click()
    page.wait_for_load_state("load")
    shown = page.locator("table").inner_text()
    assert hot["lead_number"] in shown
    assert cold["lead_number"] not in shown  # rating is cold
    assert elsewhere["lead_number"] not in shown  # another dealer's, filters never widen
    assert page.input_value("#ff-company") == "筛选公司"  # the form shows what is asked

    # Sorting by a column keeps the filters.
    page.locator("th a").nth(1).click()
    page.wait_for_load_state("load")
    assert "f.rating=hot" in page.url
    assert cold["lead_number"] not in page.locator("table").inner_text()

    with page.expect_download() as download:
        page.get_by_role("link", name="导出 CSV").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert hot["lead_number"] in exported and cold["lead_number"] not in exported

    page.get_by_role("link", name="清除筛选").click()
    page.wait_for_load_state("load")
    assert cold["lead_number"] in page.locator("table").inner_text()


def test_a_lookup_box_finds_records_as_the_user_types_but_only_readable_ones(live, sign_in):
    from playwright.sync_api import expect

    mine = _lead(live, "pudong", "查找客户 周一")
    theirs = _lead(live, "xihu", "查找客户 周二")
    page = sign_in("pudong.sales")
    page.goto(f"{live.url}/ui/o/activity/new")
    page.fill("#f-lead-search", "查找客户")
    # a locator assertion, not wait_for_function: the page's CSP forbids evaluating strings
    expect(page.locator("#f-lead")).to_have_attribute("data-searched", "查找客户")
    offered = page.locator("#f-lead option").evaluate_all("els => els.map(e => e.value)")
    assert mine["id"] in offered and theirs["id"] not in offered
    assert page.input_value("#f-lead") == mine["id"]  # the only hit is chosen
    # Asking the server directly finds no more than the box does.
    found = page.request.get(f"{live.url}/ui/o/activity/lookup/lead?q=查找客户").json()
    assert [hit["id"] for hit in found] == [mine["id"]]


def _case(live, unit: str, subject: str) -> dict:
    owner = live.users.by_username(f"{unit}.sales")
    return live.service.create(
        "service_case", {"subject": subject, "caller_phone": "13812345678", "case_type": "repair",
                         "channel": "hotline",
                         "org_unit": live.units[unit], "owner": owner.id}, SYSTEM,
    )  # fmt: skip


def test_files_are_added_to_a_record_downloaded_and_refused_by_type(live, sign_in, tmp_path):
    case = _case(live, "pudong", "漏水报修")
    photo = tmp_path / "现场照片.pdf"
    photo.write_bytes(b"%PDF-1.4 " + bytes(range(256)) * 8)
    page = sign_in("pudong.sales")
    page.goto(f"{live.url}/ui/o/service_case/{case['id']}")
    # Someone saves the case after the page was opened: adding a file neither fails on
    # it nor undoes it.
    live.service.update("service_case", case["id"], {"subject": "漏水报修（加急）"}, SYSTEM)
    page.set_input_files("#up-attachments", str(photo))
    page.get_by_role("button", name="添加文件", exact=True).click()
    page.wait_for_url(f"{live.url}/ui/o/service_case/{case['id']}")
    link = page.get_by_role("link", name="现场照片.pdf")
    with page.expect_download() as download:
        link.click()
    assert Path(download.value.path()).read_bytes() == photo.read_bytes()
    assert live.service.get("service_case", case["id"], SYSTEM)["subject"] == "漏水报修（加急）"
    href = link.get_attribute("href")

    # Another dealer's user cannot fetch it, even with the address.
    other = sign_in("xihu.sales")
    refused = other.request.get(f"{live.url}{href}")
    assert refused.status == 404 and photo.read_bytes() not in refused.body()

    # A type the field does not take is refused beside the field, in the user's language.
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    page.set_input_files("#up-attachments", str(text))
    page.get_by_role("button", name="添加文件", exact=True).click()
    error = page.locator("#up-attachments-error")
    assert error.is_visible() and "notes.txt" in error.inner_text()
    assert "不是允许的类型" in error.inner_text()

    page.goto(f"{live.url}/ui/o/service_case/{case['id']}")
    page.get_by_role("button", name="移除 现场照片.pdf").click()
    page.wait_for_url(f"{live.url}/ui/o/service_case/{case['id']}")
    assert live.service.get("service_case", case["id"], SYSTEM)["attachments"] == []
    assert "现场照片.pdf" in page.locator("ol.timeline").inner_text()  # the history says so


def test_the_timeline_shows_stage_moves_and_follow_ups_and_recall_withdraws(live, sign_in):
    lead = _lead(live, "pudong", "动态客户 孙")
    rep = live.users.actor_for(live.users.by_username("pudong.sales"))
    live.service.transition("lead", lead["id"], "log_contact", rep)
    live.service.create("activity", {"subject": "电话回访 孙先生", "activity_type": "call",
                                     "lead": lead["id"]}, rep)  # fmt: skip
    page = sign_in("pudong.sales")
    page.goto(f"{live.url}/ui/o/lead/{lead['id']}")
    events = page.locator("ol.timeline li").all_inner_texts()
    assert any("推进到" in e and "pudong.sales" in e for e in events)  # who moved it
    assert any("电话回访 孙先生" in e for e in events)  # the follow-up, linked
    assert page.locator("ol.timeline a", has_text="电话回访 孙先生").count() == 1
    # The follow-up's page shows its lead by title, as a link back (not as an id).
    page.locator("ol.timeline a", has_text="电话回访 孙先生").click()
    page.wait_for_load_state("load")
    back = page.locator("[data-field=lead] a")
    assert back.get_attribute("href") == f"/ui/o/lead/{lead['id']}"
    assert lead["id"] not in back.inner_text()


def test_after_a_conflict_the_other_persons_changes_are_kept_and_theirs_can_be_taken(
    live, sign_in
):
    lead = _lead(live, "pudong", "合并客户", company="原公司", job_title="原职位", city="原城市")
    first, second = sign_in("pudong.sales"), sign_in("pudong.sales")
    edit = f"{live.url}/ui/o/lead/{lead['id']}/edit"
    first.goto(edit)
    second.goto(edit)
    first.fill("#f-company", "甲公司")  # both change the company
    first.fill("#f-job_title", "采购经理")  # only the first changes the job title
    first.click("button.primary")
    first.wait_for_url(f"{live.url}/ui/o/lead/{lead['id']}")

    second.fill("#f-company", "乙公司")
    second.fill("#f-city", "杭州")  # only the second changes the city
    second.click("button.primary")
    assert "他人修改了这条记录" in second.locator("[role=alert]").first.inner_text()
    assert second.input_value("#f-job_title") == "采购经理"  # theirs, kept
    assert second.input_value("#f-city") == "杭州"  # mine, kept
    assert second.input_value("#f-company") == "乙公司"  # both: mine in the box ...
    clash = second.locator("[data-field=company] .theirs")
    assert "甲公司" in clash.inner_text()  # ... theirs beside it
    assert second.locator("[data-field=city] .theirs").count() == 0  # no clash there
    clash.get_by_role("button", name="采用对方的值").click()
    assert second.input_value("#f-company") == "甲公司"
    second.click("button.primary")
    second.wait_for_url(f"{live.url}/ui/o/lead/{lead['id']}")
    saved = live.service.get("lead", lead["id"], SYSTEM)
    assert (saved["company"], saved["job_title"], saved["city"]) == ("甲公司", "采购经理", "杭州")


def test_the_submitter_recalls_a_waiting_approval_from_the_record(live, sign_in):
    rep = live.users.by_username("pudong.sales")
    placed = {"owner": rep.id, "org_unit": live.units["pudong"]}
    account = live.service.create("account", {"name": "撤回客户", "account_type": "person",
                                              "phone": "13912345679",
                                              **placed}, SYSTEM)  # fmt: skip
    book = live.service.create("price_book", {"name": "撤回价目", "code": "RECALL-UI"}, SYSTEM)
    product = live.service.create(
        "product", {"name": "书柜", "product_code": "SHELF-UI", "list_price": 5000}, SYSTEM
    )
    quote = live.service.create(
        "quote", {"name": "撤回 书柜报价", "account": account["id"], "price_book": book["id"],
                  "quote_date": "2026-11-23", "valid_until": "2027-01-31", **placed}, SYSTEM,
    )  # fmt: skip
    live.service.create("quote_line", {"quote": quote["id"], "product": product["id"],
                                       "quantity": 1, "unit_price": 5000, "discount": 20},
                        SYSTEM)  # fmt: skip
    page = sign_in("pudong.sales")
    page.goto(f"{live.url}/ui/o/quote/{quote['id']}")
    page.get_by_role("link", name="提交折扣审批…").click()
    page.fill("#f-approval_comment", "申请 8 折")
    page.get_by_role("button", name="提交折扣审批").click()
    page.wait_for_url(f"{live.url}/ui/o/quote/{quote['id']}")
    assert page.locator(".stage-bar [aria-current=step]").inner_text() == "审批中"
    page.get_by_role("button", name="撤回审批").click()
    page.wait_for_url(f"{live.url}/ui/o/quote/{quote['id']}")
    assert page.locator(".stage-bar [aria-current=step]").inner_text() == "草稿"
    assert page.get_by_role("button", name="撤回审批").count() == 0
    events = page.locator("ol.timeline").inner_text()
    assert "提交审批" in events and "撤回" in events


def test_rich_text_shows_its_formatting_and_nothing_that_runs(live, sign_in):
    rep = live.users.by_username("pudong.sales")
    account = live.service.create("account", {
        "name": "条款客户", "account_type": "company", "owner": rep.id,
        "org_unit": live.units["pudong"]}, SYSTEM)  # fmt: skip
    book = live.service.create("price_book", {"name": "条款价目", "code": "TERMS-UI"}, SYSTEM)
    quote = live.service.create("quote", {
        "name": "条款报价", "account": account["id"], "price_book": book["id"],
        "quote_date": "2026-11-23", "valid_until": "2027-01-31", "owner": rep.id,
        "org_unit": live.units["pudong"],
        "terms": '<p>定金 <b>不退</b></p><script>window.__xss = "rich"</script>'
                 '<img src=x onerror="window.__xss=4"><a href="javascript:window.__xss=5">点</a>',
    }, SYSTEM)  # fmt: skip
    page = sign_in("pudong.sales")
    page.goto(f"{live.url}/ui/o/quote/{quote['id']}")
    rich = page.locator("[data-field=terms] .rich")
    assert rich.locator("b").inner_text() == "不退"  # formatting is kept as markup
    assert rich.locator("script, img").count() == 0
    assert rich.locator("a").get_attribute("href") is None
    page.locator("[data-field=terms] a").click()
    assert page.evaluate("window.__xss") is None
