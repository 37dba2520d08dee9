"""Speech engines behind one interface: eSpeak NG (offline, default) and Google through gTTS."""

from __future__ import annotations

import base64
import binascii
import re
import shutil
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import requests

from app.speech import espeak
from app.speech.audio import (
    AudioError,
    AudioSegment,
    AudioToolMissing,
    decode_audio,
    ffmpeg_binary,
)

MIN_SPEED = 50
MAX_SPEED = 200

ESPEAK_HINT = (
    "hãy chạy lại `make run` để cài gói espeakng-loader, "
    "hoặc cài espeak-ng (apt-get install espeak-ng)."
)
OFFLINE_HINT = "chọn bộ đọc ngoại tuyến eSpeak NG"


class EngineError(Exception):
    """A speech engine could not produce audio; the Vietnamese message says why and what to do."""

    def __init__(self, message: str, *, engine: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.engine = engine
        self.retryable = retryable


@dataclass(frozen=True)
class VoiceInfo:
    """One voice an engine offers, with its Vietnamese label."""

    id: str
    label: str


class SpeechEngine(ABC):
    """Turns normalised spoken Vietnamese into audio."""

    name: ClassVar[str]
    label: ClassVar[str]
    offline: ClassVar[bool]
    default_voice: ClassVar[str]

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config: Mapping[str, Any] = config or {}

    @abstractmethod
    def voices(self) -> list[VoiceInfo]:
        """Return the voices this engine offers."""

    @abstractmethod
    def check(self) -> None:
        """Raise EngineError if the engine cannot run on this machine."""

    @abstractmethod
    def synthesize(
        self,
        text: str,
        *,
        voice: str,
        speed: int = 100,
        on_progress: Callable[[float], None] | None = None,
    ) -> AudioSegment:
        """Speak text; return mono 16-bit audio, reporting progress fractions as chunks finish."""

    def check_voice(self, voice: str) -> None:
        """Raise EngineError for a voice this engine does not offer (e.g. a stale setting)."""
        known = [v.id for v in self.voices()]
        if voice not in known:
            raise EngineError(
                f"Bộ đọc {self.label} không có giọng “{voice}”. "
                f"Hãy chọn một trong các giọng: {', '.join(known)}.",
                engine=self.name,
            )

    def cache_token(self, voice: str) -> str:
        """What else decides the audio besides text and options (e.g. a voice file's sha256)."""
        return ""

    def voice_warnings(self, voice: str) -> list[dict]:
        """Warnings a render with this voice carries to its reviewer (e.g. another language)."""
        return []

    def notices(self) -> list[str]:
        """Vietnamese notes for the voice picker (unusable voices, how to add one)."""
        return []


ENGINES: dict[str, type[SpeechEngine]] = {}


def register_engine(cls: type[SpeechEngine]) -> type[SpeechEngine]:
    """Class decorator that makes an engine available by its name."""
    existing = ENGINES.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"speech engine {cls.name!r} is already registered by {existing!r}")
    ENGINES[cls.name] = cls
    return cls


def get_engine(name: str, config: Mapping[str, Any] | None = None) -> SpeechEngine:
    """Return a new engine by name, configured from the mapping."""
    cls = ENGINES.get(name)
    if cls is None:
        raise EngineError(
            f"Không có bộ đọc “{name}”. Các bộ đọc hiện có: {', '.join(ENGINES)}.",
            engine=name,
        )
    return cls(config)


def engine_choices() -> list[tuple[str, str]]:
    """Return (name, label) pairs for select boxes, in registration order."""
    return [(name, cls.label) for name, cls in ENGINES.items()]


def check_speed(speed: int) -> None:
    """Raise ValueError for a speed percentage outside 50..200."""
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ValueError(f"speed must be {MIN_SPEED}..{MAX_SPEED} percent, got {speed}")


def _check_text(text: str) -> None:
    """Raise ValueError when there is nothing to speak (the caller should have caught it)."""
    if not any(ch.isalnum() for ch in text):
        raise ValueError("text has nothing to speak")


# Phrase boundaries: sentence end, then clause punctuation; a space only inside a long clause.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+")
_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def split_phrases(text: str, limit: int) -> list[str]:
    """Cut text into chunks of at most limit chars at phrase boundaries, never inside a word.

    Paragraphs (blank-line separated) always start a new chunk; single line breaks are wrapped
    lines and count as spaces. Sentences, or the clauses of a sentence too long for one chunk,
    are packed together while they fit. A clause too long for one chunk is cut at spaces, and
    only a single word longer than limit is cut inside, as nothing else can be done with it.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    chunks: list[str] = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        atoms: list[str] = []
        for sentence in _SENTENCE_BREAK.split(" ".join(paragraph.split())):
            if len(sentence) <= limit:
                atoms.append(sentence)
                continue
            for clause in _CLAUSE_BREAK.split(sentence):
                if len(clause) <= limit:
                    atoms.append(clause)
                else:
                    # Packed on their own first so the clause is cut as few times as possible.
                    words = [
                        w[i : i + limit] for w in clause.split() for i in range(0, len(w), limit)
                    ]
                    atoms.extend(_pack(words, limit))
        chunks.extend(c for c in _pack(atoms, limit) if any(ch.isalnum() for ch in c))
    return chunks


def _pack(pieces: list[str], limit: int) -> list[str]:
    """Join consecutive pieces with spaces, greedily, into chunks of at most limit chars."""
    out: list[str] = []
    for piece in pieces:
        if out and len(out[-1]) + 1 + len(piece) <= limit:
            out[-1] = f"{out[-1]} {piece}"
        elif piece:
            out.append(piece)
    return out


def _report(on_progress: Callable[[float], None] | None, done: int, total: int) -> None:
    """Send the finished fraction to the progress callback, if any."""
    if on_progress is not None:
        on_progress(done / total)


@register_engine
class EspeakEngine(SpeechEngine):
    """eSpeak NG: offline, robotic but always available; the default engine."""

    name = "espeak"
    label = "eSpeak NG (ngoại tuyến)"
    offline = True
    default_voice = "vi"
    NORMAL_RATE = 175  # words per minute at speed 100, espeak's own default
    CHUNK_CHARS = 500  # small enough for useful progress, large enough to keep prosody

    _VOICES = (
        VoiceInfo("vi", "Giọng miền Bắc"),
        VoiceInfo("vi-vn-x-central", "Giọng miền Trung"),
        VoiceInfo("vi-vn-x-south", "Giọng miền Nam"),
    )

    def voices(self) -> list[VoiceInfo]:
        """Return the Northern, Central and Southern Vietnamese voices."""
        return list(self._VOICES)

    def _mode(self) -> str:
        """Return "library" or "command", whichever ESPEAK_MODE allows and is present here."""
        mode = self.config.get("ESPEAK_MODE", "auto")
        command = self.config.get("ESPEAK_COMMAND", "espeak-ng")
        if mode not in {"auto", "library", "command"}:
            raise EngineError(
                f"Cấu hình ESPEAK_MODE “{mode}” không hợp lệ: hãy đặt auto, library hoặc command.",
                engine=self.name,
            )
        if mode in {"auto", "library"}:
            try:
                espeak.library_check()
                return "library"
            except espeak.EspeakUnavailable as exc:
                if mode == "library":
                    raise EngineError(
                        f"Không nạp được thư viện eSpeak NG ({exc}): {ESPEAK_HINT}",
                        engine=self.name,
                    ) from exc
        if shutil.which(command):
            return "command"
        raise EngineError(f"Không tìm thấy bộ đọc eSpeak NG: {ESPEAK_HINT}", engine=self.name)

    def check(self) -> None:
        """Raise EngineError when neither the library nor the command can be used."""
        self._mode()

    def synthesize(
        self,
        text: str,
        *,
        voice: str,
        speed: int = 100,
        on_progress: Callable[[float], None] | None = None,
    ) -> AudioSegment:
        """Speak text chunk by chunk (paragraphs, then sentences) with espeak's own pauses."""
        check_speed(speed)
        _check_text(text)
        self.check_voice(voice)
        mode = self._mode()
        command = self.config.get("ESPEAK_COMMAND", "espeak-ng")
        rate = round(self.NORMAL_RATE * speed / 100)
        chunks = split_phrases(text, self.CHUNK_CHARS)
        # One growing buffer, not a list joined at the end: a 30-minute programme would
        # otherwise hold its PCM twice.
        pcm_all = bytearray()
        rate_hz = 0
        for done, chunk in enumerate(chunks, start=1):
            try:
                if mode == "library":
                    pcm = espeak.library_synth(chunk, voice, rate)
                else:
                    pcm = espeak.command_synth(command, chunk, voice, rate)
            except espeak.UnknownVoice as exc:
                raise EngineError(
                    f"eSpeak NG trên máy này không có giọng “{voice}”: {ESPEAK_HINT}",
                    engine=self.name,
                ) from exc
            except espeak.EspeakUnavailable as exc:
                raise EngineError(
                    f"Không tìm thấy bộ đọc eSpeak NG: {ESPEAK_HINT}", engine=self.name
                ) from exc
            except (RuntimeError, OSError, TimeoutError) as exc:
                raise EngineError(
                    f"eSpeak NG gặp lỗi khi đọc ({exc}). Hãy thử lại; nếu vẫn lỗi, {ESPEAK_HINT}",
                    engine=self.name,
                ) from exc
            pcm_all += pcm.data
            rate_hz = pcm.sample_rate
            del pcm
            _report(on_progress, done, len(chunks))
        return AudioSegment(data=pcm_all, sample_width=2, frame_rate=rate_hz, channels=1)


class _GoogleFailure(Exception):
    """One gTTS request failed; carries the final EngineError should retries run out."""

    def __init__(self, error: EngineError, *, retry: bool, wait: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry = retry
        self.wait = wait


# gTTS 2.5.4's stream() finds the audio with this pattern in the batchexecute response.
_AUDIO_IN_RESPONSE = re.compile(r'jQ1olc","\[\\"(.*)\\"]')
_MAX_RETRY_AFTER = 60.0


@register_engine
class GttsEngine(SpeechEngine):
    """Google Translate's voice through gTTS: natural, needs Internet, may be rate limited.

    Google reads at two speeds only: speed below 100 asks for its slow reading, anything else
    reads at normal speed (tempo changes, if wanted, belong to the audio assembly layer).
    """

    name = "gtts"
    label = "Google (trực tuyến, gTTS)"
    offline = False
    default_voice = "vi"

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        c = self.config
        self.timeout = float(c.get("GTTS_TIMEOUT", 10))
        self.retries = int(c.get("GTTS_RETRIES", 3))
        self.backoff = float(c.get("GTTS_BACKOFF", 1.0))
        self.min_interval = float(c.get("GTTS_MIN_INTERVAL", 0.5))
        self.chunk_chars = int(c.get("GTTS_CHUNK_CHARS", 100))
        self.base_url: str | None = c.get("GTTS_URL")
        self.sleep: Callable[[float], None] = c.get("SLEEP") or time.sleep
        self.monotonic: Callable[[], float] = c.get("MONOTONIC") or time.monotonic
        # The throttle is per engine instance: one render's requests are spaced out.
        self._throttle_lock = threading.Lock()
        self._last_request: float | None = None

    def voices(self) -> list[VoiceInfo]:
        """Return Google's single Vietnamese voice."""
        return [VoiceInfo("vi", "Giọng Google tiếng Việt")]

    def check(self) -> None:
        """Raise EngineError when gTTS or ffmpeg is missing (does not contact Google)."""
        try:
            import gtts  # noqa: F401
        except ImportError as exc:
            raise EngineError(
                "Chưa cài gói gTTS: hãy chạy lại `make run`, hoặc " + OFFLINE_HINT + ".",
                engine=self.name,
            ) from exc
        self._ffmpeg()

    def _ffmpeg(self) -> str:
        """Return the ffmpeg that decodes Google's MP3, or raise EngineError saying how to fix."""
        try:
            return ffmpeg_binary(self.config)
        except AudioToolMissing as exc:
            raise EngineError(
                "Không tìm thấy ffmpeg để giải mã âm thanh của Google: hãy chạy lại `make run` "
                "để cài gói imageio-ffmpeg, cài ffmpeg (apt-get install ffmpeg) hoặc sửa "
                "FFMPEG_BINARY.",
                engine=self.name,
            ) from exc

    def synthesize(
        self,
        text: str,
        *,
        voice: str,
        speed: int = 100,
        on_progress: Callable[[float], None] | None = None,
    ) -> AudioSegment:
        """Send each phrase chunk as one request, with timeout, retries and throttle; join audio."""
        check_speed(speed)
        _check_text(text)
        self.check_voice(voice)
        self.check()
        self._ffmpeg()
        chunks = split_phrases(text, self.chunk_chars)
        slow = speed < 100
        audio = AudioSegment.empty()
        with requests.Session() as session:
            for done, chunk in enumerate(chunks, start=1):
                mp3 = self._fetch_with_retries(session, chunk, slow)
                try:
                    audio += decode_audio(mp3, config=self.config)
                except AudioError as exc:
                    raise EngineError(
                        "Không giải mã được âm thanh Google gửi về. Hãy thử lại sau hoặc "
                        + OFFLINE_HINT
                        + ".",
                        engine=self.name,
                    ) from exc
                _report(on_progress, done, len(chunks))
        return audio.set_channels(1).set_sample_width(2)

    def _fetch_with_retries(self, session: requests.Session, chunk: str, slow: bool) -> bytes:
        """Fetch one chunk's MP3, retrying transient failures with exponential back-off."""
        attempt = 0
        while True:
            try:
                return self._fetch(session, chunk, slow)
            except _GoogleFailure as failure:
                if not failure.retry or attempt >= self.retries:
                    raise failure.error from failure
                delay = self.backoff * 2**attempt
                if failure.wait is not None:
                    delay = max(delay, min(failure.wait, _MAX_RETRY_AFTER))
                self.sleep(delay)
                attempt += 1

    def _throttle(self) -> None:
        """Wait until GTTS_MIN_INTERVAL has passed since this engine's previous request."""
        with self._throttle_lock:
            if self._last_request is not None:
                wait = self.min_interval - (self.monotonic() - self._last_request)
                if wait > 0:
                    self.sleep(wait)
            self._last_request = self.monotonic()

    def _prepare(self, chunk: str, slow: bool) -> requests.PreparedRequest:
        """Build gTTS's own request for the chunk, kept whole (no re-splitting, no rewriting)."""
        from gtts import gTTS

        tts = gTTS(
            chunk,
            lang="vi",
            slow=slow,
            lang_check=False,  # checking fetches Google's language list over the network
            pre_processor_funcs=[],
            tokenizer_func=lambda t: [t],
            timeout=self.timeout,
        )
        # gTTS re-cuts anything longer than this at 100 chars; our chunks are already phrases.
        tts.GOOGLE_TTS_MAX_CHARS = max(len(chunk), tts.GOOGLE_TTS_MAX_CHARS)
        requests_ = tts._prepare_requests()  # pinned gtts==2.5.4; the protocol lives there
        if len(requests_) != 1:
            raise RuntimeError(f"gTTS split one chunk into {len(requests_)} requests")
        prepared = requests_[0]
        if self.base_url:
            base = urlsplit(self.base_url)
            url = urlsplit(prepared.url)
            prepared.url = urlunsplit(
                (base.scheme, base.netloc, base.path.rstrip("/") + url.path, url.query, "")
            )
        return prepared

    def _fetch(self, session: requests.Session, chunk: str, slow: bool) -> bytes:
        """Send one request and return its MP3 bytes, or raise _GoogleFailure."""
        prepared = self._prepare(chunk, slow)
        self._throttle()
        # Proxies from the environment, honouring NO_PROXY (Session.send alone ignores both).
        settings = session.merge_environment_settings(prepared.url, {}, None, None, None)
        try:
            response = session.send(prepared, timeout=self.timeout, **settings)
        except requests.Timeout as exc:
            raise _GoogleFailure(
                EngineError(
                    f"Máy chủ Google không trả lời sau {self.timeout:g} giây. "
                    f"Hãy kiểm tra mạng, thử lại sau hoặc {OFFLINE_HINT}.",
                    engine=self.name,
                    retryable=True,
                ),
                retry=True,
            ) from exc
        except requests.RequestException as exc:
            raise _GoogleFailure(
                EngineError(
                    "Không kết nối được máy chủ Google (không có Internet?). "
                    f"Hãy kiểm tra mạng hoặc {OFFLINE_HINT}.",
                    engine=self.name,
                    retryable=True,
                ),
                retry=True,
            ) from exc
        with response:
            return self._audio_from(response)

    def _audio_from(self, response: requests.Response) -> bytes:
        """Return the MP3 in a batchexecute response, or raise _GoogleFailure saying why not."""
        status = response.status_code
        if status == 429:
            raise _GoogleFailure(
                EngineError(
                    "Máy chủ Google từ chối vì gửi quá nhiều yêu cầu (HTTP 429). "
                    f"Hãy thử lại sau ít phút hoặc {OFFLINE_HINT}.",
                    engine=self.name,
                    retryable=True,
                ),
                retry=True,
                wait=_retry_after(response),
            )
        if status >= 500:
            raise _GoogleFailure(
                EngineError(
                    f"Máy chủ Google đang gặp lỗi (HTTP {status}). "
                    f"Hãy thử lại sau ít phút hoặc {OFFLINE_HINT}.",
                    engine=self.name,
                    retryable=True,
                ),
                retry=True,
            )
        if status >= 400:
            raise _GoogleFailure(
                EngineError(
                    f"Máy chủ Google từ chối yêu cầu (HTTP {status}); có thể Google đã đổi "
                    f"dịch vụ. Hãy cập nhật gói gTTS hoặc {OFFLINE_HINT}.",
                    engine=self.name,
                ),
                retry=False,
            )
        match = next(
            (m for line in response.text.splitlines() if (m := _AUDIO_IN_RESPONSE.search(line))),
            None,
        )
        if match is None:
            raise _GoogleFailure(
                EngineError(
                    "Máy chủ Google trả lời nhưng không kèm âm thanh; có thể Google đã đổi "
                    f"dịch vụ. Hãy cập nhật gói gTTS hoặc {OFFLINE_HINT}.",
                    engine=self.name,
                ),
                retry=False,
            )
        try:
            mp3 = base64.b64decode(match.group(1).encode("ascii"))
        except (binascii.Error, UnicodeEncodeError):
            mp3 = b""
        if not mp3:
            # Treated as transient like a 5xx: the request itself was well formed.
            raise _GoogleFailure(
                EngineError(
                    "Máy chủ Google trả về âm thanh rỗng (0 byte). "
                    f"Hãy thử lại sau ít phút hoặc {OFFLINE_HINT}.",
                    engine=self.name,
                    retryable=True,
                ),
                retry=True,
            )
        return mp3


def _retry_after(response: requests.Response) -> float | None:
    """Return the Retry-After header in seconds, when it is a number."""
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


# Piper lives in its own module; importing it registers it after eSpeak NG and gTTS.
from app.speech import piper as _piper  # noqa: E402, F401
