"""Low-level eSpeak NG: libespeak-ng through ctypes, or the espeak-ng command."""

from __future__ import annotations

import ctypes
import os
import subprocess
import tempfile
import threading
import wave
from dataclasses import dataclass
from pathlib import Path

# Constants from espeak-ng's speak_lib.h (API version 1.52).
AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_INITIALIZE_DONT_EXIT = 0x8000  # report errors instead of calling exit() in our process
ESPEAK_RATE = 1
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
ESPEAK_ENDPAUSE = 0x1000  # keep the sentence-end pause after each chunk
EE_OK = 0
EE_NOT_FOUND = 2

_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class EspeakUnavailable(RuntimeError):
    """The library or the command cannot be used on this machine."""


class UnknownVoice(ValueError):
    """eSpeak NG has no voice by this name."""


@dataclass(frozen=True)
class Pcm:
    """Raw 16-bit mono PCM samples and their rate."""

    data: bytes
    sample_rate: int


# libespeak-ng keeps one global, non-thread-safe state per process (two threads in one process
# segfaulted), so every call into it, from loading to the last sample, holds this lock.
_LOCK = threading.Lock()
_library: _Library | None = None


def _reset_after_fork() -> None:
    """Give a forked child a free lock: the parent's holder does not exist in the child."""
    global _LOCK
    _LOCK = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


class _Library:
    """An initialised libespeak-ng; use only while holding _LOCK."""

    def __init__(self, library_path: str, data_path: str) -> None:
        try:
            lib = ctypes.CDLL(library_path)
        except OSError as exc:
            raise EspeakUnavailable(f"cannot load {library_path}: {exc}") from exc
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.restype = ctypes.c_int
        rate = lib.espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), ESPEAK_INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise EspeakUnavailable(f"espeak_Initialize failed with data at {data_path}")
        self.lib = lib
        self.sample_rate = rate
        self._sink: bytearray | None = None
        # Kept on the instance: ctypes must not free the callback while the library holds it.
        self._callback = _SYNTH_CALLBACK(self._collect)
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wave_ptr, num_samples: int, _events) -> int:
        """Receive one block of samples from the library (0 = keep going)."""
        if num_samples > 0 and wave_ptr and self._sink is not None:
            self._sink.extend(ctypes.string_at(wave_ptr, num_samples * 2))
        return 0

    def synth(self, text: str, voice: str, rate: int) -> bytes:
        """Speak text with voice at rate words per minute; return 16-bit mono samples."""
        err = self.lib.espeak_SetVoiceByName(voice.encode())
        if err == EE_NOT_FOUND:
            raise UnknownVoice(voice)
        if err != EE_OK:
            raise RuntimeError(f"espeak_SetVoiceByName({voice!r}) returned {err}")
        self.lib.espeak_SetParameter(ESPEAK_RATE, rate, 0)
        encoded = text.encode("utf-8") + b"\0"
        self._sink = bytearray()
        try:
            err = self.lib.espeak_Synth(
                encoded,
                len(encoded),
                0,
                POS_CHARACTER,
                0,
                ESPEAK_CHARS_UTF8 | ESPEAK_ENDPAUSE,
                None,
                None,
            )
            self.lib.espeak_Synchronize()
            if err != EE_OK:
                raise RuntimeError(f"espeak_Synth returned {err}")
            return bytes(self._sink)
        finally:
            self._sink = None


def loader_paths() -> tuple[str, str]:
    """Return (library, data) paths from the espeakng-loader wheel, or raise EspeakUnavailable."""
    try:
        import espeakng_loader
    except ImportError as exc:
        raise EspeakUnavailable("the espeakng-loader package is not installed") from exc
    library_path = espeakng_loader.get_library_path()
    if not Path(library_path).is_file():
        raise EspeakUnavailable(f"library file missing: {library_path}")
    try:
        data_path = espeakng_loader.get_data_path()
    except RuntimeError as exc:
        raise EspeakUnavailable(str(exc)) from exc
    return library_path, data_path


def library_check() -> int:
    """Load and initialise the library once per process; return its sample rate."""
    library_path, data_path = loader_paths()
    with _LOCK:
        return _get_library(library_path, data_path).sample_rate


def _get_library(library_path: str, data_path: str) -> _Library:
    """Return the process's library, initialising it on first use (caller holds _LOCK)."""
    global _library
    if _library is None:
        _library = _Library(library_path, data_path)
    return _library


def library_synth(text: str, voice: str, rate: int) -> Pcm:
    """Synthesise one chunk with the library, serialised with every other user in the process."""
    library_path, data_path = loader_paths()
    with _LOCK:
        library = _get_library(library_path, data_path)
        return Pcm(library.synth(text, voice, rate), library.sample_rate)


def command_synth(command: str, text: str, voice: str, rate: int, timeout: float = 120) -> Pcm:
    """Synthesise one chunk by running the espeak-ng command; it is a separate process, no lock."""
    with tempfile.TemporaryDirectory(prefix="loa-espeak-") as tmp:
        out = Path(tmp) / "out.wav"
        # -w writes a proper WAV header; --stdout's header has no length when piped.
        args = [command, "-v", voice, "-s", str(rate), "-b", "1", "-w", str(out), "--stdin"]
        try:
            proc = subprocess.run(
                args, input=text.encode("utf-8"), capture_output=True, timeout=timeout, check=False
            )
        except FileNotFoundError as exc:
            raise EspeakUnavailable(f"command not found: {command}") from exc
        stderr = proc.stderr.decode("utf-8", "replace").strip()
        if proc.returncode != 0 or not out.exists():
            if "voice" in stderr.lower():
                raise UnknownVoice(voice)
            raise RuntimeError(f"{command} exited with {proc.returncode}: {stderr}")
        with wave.open(str(out), "rb") as wav:
            if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                raise RuntimeError(f"{command} wrote unexpected WAV format")
            return Pcm(wav.readframes(wav.getnframes()), wav.getframerate())
