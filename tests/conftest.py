"""Fixtures: a fresh database per test, data folders in tmp_path, a clock that only moves
when told, and a logged-in client per role."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text
from werkzeug.routing import Rule

from app import create_app
from app.auth.models import Role, User
from app.core.clock import FixedClock
from app.extensions import db
from app.org.models import Unit
from tests.factories import PASSWORD, make_unit, make_user


def _worker_database(url: str | None) -> str | None:
    """The PostgreSQL test database of this pytest-xdist worker: loa_test_gw0 for loa_test,
    made on first use (the role may create databases). Without xdist, the URL as given."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            found = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not found:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


TEST_DATABASE_URL = _worker_database(os.environ.get("TEST_DATABASE_URL"))


def _reset_postgres() -> None:
    """Drop everything in the public schema of the test database."""
    global _postgres_schema_ready
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    _postgres_schema_ready = False


# Building the schema (tables, triggers, search functions) takes most of a second on
# PostgreSQL. Emptying it with one TRUNCATE of every table takes 100-250 ms (new files for each
# table and index), which was a quarter of the PostgreSQL pass; a test writes to a few tables
# only, so those are found (one EXISTS query) and emptied by one statement of DELETEs (the
# foreign keys are checked at its end, so cycles such as scripts and renders are no matter),
# the append-only triggers set aside for it, and the sequences used are set back to 1.
_postgres_schema_ready = False
_postgres_reset_sql: tuple[str, frozenset[str]] | None = None


def _postgres_reset_plan(conn) -> tuple[str, frozenset[str]]:
    """The query naming the tables holding rows, and the tables with an append-only trigger."""
    tables = conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
    query = " UNION ALL ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")" for name in sorted(tables)
    )
    guarded = conn.scalars(
        text("SELECT tgname FROM pg_trigger WHERE tgname LIKE '%\\_append\\_only'")
    )
    return query, frozenset(name.removesuffix("_append_only") for name in guarded)


def _fresh_postgres() -> None:
    """Give the test an empty database: the schema built once, the tables written emptied."""
    global _postgres_schema_ready, _postgres_reset_sql
    if not _postgres_schema_ready:
        _reset_postgres()
        db.create_all()
        _postgres_schema_ready = True
        _postgres_reset_sql = None
        return
    with db.engine.begin() as conn:
        if _postgres_reset_sql is None:
            _postgres_reset_sql = _postgres_reset_plan(conn)
        query, guarded = _postgres_reset_sql
        dirty = sorted(conn.scalars(text(query)))
        if not dirty:
            return
        for name in guarded.intersection(dirty):
            conn.execute(text(f'ALTER TABLE "{name}" DISABLE TRIGGER "{name}_append_only"'))
        deletes = ", ".join(f'd{n} AS (DELETE FROM "{name}")' for n, name in enumerate(dirty))
        conn.execute(text(f"WITH {deletes} SELECT 1"))
        for name in guarded.intersection(dirty):
            conn.execute(text(f'ALTER TABLE "{name}" ENABLE TRIGGER "{name}_append_only"'))
        conn.execute(
            text(
                "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false) "
                "FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL"
            )
        )


# Creating the schema on SQLite (tables, indexes, the search index's triggers) takes about 60 ms;
# copying a file that already holds it takes well under one. The first test of each process
# builds the template; every test after gets its own copy of it.
_sqlite_template: Path | None = None


def _sqlite_from_template(path: Path) -> bool:
    """Copy the schema template to path, if this process has one yet."""
    if _sqlite_template is None:
        return False
    shutil.copyfile(_sqlite_template, path)
    return True


def _keep_sqlite_template(app, path: Path) -> None:
    """Create the schema in the app's database at path and keep a copy as the template."""
    global _sqlite_template
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    template = Path(tempfile.mkdtemp(prefix="loa-schema-")) / "template.sqlite3"
    shutil.copyfile(path, template)
    _sqlite_template = template


# Every test builds its app, and Werkzeug compiles a URL builder for each of the app's ~640
# rules (an AST, compiled and executed: about 100 ms an app). The builder is a plain function
# of the rule's parts (its converters are looked up on the rule it is bound to), so rules with
# the same parts can share one: build each once per process. Test-only; the server builds its
# app once.
_BUILDERS: dict[tuple, object] = {}
_compile_builder = Rule._compile_builder


def _shared_builder(self, append_unknown: bool = True):
    defaults = self.defaults or {}
    if any(dynamic and name in defaults for dynamic, name in self._trace):
        return _compile_builder(self, append_unknown)  # a default the converter writes in
    # The builder's signature names every default's key too.
    key = (append_unknown, tuple(self._trace), tuple(sorted(map(str, defaults))))
    builder = _BUILDERS.get(key)
    if builder is None:
        builder = _BUILDERS[key] = _compile_builder(self, append_unknown)
    return builder


Rule._compile_builder = _shared_builder


class IsolatedClient(FlaskClient):
    """A test client that starts every request with an empty flask.g.

    Tests keep one app context pushed, which requests reuse; without this, the user and CSRF
    token cached for one request would leak into the next, unlike in production.
    """

    def open(self, *args, **kwargs):
        for name in list(g):
            g.pop(name)
        return super().open(*args, **kwargs)


def build_test_app(tmp_path, clock: FixedClock, **overrides):
    """An app on a fresh database whose data folders live in tmp_path."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": tmp_path / "instance",
        "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'loa.sqlite3'}",
        "SCRIPTS_DIR": tmp_path / "scripts_vi",
        "SCHEDULES_DIR": tmp_path / "schedules",
        "AUDIO_DIR": tmp_path / "audio",
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        # Tests log in many times from 127.0.0.1; tests/auth turns throttling on where it is the
        # point (its `limited` fixture), each app starting with empty counters.
        "RATELIMIT_ENABLED": False,
        "CLOCK": clock,
        **overrides,
    }
    default_sqlite = not TEST_DATABASE_URL and "SQLALCHEMY_DATABASE_URI" not in overrides
    copied = default_sqlite and _sqlite_from_template(tmp_path / "loa.sqlite3")
    app = create_app(config)
    app.test_client_class = IsolatedClient
    if copied:
        return app
    if default_sqlite:
        _keep_sqlite_template(app, tmp_path / "loa.sqlite3")
        return app
    with app.app_context():
        if TEST_DATABASE_URL:
            _fresh_postgres()
        else:
            db.create_all()
    return app


@pytest.fixture
def clock() -> FixedClock:
    """A clock at 08:00 on 27/11/2026 in Vietnam (01:00 UTC)."""
    return FixedClock(datetime(2026, 11, 27, 1, 0, tzinfo=UTC))


@pytest.fixture
def app(tmp_path, clock):
    """The application with an app context pushed for the whole test."""
    app = build_test_app(tmp_path, clock)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner."""
    return app.test_cli_runner()


@dataclass
class Org:
    """A small tree: province > district > commune, and a sibling district."""

    province: Unit
    district: Unit
    commune: Unit
    other_district: Unit


@pytest.fixture
def org(app) -> Org:
    """The unit tree most tests use."""
    province = make_unit("P", "Tỉnh Bình Thuận", level="Tỉnh")
    district = make_unit("D", "Thành phố Phan Thiết", parent=province, level="Thành phố")
    commune = make_unit("C", "Phường Phú Thủy", parent=district, level="Phường")
    other = make_unit("D2", "Thị xã La Gi", parent=province, level="Thị xã")
    return Org(province, district, commune, other)


@pytest.fixture
def users(org) -> dict[str, User]:
    """One user per role in the district, a supervisor above it, a writer elsewhere."""
    return {
        "writer": make_user(org.district, Role.WRITER, "writer"),
        "writer2": make_user(org.district, Role.WRITER, "writer2"),
        "operator": make_user(org.district, Role.OPERATOR, "operator"),
        "supervisor": make_user(org.province, Role.SUPERVISOR, "supervisor"),
        "supervisor2": make_user(org.district, Role.SUPERVISOR, "supervisor2"),
        "admin": make_user(org.province, Role.ADMIN, "admin"),
        "outsider": make_user(org.other_district, Role.WRITER, "outsider"),
        "outside_supervisor": make_user(org.other_district, Role.SUPERVISOR, "outsup"),
    }


def login(client, username: str, password: str = PASSWORD):
    """Log a test client in through the real login form."""
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def login_as(app, users):
    """Return a fresh client logged in as the named fixture user."""

    def _login(name: str):
        return login(app.test_client(), users[name].username)

    return _login


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Shout when tests were skipped because a system program is missing (Chromium, Icecast,
    espeak-ng): their reasons say "NOT INSTALLED". Read from the reports, so it also works
    when pytest-xdist runs the tests in other processes."""
    missing = set()
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        if "NOT INSTALLED" in reason:
            missing.add(reason.removeprefix("Skipped: "))
    for reason in sorted(missing):
        terminalreporter.write_line("!" * 20 + f" {reason} " + "!" * 20, red=True, bold=True)
