"""The agent's calls to the server's /api/v1/agent/ endpoints (docs/api.md, "Máy trạm").

Every call has a timeout, so a link that hangs costs a sync, never the airing; a failure is
a ServerError whose message says what happened, and whether trying again later can help.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from app import __version__ as APP_VERSION

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0
# Small enough that a link cut mid-file keeps most of what arrived (a read is all or nothing).
CHUNK = 16 * 1024
USER_AGENT = f"loa-station-agent/{APP_VERSION}"


class ServerError(Exception):
    """A call that did not succeed. retry: whether trying again later may help (the link,
    the server being down) or not (a revoked credential, a refused batch)."""

    def __init__(
        self, message: str, *, status: int | None = None, code: str = "", retry: bool = True
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry = retry


class BadDownload(ServerError):
    """A downloaded file whose sha256 is not the one the plan names; it was discarded."""


@dataclass(frozen=True)
class Plan:
    """The plan as fetched: None when the server answered 304 (the agent's copy is current)."""

    document: dict[str, Any] | None
    etag: str


def _error(response: requests.Response) -> ServerError:
    """A ServerError from the server's JSON error ({error, message, fields})."""
    try:
        body = response.json()
        message, code = body.get("message") or "", body.get("error") or ""
    except ValueError:
        message, code = "", ""
    status = response.status_code
    message = message or f"Máy chủ trả lời {status}."
    # 401/403: the credential was revoked or is wrong; 409/413/422: the request itself is
    # refused. Trying again will not change that; anything else (5xx, 429) may pass later.
    retry = status >= 500 or status == 429
    return ServerError(message, status=status, code=code, retry=retry)


class Client:
    """The agent's HTTP client for one server."""

    def __init__(self, server: str, credential: str = "", session=None) -> None:
        self.server = server.rstrip("/")
        self.credential = credential
        self.http = session or requests.Session()
        self.http.headers["User-Agent"] = USER_AGENT

    def _url(self, path: str) -> str:
        return f"{self.server}/api/v1/agent/{path}"

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.credential:
            headers["Authorization"] = f"Bearer {self.credential}"
        try:
            return self.http.request(
                method,
                self._url(path),
                headers=headers,
                timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
                **kwargs,
            )
        except requests.RequestException as exc:
            raise ServerError(f"Không kết nối được máy chủ {self.server}: {exc}") from exc

    def enrol(self, code: str) -> dict[str, Any]:
        """Trade the one-time code for the agent's credential."""
        response = self._call("POST", "enrol", json={"code": code})
        if response.status_code != 201:
            raise _error(response)
        return response.json()

    def plan(self, days: int, etag: str = "") -> Plan:
        """The station's plan, or Plan(None, etag) when the copy with that ETag is current."""
        headers = {"If-None-Match": f'"{etag}"'} if etag else {}
        response = self._call("GET", "plan", params={"days": days}, headers=headers)
        if response.status_code == 304:
            return Plan(None, etag)
        if response.status_code != 200:
            raise _error(response)
        try:
            document = response.json()
        except ValueError as exc:
            raise ServerError("Lịch phát nhận về không phải JSON; thử lại sau.") from exc
        # The ETag is the sha256 of the exact bytes: check it, so a cut link never leaves a
        # truncated plan applied.
        received = response.headers.get("ETag", "").strip('"')
        if received and hashlib.sha256(response.content).hexdigest() != received:
            raise ServerError("Lịch phát nhận về không khớp ETag (đường truyền lỗi); thử lại.")
        return Plan(document, received)

    def download(self, sha256: str, partial: Path, target: Path) -> int:
        """Fetch the audio file with this sha256 to target, resuming partial; bytes fetched.

        The file is kept only if its sha256 matches: otherwise it is deleted and BadDownload
        raised (the next sync fetches it again from the start).
        """
        have = partial.stat().st_size if partial.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        response = self._call("GET", f"audio/{sha256}", headers=headers, stream=True)
        fetched = 0
        with response:
            if response.status_code == 416:  # the partial file is already whole (or wrong)
                have = 0 if not self._complete(partial, sha256) else have
            elif response.status_code == 200:
                have = 0
            elif response.status_code != 206:
                raise _error(response)
            if response.status_code in (200, 206):
                mode = "ab" if response.status_code == 206 else "wb"
                try:
                    with partial.open(mode) as handle:
                        for chunk in response.iter_content(CHUNK):
                            handle.write(chunk)
                            fetched += len(chunk)
                        handle.flush()
                        os.fsync(handle.fileno())
                except requests.RequestException as exc:
                    raise ServerError(f"Tải tệp âm thanh bị ngắt giữa chừng: {exc}") from exc
        if not self._complete(partial, sha256):
            partial.unlink(missing_ok=True)
            raise BadDownload(
                f"Tệp âm thanh tải về không khớp mã sha256 {sha256[:12]}…; đã bỏ, sẽ tải lại.",
                code="sha256_mismatch",
            )
        os.replace(partial, target)
        return fetched

    @staticmethod
    def _complete(path: Path, sha256: str) -> bool:
        if not path.is_file():
            return False
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                digest.update(chunk)
        return digest.hexdigest() == sha256

    def log_head(self) -> dict[str, Any]:
        """The station's chain head as the server holds it."""
        response = self._call("GET", "log")
        if response.status_code != 200:
            raise _error(response)
        return response.json()

    def upload(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Send a batch of log rows; the server's answer (accepted, duplicates, head)."""
        response = self._call("POST", "log", json={"rows": rows})
        if response.status_code != 200:
            raise _error(response)
        return response.json()

    def release(self, head_seq: int) -> dict[str, Any]:
        """Hand a station switched back to central over, once every row up to head_seq is up."""
        response = self._call("POST", "release", json={"head_seq": head_seq})
        if response.status_code != 200:
            raise _error(response)
        return response.json()

    def health(self, report: dict[str, Any]) -> None:
        """Report the agent's health."""
        response = self._call("POST", "health", json=report)
        if response.status_code not in (200, 204):
            raise _error(response)
