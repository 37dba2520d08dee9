"""A unit's announcements as an RSS 2.0 podcast feed with the iTunes tags podcast apps read."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime

from app.core.clock import LOCAL_TZ
from app.org.models import Unit
from app.portal.service import Announcement

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
ATOM = "http://www.w3.org/2005/Atom"
ET.register_namespace("itunes", ITUNES)
ET.register_namespace("atom", ATOM)


def rfc822(value: datetime) -> str:
    """A time as RSS writes it, in Vietnam time: Fri, 27 Nov 2026 08:00:00 +0700."""
    return format_datetime(value.astimezone(LOCAL_TZ))


def hms(seconds: float | None) -> str:
    """A duration as itunes:duration: HH:MM:SS, rounded up to the second."""
    total = max(math.ceil(seconds or 0), 0)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _add(parent: ET.Element, tag: str, value: str | None = None, /, **attrs: str) -> ET.Element:
    """Append a child element with its text (positional, so an attribute may be called
    text, as itunes:category's is) and attributes."""
    element = ET.SubElement(parent, tag, attrs)
    if value is not None:
        element.text = value
    return element


def build_feed(
    unit: Unit,
    items: list[Announcement],
    *,
    page_url: str,
    feed_url: str,
    audio_url: Callable[[Announcement], str],
    built_at: datetime,
) -> bytes:
    """The feed as UTF-8 XML; only announcements whose approved audio is on disk are items
    (an episode without its enclosure is no use to a podcast app)."""
    rss = ET.Element("rss", {"version": "2.0"})
    channel = _add(rss, "channel")
    title = f"Thông báo của {unit.name}"
    summary = (
        f"Các thông báo đã được duyệt và đang còn hiệu lực của {unit.name}, "
        "kèm bản âm thanh phát trên hệ thống truyền thanh."
    )
    _add(channel, "title", title)
    _add(channel, "link", page_url)
    _add(channel, "description", summary)
    _add(channel, "language", "vi")
    _add(channel, "lastBuildDate", rfc822(built_at))
    _add(channel, "generator", "Loa")
    _add(channel, f"{{{ATOM}}}link", href=feed_url, rel="self", type="application/rss+xml")
    _add(channel, f"{{{ITUNES}}}author", unit.name)
    _add(channel, f"{{{ITUNES}}}summary", summary)
    _add(channel, f"{{{ITUNES}}}explicit", "false")
    _add(channel, f"{{{ITUNES}}}type", "episodic")
    _add(channel, f"{{{ITUNES}}}category", text="Government")
    for item in items:
        if item.audio is None:
            continue
        script = item.script
        entry = _add(channel, "item")
        _add(entry, "title", script.title)
        _add(entry, "link", f"{page_url}#tb-{script.id}")
        _add(entry, "description", item.version.body)
        _add(entry, "guid", item.guid, isPermaLink="false")
        _add(entry, "pubDate", rfc822(item.approved_at))
        _add(entry, "category", f"TT 39/2020: {item.tt39[1]}")
        if script.category:
            _add(entry, "category", script.category)
        _add(
            entry,
            "enclosure",
            url=audio_url(item),
            length=str(item.audio_bytes),
            type=item.mimetype,
        )
        _add(entry, f"{{{ITUNES}}}author", script.unit.name)
        _add(entry, f"{{{ITUNES}}}duration", hms(item.render.duration_s))
        _add(entry, f"{{{ITUNES}}}explicit", "false")
        _add(entry, f"{{{ITUNES}}}episodeType", "full")
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True)
