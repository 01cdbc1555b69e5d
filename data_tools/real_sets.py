"""The real recordings of ``../shared/speech`` as test sets: keyword clips, read speech, real noise.

Read in place, never copied, never trained on. Every function returns ``None`` (or an empty list)
where a set is absent, so callers can skip cleanly.

- Picovoice wake-word benchmark (Apache-2.0): crowd-sourced "computer", "jarvis", "smart mirror",
  "snowboy", "view glass", one word per clip, more than 50 speakers.
- LibriSpeech via Resemblyzer (CC BY 4.0): 1.09 h of read speech by 261 speakers (negatives).
- Mycroft Precise community data (public domain): "hey computer" (10 clips) and "computer" (10)
  by one speaker, who also says 40 other words; "computer" by another (47 clips).
- Speech Commands v0.02 test subset (CC BY 4.0): its ``_silence_`` clips are real background
  noise, used to mix keyword clips at a given SNR.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from data_tools.shared_data import shared_speech_dir
from wakeword.audio import load_audio
from wakeword.constants import SAMPLE_RATE

__all__ = [
    "PICOVOICE_KEYWORDS",
    "keyword_clips",
    "librispeech_files",
    "mix_at_snr",
    "noise_clips",
    "precise_clips",
    "precise_other_speech",
    "precise_speakers",
]

PICOVOICE = "picovoice_wake_word_benchmark"
LIBRISPEECH = "librispeech_resemblyzer"
PRECISE = "precise_community_data_pd_subset"
SPEECH_COMMANDS = "speech_commands_v0.02_testset_subset"
PICOVOICE_KEYWORDS = ("computer", "jarvis", "smart mirror", "snowboy", "view glass")


def _root(folder: str, root: Path | None) -> Path | None:
    base = root if root is not None else shared_speech_dir()
    if base is None or not (base / folder).is_dir():
        return None
    return base / folder


def keyword_clips(keyword: str, *, root: Path | None = None) -> list[Path]:
    """The Picovoice benchmark's clips of ``keyword`` (one of :data:`PICOVOICE_KEYWORDS`), sorted."""
    folder = _root(PICOVOICE, root)
    if folder is None:
        return []
    return sorted((folder / keyword.replace(" ", "_")).glob("*.flac"))


def librispeech_files(*, root: Path | None = None) -> list[Path]:
    """LibriSpeech utterances (every file listed in the set's metadata.csv), sorted."""
    folder = _root(LIBRISPEECH, root)
    if folder is None:
        return []
    with open(folder / "metadata.csv", newline="") as handle:
        return sorted(folder / row["path"] for row in csv.DictReader(handle))


def _precise_rows(root: Path | None) -> tuple[Path | None, list[dict]]:
    folder = _root(PRECISE, root)
    if folder is None:
        return None, []
    with open(folder / "metadata.csv", newline="") as handle:
        return folder, list(csv.DictReader(handle))


def precise_speakers(text: str = "hey computer", *, root: Path | None = None) -> list[str]:
    """The people (Precise contributors) who recorded positive clips of ``text``, sorted."""
    _, rows = _precise_rows(root)
    return sorted({r["contributor"] for r in rows if r["kind"] == "positive" and r["text"] == text})


def precise_clips(
    text: str = "hey computer", *, speaker: str | None = None, root: Path | None = None
) -> list[Path]:
    """The Precise set's positive clips of ``text`` (by ``speaker`` alone if given), sorted."""
    folder, rows = _precise_rows(root)
    return sorted(
        folder / r["path"]
        for r in rows
        if r["kind"] == "positive" and r["text"] == text and speaker in (None, r["contributor"])
    )


def precise_other_speech(
    text: str = "hey computer", *, speaker: str | None = None, root: Path | None = None
) -> list[Path]:
    """The Precise set's ``negative_speech`` clips (other words) recorded by the people who
    recorded the positives of ``text`` (or by ``speaker``), sorted: the owner of a phone saying
    something else."""
    folder, rows = _precise_rows(root)
    owners = (r["contributor"] for r in rows if r["kind"] == "positive" and r["text"] == text)
    speakers = {speaker} if speaker is not None else set(owners)
    other = [r for r in rows if r["kind"] == "negative_speech" and r["contributor"] in speakers]
    return sorted(folder / r["path"] for r in other)


def noise_clips(*, root: Path | None = None) -> list[np.ndarray]:
    """Real background noise: the Speech Commands ``_silence_`` clips (16 kHz float32)."""
    folder = _root(SPEECH_COMMANDS, root)
    if folder is None:
        return []
    return [load_audio(p, allow_silent=True) for p in sorted((folder / "_silence_").glob("*.wav"))]


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``speech`` with a random stretch of ``noise`` (looped if short) at ``snr_db`` (RMS over the
    whole clip, as the Picovoice benchmark mixes), float32, peak-limited to 0.99."""
    reps = int(np.ceil(speech.size / max(noise.size, 1))) + 1
    loop = np.tile(noise, reps)
    start = int(rng.integers(0, loop.size - speech.size + 1))
    piece = loop[start : start + speech.size].astype(np.float64)
    gain = np.sqrt(np.mean(speech.astype(np.float64) ** 2) / max(np.mean(piece**2), 1e-20))
    mixed = speech + piece * gain * 10 ** (-snr_db / 20)
    peak = float(np.max(np.abs(mixed))) if mixed.size else 0.0
    return (mixed * (0.99 / peak if peak > 0.99 else 1.0)).astype(np.float32)


def load_clips(paths: list[Path], *, sample_rate: int = SAMPLE_RATE):
    """(name, audio) for each path, read lazily (16 kHz float32)."""
    for path in paths:
        yield path.name, load_audio(path, sample_rate=sample_rate, allow_silent=True)
