"""A local fake of Google Translate's batchexecute TTS endpoint, speaking gTTS 2.5.4's protocol."""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import socket
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import imageio_ffmpeg

TONE_SECONDS = 0.5

# What the server does for one request.
OK = "ok"
TOO_MANY = "429"
SERVER_ERROR = "500"
FORBIDDEN = "403"
TIMEOUT = "timeout"  # answers only after the client has given up
EMPTY = "empty"  # a well-formed answer whose audio is 0 bytes
NO_AUDIO = "no-audio"  # a well-formed answer without the audio entry


@functools.cache
def tone_mp3() -> bytes:
    """Return a real half-second MP3 tone, encoded once per test session with ffmpeg."""
    return subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={TONE_SECONDS}",
            "-ac",
            "1",
            "-ar",
            "24000",
            "-b:a",
            "64k",
            "-f",
            "mp3",
            "pipe:1",
        ],
        check=True,
        capture_output=True,
    ).stdout


def batchexecute_body(audio: bytes | None) -> bytes:
    """Return a response body shaped like Google's: the )]}' guard, a length, then jspb arrays."""
    if audio is None:
        entries = [["wrb.fr", "jQ1olc", None, None, None, [3], "generic"]]
    else:
        payload = json.dumps([base64.b64encode(audio).decode("ascii")], separators=(",", ":"))
        entries = [["wrb.fr", "jQ1olc", payload, None, None, None, "generic"]]
    entries += [["di", 42], ["af.httprm", 41, "-1234567890", 7]]
    line = json.dumps(entries, separators=(",", ":"))
    return f')]}}\'\n\n{len(line)}\n{line}\n25\n[["e",4,null,null,{len(line)}]]\n'.encode()


@dataclass
class Received:
    """One request as the server decoded it."""

    text: str
    lang: str
    slow: bool | None


@dataclass
class FakeGoogle:
    """State shared between the test and the handler threads."""

    plan: list[str] = field(default_factory=lambda: [OK])
    received: list[Received] = field(default_factory=list)
    delay: float = 1.0
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    connections: set[socket.socket] = field(default_factory=set)

    def set_plan(self, *steps: str) -> None:
        """Answer the next requests with these steps in order; the last one then repeats."""
        with self.lock:
            self.plan = list(steps)

    def next_step(self) -> str:
        """Take the next planned answer."""
        with self.lock:
            return self.plan.pop(0) if len(self.plan) > 1 else self.plan[0]

    @property
    def texts(self) -> list[str]:
        """The chunk texts received, in order."""
        return [r.text for r in self.received]


def _handler(state: FakeGoogle) -> type[BaseHTTPRequestHandler]:
    """Build a request handler class bound to the shared state."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 5  # a stuck connection must not hold up server_close() for long

        def setup(self):
            """Remember the connection so teardown can end it while it idles in keep-alive."""
            super().setup()
            with state.lock:
                state.connections.add(self.connection)

        def finish(self):
            """Forget the connection."""
            with state.lock:
                state.connections.discard(self.connection)
            super().finish()

        def log_message(self, format, *args):
            """Keep test output quiet."""

        def do_POST(self):
            """Decode gTTS's f.req form field, record it and answer as planned."""
            length = int(self.headers.get("Content-Length", 0))
            form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8"))
            rpc = json.loads(form["f.req"][0])
            text, lang, slow, _ = json.loads(rpc[0][0][1])
            with state.lock:
                state.received.append(Received(text, lang, slow))
            step = state.next_step()
            if step == TIMEOUT:
                # Wait past the client's timeout; the fixture releases us at teardown.
                if state.released.wait(state.delay):
                    self.close_connection = True
                    return
                step = OK
            if step in {TOO_MANY, SERVER_ERROR, FORBIDDEN}:
                self._send(int(step), b"error", "text/plain")
            elif step == EMPTY:
                self._send(200, batchexecute_body(b""))
            elif step == NO_AUDIO:
                self._send(200, batchexecute_body(None))
            else:
                self._send(200, batchexecute_body(tone_mp3()))

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            """Write a complete response."""
            self.send_response(status)
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def running_fake_google() -> Iterator[FakeGoogle]:
    """Run the fake on 127.0.0.1 at a free port in a thread; stop and close it afterwards."""
    state = FakeGoogle()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = False  # so server_close() joins the handler threads
    host, port = server.server_address[:2]
    state.url = f"http://{host}:{port}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-google", daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        state.released.set()
        server.shutdown()
        # urllib3 2.8 closes a session's pooled sockets only when they are garbage collected,
        # so end idle keep-alive connections from this side.
        with state.lock:
            for conn in state.connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        thread.join()


def closed_port_url() -> str:
    """Return a URL on 127.0.0.1 where nothing listens, so connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
