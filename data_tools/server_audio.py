"""Audio the server makes for itself: int8 calibration windows and test files with known phrase times.

Nothing here reads a phone's store: the server synthesizes its own speakers (the same synthesis,
rooms and noise as the simulated fleet), so ``wakeword export`` calibrates int8 quantization and the
demo checks detection timestamps without touching any phone's data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from data_tools import acoustics as ac
from data_tools.phone_synth import PhoneSynth
from data_tools.profiles import sample_profiles
from data_tools.text import normalize_phrase, partials, random_sentence
from wakeword.constants import SAMPLE_RATE
from wakeword.errors import ParameterError

__all__ = ["PhraseStream", "calibration_clips", "phrase_stream"]


def _speakers(count: int, rng: np.random.Generator, *, split: str) -> list[PhoneSynth]:
    """``count`` server-side speakers (each with a room, microphone and noise) from ``split``'s voices."""
    held_out = count if split == "test" else 0
    profiles = sample_profiles(count, test_phones=held_out, rng=rng, first_index=10_000)
    return [
        PhoneSynth(dataclasses.replace(p, phone_id=f"server-{i:03d}"), rng, bed_seconds=5.0)
        for i, p in enumerate(profiles)
    ]


def calibration_clips(
    phrase: str, *, count: int = 48, speakers: int = 6, rng: np.random.Generator
) -> list[np.ndarray]:
    """Clips for int8 calibration: the phrase, partials, other speech and noise, by server speakers.

    Parameters
    ----------
    phrase : str
    count : int
        Number of clips (about a third of them the phrase).
    speakers : int
        Synthetic speakers (training-pool voices; no phone's recording is used).
    rng : np.random.Generator

    Returns
    -------
    list of np.ndarray [shape=(n,)], float32, 16 kHz
    """
    if count < 1 or speakers < 1:
        raise ParameterError(f"count and speakers must be >= 1, got {count} and {speakers}")
    phrase = normalize_phrase(phrase)
    synths = _speakers(speakers, rng, split="train")
    hard = partials(phrase) or [phrase]
    clips = []
    for i in range(count):
        synth = synths[i % len(synths)]
        kind = i % 6
        if kind in (0, 3):
            text = phrase
        elif kind == 1:
            text = hard[int(rng.integers(len(hard)))]
        elif kind == 5:
            clips.append(synth.noise_clip())
            continue
        else:
            text = random_sentence(rng, avoid=phrase)
        clips.append(synth.place(synth.speak(text))[0])
    return clips


@dataclass(frozen=True)
class PhraseStream:
    """A generated recording and where the phrase is in it."""

    audio: np.ndarray  # float32, 16 kHz
    spans: list[tuple[float, float]]  # (start, end) of each spoken phrase, seconds
    texts: list[str]  # what was said, in order (the phrase or other speech)

    @property
    def seconds(self) -> float:
        return self.audio.size / SAMPLE_RATE


def phrase_stream(
    phrase: str,
    *,
    occurrences: int = 3,
    other_speech: int = 3,
    split: str = "test",
    snr_db: float = 30.0,
    rng: np.random.Generator,
) -> PhraseStream:
    """One speaker saying the phrase ``occurrences`` times between other sentences, pauses between.

    Parameters
    ----------
    phrase : str
    occurrences : int
        Times the phrase is said (0: a file of other speech only).
    other_speech : int
        Other sentences, shuffled in among the phrases.
    split : {"test", "train"}
        Voice pool of the speaker ("test": a voice no training phone has).
    snr_db : float
        Speech-to-noise ratio of the speaker's background.
    rng : np.random.Generator

    Returns
    -------
    PhraseStream
    """
    if occurrences < 0 or other_speech < 0 or occurrences + other_speech < 1:
        raise ParameterError(
            f"need occurrences, other_speech >= 0 and something to say, got {occurrences}, {other_speech}"
        )
    if split not in ("test", "train"):
        raise ParameterError(f"split must be 'test' or 'train', got {split!r}")
    phrase = normalize_phrase(phrase)
    synth = _speakers(1, rng, split=split)[0]
    texts = [phrase] * occurrences + [random_sentence(rng, avoid=phrase) for _ in range(other_speech)]
    order = [texts[i] for i in rng.permutation(len(texts))]
    noise_rms = 10 ** ((synth.profile.level_dbfs - snr_db) / 20)

    def gap(seconds: float) -> np.ndarray:  # the room's background between utterances
        n = round(seconds * SAMPLE_RATE)
        return (noise_rms * ac.loop_segment(synth.bed, n, rng) + ac.self_noise(n, rng)).astype(np.float32)

    pieces, spans, pos = [gap(0.5)], [], round(0.5 * SAMPLE_RATE)
    for text in order:
        clip, (start, end) = synth.place(synth.speak(text), snr_db=snr_db)
        if text == phrase:
            spans.append((pos / SAMPLE_RATE + start, pos / SAMPLE_RATE + end))
        pause = gap(float(rng.uniform(1.6, 2.4)))  # longer than the detector's refractory period
        pieces += [clip, pause]
        pos += clip.size + pause.size
    audio = np.concatenate(pieces).astype(np.float32)
    return PhraseStream(audio=audio, spans=spans, texts=order)
