"""A live Loa server on a free port and a headless Chromium to drive it.

The app runs with CSRF protection on, as in production. Each test gets its own database, its
own server and a fresh browser context (no cookies shared between tests); the Chromium process
is shared by the whole session to keep the suite fast.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path

import pytest
from flask import Flask, got_request_exception
from sqlalchemy import select
from werkzeug.serving import make_server

from app.auth.models import Role, User
from app.extensions import db
from app.org.models import Station
from app.org.service import add_session
from app.scripts.models import Priority
from app.scripts.service import approve_script
from app.speech import service as speech_service
from tests.conftest import build_test_app
from tests.factories import make_script, make_station, make_unit, make_user, submit

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING_CHROMIUM = (
    f"CHROMIUM NOT INSTALLED ({CHROMIUM}): browser journey NOT tested; apt-get install chromium"
)
# Fail fast: a missing element should not hold a test for Playwright's default 30 s.
TIMEOUT_MS = 10_000

# Titles of the scripts every live server starts with.
SEARCH_HIT = "Tiêm chủng mở rộng cho trẻ dưới 1 tuổi"
SEARCH_MISS = "Phòng chống bão số 9"
TO_REJECT = "Thông báo lịch tạm ngừng cấp điện"

# The seeded station, and the approved script the on_air fixture adds for it.
STATION_CODE = "PTH-RADIO"
ON_AIR = "Lịch tiêm vắc xin sởi tại trạm y tế phường Phú Thủy"


@dataclass
class LiveServer:
    """A running app: its base URL, the Flask app, and what the browser can log in as."""

    url: str
    app: Flask
    users: dict[str, str] = field(default_factory=dict)  # fixture name -> user name
    full_names: dict[str, str] = field(default_factory=dict)  # fixture name -> full name
    scripts: dict[str, int] = field(default_factory=dict)  # title -> id
    errors: list[BaseException] = field(default_factory=list)
    renders_open: bool = True
    render_lock: threading.Lock = field(default_factory=threading.Lock)

    def hold_renders(self) -> None:
        """Keep queued renders waiting, so a test can look at one before the worker takes it."""
        with self.render_lock:  # waits for a render in progress; none starts after this
            self.renders_open = False

    def release_renders(self) -> None:
        """Let the worker take queued renders again."""
        with self.render_lock:
            self.renders_open = True


def _seed(server: LiveServer) -> None:
    """Create the unit tree, one user per role in play, and a few scripts."""
    province = make_unit("P", "Tỉnh Bình Thuận", level="Tỉnh")
    district = make_unit("D", "Thành phố Phan Thiết", parent=province, level="Thành phố")
    station = make_station(district, STATION_CODE, "Đài Truyền thanh thành phố Phan Thiết")
    station.intro_text = "Đài Truyền thanh thành phố Phan Thiết xin thông báo"
    db.session.commit()
    people = {
        "writer": make_user(district, Role.WRITER, "writer"),
        "supervisor": make_user(province, Role.SUPERVISOR, "supervisor"),
        "newcomer": make_user(district, Role.WRITER, "newcomer", must_change_password=True),
    }
    writer = people["writer"]
    hit = make_script(writer, district, title=SEARCH_HIT, campaign="Tiêm chủng mở rộng")
    miss = make_script(
        writer,
        district,
        title=SEARCH_MISS,
        campaign="Phòng chống thiên tai",
        body="Bà con ngư dân khẩn trương đưa tàu thuyền vào nơi neo đậu an toàn.",
        priority=Priority.EMERGENCY,
    )
    reject = make_script(
        writer,
        district,
        title=TO_REJECT,
        campaign="Thông báo điện lực",
        body="Điện lực Phan Thiết tạm ngừng cấp điện từ 7 giờ đến 11 giờ sáng Chủ nhật.",
        priority=Priority.NORMAL,
    )
    submit(writer, reject)
    server.users = {name: user.username for name, user in people.items()}
    server.full_names = {name: user.full_name for name, user in people.items()}
    server.scripts = {s.title: s.id for s in (hit, miss, reject)}


def _render_worker(app: Flask, stop: threading.Event, server: LiveServer) -> None:
    """Run queued renders as `flask speech worker` does, until the server stops."""
    while not stop.is_set():
        try:
            with server.render_lock, app.app_context():
                render = speech_service.process_next_render() if server.renders_open else None
                db.session.remove()
        except Exception as exc:  # reported by the fixture, like a request error
            server.errors.append(exc)
            return
        if render is None:
            stop.wait(0.05)


@pytest.fixture
def live_server(tmp_path, clock) -> Iterator[LiveServer]:
    """Serve a freshly seeded app on 127.0.0.1 from a daemon thread; yield it, then stop it.

    No app context stays pushed while the server runs: each request pushes its own, and with
    it its own database session.
    """
    app = build_test_app(
        tmp_path,
        clock,
        # As in production: CSRF tokens checked, session cookies Secure. Chromium treats
        # http://127.0.0.1 as a secure context and keeps Secure cookies it sets (checked with
        # Chromium 156), so the browser still logs in over plain HTTP.
        WTF_CSRF_ENABLED=True,
        SESSION_COOKIE_SECURE=True,
        REMEMBER_COOKIE_SECURE=True,
    )
    server = LiveServer(url="", app=app)
    with app.app_context():
        _seed(server)
        db.session.remove()

    def record(sender, exception, **extra):
        server.errors.append(exception)

    got_request_exception.connect(record, app)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    server.url = f"http://127.0.0.1:{httpd.server_port}"
    thread = threading.Thread(target=httpd.serve_forever, name="loa-live-server", daemon=True)
    thread.start()
    stop = threading.Event()
    worker = threading.Thread(
        target=_render_worker, args=(app, stop, server), name="loa-render-worker", daemon=True
    )
    worker.start()
    try:
        yield server
    finally:
        stop.set()
        worker.join(timeout=60)
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
        got_request_exception.disconnect(record, app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    assert not server.errors, f"the server raised while handling requests: {server.errors!r}"


@dataclass
class OnAir:
    """What the on_air fixture adds to the live server for the playout journeys."""

    station_code: str
    station_name: str
    sessions: list[tuple[str, time, time]]  # (name, start, end), every day
    script_id: int
    script_title: str


@pytest.fixture
def on_air(live_server: LiveServer) -> OnAir:
    """Ready the seeded station for playout: two daily sessions, an operator of its district
    (live_server.users["operator"]), and an approved script (ON_AIR, valid to 31/12/2026)
    with real approved audio, rendered, submitted and approved as tests/factories.submit and
    approve_script do.

    The test clock stands at 08:00 on 27/11/2026 in Vietnam: the morning session starts ten
    minutes later, so the whole day is still ahead.
    """
    sessions = [("Buổi sáng", time(8, 10), time(8, 40)), ("Buổi chiều", time(17, 0), time(17, 45))]
    with live_server.app.app_context():
        station = db.session.scalar(select(Station).where(Station.code == STATION_CODE))
        for name, start, end in sessions:
            add_session(None, station, name, start, end, 15, "1234567")
        db.session.commit()
        operator = make_user(station.unit, Role.OPERATOR, "operator")
        writer, supervisor = (
            db.session.scalar(select(User).where(User.username == live_server.users[name]))
            for name in ("writer", "supervisor")
        )
        script = make_script(
            writer,
            station.unit,
            title=ON_AIR,
            campaign="Tiêm chủng mở rộng",
            body="Trạm y tế phường Phú Thủy tiêm vắc xin sởi cho trẻ từ 9 tháng tuổi vào "
            "sáng thứ Bảy; phụ huynh mang theo sổ tiêm chủng.",
            priority=Priority.HIGH,
            valid_until=date(2026, 12, 31),
        )
        submit(writer, script)
        approve_script(supervisor, script)
        found = OnAir(STATION_CODE, station.name, sessions, script.id, script.title)
        live_server.users["operator"] = operator.username
        live_server.full_names["operator"] = operator.full_name
        live_server.scripts[script.title] = script.id
        db.session.remove()
    return found


@pytest.fixture(scope="session")
def playwright():
    """One Playwright driver for the whole session: a second sync driver in the same thread
    fails ("Sync API inside the asyncio loop"), so a module that needs its own Chromium (other
    flags) launches it from this one."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING_CHROMIUM, pytrace=False)
        pytest.skip(MISSING_CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright):
    """One headless Debian Chromium for the whole session."""
    chromium = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def viewport() -> dict[str, int]:
    """The window size; override in a test module or with indirect parametrisation."""
    return {"width": 1280, "height": 900}


@pytest.fixture
def page(browser, live_server, viewport):
    """A page in a fresh browser context (own cookies) pointed at the live server.

    Depending on live_server makes the browser context close before the server stops, so no
    keep-alive connection is left hanging. JavaScript errors and Content-Security-Policy
    violations fail the test.
    """
    context = browser.new_context(
        base_url=live_server.url, viewport=viewport, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"JavaScript error: {exc}"))
    page.on(
        "console",
        lambda msg: problems.append(f"console: {msg.text}")
        if msg.type == "error" and "Content Security Policy" in msg.text
        else None,
    )
    try:
        yield page
    finally:
        context.close()
    assert not problems, problems
