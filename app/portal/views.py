"""Public portal pages and feeds: a unit's approved announcements in their validity as a page
with audio players, as an RSS 2.0 podcast feed, and the approved audio itself. No login;
cacheable for a few minutes by browsers and shared caches."""

from __future__ import annotations

from datetime import datetime

from flask import Response, current_app, render_template, request, send_file, url_for

from app.core.errors import NotFound
from app.portal import admin, service, upward  # noqa: F401  (their routes join the blueprint)
from app.portal.blueprint import bp
from app.portal.rss import build_feed


def public_cache(response: Response, modified: datetime | None = None) -> Response:
    """Mark a public answer cacheable for PORTAL_MAX_AGE_S, with an ETag of its bytes and
    Last-Modified, and answer 304 when the client's copy is current."""
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config.get("PORTAL_MAX_AGE_S", 300)
    if modified is not None:
        response.last_modified = modified
    if not response.get_etag()[0]:
        response.add_etag()
    return response.make_conditional(request)


def _missing_unit(message: str):
    """The portal's own 404 page: it links nowhere inside the application."""
    return render_template("portal/missing.html", message=message), 404


def _audio_url(item: service.Announcement, unit_code: str, external: bool = False) -> str:
    """Where the public fetches an announcement's approved audio."""
    return url_for(
        "portal.audio",
        code=unit_code,
        render_id=item.render.id,
        ext=item.ext,
        _external=external,
    )


@bp.get("/portal/<code>")
def unit_page(code: str):
    """A unit's approved announcements in their validity, newest approval first."""
    try:
        unit = service.public_unit(code)
    except NotFound as exc:
        return _missing_unit(exc.message)
    day = service.today()
    items = service.announcements(unit, day)
    html = render_template(
        "portal/unit.html",
        unit=unit,
        items=items,
        day=day,
        audio_url=lambda item: _audio_url(item, unit.code),
    )
    return public_cache(Response(html, mimetype="text/html"), service.last_modified(unit, day))


# The .xml rule is added first, so url_for() names it; .rss is the same feed.
@bp.get("/portal/<code>/feed.rss")
@bp.get("/portal/<code>/feed.xml")
def unit_feed(code: str):
    """The same announcements as an RSS 2.0 podcast feed with audio enclosures."""
    try:
        unit = service.public_unit(code)
    except NotFound as exc:
        return _missing_unit(exc.message)
    day = service.today()
    modified = service.last_modified(unit, day)
    body = build_feed(
        unit,
        service.announcements(unit, day),
        page_url=url_for("portal.unit_page", code=unit.code, _external=True),
        feed_url=url_for("portal.unit_feed", code=unit.code, _external=True),
        audio_url=lambda item: _audio_url(item, unit.code, external=True),
        built_at=modified,
    )
    response = Response(body, content_type="application/rss+xml; charset=utf-8")
    return public_cache(response, modified)


@bp.get("/portal/<code>/audio/<int:render_id>.<ext>")
def audio(code: str, render_id: int, ext: str):
    """The approved audio of an announcement on the unit's portal; Range works for players.
    Anything that is not (or no longer) on the portal is 404."""
    try:
        unit = service.public_unit(code)
        item = service.public_audio(unit, render_id, ext)
    except NotFound as exc:
        return _missing_unit(exc.message)
    response = send_file(
        item.audio,
        mimetype=item.mimetype,
        download_name=f"thong-bao-{item.script.id}-{item.render.id}.{item.ext}",
        conditional=True,
        etag=item.render.audio_sha256,
        max_age=current_app.config.get("PORTAL_MAX_AGE_S", 300),
    )
    response.cache_control.public = True
    return response
