"""A small TCP proxy on 127.0.0.1 the fault tests switch: pass traffic, refuse connections
(the link is down), or cut a connection after a number of bytes in either direction (the
link drops mid-download or mid-upload)."""

from __future__ import annotations

import contextlib
import socket
import threading


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
            for source, sink, which in (
                (client, server, "cut_upload_after"),
                (server, client, "cut_download_after"),
            ):
                threading.Thread(
                    target=self._pipe, args=(source, sink, which, client, server), daemon=True
                ).start()

    def _pipe(self, source, sink, which: str, client, server) -> None:
        sent = 0
        limit = getattr(self, which)
        try:
            while True:
                data = source.recv(16384)
                if not data:
                    break
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
