"""Phrase text: normalisation, partials, sound-alikes, negative sentences."""

from __future__ import annotations

import numpy as np
import pytest

from data_tools import text
from data_tools.fleet_config import FleetConfig
from data_tools.text import free_sentence, mentions, normalize_phrase, partials, random_sentence, soundalikes
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


def test_mentions_counts_inflections_and_order():
    assert mentions("so my Computers broke", "computer")
    assert mentions("okay hey computer now", "hey computer")
    assert not mentions("computer hey", "hey computer")
    assert not mentions("they compute", "computer")
    assert mentions("a heyday", "hey")  # conservative: a word that starts like the phrase is avoided
    assert not mentions("an apple", "a")  # but words of one or two letters match whole words only


def test_free_sentences_use_the_word_list_and_avoid_the_phrase(rng):
    words = set(text.lexicon())
    assert len(words) > 40_000 and "computer" in words
    sentences = [free_sentence(rng, avoid="computer") for _ in range(300)]
    said = [w for s in sentences for w in s.split()]
    assert not any(mentions(s, "computer") for s in sentences)
    assert all(text.FREE_WORDS[0] <= len(s.split()) <= text.FREE_WORDS[1] for s in sentences)
    rare = {w for w in said if w not in text._COMMON}
    assert rare <= words and len(rare) > 0.9 * len([w for w in said if w not in text._COMMON])
    assert 0.3 < len([w for w in said if w in text._COMMON]) / len(said) < 0.5  # function words
    assert len(rare) > 1000  # thousands of words, not the templates' hundred


def test_missing_word_list_is_one_clear_error(rng, monkeypatch, tmp_path):
    monkeypatch.setattr(text, "WORD_LIST", tmp_path / "words")
    text.lexicon.cache_clear()
    try:
        with pytest.raises(ParameterError, match=r"make setup.*wamerican"):
            free_sentence(rng)
    finally:
        text.lexicon.cache_clear()


def test_wordnet_sentences_are_natural_and_avoid_the_phrase(rng):
    from data_tools.text import example_sentence, random_sentence, wordnet_examples

    examples = wordnet_examples()
    assert len(examples) > 40_000 and "he was elected to a seat in the Senate" in examples
    said = [example_sentence(rng, avoid="computer") for _ in range(300)]
    assert not any(mentions(s, "computer") for s in said)
    assert all(len(s.split()) >= 3 for s in said)

    def some(seed):
        generator = np.random.default_rng(seed)
        return [random_sentence(generator, source="templates+wordnet") for _ in range(20)]

    assert some(5) == some(5) and len(set(some(5))) == 20 and set(some(5)) & set(examples)
    with pytest.raises(ParameterError, match="`sentences`"):
        FleetConfig(sentences="books")


def test_missing_wordnet_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(text, "WORDNET", tmp_path / "wordnet")
    text.wordnet_examples.cache_clear()
    try:
        with pytest.raises(ParameterError, match="wordnet-base") as caught:
            text.example_sentence(np.random.default_rng(0))
        assert "\n" not in str(caught.value) and "make setup" in str(caught.value)
    finally:
        text.wordnet_examples.cache_clear()


def test_soundalikes_said_with_the_phrases_consonants_can_be_left_out():
    """A vowel change ("camputer") or a respelling ("komputer") keeps "computer"'s consonants:
    "kom-puter" is how some people say it, not a negative; "bomputer" stays."""
    from data_tools.tts import consonants, phonemes

    assert consonants("computer") == consonants("camputer") == consonants("komputer") == "kmpjt"
    every = soundalikes("computer", limit=40, pronounce=phonemes)
    other = soundalikes("computer", limit=40, pronounce=phonemes, consonants=consonants)
    assert {"camputer", "komputer"} <= set(every) - set(other)
    assert "bomputer" in other and set(other) < set(every)


def test_word_strings_are_told_from_natural_sentences(rng):
    from data_tools.phone_synth import SENTENCE_SUFFIXES
    from data_tools.text import _template_sentence, example_sentence, is_word_string

    commands = tuple(c for c in SENTENCE_SUFFIXES if c)
    strings = [free_sentence(rng) for _ in range(200)]
    templates = [_template_sentence(rng, avoid="") for _ in range(200)]
    examples = [example_sentence(rng) for _ in range(200)]  # one or two joined by ", "
    for source, natural in (("templates+words", templates), ("wordnet+words", examples)):
        assert all(is_word_string(s, source=source, commands=commands) for s in strings), source
        assert not any(is_word_string(s, source=source, commands=commands) for s in natural + list(commands))
    assert not any(is_word_string(s, source="templates+wordnet") for s in strings + templates + examples)
