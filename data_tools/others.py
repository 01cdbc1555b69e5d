"""Other people talking near a phone (background talk, babble, the test streams): who and what.

Real rooms hold real voices saying anything at all, and a model that has heard only a few robotic
voices say a few hundred words fires on them. So the other people are mostly neural voices:

- Kokoro styles (each one person), saying sentences from a fixed pool per style, so their takes are
  made once per machine and shared by every phone and every fleet through the TTS disk cache;
- Piper's one voice at a few rates, from one fixed pool of sentences (the same sharing);
- espeak-ng voices saying made-up sentences (cheap, so every take is new).

A phone of the training split hears only training styles and voices; held-out phones and the test
streams hear only held-out ones (:func:`data_tools.profiles.is_held_out_voice`).
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np

from data_tools.profiles import kokoro_pool, voice_pool
from data_tools.text import DEFAULT_SENTENCES, mentions, random_sentence
from data_tools.tts import Voice

__all__ = ["fresh_other_text", "kokoro_takes", "other_text", "other_voice"]

KOKORO_OTHER_SHARE = 0.4  # of other people: a Kokoro style
PIPER_OTHER_SHARE = 0.2  # of other people: Piper's voice
# Kokoro costs about 2 s per second of speech on one core: 54 styles x 5 sentences is ~25 min of
# one core, once per machine (the cache), for 270 natural voices-and-sentences.
KOKORO_OTHER_TEXTS = 5  # default sentences in each Kokoro style's pool (FleetConfig.other_kokoro_texts)
KOKORO_OTHER_RATE = 160  # words per minute (their tempo varies per take by resampling)
PIPER_SENTENCES = 120  # Piper's pool: ~360 takes with the rates below, ~2 min of one core
PIPER_RATES = (140, 160, 180)  # words per minute


def _pool_rng(name: str) -> np.random.Generator:
    seed = int.from_bytes(hashlib.sha256(f"wakeword-others:{name}".encode()).digest()[:8], "big")
    return np.random.default_rng(seed)


@functools.cache
def _pool(name: str, size: int, source: str = DEFAULT_SENTENCES) -> tuple[str, ...]:
    """A fixed pool of ``size`` sentences from ``source`` for the voice ``name`` (the same on every
    machine)."""
    rng = _pool_rng(name if source == DEFAULT_SENTENCES else f"{name}:{source}")
    return tuple(random_sentence(rng, source=source) for _ in range(size))


def _texts(voice: Voice, kokoro_texts: int, source: str) -> tuple[str, ...] | None:
    if voice.engine == "piper":
        return _pool("piper", PIPER_SENTENCES, source)
    if voice.engine == "kokoro":
        return _pool(voice.name, kokoro_texts, source)
    return None  # espeak-ng: any made-up sentence


def kokoro_takes(
    split: str, *, kokoro_texts: int = KOKORO_OTHER_TEXTS, source: str = DEFAULT_SENTENCES
) -> list[tuple[str, Voice]]:
    """Every (text, voice) of the Kokoro pools a phone of ``split`` may hear (to make them ahead,
    spread over processes; Piper's cheap takes are made when first needed)."""
    voices = [Voice("kokoro", style, KOKORO_OTHER_RATE) for style in kokoro_pool(split)]
    return [(text, voice) for voice in voices for text in _pool(voice.name, kokoro_texts, source)]


def other_voice(rng: np.random.Generator, split: str = "test", *, kokoro: bool = True) -> Voice:
    """Another person, from the voices of ``split``'s pool (a training phone's background never
    holds a held-out voice; Piper's one voice is a training voice). ``kokoro=False`` leaves Kokoro
    out (its place goes to espeak-ng)."""
    roll = rng.uniform()
    if kokoro and roll < KOKORO_OTHER_SHARE:
        styles = kokoro_pool(split)
        return Voice("kokoro", styles[int(rng.integers(len(styles)))], KOKORO_OTHER_RATE)
    if split == "train" and roll < KOKORO_OTHER_SHARE + PIPER_OTHER_SHARE:
        return Voice("piper", "joe", int(PIPER_RATES[rng.integers(len(PIPER_RATES))]))
    pool = [v for v in voice_pool(split) if v[0] == "espeak-ng"]
    engine, name = pool[rng.integers(len(pool))]
    return Voice(engine, name, int(rng.integers(130, 190)), int(rng.integers(20, 80)))


def other_text(
    rng: np.random.Generator,
    voice: Voice,
    *,
    avoid: str = "",
    kokoro_texts: int = KOKORO_OTHER_TEXTS,
    source: str = DEFAULT_SENTENCES,
) -> str:
    """A sentence for ``voice`` to say that does not mention ``avoid``: a neural voice's from its
    fixed pool (``kokoro_texts`` per Kokoro style), the others' made up (``source``: see
    :func:`~data_tools.text.random_sentence`)."""
    texts = _texts(voice, kokoro_texts, source)
    if texts is None:
        return random_sentence(rng, avoid=avoid, source=source)
    allowed = _sayable(texts, avoid) or [random_sentence(rng, avoid=avoid, source=source)]
    return allowed[int(rng.integers(len(allowed)))]


def _sayable(texts, avoid: str, *, heard: dict | None = None, repeats: int = 0, voice=None) -> list[str]:
    """``texts`` that do not mention ``avoid`` (and, with ``heard``, heard fewer than ``repeats`` times)."""
    return [
        t
        for t in texts
        if not (avoid.strip() and mentions(t, avoid))
        and (heard is None or heard.get((voice, t), 0) < repeats)
    ]


def fresh_other_text(
    rng: np.random.Generator,
    voice: Voice,
    heard: dict[tuple[Voice, str], int],
    *,
    repeats: int,
    avoid: str = "",
    kokoro_texts: int = KOKORO_OTHER_TEXTS,
    source: str = DEFAULT_SENTENCES,
) -> str | None:
    """A sentence for ``voice`` to say whose take a listener has heard fewer than ``repeats`` times
    (``heard``: times per (voice, text), updated here); None when every sentence of the voice's
    pool has been heard that often. An espeak-ng voice's made-up sentence is always new."""
    texts = _texts(voice, kokoro_texts, source)
    if texts is None:
        return random_sentence(rng, avoid=avoid, source=source)
    allowed = _sayable(texts, avoid, heard=heard, repeats=repeats, voice=voice)
    if not allowed:
        return None
    text = allowed[int(rng.integers(len(allowed)))]
    heard[(voice, text)] = heard.get((voice, text), 0) + 1
    return text
