"""Journey of a recorded spot: the writer records it in the browser (Chromium's fake
microphone), sends it for review, the supervisor listens and approves, it is scheduled and the
runner airs it; the log row carries the mastered recording's sha256."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app.extensions import db
from app.speech.models import Render
from app.speech.pipeline import sha256_file
from app.speech.service import audio_dir
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer, OnAir
from tests.browser.test_schedule_journey import approve_schedule_and_air, filter_log, log_rows
from tests.browser.test_script_journey import flash, log_in, log_out, status_badge
from tests.speech import samples

pytestmark = pytest.mark.browser

# Record a little longer than the fake microphone's file (2.8 s).
RECORD_MS = 3500
# Sending, probing, trimming and mastering the recording on the live server.
INGEST_TIMEOUT_MS = 30_000
TITLE = "Thông báo lịch họp tổ dân phố"
BODY = "Tối thứ Bảy tuần này, tổ dân phố số 5 họp tại nhà văn hóa lúc 19 giờ. Mời bà con dự."


@pytest.fixture(scope="module")
def browser(playwright, tmp_path_factory):
    """A headless Chromium whose microphone is a fake device, allowed without asking, that
    "hears" a voice in phone hiss (a tone at speech level, made by ffmpeg) once, then silence.
    It is launched from the session's Playwright driver (a second driver cannot run).
    """
    heard = samples.voice_in_hiss(
        tmp_path_factory.mktemp("mic") / "heard.wav", lead_s=0.6, tone_s=1.8, tail_s=0.4
    )
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={heard}%noloop",
    ]
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
    try:
        yield chromium
    finally:
        chromium.close()


def recording_box(page: Page):
    """The script page's "Bản ghi âm" box."""
    return page.locator("#recording")


def test_recorded_in_the_browser_approved_scheduled_and_aired(
    page: Page, live_server: LiveServer, on_air: OnAir, clock
):
    writer_name = live_server.full_names["writer"]
    log_in(page, live_server.users["writer"])
    page.get_by_role("link", name="+ Soạn kịch bản").click()
    page.get_by_label("Tiêu đề").fill(TITLE)
    page.get_by_label("Nội dung", exact=True).fill(BODY)
    page.get_by_role("button", name="Lưu", exact=True).click()
    expect(flash(page, "Đã lưu bản nháp")).to_be_visible()
    script_url = page.url

    # Record a few seconds from the (fake) microphone; the box sends it when stopped.
    box = recording_box(page)
    start = box.get_by_role("button", name="Bắt đầu ghi âm")
    expect(start).to_be_visible()
    start.click()
    expect(box.locator(".recorder-status")).to_have_text("Đang ghi âm… hãy đọc nội dung kịch bản.")
    page.wait_for_timeout(RECORD_MS)
    box.get_by_role("button", name="Dừng và gửi").click()

    # The page reloads with the mastered recording: player, uploader, measures.
    player = box.locator("figure.player audio")
    expect(player).to_have_count(1, timeout=INGEST_TIMEOUT_MS)
    src = player.get_attribute("src") or ""
    render_id = int(re.fullmatch(r"/renders/(\d+)/audio", src).group(1))
    expect(box.locator("figcaption")).to_contain_text(f"Bản ghi âm do {writer_name} tải lên")
    expect(box.locator(".recording-facts")).to_contain_text("ghi trên trình duyệt")
    expect(box.locator(".recording-master")).to_contain_text("LUFS")
    expect(flash(page, "Đã nhận bản ghi âm")).to_be_visible()
    with live_server.app.app_context():
        render = db.session.get(Render, render_id)
        assert render.engine == "recording"
        assert render.settings["recording"]["source"] == "browser"
        assert render.settings["recording"]["codec"] == "opus"
        assert abs(render.integrated_lufs + 16) <= 1.0 and render.true_peak_dbtp <= -1.0
        # 1.8 s of "voice", 0.3 s kept before it and 0.5 s after: the hiss and the silence
        # after the file ended are trimmed.
        assert render.duration_s == pytest.approx(1.8 + 0.3 + 0.5, abs=0.25)
        assert render.settings["recording"]["trimmed_lead_s"] >= 0.2
        assert render.settings["recording"]["trimmed_tail_s"] >= 0.3
        assert render.warnings == []
        sha = render.audio_sha256
        assert sha256_file(audio_dir() / render.audio_path) == sha
        db.session.remove()

    page.get_by_role("button", name="Gửi duyệt").click()
    expect(flash(page, "Đã gửi duyệt phiên bản 1.")).to_be_visible()
    log_out(page)

    # The supervisor hears exactly that recording and approves it.
    log_in(page, live_server.users["supervisor"])
    page.goto(script_url)
    page.get_by_role("link", name="Xét duyệt", exact=True).click()
    audio = page.locator("#audio")
    expect(audio.locator("figure.player audio")).to_have_attribute("src", src)
    expect(audio.locator("figcaption")).to_contain_text(f"Bản ghi âm do {writer_name} tải lên")
    expect(audio.locator(".recording-facts")).to_contain_text("Đã cắt khoảng lặng")
    expect(page.get_by_text(f"cùng bản âm thanh #{render_id}")).to_be_visible()
    page.get_by_role("button", name="Duyệt phiên bản 1").click()
    expect(flash(page, "Đã duyệt phiên bản 1.")).to_be_visible()
    expect(status_badge(page)).to_have_text("Đã duyệt")

    # Scheduled at 08:15 (it airs at the session's start, 08:10) and aired by the runner.
    approve_schedule_and_air(live_server, on_air, clock, TITLE, render_id, sha)

    # The log page shows the aired recording.
    log_out(page)
    log_in(page, live_server.users["operator"])
    filter_log(page, on_air)
    expect(log_rows(page)).to_have_count(1)
    expect(log_rows(page).first).to_contain_text(TITLE)
    expect(log_rows(page).first).to_contain_text("đã phát")
