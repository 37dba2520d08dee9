"""A small TCP proxy on 127.0.0.1 the fault tests switch: pass traffic, refuse connections
(the link is down), cut a connection after a number of bytes in either direction (the link
drops mid-download or mid-upload), or act on one request by its first line: cut it short,
drop its response, or hold its response back (the server has answered, the agent never
hears it)."""

from __future__ import annotations

import contextlib
import socket
import threading

CUT_REQUEST = "cut_request"  # forward the request line and a little more, then cut
DROP_RESPONSE = "drop_response"  # forward the request; cut the link as the answer comes
HOLD_RESPONSE = "hold_response"  # forward the request; keep the link open, answer held back


class Proxy:
    """Forwards 127.0.0.1:<port> to the target port, one thread pair per connection."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.up = True
        # Cut the first connection that carries more than this many bytes from the server
        # (download) or to the server (upload), then disarm. None: no cut.
        self.cut_download_after: int | None = None
        self.cut_upload_after: int | None = None
        self.cuts = 0
        # {b"POST /api/v1/agent/log": CUT_REQUEST, ...}: the next request starting with the
        # key gets that treatment, once (the entry is removed as it fires).
        self.on_request: dict[bytes, str] = {}
        # Set when a held response arrived from the server (it has answered).
        self.held = threading.Event()
        # The first line of every request seen, in order.
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            connection = {"response": ""}  # what to do with the response now on its way
            for source, sink, which in (
                (client, server, "cut_upload_after"),
                (server, client, "cut_download_after"),
            ):
                threading.Thread(
                    target=self._pipe,
                    args=(source, sink, which, client, server, connection),
                    daemon=True,
                ).start()

    def _requests_in(self, data: bytes, connection: dict) -> bytes | None:
        """Note the requests starting in data; the bytes to forward when one is cut short."""
        for line in data.split(b"\r\n"):
            if line.split(b" ", 1)[0] not in (b"GET", b"POST", b"PUT", b"DELETE", b"HEAD"):
                continue
            self.requests.append(line.decode("latin-1"))
            with self._lock:
                marker = next((m for m in self.on_request if line.startswith(m)), None)
                action = self.on_request.pop(marker, None) if marker else None
            if action == CUT_REQUEST:
                return data[: data.index(line) + len(line) + 200]
            if action in (DROP_RESPONSE, HOLD_RESPONSE):
                connection["response"] = action
        return None

    def _pipe(self, source, sink, which: str, client, server, connection: dict) -> None:
        sent = 0
        limit = getattr(self, which)
        upload = which == "cut_upload_after"
        try:
            while True:
                data = source.recv(16384)
                if not data:
                    break
                if upload:
                    short = self._requests_in(data, connection)
                    if short is not None:
                        sink.sendall(short)
                        self.cuts += 1
                        break
                elif connection["response"] == DROP_RESPONSE:
                    self.cuts += 1
                    break
                elif connection["response"] == HOLD_RESPONSE:
                    self.held.set()
                    continue  # swallowed: the client waits for an answer that never comes
                if limit is not None and sent + len(data) > limit:
                    with self._lock:
                        armed = getattr(self, which) == limit
                        setattr(self, which, None)
                    if armed:
                        sink.sendall(data[: max(0, limit - sent)])
                        self.cuts += 1
                        break
                    limit = None
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        """Stop accepting."""
        self._closed.set()
        self.listener.close()
