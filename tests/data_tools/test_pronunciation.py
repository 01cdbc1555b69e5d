"""Pronunciation variants of the phrase for the neural voices (data_tools.pronunciation)."""

from __future__ import annotations

import numpy as np
import pytest

from data_tools import neural_tts
from data_tools.pronunciation import pronunciation_variant
from data_tools.synth import FleetConfig
from data_tools.tts import Voice, synthesize
from wakeword.constants import SAMPLE_RATE
from wakeword.errors import ParameterError

COMPUTER = "kəmpjˈuːɾɚ"  # espeak-ng's en-us IPA of "computer"


def test_variants_of_computer_golden():
    got = [pronunciation_variant(COMPUTER, np.random.default_rng(seed)) for seed in range(6)]
    assert got == ["kəmpjˈuːtə", "kˈɒmpjˌuːtɚ", "kʌmpjˈuːɾɜː", "kˈɑmpjˌuːɾɚ", "kˈəmpjˌuːɾɚ", "kˈəːmpjˌuːɾɚ"]


def test_variants_are_many_and_speakable():
    variants = [pronunciation_variant("hˈeɪ " + COMPUTER, np.random.default_rng(s)) for s in range(400)]
    assert len(set(variants)) > 40
    unchanged = np.mean([v == "hˈeɪ " + COMPUTER for v in variants])
    assert 0.01 < unchanged < 0.1  # about 1 in 24 draws changes nothing
    vocab = set(neural_tts._KOKORO_VOCAB)
    assert all(set(v) <= vocab for v in variants)
    # "hey" is already stressed on its first vowel: a moved stress is always computer's
    moved = [v for v in variants if v.split(" ")[1].startswith("kˈ")]
    assert moved and all(v.split(" ")[0] in ("hˈeɪ", "hˈeːɪ", "hˈeɪː") for v in moved)


def test_kokoro_variant_zero_is_the_dictionary_and_others_are_deterministic():
    plain = neural_tts.kokoro("computer", voice="af_heart", speed=1.0, sample_rate=SAMPLE_RATE)
    zero = neural_tts.kokoro("computer", voice="af_heart", speed=1.0, sample_rate=SAMPLE_RATE, variant=0)
    one = neural_tts.kokoro("computer", voice="af_heart", speed=1.0, sample_rate=SAMPLE_RATE, variant=1)
    again = neural_tts.kokoro("computer", voice="af_heart", speed=1.0, sample_rate=SAMPLE_RATE, variant=1)
    assert plain.tobytes() == zero.tobytes()
    assert one.tobytes() == again.tobytes() and one.tobytes() != plain.tobytes()


def test_variant_takes_are_cached_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("WAKEWORD_TTS_CACHE", str(tmp_path))
    voice = Voice("kokoro", "am_adam", 160)
    plain = synthesize("computer", voice=voice)
    variant = synthesize("computer", voice=voice, variant=3)
    assert len(list(tmp_path.rglob("*.npy"))) == 2 and plain.tobytes() != variant.tobytes()
    assert synthesize("computer", voice=voice, variant=3).tobytes() == variant.tobytes()
    espeak = Voice("espeak-ng", "en-us", 160)  # an engine without variants ignores it
    said = synthesize("computer", voice=espeak, variant=3)
    assert said.tobytes() == synthesize("computer", voice=espeak).tobytes()


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_the_share_is_checked(share):
    with pytest.raises(ParameterError, match="pronunciation_variants"):
        FleetConfig(pronunciation_variants=share)
