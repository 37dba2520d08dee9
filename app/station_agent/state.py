"""The agent's state directory: what survives a restart, a power cut or a month offline.

<state>/settings.json   server URL, agent id, station, the last plan's ETag, what the
                        server has acknowledged of the log; rewritten atomically
<state>/credential      the agent's credential, readable by its owner only
<state>/agent.db        SQLite: the station's plan (airings, scripts, renders) and its log
<state>/audio/          audio by sha256 (<sha256>.<ext>), verified before it is kept
<state>/audio/partial/  downloads under way, resumed with Range
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SETTINGS = "settings.json"
CREDENTIAL = "credential"
DATABASE = "agent.db"


class StateError(RuntimeError):
    """The state directory is missing, unreadable or not enrolled; the message says which."""


@dataclass
class Settings:
    """What the agent keeps between runs, besides its database and audio."""

    server: str
    agent_id: int
    station_id: int
    station_code: str
    plan_etag: str = ""
    # The server's chain head as last acknowledged: rows after it are still to upload.
    uploaded_seq: int = 0
    # Set when the server refused a batch because the chain broke: uploads stop until an
    # admin clears the station's flag; each sync asks the log head, and once it shows no
    # flag the value is cleared and the rows go up again.
    chain_refused: str = ""
    # Local overrides of the station's output ({"output": name, "settings": {...}}): the
    # sound card or folder of this PC, a password from the technician.
    output: dict[str, Any] = field(default_factory=dict)


class StateDir:
    """Paths and atomic reads and writes in one agent's state directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()

    @property
    def database(self) -> Path:
        """The agent's SQLite file."""
        return self.root / DATABASE

    @property
    def audio(self) -> Path:
        """The audio cache (files named by sha256)."""
        return self.root / "audio"

    @property
    def partial(self) -> Path:
        """Downloads not finished yet."""
        return self.audio / "partial"

    def create(self) -> None:
        """Make the directories, private to the agent's user."""
        for path in (self.root, self.audio, self.partial):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o700)

    def enrolled(self) -> bool:
        """Whether this directory holds an enrolment."""
        return (self.root / SETTINGS).is_file() and (self.root / CREDENTIAL).is_file()

    def load(self) -> Settings:
        """The settings; StateError when the directory was never enrolled or is damaged."""
        path = self.root / SETTINGS
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Settings(**data)
        except FileNotFoundError:
            raise StateError(
                f"{self.root} chưa đăng ký với máy chủ: chạy “enrol” với mã đăng ký trước."
            ) from None
        except (OSError, ValueError, TypeError) as exc:
            raise StateError(f"Không đọc được {path}: {exc}") from exc

    def save(self, settings: Settings) -> None:
        """Write the settings atomically (a crash leaves the old or the new file, never half)."""
        self._write(SETTINGS, json.dumps(asdict(settings), indent=2, ensure_ascii=False))

    def credential(self) -> str:
        """The agent's credential."""
        try:
            return (self.root / CREDENTIAL).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise StateError(f"Không đọc được mã máy trạm trong {self.root}: {exc}") from exc

    def save_credential(self, credential: str) -> None:
        """Keep the credential where only the agent's user can read it."""
        self._write(CREDENTIAL, credential + "\n", mode=0o600)

    def _write(self, name: str, text: str, mode: int = 0o600) -> None:
        tmp = self.root / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.root / name)
