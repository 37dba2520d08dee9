"""The production path of deploy/ and docs/deploy.md, run for real on 127.0.0.1.

A fresh database is set up with the commands docs/deploy.md gives the district IT officer, the
web app runs under gunicorn with the repository's config and two workers, and (when nginx is
installed; CI installs it) nginx serves the repository's site in front of it over HTTPS with a
throw-away certificate. The systemd units' commands are the project's real commands.
"""

from __future__ import annotations

import getpass
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VENV_BIN = Path(sys.executable).parent
PASSWORD = "Kiem-tra-trien-khai-2026"
NGINX_MISSING = "NGINX NOT INSTALLED: the nginx site NOT tested; apt-get install nginx"
OPENSSL_MISSING = "OPENSSL NOT INSTALLED: the nginx site NOT tested; apt-get install openssl"

pytestmark = pytest.mark.xdist_group("deploy")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, what: str) -> None:
    """Wait until something listens on the port (the server's own start-up, not a clock)."""
    for _ in range(600):
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port}")


def _flask(env: dict, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def server_env(tmp_path_factory) -> dict:
    """A server set up as docs/deploy.md says: migrate, a unit, an admin."""
    data = tmp_path_factory.mktemp("loa-data")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{data / 'loa.sqlite3'}",
        "SECRET_KEY": "deploy-test-only-" + os.urandom(8).hex(),
        "LOA_INSTANCE_PATH": str(data / "instance"),
        "AUDIO_DIR": str(data / "audio"),
        "PROXY_FIX": "true",
        "SESSION_COOKIE_SECURE": "false",
        "RATELIMIT_ENABLED": "false",
    }
    env.pop("TEST_DATABASE_URL", None)
    _flask(env, "db", "upgrade")
    _flask(env, "units", "create", "BT", "Tỉnh Bình Thuận", "--level", "Tỉnh")
    _flask(
        env,
        "users",
        "create",
        "quantri",
        "--role",
        "admin",
        "--unit",
        "BT",
        "--password-stdin",
        "--no-must-change",
        stdin=PASSWORD + "\n",
    )
    return env


@pytest.fixture(scope="module")
def gunicorn(server_env):
    """gunicorn with deploy/gunicorn.conf.py and two workers; yields its port."""
    port = _free_port()
    env = {**server_env, "LOA_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"}
    proc = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_port(port, proc, "gunicorn")
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
        print(output)


class Browser:
    """Cookies and CSRF tokens over real HTTP, as a browser keeps them."""

    def __init__(self, base: str, context: ssl.SSLContext | None = None) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        handlers = [urllib.request.HTTPCookieProcessor(self.jar)]
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self.opener = urllib.request.build_opener(*handlers)

    def get(self, path: str):
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.status, response.url, response.read().decode(), response.headers

    def post(self, path: str, data: dict):
        body = urllib.parse.urlencode(data).encode()
        # Over HTTPS the CSRF check also wants the Referer a browser sends (same origin).
        request = urllib.request.Request(
            self.base + path, body, headers={"Referer": self.base + path}
        )
        with self.opener.open(request, timeout=30) as response:
            return response.status, response.url, response.read().decode(), response.headers

    def csrf(self, page: str) -> str:
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    def log_in(self) -> str:
        _, _, page, _ = self.get("/login")
        _, url, page, _ = self.post(
            "/login",
            {"csrf_token": self.csrf(page), "username": "quantri", "password": PASSWORD},
        )
        return url


def _signed_in_everywhere(browser: Browser, times: int = 12) -> list[str]:
    """The URL each of several page loads ends on (both workers answer some of them)."""
    return [browser.get("/scripts")[1] for _ in range(times)]


def test_gunicorn_with_the_repositorys_config_serves_signed_in_pages(gunicorn):
    browser = Browser(f"http://127.0.0.1:{gunicorn}")
    status, _, page, headers = browser.get("/login")
    assert status == 200
    assert "Đăng nhập" in page
    assert browser.log_in().endswith("/scripts")
    # Sessions live in the database, so whichever worker answers knows the user.
    assert all(url.endswith("/scripts") for url in _signed_in_everywhere(browser))
    _, _, page, headers = browser.get("/scripts")
    assert headers["Cache-Control"] == "no-store"
    # Logging out on one worker ends the session on all of them.
    browser.post("/logout", {"csrf_token": browser.csrf(page)})
    assert all("/login" in url for url in _signed_in_everywhere(browser, 6))


def test_the_systemd_units_run_the_projects_real_commands(server_env):
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert [unit.name for unit in units] == [
        "loa-agent.service",
        "loa-runner.service",
        "loa-web.service",
        "loa-worker@.service",
    ]
    for unit in units:
        text = unit.read_text()
        # The agent needs nothing of the server: no environment file, no database.
        server_side = unit.name != "loa-agent.service"
        assert ("EnvironmentFile=/etc/loa/loa.env" in text) == server_side
        assert "User=loa" in text and "NoNewPrivileges=true" in text
        for line in re.findall(r"^ExecStart(?:Pre)?=(.+)$", text, re.MULTILINE):
            args = line.replace("/opt/loa/.venv/bin/", str(VENV_BIN) + "/").split()
            if Path(args[0]).name == "gunicorn":
                args = [*args[:-1], "--check-config", args[-1]]
            elif args[-2:] == ["db", "upgrade"]:
                args = [*args[:-1], "--help"]
            else:
                args.append("--help")
            done = subprocess.run(
                args, cwd=ROOT, env=server_env, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, (unit.name, line, done.stdout + done.stderr)


def test_the_example_environment_holds_no_secret():
    text = (DEPLOY / "loa.env.example").read_text()
    assert re.search(r"^SECRET_KEY=CHANGE-ME$", text, re.MULTILINE)
    assert "loa:CHANGE-ME@" in text


@pytest.fixture(scope="module")
def nginx(gunicorn, tmp_path_factory):
    """nginx with deploy/nginx/loa.conf in front of gunicorn, on free ports; yields the HTTPS
    port. Only the ports, the certificate and the repository's path are changed."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.skip(NGINX_MISSING)
    if shutil.which("openssl") is None:
        pytest.skip(OPENSSL_MISSING)
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    work = tmp_path_factory.mktemp("nginx")
    openssl = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=loa.example.vn"
    subprocess.run(
        [*openssl.split(), "-keyout", str(work / "key.pem"), "-out", str(work / "cert.pem")],
        check=True,
        capture_output=True,
    )
    http_port, https_port = _free_port(), _free_port()
    site = (DEPLOY / "nginx" / "loa.conf").read_text()
    site = (
        site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        .replace("listen [::]:80;", "")
        .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
        .replace("listen [::]:443 ssl http2;", "")
        .replace("/etc/letsencrypt/live/loa.example.vn/fullchain.pem", str(work / "cert.pem"))
        .replace("/etc/letsencrypt/live/loa.example.vn/privkey.pem", str(work / "key.pem"))
        .replace("http://127.0.0.1:8000", f"http://127.0.0.1:{gunicorn}")
        .replace("/opt/loa/", f"{ROOT}/")
    )
    (work / "loa.conf").write_text(site)
    (work / "nginx.conf").write_text(
        # Workers run as this user: the checkout may be readable by its owner only.
        f"""
user {getpass.getuser()};
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{}}
http {{
    include /etc/nginx/mime.types;
    access_log {work}/access.log;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    include {work}/loa.conf;
}}
"""
    )
    conf = ["-p", str(work), "-c", str(work / "nginx.conf")]
    checked = subprocess.run([nginx_bin, "-t", *conf], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen([nginx_bin, "-g", "daemon off;", *conf])
    try:
        _wait_for_port(https_port, proc, "nginx")
        yield http_port, https_port
    finally:
        proc.send_signal(signal.SIGQUIT)
        proc.wait(timeout=30)


def test_nginx_site_serves_loa_over_https_and_redirects_http(nginx):
    http_port, https_port = nginx
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    browser = Browser(f"https://127.0.0.1:{https_port}", context)
    status, _, page, headers = browser.get("/login")
    assert status == 200 and "Đăng nhập" in page
    assert headers["Strict-Transport-Security"] == "max-age=31536000"
    assert browser.log_in().endswith("/scripts")
    _, _, css, headers = browser.get("/static/css/loa.css")
    assert headers["Expires"] and css
    # Plain HTTP is sent to HTTPS.
    request = urllib.request.Request(f"http://127.0.0.1:{http_port}/login")
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as moved:
        opener.open(request, timeout=30)
    moved.value.close()
    assert moved.value.code == 301
    assert moved.value.headers["Location"] == "https://127.0.0.1/login"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
