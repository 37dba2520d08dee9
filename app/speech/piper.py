"""Piper: a natural neural voice, fully offline, from voice models the station supplies.

A voice is a pair of files in PIPER_VOICES_DIR: `<name>.onnx` (the model) and
`<name>.onnx.json` (its settings, phoneme map and language). Each pair is checked once per
process and per file version in a throwaway process (app/speech/piper_probe.py), so a broken
model is shown as unusable, with why, instead of failing or crashing a render; a working model
is loaded once per process and kept, as a render worker renders many scripts with it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from app.speech.audio import AudioSegment
from app.speech.engines import (
    EngineError,
    SpeechEngine,
    VoiceInfo,
    _check_text,
    _report,
    check_speed,
    register_engine,
    split_phrases,
)

VOICE_ID_MAX = 60  # Render.voice and Station.speech_voice hold 60 characters
JSON_MAX_BYTES = 2 * 1024 * 1024  # a voice's JSON is a few kilobytes; refuse to read a huge one
SENTENCE_GAP_S = 0.25  # Piper's sentences follow each other without a pause
CHUNK_CHARS = 400  # phrases per call: progress for long scripts, whole sentences for prosody
PROBE = Path(__file__).with_name("piper_probe.py")
REQUIRED_KEYS = (
    ("audio", "sample_rate"),
    ("espeak", "voice"),
    ("num_symbols",),
    ("num_speakers",),
    ("phoneme_id_map",),
)
LANGUAGES = {
    "vi": "Tiếng Việt",
    "en": "Tiếng Anh",
    "fr": "Tiếng Pháp",
    "zh": "Tiếng Trung",
    "km": "Tiếng Khmer",
    "lo": "Tiếng Lào",
    "th": "Tiếng Thái",
    "ru": "Tiếng Nga",
    "de": "Tiếng Đức",
    "es": "Tiếng Tây Ban Nha",
}
INSTALL_HINT = (
    "hãy cài gói piper-tts: chạy lại `make setup` (hoặc `make run`), "
    "hoặc chọn bộ đọc ngoại tuyến eSpeak NG."
)


def how_to_add_vietnamese(folder: Path) -> str:
    """What an IT officer does to give Loa a Vietnamese Piper voice, in Vietnamese."""
    return (
        "Chưa có giọng Piper tiếng Việt. Cách thêm: lấy cả hai tệp của một giọng Piper tiếng "
        "Việt, ví dụ vi_VN-vais1000-medium.onnx và vi_VN-vais1000-medium.onnx.json (bộ giọng "
        f"Piper, mục vi/vi_VN), chép vào thư mục giọng Piper của máy chủ ({folder}, cấu hình "
        "PIPER_VOICES_DIR) rồi tải lại trang. Đài tự cung cấp tệp giọng và giấy phép của giọng; "
        "Loa không tải gì từ Internet. Hướng dẫn: docs/speech.md."
    )


@dataclass(frozen=True)
class PiperVoiceFile:
    """One voice found in the folder: its files, language and name, and why it is unusable."""

    id: str
    model: Path
    config: Path
    language: str = ""  # e.g. "vi_VN", from the JSON; "" when it does not say
    dataset: str = ""
    quality: str = ""
    problem: str = ""  # Vietnamese; empty when the voice works

    @property
    def vietnamese(self) -> bool:
        """Whether the voice reads Vietnamese."""
        return self.language.lower().startswith("vi")

    @property
    def language_label(self) -> str:
        """The voice's language in Vietnamese, with its code."""
        if not self.language:
            return "Ngôn ngữ không rõ"
        family = self.language.split("_")[0].split("-")[0].lower()
        return f"{LANGUAGES.get(family, 'Ngôn ngữ')} ({self.language})"

    @property
    def language_phrase(self) -> str:
        """The language as said inside a sentence: "tiếng Anh (en_US)"."""
        label = self.language_label
        return label[:1].lower() + label[1:]

    @property
    def label(self) -> str:
        """How the voice picker names it; a voice for another language says so."""
        name = ", ".join(part for part in (self.dataset or self.id, self.quality) if part)
        label = f"{self.language_label} · {name}"
        if not self.vietnamese:
            label += " · KHÔNG đọc được tiếng Việt"
        return label


def _stamp(path: Path) -> tuple[int, int, int, int]:
    """What changes when a file is replaced or edited (its target, for a symbolic link)."""
    st = path.stat()
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def _dig(data: Any, keys: tuple[str, ...]) -> Any:
    """data[k1][k2]…, or KeyError naming the dotted path."""
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            raise KeyError(".".join(keys))
        data = data[key]
    return data


def _read_voice(voice_id: str, model: Path, config: Path) -> PiperVoiceFile:
    """A voice from its JSON, with the problems that reading the files alone can tell."""
    voice = PiperVoiceFile(voice_id, model, config)
    if len(voice_id) > VOICE_ID_MAX:
        return replace(
            voice, problem=f"tên giọng dài quá {VOICE_ID_MAX} ký tự: hãy đổi tên hai tệp ngắn lại."
        )
    if not model.is_file():
        return replace(
            voice,
            problem=f"thiếu tệp mô hình {voice_id}.onnx (chỉ có tệp {config.name}): "
            "hãy chép cả hai tệp của giọng vào thư mục.",
        )
    if not config.is_file():
        return replace(
            voice,
            problem=f"thiếu tệp cấu hình {voice_id}.onnx.json bên cạnh {model.name}: "
            "hãy chép cả hai tệp của giọng vào thư mục.",
        )
    if model.stat().st_size == 0:
        return replace(voice, problem=f"tệp {model.name} rỗng (0 byte): hãy chép lại tệp này.")
    try:
        if config.stat().st_size > JSON_MAX_BYTES:
            raise ValueError("quá lớn")
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        where = f" (dòng {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        return replace(
            voice,
            problem=f"tệp {config.name} không phải tệp cấu hình JSON hợp lệ{where}: "
            "hãy chép lại tệp .onnx.json đi kèm mô hình.",
        )
    if not isinstance(data, dict):
        data = {}
    language = data.get("language") if isinstance(data.get("language"), dict) else {}
    espeak = data.get("espeak") if isinstance(data.get("espeak"), dict) else {}
    audio = data.get("audio") if isinstance(data.get("audio"), dict) else {}
    voice = replace(
        voice,
        language=str(language.get("code") or espeak.get("voice") or ""),
        dataset=str(data.get("dataset") or ""),
        quality=str(audio.get("quality") or ""),
    )
    for keys in REQUIRED_KEYS:
        try:
            _dig(data, keys)
        except KeyError:
            return replace(
                voice,
                problem=f"tệp {config.name} thiếu mục “{'.'.join(keys)}” của một giọng Piper: "
                "hãy chép lại tệp .onnx.json đi kèm mô hình.",
            )
    return voice


def scan_voices(folder: Path) -> list[PiperVoiceFile]:
    """Every voice in the folder, usable or not, by name; a missing folder has none."""
    try:
        names = {p.name for p in folder.iterdir() if not p.name.startswith(".") and p.is_file()}
    except OSError:
        return []
    ids = {n[: -len(".onnx")] for n in names if n.endswith(".onnx")}
    ids |= {n[: -len(".onnx.json")] for n in names if n.endswith(".onnx.json")}
    voices = []
    for voice_id in sorted(ids):
        model, config = folder / f"{voice_id}.onnx", folder / f"{voice_id}.onnx.json"
        if not config.exists() and (folder / f"{voice_id}.json").is_file():
            voices.append(
                PiperVoiceFile(
                    voice_id,
                    model,
                    config,
                    problem=f"tệp cấu hình phải tên là {voice_id}.onnx.json: "
                    f"hãy đổi tên tệp {voice_id}.json.",
                )
            )
            continue
        voices.append(_read_voice(voice_id, model, config))
    return voices


# Per process: verdicts, fingerprints and loaded models, each for one version of the files.
_LOCK = threading.Lock()
_VERDICTS: dict[tuple, str] = {}
_FINGERPRINTS: dict[tuple, str] = {}
_LOADED: dict[tuple[Path, Path], tuple[tuple, Any]] = {}

_PROBLEMS = {
    "no_piper": "chưa cài gói piper-tts trên máy này: " + INSTALL_HINT,
    "bad_json": "tệp {config} không đọc được như cấu hình giọng Piper ({detail}): "
    "hãy chép lại tệp .onnx.json đi kèm mô hình.",
    "bad_model": "tệp {model} hỏng hoặc không phải mô hình ONNX ({detail}): "
    "hãy chép lại tệp này từ nguồn của giọng.",
    "not_piper": "tệp {model} là mô hình ONNX nhưng không phải giọng Piper ({detail}).",
    "mismatch": "tệp {config} không khớp với mô hình {model} ({detail}): có lẽ hai tệp của "
    "hai giọng khác nhau; hãy chép lại cả hai tệp của cùng một giọng.",
    "espeak_voice": "Piper không có cách phát âm mà tệp {config} ghi ({detail}).",
}


def _files_key(voice: PiperVoiceFile) -> tuple:
    """Identifies this version of the voice's two files."""
    # Resolved: links to one model (tests, several folders) share one check and one load.
    return (
        str(voice.model.resolve()),
        str(voice.config.resolve()),
        _stamp(voice.model),
        _stamp(voice.config),
    )


def _loaded_key(voice: PiperVoiceFile) -> tuple[Path, Path]:
    """Where a loaded model is kept: one model file may serve two JSONs (two voices)."""
    return (voice.model.resolve(), voice.config.resolve())


def probe_problem(voice: PiperVoiceFile, config: Mapping[str, Any]) -> str:
    """Load the voice in a separate process; "" when it works, else why not, in Vietnamese."""
    key = _files_key(voice)
    with _LOCK:
        if key in _VERDICTS:
            return _VERDICTS[key]
        loaded = _LOADED.get(_loaded_key(voice))
        if loaded is not None and loaded[0] == key:
            return ""
    timeout = float(config.get("PIPER_PROBE_TIMEOUT", 120))
    try:
        # -P: not with app/speech first on sys.path, where numbers.py would hide the stdlib's.
        result = subprocess.run(
            [sys.executable, "-P", str(PROBE), str(voice.model), str(voice.config)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        # Not kept: a busy machine may do better on the next look.
        return (
            f"nạp thử mô hình {voice.model.name} quá {timeout:g} giây: tệp quá lớn hoặc máy quá "
            "tải; hãy thử lại sau hoặc dùng giọng chất lượng thấp hơn (low, medium)."
        )
    problem = _verdict(voice, result)
    with _LOCK:
        _VERDICTS[key] = problem
    return problem


def _verdict(voice: PiperVoiceFile, result: subprocess.CompletedProcess) -> str:
    """Turn the probe's JSON line (or its crash) into "" or a Vietnamese reason."""
    lines = result.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        how = (
            f"bị dừng bởi tín hiệu {-result.returncode}"
            if result.returncode < 0
            else f"mã thoát {result.returncode}"
        )
        return (
            f"nạp thử mô hình {voice.model.name} làm chương trình đọc dừng đột ngột ({how}): "
            "có lẽ tệp hỏng; hãy chép lại cả hai tệp của giọng."
        )
    if answer.get("ok"):
        return ""
    template = _PROBLEMS.get(str(answer.get("code")), _PROBLEMS["bad_model"])
    return template.format(
        model=voice.model.name, config=voice.config.name, detail=answer.get("detail") or "?"
    )


def fingerprint(voice: PiperVoiceFile) -> str:
    """sha256 over the model and its JSON, so a replaced or edited voice renders anew."""
    key = _files_key(voice)
    with _LOCK:
        if key in _FINGERPRINTS:
            return _FINGERPRINTS[key]
    digest = hashlib.sha256()
    for path in (voice.model, voice.config):
        part = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                part.update(block)
        digest.update(part.digest())
    value = digest.hexdigest()
    with _LOCK:
        _FINGERPRINTS[key] = value
    return value


def _load(voice: PiperVoiceFile) -> Any:
    """The voice's model in this process: loaded on first use, kept, reloaded when replaced."""
    key = _files_key(voice)
    with _LOCK:
        loaded = _LOADED.get(_loaded_key(voice))
        if loaded is not None and loaded[0] == key:
            return loaded[1]
        from piper import PiperVoice

        model = PiperVoice.load(voice.model, config_path=voice.config)
        _LOADED[_loaded_key(voice)] = (key, model)
        return model


def forget_loaded() -> None:
    """Drop every verdict, fingerprint and loaded model of this process (tests, benchmarks)."""
    with _LOCK:
        _VERDICTS.clear()
        _FINGERPRINTS.clear()
        _LOADED.clear()


@register_engine
class PiperEngine(SpeechEngine):
    """Piper (piper-tts): natural neural voices, offline, from the station's own voice files."""

    name = "piper"
    label = "Piper (ngoại tuyến, giọng tự nhiên)"
    offline = True
    default_voice = ""  # replaced per instance by the folder's first Vietnamese voice

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self.folder = Path(self.config.get("PIPER_VOICES_DIR") or "instance/voices")
        self._files: list[PiperVoiceFile] | None = None
        files = self.voice_files()
        usable = [v for v in files if not v.problem]
        preferred = [v for v in usable if v.vietnamese] or usable
        self.default_voice = preferred[0].id if preferred else ""

    @staticmethod
    def _installed() -> bool:
        """Whether piper-tts can be imported here."""
        return importlib.util.find_spec("piper") is not None

    def voice_files(self) -> list[PiperVoiceFile]:
        """Every voice in the folder with why it cannot be used, if so (checked once each)."""
        if self._files is None:
            files = []
            installed = self._installed()
            for voice in scan_voices(self.folder):
                if not voice.problem and not installed:
                    voice = replace(voice, problem=_PROBLEMS["no_piper"])
                elif not voice.problem:
                    try:
                        voice = replace(voice, problem=probe_problem(voice, self.config))
                    except OSError as exc:  # the file went away while being checked
                        voice = replace(voice, problem=f"không đọc được tệp giọng ({exc}).")
                files.append(voice)
            self._files = files
        return self._files

    def voices(self) -> list[VoiceInfo]:
        """The usable voices, Vietnamese ones first."""
        usable = [v for v in self.voice_files() if not v.problem]
        usable.sort(key=lambda v: (not v.vietnamese, v.id))
        return [VoiceInfo(v.id, v.label) for v in usable]

    def check(self) -> None:
        """Raise EngineError when piper-tts is missing or the folder holds no voice at all.

        A folder with only broken voices passes: the chosen voice then says why it is unusable.
        """
        if not self._installed():
            raise EngineError("Chưa cài gói piper-tts: " + INSTALL_HINT, engine=self.name)
        if not self.voice_files():
            raise EngineError(
                f"Chưa có giọng Piper nào trong thư mục {self.folder}. "
                + how_to_add_vietnamese(self.folder),
                engine=self.name,
            )

    def voice_file(self, voice: str) -> PiperVoiceFile:
        """The usable voice of that name, or EngineError saying why it cannot be used."""
        found = next((v for v in self.voice_files() if v.id == voice), None)
        if found is None:
            usable = [v.id for v in self.voice_files() if not v.problem]
            choose = (
                f"Các giọng dùng được: {', '.join(usable)}."
                if usable
                else how_to_add_vietnamese(self.folder)
            )
            raise EngineError(
                f"Không có giọng Piper “{voice}” trong thư mục {self.folder}. {choose}",
                engine=self.name,
            )
        if found.problem:
            raise EngineError(
                f"Giọng Piper “{found.id}” không dùng được: {found.problem}", engine=self.name
            )
        return found

    def check_voice(self, voice: str) -> None:
        """Raise EngineError for a voice that is not in the folder or does not load."""
        self.voice_file(voice)

    def cache_token(self, voice: str) -> str:
        """The voice files' sha256: a replaced model or JSON gives a new cache key."""
        return fingerprint(self.voice_file(voice))

    def voice_warnings(self, voice: str) -> list[dict]:
        """A voice for another language is allowed, but the render says so to its reviewer."""
        try:
            found = self.voice_file(voice)
        except EngineError:
            return []
        if found.vietnamese:
            return []
        message = (
            f"Giọng Piper “{found.id}” đọc {found.language_phrase}, không phải tiếng "
            "Việt: bài tiếng Việt sẽ bị đọc sai. Chỉ dùng giọng này cho bài bằng ngôn ngữ đó."
        )
        return [{"code": "voice_language", "token": found.id, "message": message}]

    def notices(self) -> list[str]:
        """What the voice picker should say: broken voices and why, how to add Vietnamese."""
        if not self._installed():
            return ["Chưa cài gói piper-tts: " + INSTALL_HINT]
        files = self.voice_files()
        notes = [f"Giọng “{v.id}” không dùng được: {v.problem}" for v in files if v.problem]
        notes += [
            f"Giọng “{v.id}” là {v.language_phrase}: không dùng cho bài tiếng Việt."
            for v in files
            if not v.problem and not v.vietnamese
        ]
        if not any(v.vietnamese and not v.problem for v in files):
            notes.append(how_to_add_vietnamese(self.folder))
        return notes

    def synthesize(
        self,
        text: str,
        *,
        voice: str,
        speed: int = 100,
        on_progress: Callable[[float], None] | None = None,
    ) -> AudioSegment:
        """Speak text phrase by phrase; speed maps to Piper's length_scale (100% = the voice's)."""
        check_speed(speed)
        _check_text(text)
        self.check()
        found = self.voice_file(voice)
        try:
            model = _load(found)
        except Exception as exc:  # passed the probe, yet the in-process load failed
            raise EngineError(
                f"Không nạp được giọng Piper “{found.id}” ({exc}). Hãy chép lại cả hai tệp của "
                "giọng, hoặc chọn bộ đọc eSpeak NG.",
                engine=self.name,
            ) from exc
        from piper.config import SynthesisConfig

        # Raw model output, one gain for the whole text: per-sentence peak normalisation (the
        # CLI's default) would make quiet sentences jump up; mastering sets the loudness.
        syn = SynthesisConfig(
            length_scale=model.config.length_scale * 100 / speed, normalize_audio=False
        )
        rate = model.config.sample_rate
        gap = bytes(2 * round(rate * SENTENCE_GAP_S))
        chunks = split_phrases(text, CHUNK_CHARS)
        pcm = bytearray()
        for done, chunk in enumerate(chunks, start=1):
            try:
                for sentence in model.synthesize(chunk, syn):
                    if pcm:
                        pcm += gap
                    pcm += sentence.audio_int16_bytes
            except Exception as exc:  # onnxruntime and the phonemiser raise their own types
                raise EngineError(
                    f"Piper gặp lỗi khi đọc bằng giọng “{found.id}” ({exc}). Hãy thử lại; nếu "
                    "vẫn lỗi, hãy chép lại cả hai tệp của giọng hoặc chọn bộ đọc eSpeak NG.",
                    engine=self.name,
                ) from exc
            _report(on_progress, done, len(chunks))
        if not pcm:
            raise EngineError(
                f"Giọng Piper “{found.id}” không đọc ra âm thanh nào cho văn bản này.",
                engine=self.name,
            )
        return AudioSegment(data=bytes(pcm), sample_width=2, frame_rate=rate, channels=1)
