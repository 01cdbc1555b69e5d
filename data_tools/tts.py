"""Offline speech synthesis: espeak-ng and flite (Debian packages) and the neural voices Kokoro and
Piper (:mod:`data_tools.neural_tts`, files installed by ``make setup``).

espeak-ng and flite run in a subprocess; Kokoro and Piper run in-process with onnxruntime, and their
takes are cached on disk (``$WAKEWORD_TTS_CACHE``, default ``~/.cache/wakeword/tts``): they are
deterministic and Kokoro is slow (about 1 s per second of speech on one core). Every call returns
16 kHz mono float32.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_tools.espeak import SynthesisError, espeak_transcription
from wakeword.audio import load_audio
from wakeword.constants import SAMPLE_RATE
from wakeword.errors import AudioError, ParameterError

__all__ = [
    "ENGINES",
    "NEURAL_ENGINES",
    "SynthesisError",
    "Voice",
    "consonants",
    "is_cached",
    "phonemes",
    "synthesize",
]

ENGINES = ("espeak-ng", "flite", "kokoro", "piper")
NEURAL_ENGINES = ("kokoro", "piper")  # run in-process; output cached on disk
CACHE_ENV = "WAKEWORD_TTS_CACHE"
_CACHE_VERSION = 1  # bump when the neural synthesis changes its output
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker."""

    engine: str = "espeak-ng"  # one of ENGINES
    # espeak-ng voice[+variant] ("en-gb+f3"), a flite voice ("slt"), a Kokoro style or blend
    # ("af_heart", "af_heart:0.7,bm_george:0.3") or "joe" (Piper)
    name: str = "en-us"
    rate: int = 160  # words per minute (espeak-ng; Kokoro and Piper speak at rate/160 of normal)
    pitch: int = 50  # 0-99 (espeak-ng only)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ParameterError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        if self.engine == "flite" and self.name not in FLITE_VOICES:
            raise ParameterError(f"flite voice must be one of {FLITE_VOICES}, got {self.name!r}")
        if self.engine == "piper" and self.name != "joe":
            raise ParameterError(f"the Piper voice is 'joe', got {self.name!r}")
        if self.engine == "kokoro":
            from data_tools.neural_tts import parse_blend

            parse_blend(self.name)
        if not 80 <= self.rate <= 450:
            raise ParameterError(f"rate must be 80-450 words per minute, got {self.rate}")
        if not 0 <= self.pitch <= 99:
            raise ParameterError(f"pitch must be 0-99, got {self.pitch}")

    def command(self, text: str, out: Path) -> list[str]:
        """The engine's command line that writes ``text`` as a WAV file to ``out``."""
        if self.engine == "espeak-ng":
            return [
                "espeak-ng",
                "-v",
                self.name,
                "-s",
                str(self.rate),
                "-p",
                str(self.pitch),
                "-w",
                str(out),
                "--",
                text,
            ]
        return ["flite", "-voice", self.name, "-t", text, "-o", str(out)]


def synthesize(
    text: str, *, voice: Voice | None = None, sample_rate: int = SAMPLE_RATE, variant: int = 0
) -> np.ndarray:
    """Speak ``text`` with an offline engine.

    Parameters
    ----------
    text : str
        English text.
    voice : Voice, optional
        Engine and speaker; default espeak-ng ``en-us``.
    sample_rate : int
        Output sample rate in Hz.
    variant : int
        Kokoro and Piper: 0 says ``text`` as the dictionary does, another value the pronunciation
        variant it seeds (:mod:`data_tools.pronunciation`). espeak-ng and flite ignore it.

    Returns
    -------
    np.ndarray [shape=(n,)], float32, ``sample_rate`` Hz

    Raises
    ------
    SynthesisError
        The engine is not installed or fails, or the text synthesizes to silence or nothing.
    """
    voice = voice if voice is not None else Voice()
    if not text or not text.strip():
        raise SynthesisError("empty text: give the words to speak")
    if voice.engine in NEURAL_ENGINES:
        return _neural(text, voice, sample_rate, variant)
    if shutil.which(voice.engine) is None:
        raise SynthesisError(
            f"{voice.engine} is not installed: run `make setup` (Debian package {voice.engine})"
        )
    with tempfile.TemporaryDirectory(prefix="wakeword-tts-") as tmp:
        out = Path(tmp) / "speech.wav"
        proc = subprocess.run(
            voice.command(text, out), capture_output=True, text=True, timeout=60, check=False
        )
        if proc.returncode != 0 or not out.exists():
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise SynthesisError(
                f"{voice.engine} failed on {text!r} with voice {voice.name!r}: "
                f"{detail[0] if detail else f'exit code {proc.returncode}'}"
            )
        try:
            return load_audio(out, sample_rate=sample_rate)
        except AudioError as exc:
            raise SynthesisError(
                f"{text!r} synthesizes to no usable audio with {voice.engine} ({exc.problem}); "
                "use words the engine can pronounce"
            ) from None


def _cache_path(text: str, voice: Voice, sample_rate: int, variant: int = 0) -> Path:
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "wakeword" / "tts")
    key = repr((_CACHE_VERSION, voice.engine, voice.name, voice.rate, text, sample_rate))
    if variant:  # (the dictionary's takes keep the keys they had before variants existed)
        key += f" variant {variant}"
    digest = hashlib.sha256(key.encode()).hexdigest()
    return root / digest[:2] / f"{digest}.npy"


def is_cached(text: str, voice: Voice, *, sample_rate: int = SAMPLE_RATE) -> bool:
    """Whether a neural voice's take of ``text`` is already in the disk cache."""
    return voice.engine in NEURAL_ENGINES and _cache_path(text, voice, sample_rate).is_file()


def _neural(text: str, voice: Voice, sample_rate: int, variant: int = 0) -> np.ndarray:
    """Kokoro or Piper, read from the disk cache when this take was made before."""
    from data_tools import neural_tts

    path = _cache_path(text, voice, sample_rate, variant)
    if path.is_file():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # a corrupt cache entry is made again
    if voice.engine == "kokoro":
        speed = min(2.0, voice.rate / 160)
        audio = neural_tts.kokoro(
            text, voice=voice.name, speed=speed, sample_rate=sample_rate, variant=variant
        )
    else:
        audio = neural_tts.piper(
            text, length_scale=160 / voice.rate, sample_rate=sample_rate, variant=variant
        )
    if audio.size < sample_rate // 20 or not np.any(np.abs(audio) > 1e-3):
        raise SynthesisError(f"{text!r} synthesizes to no usable audio with {voice.engine} {voice.name!r}")
    audio = audio.astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, audio, allow_pickle=False)
    os.replace(tmp, path)
    return audio


@functools.lru_cache(maxsize=4096)  # the same phrase's variants are checked for every phone
def phonemes(text: str, *, voice: str = "en-us") -> str:
    """espeak-ng's phoneme transcription of ``text``, stress marks removed (to spot homophones:
    "hay computer" and "hey computer" give the same string)."""
    out = espeak_transcription(text, flag="-x", voice=voice)
    return " ".join(out.replace("'", "").replace(",", "").split())


# espeak-ng's phoneme codes of vowels, and the marks on them (length, stress, reduction, flaps)
ESPEAK_VOWEL_CODES = frozenset("aAeEiIoOuUVY03@") | frozenset(":'#,25- ")


def consonants(text: str, *, voice: str = "en-us") -> str:
    """The consonants of ``text`` as espeak-ng says it, in order ("computer" and "camputer" both
    give ``kmpjt``): what stays when only vowels change."""
    return "".join(c for c in phonemes(text, voice=voice) if c not in ESPEAK_VOWEL_CODES)
