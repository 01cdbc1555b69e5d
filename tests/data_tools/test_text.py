"""Phrase text: normalisation, partials, sound-alikes, negative sentences."""

from __future__ import annotations

import pytest

from data_tools.text import normalize_phrase, partials, random_sentence, soundalikes
from wakeword.errors import ParameterError


def test_normalize():
    assert normalize_phrase("  Hey,  Computer! ") == "hey computer"
    with pytest.raises(ParameterError, match="no words"):
        normalize_phrase(" ?! ")


def test_partials():
    assert partials("hey computer") == ["computer", "hey"]
    assert partials("ok google now") == ["google", "google now", "now", "ok", "ok google"]
    assert partials("computer") == ["com", "puter"]


def test_soundalikes_change_one_word_each():
    variants = soundalikes("hey computer", limit=12)
    assert len(variants) == 12 and "hey computer" not in variants
    assert all(sum(a != b for a, b in zip(v.split(), ["hey", "computer"])) == 1 for v in variants)
    assert {v.split()[0] for v in variants} - {"hey"} and {v.split()[1] for v in variants} - {"computer"}


def test_soundalikes_for_a_one_word_phrase(rng):
    variants = soundalikes("yes", limit=5, rng=rng)
    assert len(variants) == 5 and "yes" not in variants


def test_sentences_avoid_the_phrase(rng):
    for _ in range(200):
        assert " the car " not in f" {random_sentence(rng, avoid='the car')} "


def test_soundalikes_drop_homophones():
    said = {"hay computer": "h eI k@mpju:t#3", "hey computer": "h eI k@mpju:t#3"}
    variants = soundalikes("hey computer", limit=30, pronounce=lambda text: said.get(text, text))
    assert "hay computer" not in variants and "bey computer" in variants
