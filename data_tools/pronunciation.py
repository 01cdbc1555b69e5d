"""Pronunciation variants: the wake phrase as people say it whom a voice's dictionary leaves out.

A neural voice reads the phonemes espeak-ng's dictionary gives (``kəmpjˈuːɾɚ``: American, reduced,
stressed as a native speaker stresses it). Real people differ in exactly the places a dictionary
fixes: a schwa said as written ("kom-puter"), a t for a flap, another r-colouring or none, the
stress on the first syllable, a drawn-out vowel. :func:`pronunciation_variant` makes such a
variant of an IPA string; the synthesizer speaks it with the owner's own voice
(``FleetConfig.pronunciation_variants``).

Measured on the 411 real "computer" clips (docs/BENCHMARKS.md, section 1, session 25): 40 more
server speakers saying the phrase in these variants cut the real clips missed at 2 / 5 / 20 FA/h
from 25.2 / 19.7 / 15.3% to 15.4 / 11.8 / 7.9% (three seeds; the same 40 speakers without variants
gained nothing), and the clips the model rejects outright (score < 0.01) from 15.6% to 7.5%.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pronunciation_variant"]

VOWELS = frozenset("aeiouæɑɐɒɔəɚɛɜɪʊʌɨøœɤɯ")  # espeak-ng's IPA vowel letters (ː and stress apart)
FULL_VOWELS = ("ʌ", "ɑ", "ɔ", "o", "ɒ", "ɛ")  # a schwa said as it is written
R_COLOURINGS = ("ə", "ɜː", "əɹ", "ɚː", "ɛɹ")  # a final r-coloured schwa, non-rhotic to rolled-out
FULL_VOWEL_CHANCE = 0.6  # every schwa becomes one full vowel
FLAP_AS_T_CHANCE = 0.5  # an American flap (ɾ) said as t
R_COLOURING_CHANCE = 0.5  # ɚ said another way
FIRST_STRESS_CHANCE = 0.35  # a word's stress moved to its first vowel (the old one kept as secondary)
LONG_VOWEL_CHANCE = 0.35  # one vowel drawn out


def pronunciation_variant(ipa: str, rng: np.random.Generator) -> str:
    """A variant of the IPA string ``ipa`` (espeak-ng's ``--ipa``, words separated by spaces).

    Each change is drawn independently (the chances are the module's constants); about one draw in
    twenty-five changes nothing. Characters a voice cannot say are never introduced: every output
    letter is one Kokoro's vocabulary holds.

    Parameters
    ----------
    ipa : str
    rng : np.random.Generator
        The same generator state gives the same variant.

    Returns
    -------
    str
    """
    if rng.random() < FULL_VOWEL_CHANCE:
        full = str(rng.choice(FULL_VOWELS))
        ipa = ipa.replace("ə", full)
    if rng.random() < FLAP_AS_T_CHANCE:
        ipa = ipa.replace("ɾ", "t")
    if rng.random() < R_COLOURING_CHANCE:
        ipa = ipa.replace("ɚ", str(rng.choice(R_COLOURINGS)))
    if rng.random() < FIRST_STRESS_CHANCE:
        ipa = _stress_first(ipa, rng)
    if rng.random() < LONG_VOWEL_CHANCE:
        short = [i for i, c in enumerate(ipa) if c in VOWELS and ipa[i + 1 : i + 2] != "ː"]
        if short:
            i = int(rng.choice(short))
            ipa = ipa[: i + 1] + "ː" + ipa[i + 1 :]
    return ipa


def _stress_first(ipa: str, rng: np.random.Generator) -> str:
    """One word (drawn) whose primary stress is not on its first vowel gets it there."""
    words = ipa.split(" ")
    movable = []
    for k, word in enumerate(words):
        first = next((i for i, c in enumerate(word) if c in VOWELS), None)
        if first is not None and "ˈ" in word and word.index("ˈ") != first - 1:
            movable.append((k, first))
    if not movable:
        return ipa
    k, first = movable[int(rng.integers(len(movable)))]
    word = words[k].replace("ˈ", "ˌ")
    words[k] = word[:first] + "ˈ" + word[first:]
    return " ".join(words)
