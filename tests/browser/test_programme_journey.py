"""Journey of a programme: the writer builds a rundown of three items with a music bed, sees
its total against the session, mixes it and sends it for review; the supervisor approves the
exact rundown; it is scheduled, the runner airs it, and the log shows its items. The editor
and the programme page fit a 390 px phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from app.library.models import LibraryKind
from app.programmes import service as programmes
from app.scripts.models import Script
from app.speech.models import Render
from tests.browser.conftest import LiveServer, OnAir
from tests.browser.test_schedule_journey import approve_schedule_and_air, filter_log, log_rows
from tests.browser.test_script_journey import flash, log_in, log_out, status_badge
from tests.programmes.conftest import library_item, tone

pytestmark = pytest.mark.browser

TITLE = "Chương trình phát thanh sáng thứ Sáu"
# Mixing three short items and mastering the mix on the live server.
MIX_TIMEOUT_MS = 30_000
PHONE = {"width": 390, "height": 844}


def fits_the_width(page: Page) -> bool:
    """Whether the page scrolls sideways (it must not, on a phone)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def library(live_server: LiveServer, on_air: OnAir, tmp_path) -> dict[str, int]:
    """A jingle and a bed (tones made by ffmpeg) in the writer's library."""
    chord = "aevalsrc=0.3*sin(2*PI*523*t)+0.2*sin(2*PI*659*t):s=44100"
    jingle = tone(tmp_path / "nhac-hieu.wav", chord, 1.5)
    bed = tone(tmp_path / "nhac-nen.wav", "sine=frequency=220:sample_rate=44100", 2.0)
    with live_server.app.app_context():
        writer = db.session.scalar(select(User).where(User.username == live_server.users["writer"]))
        found = {
            "jingle": library_item(writer, jingle, "Nhạc hiệu buổi sáng", LibraryKind.JINGLE).id,
            "bed": library_item(writer, bed, "Nhạc nền dịu", LibraryKind.BED).id,
        }
        db.session.remove()
    return found


def add_item(page: Page, search: str, title: str) -> None:
    """Search the editor's candidates and add the one with that title."""
    box = page.locator("#add")
    box.get_by_label("Tìm bản tin đã duyệt").fill(search)
    box.get_by_role("button", name="Tìm").click()
    box.locator("li").filter(has_text=title).get_by_role("button", name="+ Thêm").click()


def test_programme_built_mixed_approved_scheduled_aired_and_logged(
    page: Page, live_server: LiveServer, on_air: OnAir, library, clock
):
    log_in(page, live_server.users["writer"])
    page.locator("nav.nav").get_by_role("link", name="Chương trình").click()
    expect(page.get_by_role("heading", name="Chương trình phát thanh")).to_be_visible()
    page.get_by_role("link", name="+ Soạn chương trình").click()
    page.get_by_label("Tên chương trình").fill(TITLE)
    page.get_by_label("Buổi phát nhắm tới").select_option(
        label=f"Buổi sáng 08:10–08:40 (15 phút) – {on_air.station_name}"
    )
    page.get_by_label("Nhạc nền", exact=True).select_option(value=str(library["bed"]))
    page.get_by_label("Giảm nhạc nền dưới các mục (dB)").fill("18")

    # Three items found by searches without accents: the jingle, the approved spot, the jingle.
    add_item(page, "nhac hieu", "Nhạc hiệu buổi sáng")
    add_item(page, "vac xin soi", on_air.script_title)
    add_item(page, "nhac hieu", "Nhạc hiệu buổi sáng")
    items = page.locator(".pg-rundown .pg-item")
    expect(items).to_have_count(3)
    expect(items.locator(".pg-item-head strong")).to_have_text(
        ["1. Nhạc hiệu buổi sáng", f"2. {on_air.script_title}", "3. Nhạc hiệu buổi sáng"]
    )
    # Move the spot first, then back: the buttons post the rundown and reorder it.
    page.get_by_role("button", name="Chuyển mục 2 lên").click()
    expect(items.first.locator(".pg-item-head strong")).to_have_text(f"1. {on_air.script_title}")
    page.get_by_role("button", name="Chuyển mục 1 xuống").click()
    expect(items.nth(1).locator(".pg-item-head strong")).to_have_text(f"2. {on_air.script_title}")
    items.first.get_by_label("Nghỉ sau mục (giây)").fill("1,5")
    items.nth(1).get_by_label("hoặc chồng sang mục sau (giây)").fill("0,05")
    page.get_by_role("button", name="Tính lại thời lượng").click()
    total = page.locator(".pg-total")
    expect(total).to_contain_text("Tổng thời lượng:")
    expect(total).to_contain_text(f"/ buổi “Buổi sáng” của {on_air.station_name}: 15:00")
    expect(total).to_contain_text("— còn 14:")
    expect(items.nth(1).locator(".pg-start")).to_have_text("0:03")  # 1,85 s + 1,5 s

    # A phone sees the whole editor without scrolling sideways.
    page.set_viewport_size(PHONE)
    assert fits_the_width(page)
    page.screenshot(path="/tmp/loa-programme-editor-phone.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="Lưu chương trình").click()
    expect(flash(page, "Đã lưu chương trình")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    programme_url = page.url
    rows = page.locator("#rundown table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.locator("td.pg-start")).to_have_text(["0:00,0", "0:03,4", re.compile(r"0:\d\d,\d")])
    expect(page.locator("#rundown")).to_contain_text("giảm 18 dB")

    # Mix it: the page follows the render worker and reloads with the mix and its measures.
    page.get_by_role("button", name="Trộn chương trình").click()
    expect(flash(page, "Đã xếp hàng trộn chương trình")).to_be_visible()
    player = page.locator("#mix figure.player audio")
    expect(player).to_have_count(1, timeout=MIX_TIMEOUT_MS)
    caption = page.locator("#mix figcaption")
    expect(caption).to_contain_text("Bản trộn chương trình do")
    expect(caption).to_contain_text("LUFS")
    src = player.get_attribute("src") or ""
    render_id = int(re.fullmatch(r"/renders/(\d+)/audio", src).group(1))
    with live_server.app.app_context():
        mix = db.session.get(Render, render_id)
        assert mix.engine == "programme"
        assert abs(mix.integrated_lufs + 16) <= 1.0 and mix.true_peak_dbtp <= -1.0
        script = db.session.scalar(select(Script).where(Script.title == TITLE))
        settings = programmes.version_settings(script.current_version_id)
        assert abs(mix.duration_s - settings.total_s) < 0.015
        sha = mix.audio_sha256
        db.session.remove()
    page.screenshot(path="/tmp/loa-programme-page.png", full_page=True)
    page.set_viewport_size(PHONE)
    assert fits_the_width(page)
    page.screenshot(path="/tmp/loa-programme-page-phone.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="Gửi duyệt").click()
    expect(flash(page, "Đã gửi duyệt phiên bản 1.")).to_be_visible()
    log_out(page)

    # The supervisor reviews the exact rundown and its mix, and approves them.
    log_in(page, live_server.users["supervisor"])
    page.goto(programme_url)
    page.get_by_role("link", name="Xét duyệt", exact=True).click()
    review = page.locator("#rundown")
    expect(review).to_contain_text("Bạn duyệt đúng danh sách mục này")
    expect(review.locator("tbody tr")).to_have_count(3)
    expect(review).to_contain_text(settings.rundown_sha256[:12])
    expect(page.locator("#audio figure.player audio")).to_have_attribute("src", src)
    page.get_by_role("button", name="Duyệt phiên bản 1").click()
    expect(flash(page, "Đã duyệt phiên bản 1.")).to_be_visible()
    expect(status_badge(page)).to_have_text("Đã duyệt")

    # Scheduled at 08:15 (it airs at the session's start, 08:10) and aired by the runner.
    approve_schedule_and_air(live_server, on_air, clock, TITLE, render_id, sha)

    # The log shows the programme's row and, opened, its three items with their starts.
    log_out(page)
    log_in(page, live_server.users["operator"])
    filter_log(page, on_air)
    expect(log_rows(page)).to_have_count(1)
    row = log_rows(page).first
    expect(row).to_contain_text(TITLE)
    expect(row).to_contain_text("đã phát")
    row.get_by_text("3 mục của chương trình").click()
    listed = row.locator(".po-items li")
    expect(listed).to_have_count(3)
    expect(listed.first).to_contain_text("08:10:00 Nhạc hiệu buổi sáng")
    expect(listed.nth(1)).to_contain_text(f"08:10:03 {on_air.script_title}")
    expect(listed.nth(1)).to_contain_text("+0:03,4")
