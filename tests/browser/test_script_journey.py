"""Journeys through the real UI: drafting, review, audit, first login, search on a phone."""

from __future__ import annotations

import math
import re
import unicodedata

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SEARCH_HIT, SEARCH_MISS, TO_REJECT, LiveServer
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def thousands(n: int) -> str:
    """Format a count the way the UI does: 1.234."""
    return f"{n:,}".replace(",", ".")


def flash(page: Page, text: str):
    """The flash message containing text."""
    return page.locator(".flash").filter(has_text=text)


def status_badge(page: Page):
    """The status badge in the script's metadata panel."""
    return page.locator("dl.meta dd .badge").first


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Log in through the login form."""
    page.goto("/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu", exact=True).fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    # The logout form, not its button: on a phone the button hides in the folded menu.
    expect(
        page.locator("form[action='/logout']"),
        f"{username} is not logged in; if the page shows a CSRF error, the browser dropped the "
        "Secure session cookie over plain HTTP",
    ).to_be_attached()


def log_out(page: Page) -> None:
    """Log out with the button in the top bar."""
    page.get_by_role("button", name="Đăng xuất").click()
    expect(flash(page, "Bạn đã đăng xuất.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login$"))


def test_writer_drafts_and_supervisor_approves_with_audit_trail(page: Page, live_server):
    title = "Phòng, chống sốt xuất huyết mùa mưa"
    body = (
        "Thưa bà con, mùa mưa là lúc muỗi vằn sinh sản mạnh. Đề nghị bà con đậy kín dụng cụ "
        "chứa nước, lật úp vật dụng phế thải, ngủ màn kể cả ban ngày và đến trạm y tế ngay "
        "khi bị sốt cao đột ngột."
    )
    syllables = len(re.findall(r"\w+", body))

    # The writer drafts a script.
    log_in(page, live_server.users["writer"])
    page.get_by_role("link", name="+ Soạn kịch bản").click()
    expect(page.get_by_role("heading", name="Soạn kịch bản mới")).to_be_visible()
    expect(page.locator("#char-count")).to_have_text("0")
    page.get_by_label("Tiêu đề").fill(title)
    page.get_by_label("Chiến dịch").fill("Phòng chống sốt xuất huyết 2026")
    page.get_by_label("Mức ưu tiên").select_option(label="ưu tiên")

    # The counter follows typing, and counts a decomposed (NFD) body as what will be stored.
    body_field = page.get_by_label("Nội dung", exact=True)
    body_field.press_sequentially("Thưa bà con")
    expect(page.locator("#char-count")).to_have_text("11")
    expect(page.locator("#syllable-count")).to_have_text("3")
    body_field.fill(unicodedata.normalize("NFD", body))
    expect(page.locator("#char-count")).to_have_text(thousands(len(body)))
    body_field.fill(body)
    expect(page.locator("#char-count")).to_have_text(thousands(len(body)))
    expect(page.locator("#syllable-count")).to_have_text(str(syllables))
    expect(page.locator("#reading-time")).to_have_text(
        f"{math.floor(syllables * 60 / 160 + 0.5)} giây"
    )

    page.get_by_role("button", name="Lưu", exact=True).click()
    expect(flash(page, "Đã lưu bản nháp")).to_have_text("Đã lưu bản nháp (phiên bản 1).")
    script_url = page.url
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(status_badge(page)).to_have_text("Bản nháp")
    expect(page.locator(".script-body").first).to_have_text(body)
    expect(page.get_by_text(f"{thousands(len(body))} ký tự")).to_be_visible()
    expect(page.locator("dl.meta")).to_contain_text("Phòng chống sốt xuất huyết 2026")
    expect(page.locator("dl.meta .prio-priority")).to_have_text("ưu tiên")

    # Review needs audio: render it, wait for the player, then submit.
    page.get_by_role("button", name="Tạo âm thanh").click()
    expect(flash(page, "Đã xếp hàng tạo âm thanh")).to_be_visible()
    expect(page.locator("#audio audio")).to_have_count(1, timeout=60_000)
    page.get_by_role("button", name="Gửi duyệt").click()
    expect(flash(page, "Đã gửi duyệt phiên bản 1.")).to_be_visible()
    expect(status_badge(page)).to_have_text("Chờ duyệt")
    expect(page.get_by_role("button", name="Gửi duyệt")).to_have_count(0)
    log_out(page)

    # The supervisor finds it in the queue and approves version 1.
    log_in(page, live_server.users["supervisor"])
    queue_link = page.locator("nav.nav").get_by_role("link", name="Chờ duyệt")
    expect(queue_link).to_contain_text("2")  # this one and the seeded TO_REJECT
    queue_link.click()
    expect(page.get_by_role("heading", name="Kịch bản chờ duyệt")).to_be_visible()
    page.get_by_role("row").filter(has_text=title).get_by_role("link", name="Xét duyệt").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Xét duyệt: {title}")
    expect(page.locator(".script-body").first).to_have_text(body)
    expect(page.locator("#audio audio")).to_have_count(1)
    page.screenshot(path="/tmp/loa-review-desktop.png", full_page=True)
    page.get_by_role("button", name="Duyệt phiên bản 1").click()
    expect(flash(page, "Đã duyệt phiên bản 1.")).to_be_visible()
    assert page.url == script_url
    expect(status_badge(page)).to_have_text("Đã duyệt")
    expect(page.locator("ul.reviews")).to_contain_text(live_server.full_names["supervisor"])
    page.screenshot(path="/tmp/loa-script-desktop.png", full_page=True)

    # The audit trail names who did what, newest first.
    page.locator("nav.nav").get_by_role("link", name="Nhật ký kiểm tra").click()
    expect(page.get_by_role("heading", name="Nhật ký kiểm tra")).to_be_visible()
    rows = page.locator("#audit-table tbody tr").filter(has_text=title)
    expect(rows).to_have_count(4)
    cells = rows.evaluate_all("rows => rows.map(r => Array.from(r.cells, c => c.innerText.trim()))")
    assert [(c[1], c[2]) for c in cells] == [
        (live_server.users["supervisor"], "script.approve"),
        (live_server.users["writer"], "script.submit"),
        (live_server.users["writer"], "render.request"),
        (live_server.users["writer"], "script.create"),
    ]
    assert {c[4] for c in cells} == {"127.0.0.1"}


def test_first_login_forces_password_change(page: Page, live_server: LiveServer):
    username = live_server.users["newcomer"]
    new_password = "mua-xuan-Phan-Thiet-2027"

    log_in(page, username)
    expect(page).to_have_url(re.compile(r"/account/password$"))
    expect(page.get_by_role("heading", name="Đổi mật khẩu")).to_be_visible()
    expect(page.get_by_text("đang dùng mật khẩu tạm")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "session")
    assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == (True, True, "Lax")

    # Nothing else opens until the password is changed.
    page.get_by_role("link", name="Kịch bản", exact=True).click()
    expect(flash(page, "Bạn cần đổi mật khẩu trước khi tiếp tục.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/account/password$"))

    page.get_by_label("Mật khẩu hiện tại").fill(PASSWORD)
    page.get_by_label("Mật khẩu mới", exact=True).fill(new_password)
    page.get_by_label("Nhập lại mật khẩu mới").fill(new_password)
    page.get_by_role("button", name="Đổi mật khẩu").click()
    expect(flash(page, "Đã đổi mật khẩu.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/scripts$"))
    expect(page.get_by_role("heading", name="Kịch bản phát thanh")).to_be_visible()

    # The new password works and no longer leads to the password page.
    log_out(page)
    log_in(page, username, new_password)
    expect(page).to_have_url(re.compile(r"/scripts$"))


def test_rejection_reason_required_and_shown_to_writer(page: Page, live_server: LiveServer):
    script_id = live_server.scripts[TO_REJECT]
    reason = "Giờ cắt điện chưa khớp thông báo của Điện lực; đề nghị kiểm tra lại với khu phố 3."

    log_in(page, live_server.users["supervisor"])
    page.goto(f"/scripts/{script_id}/review")
    expect(status_badge(page)).to_have_text("Chờ duyệt")

    # No reason: refused, with the error on the field, and nothing decided.
    page.get_by_role("button", name="Từ chối").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Hãy ghi lý do từ chối để người soạn biết cần sửa gì."
    )
    expect(page.locator(".has-error .error-text")).to_have_text("Bắt buộc, ít nhất 5 ký tự.")
    expect(status_badge(page)).to_have_text("Chờ duyệt")
    page.goto(f"/scripts/{script_id}")
    expect(status_badge(page)).to_have_text("Chờ duyệt")
    expect(page.locator("ul.reviews")).to_have_text("Chưa có quyết định nào.")

    # With a reason, from the re-shown review page.
    page.goto(f"/scripts/{script_id}/review")
    page.get_by_role("button", name="Từ chối").click()
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("Lý do từ chối").fill(reason)
    page.get_by_role("button", name="Từ chối").click()
    expect(flash(page, "Đã từ chối; người soạn sẽ thấy lý do.")).to_be_visible()
    expect(status_badge(page)).to_have_text("Bị từ chối")
    log_out(page)

    # The writer reads the reason on the script page.
    log_in(page, live_server.users["writer"])
    page.get_by_role("link", name=TO_REJECT).click()
    expect(status_badge(page)).to_have_text("Bị từ chối")
    notice = page.locator(".flash-error").filter(has_text="Bị từ chối bởi")
    expect(notice).to_contain_text(live_server.full_names["supervisor"])
    expect(notice.locator("strong")).to_have_text(reason)
    expect(page.get_by_role("button", name="Gửi duyệt")).to_be_visible()


@pytest.mark.parametrize("viewport", [PHONE], ids=["phone"])
def test_script_list_accent_insensitive_search_on_phone(page: Page, live_server: LiveServer):
    log_in(page, live_server.users["writer"])
    expect(page.get_by_role("heading", name="Kịch bản phát thanh")).to_be_visible()

    # The navigation folds behind the menu toggle.
    nav = page.locator("nav.nav")
    expect(nav).to_be_hidden()
    page.get_by_text("☰ Menu").click()
    expect(nav).to_be_visible()
    expect(nav.get_by_role("link", name="Kịch bản", exact=True)).to_be_visible()
    expect(nav.get_by_role("button", name="Đăng xuất")).to_be_visible()
    page.screenshot(path="/tmp/loa-phone-menu.png")
    page.get_by_text("☰ Menu").click()
    expect(nav).to_be_hidden()

    # Searching without diacritics finds the accented title.
    # The list shows the three scripts seeded in the writer's district, newest change first.
    rows = page.locator(".scripts-table tbody tr")
    expect(rows.get_by_role("link")).to_have_text([TO_REJECT, SEARCH_MISS, SEARCH_HIT])
    page.get_by_role("searchbox", name="Tìm kiếm").fill("tiem chung")
    page.get_by_role("button", name="Lọc").click()
    expect(page).to_have_url(re.compile(r"[?&]q=tiem\+chung"))
    expect(rows).to_have_count(1)
    expect(rows.get_by_role("link", name=SEARCH_HIT)).to_be_visible()
    expect(page.get_by_text(SEARCH_MISS)).to_have_count(0)
    expect(page.get_by_role("searchbox", name="Tìm kiếm")).to_have_value("tiem chung")

    # Nothing sticks out sideways on a 390 px screen.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(path="/tmp/loa-phone.png", full_page=True)
    assert overflow <= 0, f"the script list is {overflow}px wider than the phone screen"

    rows.get_by_role("link", name=SEARCH_HIT).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(SEARCH_HIT)
    page.screenshot(path="/tmp/loa-phone-script.png", full_page=True)


def test_html_in_body_is_shown_escaped(page: Page, live_server: LiveServer):
    title = "Thử <i>định dạng</i> tiêu đề"
    body = "Thông báo: <script>window.__pwned=1</script><b>x</b>"

    log_in(page, live_server.users["writer"])
    page.get_by_role("link", name="+ Soạn kịch bản").click()
    page.get_by_label("Tiêu đề").fill(title)
    page.get_by_label("Nội dung", exact=True).fill(body)
    page.get_by_role("button", name="Lưu", exact=True).click()
    expect(flash(page, "Đã lưu bản nháp")).to_be_visible()

    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator(".script-body").first).to_have_text(body)
    expect(page.locator(".spoken-text")).to_contain_text("<script>")
    expect(page.locator(".script-body b, .script-body script, h1 i")).to_have_count(0)
    assert page.evaluate("typeof window.__pwned") == "undefined"

    page.get_by_role("link", name="← Kịch bản").click()
    expect(page.get_by_role("link", name=title)).to_be_visible()
    expect(page.locator(".scripts-table i")).to_have_count(0)
