"""Confusable words: real words that sound like the phrase, as hard negatives of a fleet."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from data_tools.confusables import confusable_texts, confusable_words, fleet_confusables, similarity
from data_tools.espeak import SynthesisError, espeak_words
from data_tools.synth import FleetConfig, synth_fleet
from data_tools.text import mentions

WORDS = ("banana", "commuter", "computers", "community", "compute", "pewter", "minicomputer", "table")


def test_similarity_golden():
    assert similarity("abc", "abc") == 1.0
    assert similarity("", "abc") == 0.0
    assert similarity("kəmjuːɾɚ", "kəmpjuːɾɚ") == pytest.approx(2 * 8 / 17)  # commuter, computer
    assert similarity("abcd", "dcba") == pytest.approx(2 * 1 / 8)  # order matters


def test_confusable_words_nearest_first_never_the_word_itself():
    near = confusable_words("computer", words=WORDS)
    assert near[0] == "commuter"
    assert "computers" not in near and "minicomputer" not in near  # they say the word
    assert "banana" not in near and "table" not in near  # spelled too differently to be pronounced
    assert set(near) <= set(WORDS)


def test_confusable_words_drop_homophones():
    assert "their" not in confusable_words("there", words=("their", "three", "other", "where"))


def test_confusable_texts_swap_the_longest_word(rng):
    candidates = fleet_confusables("hey computer", words=WORDS)
    texts = confusable_texts("hey computer", candidates, limit=3, rng=rng)
    assert len(texts) == 3 and all(t.startswith("hey ") for t in texts)
    assert not any(mentions(t, "hey computer") for t in texts)
    again = confusable_texts("hey computer", candidates, limit=3, rng=np.random.default_rng(0))
    assert again == confusable_texts("hey computer", candidates, limit=3, rng=np.random.default_rng(0))
    assert confusable_texts("hey computer", (), limit=3, rng=rng) == []


def test_espeak_words_one_transcription_per_word():
    ipa = espeak_words(["computer", "commuter"], flag="--ipa", voice="en-us")
    assert len(ipa) == 2 and ipa[0] != ipa[1]
    with pytest.raises(SynthesisError, match="plain words"):
        espeak_words(["hello", ""], flag="--ipa", voice="en-us")


def _digests(fleet) -> dict[str, str]:
    out = {}
    for phone_id in fleet.phone_ids():
        store = fleet.store(phone_id)
        for clip in store.clips():
            out[f"{phone_id}/{clip.clip_id}"] = hashlib.sha256(
                (store.root / clip.file).read_bytes()
            ).hexdigest()
    return out


def test_fleet_confusables_are_added_last(tmp_path):
    """A fleet with confusables holds them as hard negatives, and every other clip is the same
    bytes as in the fleet without them (old fleets and server models stay valid)."""
    plain = FleetConfig(
        devices=3, test_fraction=0.34, positives=2, in_sentence=1, partials=1, soundalikes=1, speech=2,
        noise=1, background_minutes=0, other_kokoro_texts=0, owner_voices="classic",
    )  # fmt: skip
    with_them = dataclasses.replace(plain, confusables=3)
    a = synth_fleet(plain, tmp_path / "plain", jobs=2)
    b = synth_fleet(with_them, tmp_path / "confusables", jobs=2)
    before, after = _digests(a), _digests(b)
    added = {k: v for k, v in after.items() if k not in before}
    assert {k: after[k] for k in before} == before
    assert len(added) == 3 * 3 and all("/confusable-" in k for k in added)
    for phone_id in b.phone_ids():
        clips = b.store(phone_id).clips(kind="confusable")
        assert len(clips) == 3 and all(c.label == "negative" for c in clips)
        assert all(c.text.startswith("hey ") and not mentions(c.text, "hey computer") for c in clips)
