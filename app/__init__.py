"""Loa: broadcast schedule and radio-script manager for Vietnamese grassroots radio."""

from __future__ import annotations

import os
import sqlite3
import unicodedata
from pathlib import Path

from flask import Flask, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.routing import BaseConverter, IntegerConverter

from app.config import ROOT, build_config
from app.core.clock import SystemClock
from app.core.errors import DomainError
from app.extensions import csrf, db, limiter, login_manager, migrate

# The version agents report to the server; kept equal to pyproject.toml (tests/test_config.py).
__version__ = "0.1.0"


def create_app(config: dict | None = None) -> Flask:
    """Build the web application; tests pass overrides in config."""
    config = dict(config or {})
    instance_path = Path(
        config.pop("INSTANCE_PATH", None)
        or os.environ.get("LOA_INSTANCE_PATH")
        or ROOT / "instance"
    )
    app = Flask(__name__, instance_path=str(instance_path), instance_relative_config=False)
    app.config.update(build_config(instance_path))
    app.config.update(config)
    app.extensions["loa.clock"] = app.config.get("CLOCK") or SystemClock()
    register_extensions(app)
    register_push(app)
    register_converters(app)
    register_blueprints(app)
    register_cli(app)
    register_errorhandlers(app)
    register_request_hooks(app)
    register_template_helpers(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the extension objects to the app."""
    from app import models  # noqa: F401  (registers every model with the metadata)

    db.init_app(app)
    from app.scripts.models import include_in_migrations

    migrate.init_app(
        app, db, directory=str(ROOT / "migrations"), include_name=include_in_migrations
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Vui lòng đăng nhập để tiếp tục."
    login_manager.login_message_category = "info"
    # "basic", not "strong": phones on 4G change address often and would be logged out.
    login_manager.session_protection = "basic"
    limiter.init_app(app)


def register_push(app: Flask) -> None:
    """Wake station agents through the MQTT broker when their plan changes (app/push.py)."""
    from app import push

    push.init_app(app)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite: enforce foreign keys, use WAL, and wait for locks instead of failing.

    A station agent's database (app.station_agent.local.CacheConnection) holds only some of
    the server's rows, so it leaves foreign keys off.
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        if getattr(dbapi_connection, "loa_foreign_keys", True):
            cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


class BoundedIntConverter(IntegerConverter):
    """<int:…> path ids past an INTEGER column's range (32 bits on PostgreSQL) read as 0, an id
    no row has (ids and version numbers start at 1), so the route answers its own 404 instead
    of the database's overflow error."""

    MAX = 2**31 - 1

    def to_python(self, value: str) -> int:
        """The id, or 0 when it is larger than any id can be."""
        digits = value.lstrip("0")
        if len(digits) > len(str(self.MAX)) or int(digits or 0) > self.MAX:
            return 0
        return super().to_python(value)


class Sha256Converter(BaseConverter):
    """<sha256:…>: 64 lower-case hex digits (audio is named by its sha256); anything else is
    an unknown path (404)."""

    regex = "[0-9a-f]{64}"


def register_converters(app: Flask) -> None:
    """URL converters the routes use; set before the blueprints add their rules."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.url_map.converters["sha256"] = Sha256Converter


def register_blueprints(app: Flask) -> None:
    """Mount every domain's views and the API."""
    from app.agents.views import bp as agents_bp
    from app.api import agent_broker  # noqa: F401  (adds GET /api/v1/agent/broker to it)
    from app.api import bp as api_bp
    from app.api.agent import bp as agent_api_bp
    from app.audit.views import bp as audit_bp
    from app.auth.views import bp as auth_bp
    from app.dispatches import report_views, views  # noqa: F401  (their routes join the bp)
    from app.dispatches.blueprint import bp as dispatches_bp
    from app.library.views import bp as library_bp
    from app.org.views import bp as org_bp
    from app.portal import views as portal_views  # noqa: F401  (its routes join the bp)
    from app.portal.blueprint import bp as portal_bp
    from app.programmes.views import bp as programmes_bp
    from app.reports.views import bp as reports_bp
    from app.schedules.console import bp as playout_bp
    from app.schedules.views import bp as schedules_bp
    from app.scripts.views import bp as scripts_bp
    from app.speech.recording_views import bp as recordings_bp
    from app.speech.views import bp as speech_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(scripts_bp)
    app.register_blueprint(org_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(speech_bp)
    app.register_blueprint(recordings_bp)
    app.register_blueprint(schedules_bp)
    app.register_blueprint(playout_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(agents_bp)
    app.register_blueprint(dispatches_bp)
    app.register_blueprint(library_bp)
    app.register_blueprint(programmes_bp)
    app.register_blueprint(portal_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(agent_api_bp)
    csrf.exempt(api_bp)
    csrf.exempt(agent_api_bp)


def register_cli(app: Flask) -> None:
    """Add the flask sub-commands."""
    from app.agents.cli import agents_cli
    from app.auth.cli import users_cli
    from app.broadcast.cli import logs_cli
    from app.demo.cli import demo_cli
    from app.dispatches.cli import dispatches_cli
    from app.library.cli import library_cli
    from app.org.cli import units_cli
    from app.push_cli import broker_cli
    from app.schedules.cli import scheduler_cli, schedules_cli
    from app.scripts.cli import scripts_cli
    from app.speech.cli import speech_cli

    groups = (
        users_cli,
        units_cli,
        scripts_cli,
        speech_cli,
        scheduler_cli,
        schedules_cli,
        logs_cli,
        agents_cli,
        broker_cli,
        dispatches_cli,
        library_cli,
        demo_cli,
    )
    for group in groups:
        app.cli.add_command(group)


def _wants_json() -> bool:
    """API paths and the upward feed (app/portal/upward.py) answer errors in JSON."""
    return request.path.startswith(("/api/", "/feed/"))


def register_errorhandlers(app: Flask) -> None:
    """Render domain errors, CSRF failures and HTTP errors as pages or JSON."""
    from app.api.errors import json_error

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        if _wants_json():
            return json_error(exc.code, exc.message, exc.status, exc.fields)
        return render_template("error.html", message=exc.message, status=exc.status), exc.status

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        message = (
            "Biểu mẫu đã hết hạn hoặc không hợp lệ (mã chống giả mạo CSRF sai). "
            "Không có gì được lưu; hãy tải lại trang và thử lại."
        )
        return render_template("error.html", message=message, status=400), 400

    for status, message in {
        400: "Yêu cầu không hợp lệ.",
        403: "Bạn không có quyền làm việc này.",
        404: "Không tìm thấy trang.",
        405: "Phương thức không được hỗ trợ.",
        413: "Dữ liệu gửi lên quá lớn.",
        416: "Khoảng byte yêu cầu (Range) nằm ngoài tệp.",
        500: "Lỗi hệ thống. Dữ liệu chưa được thay đổi; hãy thử lại hoặc báo quản trị viên.",
    }.items():

        def handler(exc, status=status, message=message):
            if _wants_json():
                response = json_error(f"http_{status}", message, status)
            else:
                response = app.make_response(
                    (render_template("error.html", message=message, status=status), status)
                )
            length = getattr(exc, "length", None)
            if status == 416 and length is not None:
                # RFC 9110: a refused Range names the file's length, so a client can resume.
                response.headers["Content-Range"] = f"bytes */{length}"
            return response

        app.register_error_handler(status, handler)


def register_request_hooks(app: Flask) -> None:
    """Security headers, no caching of pages, and the forced password change."""

    @app.before_request
    def force_password_change():
        if (
            current_user.is_authenticated
            and current_user.must_change_password
            and request.endpoint not in {"auth.change_password", "auth.logout", "static"}
            and not request.path.startswith("/api/")
        ):
            flash("Bạn cần đổi mật khẩu trước khi tiếp tục.", "warning")
            return redirect(url_for("auth.change_password"))
        return None

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # Pages and API answers may show private data (a new API token, a unit's scripts): no
        # copy in any cache. Static files, and files a view marks private itself (audio by
        # its sha256), keep their own caching; so do the public portal's pages, feeds and
        # audio, which a view marks public (they hold only approved, public announcements).
        cache = response.cache_control
        if request.endpoint != "static" and not (cache.private or cache.public):
            response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'",
        )
        return response


def register_template_helpers(app: Flask) -> None:
    """Filters and globals for showing times in Asia/Ho_Chi_Minh, numbers and log reasons, and
    checking permissions."""
    from app.auth.permissions import Permission, can
    from app.core.clock import to_local

    @app.template_filter("localtime")
    def localtime(value, fmt: str = "%d/%m/%Y %H:%M"):
        return to_local(value).strftime(fmt) if value else ""

    @app.template_filter("vndate")
    def vndate(value):
        return value.strftime("%d/%m/%Y") if value else ""

    @app.template_filter("thousands")
    def thousands(value: int) -> str:
        return f"{value:,}".replace(",", ".")

    @app.template_filter("without_status")
    def without_status(reason: str | None, label: str) -> str:
        """A log row's reason shown beside its status badge: without a leading "<status>:"
        (the runner writes "bỏ lỡ: trễ …"), which the badge already says."""
        text = reason or ""
        head, colon, rest = text.partition(":")
        same = unicodedata.normalize("NFC", head.strip()).casefold() == (
            unicodedata.normalize("NFC", label.strip()).casefold()
        )
        return rest.strip() if colon and same else text

    app.jinja_env.globals.update(can=can, Permission=Permission)
