"""Journeys through the speech UI: spoken preview, lexicon, rendering, review bound to audio."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.test_script_journey import PHONE, flash, log_in, log_out, status_badge

pytestmark = pytest.mark.browser

# Rendering runs espeak-ng and ffmpeg in the background worker: allow it time.
RENDER_TIMEOUT_MS = 60_000

# QLDA is in no lexicon, so it is spelled out and warned about; 12/XYZQ is a document number,
# read as its number alone. The date and the time exercise two rules with fixed readings.
CODE = "QLDA"
CODE_SPOKEN = "quản lý dự án"
BODY = (
    "Thực hiện Công văn số 12/XYZQ ngày 5/9/2021 của Ủy ban nhân dân tỉnh, Ban quản lý tổ chức "
    f"Hội nghị {CODE} lúc 7h30 ngày mai tại hội trường. Đề nghị các hộ dân tham dự đầy đủ."
)
DATE_SPOKEN = "ngày năm tháng chín năm hai nghìn không trăm hai mươi mốt"
TIME_SPOKEN = "bảy giờ ba mươi phút"
UNKNOWN_CODE_WARNING = f"Không biết đọc “{CODE}”: hãy thêm vào từ điển phát âm hoặc viết ra chữ."


def draft_script(page: Page, title: str, body: str = BODY) -> str:
    """Draft a script through the editor; return the script page's URL."""
    page.get_by_role("link", name="+ Soạn kịch bản").click()
    page.get_by_label("Tiêu đề").fill(title)
    page.get_by_label("Nội dung", exact=True).fill(body)
    page.get_by_role("button", name="Lưu", exact=True).click()
    expect(flash(page, "Đã lưu bản nháp")).to_have_text("Đã lưu bản nháp (phiên bản 1).")
    return page.url


def spoken_column(page: Page):
    """The automatic spoken text next to the written one."""
    return page.locator("#spoken-panel .side-by-side .spoken-text")


def warnings_box(page: Page):
    """The normalisation warnings of the script page's speech panel."""
    return page.locator("#spoken-panel .flash-warning")


def player(page: Page):
    """The audio element of the newest finished render."""
    return page.locator("#audio figure.player audio")


def render_audio(page: Page) -> None:
    """Queue a render from the script page with the default settings."""
    summary = page.locator("summary", has_text=re.compile(r"^Tạo âm thanh$"))
    form = page.locator("#audio details").filter(has=summary)
    if form.get_attribute("open") is None:
        summary.click()
    form.get_by_role("button", name="Tạo âm thanh").click()
    expect(flash(page, "Đã xếp hàng tạo âm thanh. Trang sẽ tự cập nhật khi xong.")).to_be_visible()


def render_id(page: Page) -> int:
    """The number of the render whose audio the player plays."""
    src = player(page).get_attribute("src") or ""
    match = re.fullmatch(r"/renders/(\d+)/audio", src)
    assert match, f"unexpected audio src {src!r}"
    return int(match.group(1))


def fetch_audio(page: Page) -> dict:
    """Fetch the player's audio as the browser does; return status, content type and size.

    Not page.request: Playwright's API client withholds the Secure session cookie from
    http://127.0.0.1 (it treats only localhost as secure), so it would see the login page.
    """
    return page.evaluate(
        """async (src) => {
            const response = await fetch(src, { credentials: "same-origin" });
            const body = await response.arrayBuffer();
            return {
                status: response.status,
                type: response.headers.get("content-type"),
                size: body.byteLength,
            };
        }""",
        player(page).get_attribute("src"),
    )


def player_duration(page: Page) -> float:
    """Load the player's audio in Chromium and return its duration in seconds."""
    return player(page).evaluate(
        """(audio) => new Promise((resolve, reject) => {
            audio.addEventListener("loadedmetadata", () => resolve(audio.duration), { once: true });
            audio.addEventListener(
                "error", () => reject(new Error("audio error " + audio.error.code)), { once: true }
            );
            audio.preload = "metadata";
            audio.load();
        })"""
    )


def add_lexicon_entry(page: Page, term: str, spoken: str) -> None:
    """Fill and send the "Thêm mục" form of the lexicon page (already open)."""
    form = page.locator("form").filter(has=page.get_by_role("heading", name="Thêm mục"))
    form.get_by_label("Từ viết").fill(term)
    form.get_by_label("Cách đọc").fill(spoken)
    form.get_by_role("button", name="Thêm vào từ điển").click()


def test_lexicon_entry_fixes_warning_then_audio_is_rendered_and_approved(
    page: Page, live_server: LiveServer
):
    title = "Hội nghị triển khai dự án nước sạch"

    # The writer drafts a script with an unknown code and reads the spoken preview.
    log_in(page, live_server.users["writer"])
    script_url = draft_script(page, title)
    spoken = spoken_column(page)
    expect(spoken).to_contain_text(DATE_SPOKEN)
    expect(spoken).to_contain_text(TIME_SPOKEN)
    expect(spoken).not_to_contain_text("7h30")
    # Each changed span is marked, its rule and the written original on hover.
    expect(spoken.locator("mark[title='Ngày tháng: “5/9/2021”']")).to_have_text(
        DATE_SPOKEN.removeprefix("ngày ")
    )
    expect(spoken.locator("mark[title='Giờ: “7h30”']")).to_have_text(TIME_SPOKEN)
    expect(spoken.locator(f"mark[title='Đọc từng chữ cái: “{CODE}”']")).to_have_count(1)
    expect(warnings_box(page)).to_contain_text("Cảnh báo khi chuẩn hóa (1):")
    expect(warnings_box(page).locator("li")).to_have_text([UNKNOWN_CODE_WARNING])
    page.screenshot(path="/tmp/loa-speech-desktop.png", full_page=True)

    # Writers read the lexicon but cannot add to it.
    page.locator("nav.nav").get_by_role("link", name="Từ điển phát âm").click()
    expect(page.get_by_role("heading", name="Từ điển phát âm")).to_be_visible()
    expect(page.get_by_role("heading", name="Thêm mục")).to_have_count(0)
    expect(page.get_by_role("button", name="Thêm vào từ điển")).to_have_count(0)
    log_out(page)

    # A supervisor adds the code; the try-it box reads it at once.
    log_in(page, live_server.users["supervisor"])
    page.goto("/lexicon")
    add_lexicon_entry(page, CODE, CODE_SPOKEN)
    expect(flash(page, "Đã thêm")).to_have_text(f"Đã thêm “{CODE}” → “{CODE_SPOKEN}”.")
    entries = page.locator("table").filter(has=page.get_by_role("cell", name=CODE))
    expect(entries.get_by_role("row").filter(has_text=CODE)).to_contain_text(CODE_SPOKEN)
    page.get_by_label("Văn bản", exact=True).fill(f"Hội nghị {CODE} lúc 7h30")
    page.get_by_role("button", name="Xem cách đọc").click()
    preview = page.locator(".spoken-text")
    expect(preview).to_have_text(f"Hội nghị {CODE_SPOKEN} lúc {TIME_SPOKEN}")
    expect(preview.locator("mark").filter(has_text=CODE_SPOKEN)).to_have_attribute(
        "title", f"Từ điển phát âm: “{CODE}”"
    )
    expect(page.locator(".flash-warning")).to_have_count(0)
    log_out(page)

    # Back on the script page the warning is gone and the expansion is read.
    log_in(page, live_server.users["writer"])
    page.goto(script_url)
    expect(spoken).to_contain_text(f"Hội nghị {CODE_SPOKEN} lúc {TIME_SPOKEN}")
    expect(spoken.locator("mark").filter(has_text=CODE_SPOKEN)).to_have_attribute(
        "title", f"Từ điển phát âm: “{CODE}”"
    )
    expect(warnings_box(page)).to_have_count(0)

    # Rendering: the progress box shows while the render waits, then the page reloads itself.
    expect(page.locator("#audio")).to_contain_text("Chưa có âm thanh hoàn tất cho phiên bản 1.")
    live_server.hold_renders()
    render_audio(page)
    progress = page.locator(".render-progress")
    expect(progress).to_be_visible()
    expect(progress.locator(".render-status")).to_have_text("Đang chờ")
    expect(progress.locator("progress")).to_be_visible()
    expect(player(page)).to_have_count(0)
    live_server.release_renders()
    expect(player(page)).to_have_count(1, timeout=RENDER_TIMEOUT_MS)
    expect(progress).to_have_count(0)
    expect(page.locator("#audio .flash-error")).to_have_count(0)
    number = render_id(page)

    served = fetch_audio(page)
    assert (served["status"], served["type"]) == (200, "audio/mpeg"), served
    assert served["size"] > 10_000, f"only {served['size']} bytes of audio"
    assert player_duration(page) > 5, "the player did not load seconds of audio"
    caption = page.locator("#audio figure.player figcaption")
    expect(caption).to_contain_text(f"Bản #{number}")
    expect(caption).to_contain_text(re.compile(r"-?\d+\.\d LUFS"))
    expect(caption).to_contain_text(re.compile(r"đỉnh -?\d+\.\d dBTP"))
    page.screenshot(path="/tmp/loa-speech-audio-desktop.png", full_page=True)

    page.get_by_role("button", name="Gửi duyệt").click()
    expect(flash(page, "Đã gửi duyệt phiên bản 1.")).to_be_visible()
    expect(status_badge(page)).to_have_text("Chờ duyệt")
    log_out(page)

    # The supervisor listens to exactly that audio, reads the spoken text and approves.
    log_in(page, live_server.users["supervisor"])
    page.goto(script_url)
    page.get_by_role("link", name="Xét duyệt", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Xét duyệt: {title}")
    expect(player(page)).to_have_attribute("src", f"/renders/{number}/audio")
    review_spoken = page.locator("#audio .spoken-text")
    expect(review_spoken).to_contain_text(f"Hội nghị {CODE_SPOKEN} lúc {TIME_SPOKEN}")
    expect(review_spoken).to_contain_text(DATE_SPOKEN)
    expect(page.locator("#audio .flash-warning")).to_have_count(0)
    expect(page.get_by_text(f"cùng bản âm thanh #{number}")).to_be_visible()
    page.get_by_role("button", name="Duyệt phiên bản 1").click()
    expect(flash(page, "Đã duyệt phiên bản 1.")).to_be_visible()
    assert page.url == script_url
    expect(status_badge(page)).to_have_text("Đã duyệt")
    expect(page.locator("ul.reviews li")).to_have_count(1)
    expect(page.locator("ul.reviews li")).to_contain_text(f"phiên bản 1, âm thanh #{number}")


def test_hand_typed_spoken_text_needs_new_audio_before_review(page: Page, live_server: LiveServer):
    title = "Lịch tiêm vắc xin sởi tại trạm y tế"
    body = "Trạm y tế tiêm vắc xin sởi cho trẻ từ 9 tháng tuổi vào lúc 7h30 sáng thứ Bảy."
    typed = (
        "Trạm y tế tiêm vắc xin sởi cho trẻ từ chín tháng tuổi vào lúc bảy giờ rưỡi sáng thứ Bảy."
    )

    log_in(page, live_server.users["writer"])
    draft_script(page, title, body)
    render_audio(page)
    expect(player(page)).to_have_count(1, timeout=RENDER_TIMEOUT_MS)
    first = render_id(page)

    # The writer prefers "bảy giờ rưỡi" and types the spoken text by hand.
    expect(page.locator("#spoken-panel .notice")).to_have_count(0)
    page.locator("#spoken-panel summary", has_text="Sửa tay văn bản đọc").click()
    field = page.get_by_label("Văn bản đọc (sửa tay)")
    expect(field).to_have_value(re.compile(TIME_SPOKEN))
    field.fill(typed)
    page.get_by_role("button", name="Lưu văn bản đọc sửa tay").click()
    expect(flash(page, "Đã lưu văn bản đọc sửa tay; hãy tạo lại âm thanh.")).to_be_visible()
    notice = page.locator("#spoken-panel .notice")
    expect(notice).to_contain_text("Văn bản đọc sửa tay")
    expect(notice).to_contain_text(live_server.full_names["writer"])
    expect(page.get_by_label("Văn bản đọc (sửa tay)")).to_have_value(typed)

    # The audio on hand reads the old text: the page says so, and submitting is refused.
    expect(page.locator("#audio .stale-audio")).to_have_text(
        "Văn bản đọc đã thay đổi sau khi tạo bản âm thanh này (từ điển hoặc sửa tay). "
        "Hãy tạo lại âm thanh trước khi gửi duyệt."
    )
    expect(page.locator("#audio form").get_by_role("button", name="Tạo âm thanh")).to_be_visible()
    page.get_by_role("button", name="Gửi duyệt").click()
    expect(flash(page, "Văn bản đọc đã thay đổi sau lần tạo âm thanh gần nhất")).to_have_text(
        "Văn bản đọc đã thay đổi sau lần tạo âm thanh gần nhất (từ điển hoặc sửa tay). "
        "Hãy tạo lại âm thanh trước khi gửi duyệt."
    )
    expect(status_badge(page)).to_have_text("Bản nháp")

    # A new render reads the typed text; then the script goes to review.
    render_audio(page)
    expect(page.locator("#audio figure.player figcaption")).to_contain_text(
        "Đọc theo văn bản sửa tay.", timeout=RENDER_TIMEOUT_MS
    )
    second = render_id(page)
    assert second != first
    expect(page.locator("#audio .stale-audio")).to_have_count(0)
    page.get_by_role("button", name="Gửi duyệt").click()
    expect(flash(page, "Đã gửi duyệt phiên bản 1.")).to_be_visible()
    expect(status_badge(page)).to_have_text("Chờ duyệt")
    log_out(page)

    log_in(page, live_server.users["supervisor"])
    page.goto("/review")
    page.get_by_role("row").filter(has_text=title).get_by_role("link", name="Xét duyệt").click()
    expect(player(page)).to_have_attribute("src", f"/renders/{second}/audio")
    expect(page.locator("#audio h3")).to_have_text("Văn bản đọc sửa tay")
    expect(page.locator("#audio .spoken-text")).to_have_text(typed)


@pytest.mark.parametrize(
    ("spoken", "message", "summary"),
    [
        (
            "dự án 135",
            "Cách đọc phải viết bằng chữ, không dùng chữ số.",
            "Mục từ điển chưa hợp lệ; hãy sửa các ô được đánh dấu.",
        ),
        ("   ", "Bắt buộc.", "Chưa lưu được: hãy sửa các ô được đánh dấu bên dưới."),
    ],
    ids=["digits", "blank"],
)
def test_bad_lexicon_entry_is_refused_on_its_field(
    page: Page, live_server: LiveServer, spoken: str, message: str, summary: str
):
    log_in(page, live_server.users["supervisor"])
    page.goto("/lexicon")
    expect(page.get_by_role("heading", name="Mục đã thêm (0)")).to_be_visible()

    add_lexicon_entry(page, CODE, spoken)
    expect(flash(page, summary)).to_be_visible()
    spoken_field = page.locator(".field.has-error").filter(has=page.get_by_label("Cách đọc"))
    expect(spoken_field.locator(".error-text")).to_have_text(message)
    expect(page.locator(".field.has-error")).to_have_count(1)
    expect(page.get_by_label("Từ viết")).to_have_value(CODE)
    expect(page.get_by_role("heading", name="Mục đã thêm (0)")).to_be_visible()

    # Nothing was added: the code is still unknown to the reader.
    page.goto(f"/lexicon?q={CODE}")
    expect(page.get_by_role("cell", name=f"Chưa có mục nào khớp “{CODE}”.")).to_be_visible()
    page.get_by_label("Văn bản", exact=True).fill(f"Hội nghị {CODE}")
    page.get_by_role("button", name="Xem cách đọc").click()
    expect(page.locator(".flash-warning li")).to_have_text([UNKNOWN_CODE_WARNING])


@pytest.mark.parametrize("viewport", [PHONE], ids=["phone"])
def test_speech_panel_fits_a_phone(page: Page, live_server: LiveServer):
    log_in(page, live_server.users["writer"])
    page.goto("/scripts/new")
    page.get_by_label("Tiêu đề").fill("Hội nghị dự án nước sạch")
    page.get_by_label("Nội dung", exact=True).fill(BODY)
    page.get_by_role("button", name="Lưu", exact=True).click()
    expect(flash(page, "Đã lưu bản nháp")).to_be_visible()
    expect(warnings_box(page).locator("li")).to_have_text([UNKNOWN_CODE_WARNING])
    render_audio(page)
    expect(player(page)).to_have_count(1, timeout=RENDER_TIMEOUT_MS)

    # On a phone the written and spoken texts stack, and nothing sticks out sideways.
    written = page.locator("#spoken-panel .side-by-side > div").first
    spoken = page.locator("#spoken-panel .side-by-side > div").nth(1)
    assert spoken.bounding_box()["y"] > written.bounding_box()["y"]
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(path="/tmp/loa-speech-phone.png", full_page=True)
    assert overflow <= 0, f"the script page is {overflow}px wider than the phone screen"
    # The player spans the card like the texts above it, not indented as a bare <figure>.
    box, text = player(page).bounding_box(), spoken.bounding_box()
    assert abs(box["x"] - text["x"]) <= 1 and abs(box["width"] - text["width"]) <= 1, (box, text)
