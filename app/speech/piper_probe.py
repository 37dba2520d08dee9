"""Load one Piper voice in a throwaway process and print whether it works, as one JSON line.

Run by app/speech/piper.py as a script (no app imports): a model that is corrupt, or that does
not match its JSON, fails here, and one that would crash onnxruntime kills only this process,
never the web app or the render worker.
"""

from __future__ import annotations

import json
import math
import sys


def _result(code: str, detail: str = "") -> dict:
    """A failed check: a code piper.py turns into a Vietnamese message, and the raw detail."""
    return {"ok": False, "code": code, "detail": " ".join(detail.split())[:300]}


def probe(model_path: str, config_path: str) -> dict:
    """Load the model and its JSON as the engine would, then speak a few phonemes with it."""
    try:
        import numpy as np
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig
        from piper.const import BOS, EOS, PAD
    except ImportError as exc:
        return _result("no_piper", str(exc))
    try:
        with open(config_path, encoding="utf-8") as fh:
            config = PiperConfig.from_dict(json.load(fh))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return _result("bad_json", f"{type(exc).__name__}: {exc}")
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: the verdict is the output, not the log
    try:
        session = onnxruntime.InferenceSession(
            model_path, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own types for every kind of bad file
        return _result("bad_model", str(exc))
    inputs = {i.name for i in session.get_inputs()}
    if not {"input", "input_lengths", "scales"} <= inputs:
        return _result("not_piper", f"inputs {sorted(inputs)}")
    if config.num_speakers > 1 and "sid" not in inputs:
        return _result("mismatch", f"JSON num_speakers={config.num_speakers}, model has no sid")
    if config.num_speakers <= 1 and "sid" in inputs:
        return _result("mismatch", "model has several speakers, JSON num_speakers<=1")
    voice = PiperVoice(session=session, config=config)
    try:
        voice.phonemize("a")
    except Exception as exc:  # espeakbridge raises RuntimeError for an unknown voice
        return _result("espeak_voice", f"{config.espeak_voice}: {exc}")
    id_map = config.phoneme_id_map
    try:
        highest = max(i for ids in id_map.values() for i in ids)
        ids = [*id_map[BOS], *id_map[PAD], highest, *id_map[PAD], *id_map[EOS]]
    except (KeyError, ValueError, TypeError) as exc:
        return _result("bad_json", f"phoneme_id_map: {exc}")
    try:
        audio = voice.phoneme_ids_to_audio(ids)
    except Exception as exc:  # a JSON of another voice names symbols this model lacks
        return _result("mismatch", str(exc))
    if getattr(audio, "size", 0) == 0 or not math.isfinite(float(np.abs(audio).max())):
        return _result("mismatch", "no finite audio out of the model")
    return {"ok": True, "sample_rate": config.sample_rate}


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1], sys.argv[2])))
