"""The public audio URL serves only the approved render of an announcement on the portal
(Range works for players), and the RSS 2.0 podcast feed lists exactly those, with enclosures
whose bytes, length and type match."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from lxml import etree

from app.scripts.service import ScriptInput, approve_script, update_script
from app.speech.service import audio_dir
from tests.factories import submit
from tests.portal.conftest import TODAY, text

ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"


def get(client, url: str, **headers):
    """GET an audio URL and close the file behind it: status, headers and bytes."""
    with client.get(url, headers=headers) as response:
        response.body = response.get_data()
        return response


def _file(script):
    """The approved audio file of a script."""
    return audio_dir() / script.approved_render.audio_path


def test_audio_url_serves_the_exact_approved_file(client, make):
    script = make("approved")
    response = get(client, f"/portal/D/audio/{script.approved_render_id}.wav")
    assert response.status_code == 200
    assert response.mimetype == "audio/wav"
    assert response.body == _file(script).read_bytes()
    assert response.headers["Accept-Ranges"] == "bytes"
    assert "public" in response.headers["Cache-Control"]
    assert "max-age=300" in response.headers["Cache-Control"]
    assert response.headers["ETag"].strip('"') == script.approved_render.audio_sha256
    again = get(
        client,
        f"/portal/D/audio/{script.approved_render_id}.wav",
        **{"If-None-Match": response.headers["ETag"]},
    )
    assert again.status_code == 304


def test_range_requests_work_for_players(client, make):
    script = make("approved")
    data = _file(script).read_bytes()
    url = f"/portal/D/audio/{script.approved_render_id}.wav"
    part = get(client, url, Range="bytes=100-199")
    assert part.status_code == 206
    assert part.body == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    tail = get(client, url, Range="bytes=-50")
    assert tail.status_code == 206 and tail.body == data[-50:]
    past = get(client, url, Range=f"bytes={len(data) + 10}-")
    assert past.status_code == 416


def test_a_superseded_render_is_404_and_the_new_approval_is_served(client, make, users, org):
    script = make("approved", title="Được duyệt lại")
    old = script.approved_render_id
    data = ScriptInput(
        title="Được duyệt lại", body=script.current_version.body + " Bổ sung.", unit=org.district
    )
    update_script(users["writer"], script, data, None)
    submit(users["writer"], script)
    # Submitted again: neither the old approved render nor the new submitted one is public.
    assert get(client, f"/portal/D/audio/{old}.wav").status_code == 404
    assert get(client, f"/portal/D/audio/{script.submitted_render_id}.wav").status_code == 404
    approve_script(users["supervisor"], script)
    assert script.approved_render_id != old
    assert get(client, f"/portal/D/audio/{old}.wav").status_code == 404
    assert get(client, f"/portal/D/audio/{script.approved_render_id}.wav").status_code == 200


def test_audio_of_wrong_format_other_unit_or_altered_file_is_404(client, make, users, org):
    script = make("approved")
    render_id = script.approved_render_id
    assert get(client, f"/portal/D/audio/{render_id}.mp3").status_code == 404
    assert get(client, f"/portal/D2/audio/{render_id}.wav").status_code == 404
    assert get(client, "/portal/D/audio/999999.wav").status_code == 404
    assert get(client, "/portal/D/audio/99999999999999.wav").status_code == 404
    # The file on disk is no longer what was approved: not served, no player on the page.
    path = _file(script)
    path.write_bytes(path.read_bytes() + b"\0")
    assert get(client, f"/portal/D/audio/{render_id}.wav").status_code == 404
    page = text(client.get("/portal/D"))
    assert "<audio" not in page and "Bản âm thanh tạm thời chưa nghe được." in page
    assert "<enclosure" not in text(client.get("/portal/D/feed.xml"))


def test_audio_of_an_expired_announcement_is_404(client, make, clock):
    script = make("approved", valid_until=TODAY)
    url = f"/portal/D/audio/{script.approved_render_id}.wav"
    assert get(client, url).status_code == 200
    clock.advance(days=1)
    assert get(client, url).status_code == 404


def test_feed_is_rss_2_with_itunes_tags_and_enclosures_that_match(client, make, users):
    first = make("approved", title="Bản tin một", category="Y tế - phòng chống dịch")
    second = make("approved", title="Bản tin hai")
    response = client.get("/portal/D/feed.xml")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    body = response.get_data()
    assert body.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    # Well-formed for a strict parser too.
    etree.fromstring(body)
    rss = ET.fromstring(body)
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    channel = rss.find("channel")
    assert channel.findtext("title") == "Thông báo của Thành phố Phan Thiết"
    assert channel.findtext("link") == "http://localhost/portal/D"
    assert channel.findtext("language") == "vi"
    self_link = channel.find("{http://www.w3.org/2005/Atom}link")
    assert self_link.get("href") == "http://localhost/portal/D/feed.xml"
    assert self_link.get("rel") == "self"
    assert channel.findtext(f"{ITUNES}explicit") == "false"
    assert channel.findtext(f"{ITUNES}author") == "Thành phố Phan Thiết"
    assert channel.find(f"{ITUNES}category").get("text") == "Government"
    items = channel.findall("item")
    assert [i.findtext("title") for i in items] == ["Bản tin hai", "Bản tin một"]
    for item, script in zip(items, (second, first), strict=True):
        enclosure = item.find("enclosure")
        url = urlsplit(enclosure.get("url"))
        assert url.path == f"/portal/D/audio/{script.approved_render_id}.wav"
        audio = get(client, url.path)
        assert audio.status_code == 200
        assert len(audio.body) == int(enclosure.get("length"))
        assert audio.mimetype == enclosure.get("type") == "audio/wav"
        assert audio.body == _file(script).read_bytes()
        assert re.fullmatch(r"\d\d:\d\d:\d\d", item.findtext(f"{ITUNES}duration"))
        assert item.findtext(f"{ITUNES}explicit") == "false"
        assert item.findtext("description") == script.approved_version.body
        guid = item.find("guid")
        assert guid.get("isPermaLink") == "false"
        assert guid.text == (
            f"loa-script-{script.id}-v{script.approved_version.number}"
            f"-render-{script.approved_render_id}"
        )
        published = parsedate_to_datetime(item.findtext("pubDate"))
        assert published == script.reviews[-1].created_at
        assert item.findtext("pubDate").endswith("+0700")
    categories = [c.text for c in items[1].findall("category")]
    assert categories == ["TT 39/2020: Ưu tiên", "Y tế - phòng chống dịch"]


def test_feed_guid_is_stable_until_a_new_approval(client, make, users, org, clock):
    script = make("approved", title="Ổn định")

    def guids():
        rss = ET.fromstring(client.get("/portal/D/feed.rss").get_data())
        return [g.text for g in rss.iter("guid")]

    before = guids()
    assert guids() == before
    clock.advance(hours=1)
    data = ScriptInput(
        title="Ổn định", body=script.current_version.body + " Mới.", unit=org.district
    )
    update_script(users["writer"], script, data, None)
    submit(users["writer"], script)
    approve_script(users["supervisor"], script)
    after = guids()
    assert len(after) == 1 and after != before
    assert after[0].endswith(f"-v2-render-{script.approved_render_id}")


def test_feed_has_cache_headers_and_304(client, make):
    make("approved")
    first = client.get("/portal/D/feed.xml")
    assert "public" in first.headers["Cache-Control"]
    assert "max-age=300" in first.headers["Cache-Control"]
    assert first.headers["Last-Modified"]
    again = client.get("/portal/D/feed.xml", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_feed_of_a_unit_with_nothing_valid_is_an_empty_channel(client, make, clock):
    make("approved", valid_until=TODAY + timedelta(days=1))
    clock.advance(days=2)
    rss = ET.fromstring(client.get("/portal/D/feed.xml").get_data())
    assert rss.find("channel").findall("item") == []
