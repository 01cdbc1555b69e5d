"""Real words that sound like the phrase: the hard negatives real speech is full of.

A model trained with made-up sound-alikes ("bomputer", :func:`data_tools.text.soundalikes`) still
fires on real English words that share most of the phrase's sounds: scored in session 26, the shipped
"computer" models fired at 1.0 on Kokoro saying "community", "commute", "composer", "competed" or
"confuser", and the two LibriSpeech utterances that set their false-accept floor say "continuation".
openWakeWord builds the same kind of adversarial negatives from a pronouncing dictionary.

Here the dictionary is the word list the fleet already uses (Debian's wamerican), pronounced by
espeak-ng: every word is compared with the phrase's longest word by the longest common subsequence
of their IPA symbols (stress and length marks removed), as a Dice score
``2 * lcs / (len(a) + len(b))`` ("commuter" 0.93, "community" 0.71, "continuation" 0.43).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from data_tools.espeak import espeak_words
from data_tools.text import lexicon, mentions, normalize_phrase

__all__ = ["confusable_texts", "confusable_words", "fleet_confusables", "similarity"]

CANDIDATES = 48  # the nearest words a fleet draws its confusables from
SPELLING_FLOOR = 0.4  # letters' Dice score below which a word is not pronounced (a cheap pre-filter)
IPA_MARKS = str.maketrans("", "", "ˈˌːˑ-")  # stress and length: not what makes words sound alike


def similarity(a: str, b: str) -> float:
    """Dice score of the longest common subsequence of two symbol strings, in [0, 1]."""
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for symbol in a:
        current = [0]
        for j, other in enumerate(b):
            current.append(previous[j] + 1 if symbol == other else max(previous[j + 1], current[j]))
        previous = current
    return 2 * previous[-1] / (len(a) + len(b))


def confusable_words(
    word: str,
    *,
    limit: int = CANDIDATES,
    words: Sequence[str] | None = None,
    pronounce: Callable[[list[str]], list[str]] | None = None,
) -> list[str]:
    """The ``limit`` words that sound most like ``word``, nearest first.

    Parameters
    ----------
    word : str
        One lower-case English word.
    limit : int
        At most this many words.
    words : sequence of str, optional
        The dictionary; default :func:`data_tools.text.lexicon`.
    pronounce : callable, optional
        Words -> their IPA, one per word; default espeak-ng (en-us).

    Returns
    -------
    list of str
        Words other than ``word``, none containing it ("computers") nor pronounced like it.
    """
    return list(_nearest(word, limit, tuple(words or lexicon()), pronounce or _espeak_ipa))


@functools.lru_cache(maxsize=8)
def _nearest(word: str, limit: int, words: tuple[str, ...], pronounce: Callable) -> tuple[str, ...]:
    spelled = [w for w in words if word not in w and similarity(word, w) >= SPELLING_FLOOR]
    target, *said = (p.translate(IPA_MARKS) for p in pronounce([word, *spelled]))
    scored = sorted(
        ((similarity(target, ipa), w) for w, ipa in zip(spelled, said) if ipa != target),
        key=lambda pair: (-pair[0], pair[1]),
    )
    return tuple(w for _, w in scored[:limit])


def _espeak_ipa(words: list[str]) -> list[str]:
    return espeak_words(words, flag="--ipa", voice="en-us")


def fleet_confusables(phrase: str, *, words: Sequence[str] | None = None) -> tuple[str, ...]:
    """The :data:`CANDIDATES` words nearest the phrase's longest word (a fleet computes them once:
    about 5 s of espeak-ng)."""
    said, at = _longest_word(phrase)
    return tuple(confusable_words(said[at], words=words))


def confusable_texts(
    phrase: str, candidates: Sequence[str], *, limit: int, rng: np.random.Generator
) -> list[str]:
    """``limit`` texts saying the phrase with its longest word swapped for one of ``candidates``
    ("hey community" for "hey computer"; from :func:`fleet_confusables`), drawn by ``rng``."""
    said, at = _longest_word(phrase)
    texts = [" ".join([*said[:at], w, *said[at + 1 :]]) for w in candidates]
    texts = [t for t in texts if not mentions(t, phrase)]
    if not texts:
        return []
    picked = rng.choice(len(texts), size=min(limit, len(texts)), replace=False)
    return [texts[i] for i in sorted(picked)]


def _longest_word(phrase: str) -> tuple[list[str], int]:
    """The phrase's words and the index of its longest (the first of equals): the one swapped."""
    said = normalize_phrase(phrase).split()
    return said, max(range(len(said)), key=lambda i: len(said[i]))
