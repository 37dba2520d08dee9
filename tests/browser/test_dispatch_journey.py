"""Journey through the dispatch desk: a writer uploads the seed dispatch as a PDF, checks and
corrects what Loa read, confirms it, makes two drafts from it (the opening draft and one from a
point) and finds both scripts linked to the dispatch and the dispatch on each script.

`take_in_seed_with_two_drafts(page, live_server)` does all of it and returns the dispatch's id,
for journeys that go on from there (tracking, the report back)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.test_script_journey import flash, log_in
from tests.dispatches.render import render_pdf, seed_text

pytestmark = pytest.mark.browser

LABEL = "Công văn số 855/BCĐ-TBTTTT ngày 30/8/2021"
ISSUER = "Tiểu ban Thông tin Tuyên truyền"
OPENING = f"Thực hiện {LABEL} của {ISSUER}, BCĐ phòng chống dịch COVID-19 tỉnh Bình Thuận"
POINT = "Phát hiện, nêu gương những cá nhân điển hình trong phong trào thi đua"


def take_in_seed_with_two_drafts(page: Page, server: LiveServer) -> int:
    """As the live server's writer: upload the seed PDF, correct the issuer, confirm, make the
    opening draft and a draft from one point; return the dispatch's id (its page is open)."""
    log_in(page, server.users["writer"])
    page.get_by_role("link", name="Công văn", exact=True).click()
    page.get_by_role("link", name="+ Nhận công văn").click()
    expect(page.get_by_role("heading", name="Nhận công văn")).to_be_visible()
    page.get_by_label("Tệp công văn").set_input_files(
        {
            "name": "cong-van-855.pdf",
            "mimeType": "application/pdf",
            "buffer": render_pdf(seed_text()),
        }
    )
    page.get_by_role("button", name="Nhận công văn").click()

    # The confirm page: what Loa read, editable, beside the text.
    expect(page.get_by_role("heading", name="Xác nhận công văn")).to_be_visible()
    expect(flash(page, f"Đã nhận {LABEL}.")).to_be_visible()
    match = re.search(r"/dispatches/(\d+)/confirm$", page.url)
    assert match, page.url
    dispatch_id = int(match.group(1))
    expect(page.get_by_label("Số", exact=True)).to_have_value("855")
    expect(page.get_by_label("Ký hiệu", exact=True)).to_have_value("BCĐ-TBTTTT")
    expect(page.get_by_label("Ngày ban hành")).to_have_value("2021-08-30")
    expect(page.get_by_label("Người ký", exact=True)).to_have_value("Dương Tự")
    expect(page.get_by_label("Độ khẩn")).to_have_value("HỎA TỐC")
    expect(page.get_by_label("Số văn bản được dẫn 1")).to_have_value("1286")
    expect(page.get_by_label("Số hoặc địa chỉ liên hệ 2")).to_have_value("0937938383")
    expect(page.get_by_text("Gợi ý mức ưu tiên cho kịch bản: ưu tiên.")).to_be_visible()
    # "Đài Truyền thanh thành phố Phan Thiết" in the distribution list is the district's station.
    expect(page.get_by_label("Thành phố Phan Thiết")).to_be_checked()
    expect(page.locator(".dispatch-text")).to_contain_text("Thực hiện Kế hoạch số 1286/KH-UBND")
    issuer = page.get_by_label("Cơ quan ban hành", exact=True)
    expect(issuer).to_have_value("TIỂU BAN THÔNG TIN TUYÊN TRUYỀN")
    issuer.fill(ISSUER)
    page.get_by_role("button", name="Xác nhận").click()

    # The dispatch page: confirmed, corrected, its points offered as candidate messages.
    expect(flash(page, f"Đã xác nhận {LABEL}.")).to_be_visible()
    expect(page.locator("dl.meta").first).to_contain_text(ISSUER)
    expect(page.locator("dl.meta").first).to_contain_text("Đã xác nhận")
    page.get_by_role("button", name="Tạo bản nháp", exact=True).click()

    # The opening draft: the dispatch's source, its campaign and priority, the opening.
    expect(flash(page, "Đã tạo bản nháp")).to_be_visible()
    expect(page.locator(".script-body").first).to_contain_text(OPENING)
    expect(page.locator("dl.meta")).to_contain_text("ưu tiên")
    page.locator("dl.meta").get_by_role("link", name=LABEL).click()

    expect(page.get_by_role("heading", name=LABEL)).to_be_visible()
    page.locator(".points-form label").filter(has_text=POINT).locator("input").check()
    page.get_by_role("button", name="Tạo bản nháp từ các mục đã chọn").click()
    expect(page.locator(".script-body").first).to_contain_text(POINT)
    expect(page.locator(".script-body").first).to_contain_text(OPENING)
    page.locator("dl.meta").get_by_role("link", name=LABEL).click()
    expect(page.get_by_role("heading", name=LABEL)).to_be_visible()
    return dispatch_id


def test_writer_takes_the_seed_in_confirms_it_and_drafts_two_scripts(
    page: Page, live_server: LiveServer
):
    dispatch_id = take_in_seed_with_two_drafts(page, live_server)
    scripts = page.locator("#scripts tbody tr")
    expect(scripts).to_have_count(2)
    expect(scripts.nth(0)).to_contain_text("Đẩy mạnh truyền thông chiến dịch tiêm vắc xin")
    expect(scripts.nth(1)).to_contain_text(POINT)
    for row in range(2):
        expect(scripts.nth(row)).to_contain_text("Bản nháp")
    # The list finds it without accents.
    page.get_by_role("link", name="Công văn", exact=True).click()
    page.get_by_role("searchbox").fill("so suc khoe dien tu")
    page.get_by_role("button", name="Lọc").click()
    expect(page.get_by_role("link", name=LABEL)).to_have_attribute(
        "href", f"/dispatches/{dispatch_id}"
    )
    # The original is viewable from the dispatch page.
    page.get_by_role("link", name=LABEL).click()
    with page.expect_download() as caught:
        page.get_by_role("link", name="Tải về").click()
    download = caught.value
    assert download.suggested_filename == "cong-van-855.pdf"
    with open(download.path(), "rb") as handle:
        assert handle.read() == render_pdf(seed_text())
