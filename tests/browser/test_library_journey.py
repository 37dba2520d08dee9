"""Journey through the audio library: a writer uploads a jingle, finds it again by a search
typed without accents, plays it (Chromium loads the mastered audio) and archives it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app.speech.audio import run_ffmpeg
from tests.browser.conftest import LiveServer
from tests.browser.test_script_journey import flash, log_in
from tests.browser.test_speech_journey import player_duration

pytestmark = pytest.mark.browser

TITLE = "Nhạc hiệu Đài Phú Thủy"


@pytest.fixture
def jingle(tmp_path) -> bytes:
    """An MP3 jingle: half a second of silence, a 1.2-second chord, half a second of silence."""
    path = tmp_path / "nhac-hieu.mp3"
    chord = "aevalsrc=0.3*sin(2*PI*523*t)+0.2*sin(2*PI*659*t)+0.2*sin(2*PI*784*t):s=44100"
    source = ["-y", "-f", "lavfi", "-t", "1.2", "-i", chord]
    padded = ["-af", "adelay=500:all=1,apad=pad_dur=0.5"]
    run_ffmpeg([*source, *padded, "-ac", "1", "-c:a", "libmp3lame", "-b:a", "128k", str(path)])
    return path.read_bytes()


def test_writer_uploads_a_jingle_finds_it_without_accents_plays_and_archives_it(
    page: Page, live_server: LiveServer, jingle: bytes
):
    log_in(page, live_server.users["writer"])
    page.get_by_role("link", name="Thư viện âm thanh").click()
    page.get_by_role("link", name="+ Thêm tệp âm thanh").click()
    expect(page.get_by_role("heading", name="Thêm vào thư viện âm thanh")).to_be_visible()
    page.get_by_label("Tệp âm thanh").set_input_files(
        {"name": "nhac-hieu.mp3", "mimeType": "audio/mpeg", "buffer": jingle}
    )
    page.get_by_label("Tên", exact=True).fill(TITLE)
    page.get_by_label("Loại").select_option(label="Nhạc hiệu")
    page.get_by_label("Bản quyền, nguồn").fill("Đài tự sản xuất năm 2026")
    page.get_by_role("button", name="Thêm vào thư viện").click()
    expect(flash(page, f"Đã thêm “{TITLE}” vào thư viện.")).to_be_visible()
    assert re.search(r"/library/\d+$", page.url), page.url
    item_url = page.url

    page.get_by_role("link", name="← Thư viện âm thanh").click()
    page.get_by_role("searchbox").fill("nhac hieu phu thuy")
    page.get_by_role("button", name="Lọc").click()
    rows = page.locator("table.library-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Nhạc hiệu")
    rows.first.get_by_role("link", name=TITLE).click()
    assert page.url == item_url

    # Trimmed to 50 ms before the chord and 300 ms after: about 1.55 s.
    duration = player_duration(page)
    assert 1.3 < duration < 1.9, duration
    expect(page.locator("#audio figcaption")).to_contain_text("LUFS")

    page.get_by_role("button", name="Lưu trữ").click()
    expect(flash(page, f"Đã lưu trữ “{TITLE}”")).to_be_visible()
    expect(page.get_by_role("button", name="Khôi phục")).to_be_visible()
    page.goto("/library/?q=nhac+hieu")
    expect(page.get_by_text("Không có mục nào khớp điều kiện tìm.")).to_be_visible()
