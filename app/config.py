"""Configuration read from environment variables, with safe defaults for a single station PC."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from app.core.clock import FileClock

ROOT = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    """Read a yes/no environment variable."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_json(name: str) -> dict:
    """Read a JSON object from an environment variable, or say clearly what is wrong."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"{name} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise RuntimeError(f'{name} must be a JSON object, e.g. {{"folder": "/srv/playout"}}')
    return value


def _env_clock() -> dict:
    """{"CLOCK": FileClock} when LOA_CLOCK_FILE is set (a test/demo seam), else nothing.

    The file is read once here so a wrong path or content stops the app at start.
    """
    path = os.environ.get("LOA_CLOCK_FILE", "").strip()
    if not path:
        return {}
    clock = FileClock(path)
    clock.now()
    return {"CLOCK": clock}


def load_secret_key(instance_path: Path) -> str:
    """Return SECRET_KEY from the environment, or one generated once into instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    instance_path.mkdir(parents=True, exist_ok=True)
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return key_file.read_text().strip()


def build_config(instance_path: Path) -> dict:
    """Build the configuration mapping from the environment."""
    default_db = f"sqlite:///{instance_path / 'loa.sqlite3'}"
    return {
        "SECRET_KEY": load_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL", default_db),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SCRIPTS_DIR": Path(os.environ.get("SCRIPTS_DIR", ROOT / "scripts_vi")),
        "SCHEDULES_DIR": Path(os.environ.get("SCHEDULES_DIR", ROOT / "schedules")),
        "AUDIO_DIR": Path(os.environ.get("AUDIO_DIR", ROOT / "audio")),
        # Dispatch files (app/dispatches/extract.py): largest upload and most PDF pages.
        "DISPATCH_MAX_BYTES": int(os.environ.get("DISPATCH_MAX_BYTES", str(20 * 1024 * 1024))),
        "DISPATCH_MAX_PAGES": int(os.environ.get("DISPATCH_MAX_PAGES", "50")),
        # Scans and photos: Tesseract ("" = `tesseract` on the PATH), pages OCR may take, its
        # seconds per page, and the most pixels an image may decode to.
        "TESSERACT_BINARY": os.environ.get("TESSERACT_BINARY", ""),
        "DISPATCH_MAX_OCR_PAGES": int(os.environ.get("DISPATCH_MAX_OCR_PAGES", "10")),
        "DISPATCH_OCR_TIMEOUT": float(os.environ.get("DISPATCH_OCR_TIMEOUT", "120")),
        "DISPATCH_MAX_PIXELS": int(os.environ.get("DISPATCH_MAX_PIXELS", "60000000")),
        # Originals of received dispatches, named by their sha256 (app/dispatches/service.py).
        "DISPATCHES_DIR": Path(os.environ.get("DISPATCHES_DIR", instance_path / "dispatches")),
        # No request body may be larger than a dispatch upload and its form (an upload is the
        # largest thing Loa takes in); the dispatch desk answers a larger one with its own page.
        "MAX_CONTENT_LENGTH": int(os.environ.get("DISPATCH_MAX_BYTES", str(20 * 1024 * 1024)))
        + 1024 * 1024,
        # Recorded spots (app/speech/recording.py): the longest recording and the largest
        # upload taken; the recording routes raise the request limit to this size themselves.
        "RECORDING_MAX_SECONDS": float(os.environ.get("RECORDING_MAX_SECONDS", "1800")),
        "RECORDING_MAX_MB": float(os.environ.get("RECORDING_MAX_MB", "100")),
        # The audio library (app/library/service.py): the longest item taken (jingles and
        # idents have their own, shorter cap).
        "LIBRARY_MAX_SECONDS": float(os.environ.get("LIBRARY_MAX_SECONDS", "3600")),
        "DISPLAY_TIMEZONE": "Asia/Ho_Chi_Minh",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", True),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", True),
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        "WTF_CSRF_TIME_LIMIT": None,
        "LOGIN_MAX_FAILURES": int(os.environ.get("LOGIN_MAX_FAILURES", "5")),
        "LOGIN_LOCK_MINUTES": int(os.environ.get("LOGIN_LOCK_MINUTES", "15")),
        # Login throttling (app/auth/throttle.py). LOGIN_MAX_FAILURES wrong passwords for one
        # account from one address within LOGIN_LOCK_MINUTES pause that pair only, so a stranger
        # elsewhere cannot lock the owner out; every address also has its own cap on attempts.
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;100 per hour"),
        "API_AUTH_FAILURE_LIMIT": os.environ.get("API_AUTH_FAILURE_LIMIT", "30 per minute"),
        # Flask-Limiter: memory:// counts per process; with several gunicorn workers use a shared
        # store such as redis://127.0.0.1:6379 (needs the redis package).
        "RATELIMIT_ENABLED": _env_bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_STRATEGY": os.environ.get("RATELIMIT_STRATEGY", "moving-window"),
        "RATELIMIT_KEY_PREFIX": "loa",
        # If that shared store goes down, count in memory rather than refuse every login.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "SCRIPTS_PER_PAGE": 20,
        "READING_SYLLABLES_PER_MINUTE": 160,
        # Speech: the default engine (espeak is offline; gtts needs the Internet), ffmpeg, gTTS.
        "SPEECH_ENGINE": os.environ.get("SPEECH_ENGINE", "espeak"),
        "ESPEAK_MODE": os.environ.get("ESPEAK_MODE", "auto"),
        "FFMPEG_BINARY": os.environ.get("FFMPEG_BINARY", ""),
        "GTTS_TIMEOUT": float(os.environ.get("GTTS_TIMEOUT", "10")),
        "GTTS_RETRIES": int(os.environ.get("GTTS_RETRIES", "3")),
        # Piper voices: <name>.onnx + <name>.onnx.json pairs the station supplies (docs/speech.md)
        "PIPER_VOICES_DIR": Path(os.environ.get("PIPER_VOICES_DIR", instance_path / "voices")),
        "PIPER_PROBE_TIMEOUT": float(os.environ.get("PIPER_PROBE_TIMEOUT", "120")),
        # Playout: how the runner airs spots, and how late a spot may still start.
        "PLAYOUT_OUTPUT": os.environ.get("PLAYOUT_OUTPUT", "simulate"),
        "PLAYOUT_SETTINGS": _env_json("PLAYOUT_SETTINGS"),
        "PLAYOUT_STATIONS": _env_json("PLAYOUT_STATIONS"),
        "PLAYOUT_GRACE_S": float(os.environ.get("PLAYOUT_GRACE_S", "300")),
        # Public portal pages, podcast feeds and their audio (app/portal): how long browsers
        # and shared caches may keep a copy before asking again.
        "PORTAL_MAX_AGE_S": int(os.environ.get("PORTAL_MAX_AGE_S", "300")),
        # The upward feed (/feed/v1): calls with a missing or wrong feed token per address.
        "FEED_AUTH_FAILURE_LIMIT": os.environ.get("FEED_AUTH_FAILURE_LIMIT", "30 per minute"),
        # Station agents: how long a one-time enrolment code stays valid.
        "AGENT_CODE_HOURS": float(os.environ.get("AGENT_CODE_HOURS", "24")),
        # Push (app/push.py): wake station agents through an MQTT broker (Mosquitto) when their
        # plan changes. MQTT_URL empty: no push, agents find changes at their next poll.
        # MQTT_AGENT_URL: the broker as agents reach it (default MQTT_URL), e.g. mqtts://…:8883.
        "MQTT_URL": os.environ.get("MQTT_URL", "").strip(),
        "MQTT_AGENT_URL": os.environ.get("MQTT_AGENT_URL", "").strip(),
        "MQTT_USERNAME": os.environ.get("MQTT_USERNAME", "loa-server").strip(),
        "MQTT_PASSWORD": os.environ.get("MQTT_PASSWORD", ""),
        "MQTT_TOPIC_PREFIX": os.environ.get("MQTT_TOPIC_PREFIX", "loa/stations").strip().strip("/"),
        # Behind a reverse proxy (nginx), trust one hop of X-Forwarded-For for audit addresses.
        "PROXY_FIX": _env_bool("PROXY_FIX", False),
        # Tests and demos only: the time comes from a file (see app.core.clock).
        **_env_clock(),
    }
