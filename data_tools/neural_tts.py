"""Neural speech synthesis run with onnxruntime: Kokoro-82M (many voices, blendable) and Piper.

Phonemes come from ``espeak-ng -q --ipa`` (the same IPA that phonemizer gives, which both models
were trained with; no GPL phonemizer). Each model runs on one thread, so a process's output is the
same bytes for the same input; parallelism comes from processes (``wakeword data synth --jobs``).
"""

from __future__ import annotations

import functools
import json
import re

import numpy as np

from data_tools.espeak import espeak_transcription
from data_tools.pronunciation import pronunciation_variant
from data_tools.voice_assets import (
    KOKORO_STYLE_ROWS,
    REINSTALL,
    VoiceAssetError,
    kokoro_model_path,
    kokoro_styles,
    piper_paths,
)
from wakeword.audio import resample
from wakeword.errors import ParameterError

__all__ = ["KOKORO_RATE", "ipa", "kokoro", "kokoro_style", "parse_blend", "piper"]

KOKORO_RATE = 24_000  # Hz, Kokoro's output
# Kokoro's phoneme vocabulary (its config.json; id 0 is the pad at both ends).
_KOKORO_VOCAB = {c: i for i, c in enumerate(
    ";:,.!?", start=1)} | {"—": 9, "…": 10, '"': 11, "(": 12, ")": 13, "“": 14, "”": 15, " ": 16,
    "\u0303": 17, "ʣ": 18, "ʥ": 19, "ʦ": 20, "ʨ": 21, "ᵝ": 22, "ꭧ": 23, "A": 24, "I": 25, "O": 31,
    "Q": 33, "S": 35, "T": 36, "W": 39, "Y": 41, "ᵊ": 42} | {c: 43 + i for i, c in enumerate(
    "abcdef")} | {c: 50 + i for i, c in enumerate("hijklmnopqrstuvwxyz")} | {"ɑ": 69, "ɐ": 70,
    "ɒ": 71, "æ": 72, "β": 75, "ɔ": 76, "ɕ": 77, "ç": 78, "ɖ": 80, "ð": 81, "ʤ": 82, "ə": 83,
    "ɚ": 85, "ɛ": 86, "ɜ": 87, "ɟ": 90, "ɡ": 92, "ɥ": 99, "ɨ": 101, "ɪ": 102, "ʝ": 103, "ɯ": 110,
    "ɰ": 111, "ŋ": 112, "ɳ": 113, "ɲ": 114, "ɴ": 115, "ø": 116, "ɸ": 118, "θ": 119, "œ": 120,
    "ɹ": 123, "ɾ": 125, "ɻ": 126, "ʁ": 128, "ɽ": 129, "ʂ": 130, "ʃ": 131, "ʈ": 132, "ʧ": 133,
    "ʊ": 135, "ʋ": 136, "ʌ": 138, "ɣ": 139, "ɤ": 140, "χ": 142, "ʎ": 143, "ʒ": 147, "ʔ": 148,
    "ˈ": 156, "ˌ": 157, "ː": 158, "ʰ": 162, "ʲ": 164, "↓": 169, "→": 171, "↗": 172, "↘": 173,
    "ᵻ": 177}  # fmt: skip
_KOKORO_FIXES = (("ʲ", "j"), ("r", "ɹ"), ("x", "k"), ("ɬ", "l"))  # espeak symbols Kokoro lacks
_SILENCE = 0.01  # trim threshold (full scale) around the synthesized speech
_PAD = 0.03  # seconds kept before and after the speech when trimming


@functools.lru_cache(maxsize=8192)
def ipa(text: str, *, language: str = "en-us") -> str:
    """espeak-ng's IPA for ``text`` (words separated by single spaces)."""
    return " ".join(espeak_transcription(text, flag="--ipa", voice=language).split())


def _session(model: str | bytes):
    """An onnxruntime session of a model file (or its bytes)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one thread: the same bytes every time; processes give speed
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for a corrupt file
        name = model if isinstance(model, str) else "the model"
        raise VoiceAssetError(f"{name}: cannot be loaded ({type(exc).__name__}); {REINSTALL}") from None


@functools.lru_cache(maxsize=1)
def _kokoro():
    return _session(str(kokoro_model_path())), kokoro_styles()


@functools.lru_cache(maxsize=1)
def _piper():
    model, config = piper_paths()
    try:
        settings = json.loads(config.read_text(encoding="utf-8"))
        ids = {k: v[0] for k, v in settings["phoneme_id_map"].items()}
        rate = int(settings["audio"]["sample_rate"])
    except (ValueError, KeyError, TypeError, IndexError):
        raise VoiceAssetError(f"{config}: not a Piper voice config; {REINSTALL}") from None
    return _session(str(model)), ids, rate


def parse_blend(spec: str) -> list[tuple[str, float]]:
    """``"af_heart"`` or ``"af_heart:0.6,bm_george:0.4"`` as (style, weight) pairs, weights summing to 1."""
    parts = []
    for item in spec.split(","):
        name, _, weight = item.partition(":")
        try:
            w = float(weight) if weight else 1.0
        except ValueError:
            raise ParameterError(f"Kokoro voice {spec!r}: weight {weight!r} is not a number") from None
        if not name or w <= 0:
            raise ParameterError(f"Kokoro voice {spec!r}: write NAME or NAME:WEIGHT,NAME:WEIGHT")
        parts.append((name, w))
    total = sum(w for _, w in parts)
    return [(n, w / total) for n, w in parts]


def kokoro_style(spec: str) -> np.ndarray:
    """The (510, 256) float32 style of a voice or a weighted blend of voices."""
    styles = _kokoro()[1]
    blend = parse_blend(spec)
    unknown = [n for n, _ in blend if n not in styles]
    if unknown:
        raise ParameterError(f"Kokoro voice {unknown[0]!r} does not exist; see `wakeword data voices`")
    return sum(w * styles[n] for n, w in blend).astype(np.float32)


def _pronounced(phonemes: str, variant: int) -> str:
    """``phonemes`` as they are (``variant`` 0), or the pronunciation variant seeded by ``variant``."""
    if not variant:
        return phonemes
    return pronunciation_variant(phonemes, np.random.default_rng(variant))


def _trim(audio: np.ndarray, rate: int) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > _SILENCE)
    if loud.size == 0:
        return audio
    pad = round(_PAD * rate)
    return audio[max(0, loud[0] - pad) : loud[-1] + pad]


def kokoro(text: str, *, voice: str, speed: float, sample_rate: int, variant: int = 0) -> np.ndarray:
    """Speak ``text`` with Kokoro.

    Parameters
    ----------
    text : str
    voice : str
        A Kokoro style (``"af_heart"``) or a blend (``"af_heart:0.7,am_adam:0.3"``); British styles
        (``bf_``, ``bm_``) read British phonemes, every other one American.
    speed : float
        Speaking rate, 1.0 normal (0.5-2.0).
    sample_rate : int
        Output rate in Hz.
    variant : int
        0: the dictionary's pronunciation; else the seed of a pronunciation variant
        (:func:`data_tools.pronunciation.pronunciation_variant`).

    Returns
    -------
    np.ndarray [shape=(n,)], float32
    """
    if not 0.5 <= speed <= 2.0:
        raise ParameterError(f"Kokoro speed must be 0.5-2.0, got {speed}")
    session, _ = _kokoro()
    style = kokoro_style(voice)
    main_style = max(parse_blend(voice), key=lambda pair: pair[1])[0]
    language = "en-gb" if main_style.startswith("b") else "en-us"
    phonemes = _pronounced(ipa(text, language=language), variant)
    for old, new in _KOKORO_FIXES:
        phonemes = phonemes.replace(old, new)
    tokens = [_KOKORO_VOCAB[c] for c in re.sub(r"\s+", " ", phonemes) if c in _KOKORO_VOCAB]
    tokens = tokens[: KOKORO_STYLE_ROWS - 2]
    if not tokens:
        return np.zeros(0, np.float32)
    audio = session.run(
        None,
        {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": style[len(tokens)].reshape(1, -1),
            "speed": np.array([speed], dtype=np.float32),
        },
    )[0]
    audio = _trim(np.asarray(audio, np.float32).ravel(), KOKORO_RATE)
    return resample(audio, orig_sr=KOKORO_RATE, target_sr=sample_rate)


def piper(text: str, *, length_scale: float, sample_rate: int, variant: int = 0) -> np.ndarray:
    """Speak ``text`` with the Piper voice ``en_US-joe-medium``.

    Piper's two noise scales are set to 0: its ONNX graph draws that noise from an unseeded
    generator, so any other value gives different audio on every call. Take-to-take variation
    comes from ``length_scale`` and the caller's pitch and tempo changes instead.

    Parameters
    ----------
    length_scale : float
        Duration factor, 1.0 normal (> 1 is slower).
    sample_rate : int
        Output rate in Hz.
    variant : int
        0: the dictionary's pronunciation; else the seed of a pronunciation variant.
    """
    session, ids, rate = _piper()
    sequence = [ids["^"], ids["_"]]
    for c in _pronounced(ipa(text, language="en-us"), variant):
        if c in ids:
            sequence += [ids[c], ids["_"]]
    sequence.append(ids["$"])
    audio = session.run(
        None,
        {
            "input": np.array([sequence], dtype=np.int64),
            "input_lengths": np.array([len(sequence)], dtype=np.int64),
            "scales": np.array([0.0, length_scale, 0.0], dtype=np.float32),
        },
    )[0]
    audio = _trim(np.asarray(audio, np.float32).ravel(), rate)
    return resample(audio, orig_sr=rate, target_sr=sample_rate)
