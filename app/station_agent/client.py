"""The agent's calls to the server's /api/v1/agent/ endpoints (docs/api.md, "Máy trạm").

Every call has a timeout, so a link that hangs costs a sync, never the airing; a failure is
a ServerError whose message says what happened, and whether trying again later can help.
"""

from __future__ import annotations

import errno
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
    """A downloaded file that was not kept: its sha256 is not the one the plan names (code
    sha256_mismatch), or the disk had no room for it (disk_full); it was discarded."""


# A write refused for want of room: the disk (or the agent's quota) is full, or the file is
# past the file size limit the agent runs under (RLIMIT_FSIZE, systemd's LimitFSIZE).
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def size_text(count: int) -> str:
    """A file size as a Vietnamese reader writes it: 820 B, 48 KB, 3,1 MB."""
    if count >= 10**6:
        return f"{count / 10**6:.1f} MB".replace(".", ",")
    if count >= 10**3:
        return f"{count // 10**3} KB"
    return f"{count} B"


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
        # Whether the server has POST sync (cleared when an older server does not).
        self.has_sync = True

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
        return self._plan_answer(response)

    @staticmethod
    def _plan_answer(response: requests.Response) -> Plan:
        """The plan a 200 carries, checked against its ETag; otherwise the server's error."""
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

    def sync(self, days: int, etag: str, report: dict[str, Any]) -> Plan:
        """One sync in one request (POST sync): the health report and the ETag held; the plan
        when it changed, Plan(None, etag) when the copy held is current.

        A server older than the endpoint (404 or 405) is asked the old way instead: GET plan,
        then POST health."""
        if not self.has_sync:
            plan = self.plan(days, etag)
            self.health(report)
            return plan
        body = {"health": report, "plan_etag": etag, "days": days}
        response = self._call("POST", "sync", json=body)
        if response.status_code in (404, 405):  # the endpoint alone can answer neither
            self.has_sync = False
            return self.sync(days, etag, report)
        if response.status_code == 204:
            return Plan(None, response.headers.get("ETag", "").strip('"') or etag)
        return self._plan_answer(response)

    def download(self, sha256: str, partial: Path, target: Path) -> int:
        """Fetch the audio file with this sha256 to target, resuming partial; bytes fetched.

        The file is kept only if its sha256 matches: otherwise it is deleted and BadDownload
        raised (the next sync fetches it again from the start). A disk too full for it is a
        BadDownload too (code disk_full): what was written is deleted, leaving the room to the
        log, and the file is fetched again once there is space.
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
                except requests.RequestException as exc:  # an OSError too: caught first
                    raise ServerError(f"Tải tệp âm thanh bị ngắt giữa chừng: {exc}") from exc
                except OSError as exc:
                    raise self._unwritable(exc, sha256, partial, response) from exc
        if not self._complete(partial, sha256):
            partial.unlink(missing_ok=True)
            raise BadDownload(
                f"Tệp âm thanh tải về không khớp mã sha256 {sha256[:12]}…; đã bỏ, sẽ tải lại.",
                code="sha256_mismatch",
            )
        os.replace(partial, target)
        return fetched

    @staticmethod
    def _unwritable(
        exc: OSError, sha256: str, partial: Path, response: requests.Response
    ) -> BadDownload:
        """The error for a download the disk refused; the partial file is deleted."""
        written = partial.stat().st_size if partial.exists() else 0
        partial.unlink(missing_ok=True)
        length = response.headers.get("Content-Length", "")
        size = f" ({size_text(int(length))})" if length.isdigit() else ""
        name = f"{sha256[:12]}….{partial.suffix.lstrip('.')}"
        if exc.errno in DISK_FULL_ERRNOS:
            return BadDownload(
                f"Hết dung lượng đĩa: không ghi được tệp âm thanh {name}{size} vào "
                f"{partial.parent} (đã ghi {size_text(written)}, đã xoá). Hãy giải phóng chỗ "
                "trống trên ổ đĩa; máy trạm sẽ tải lại tệp ở lần đồng bộ sau.",
                code="disk_full",
            )
        return BadDownload(
            f"Không ghi được tệp âm thanh {name}{size} vào {partial.parent}: "
            f"{exc.strerror or exc}. Máy trạm sẽ tải lại tệp ở lần đồng bộ sau.",
            code="write_failed",
        )

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
