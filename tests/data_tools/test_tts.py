"""Offline speech synthesis with the real espeak-ng and flite."""

from __future__ import annotations

import numpy as np
import pytest

from data_tools.tts import SynthesisError, Voice, phonemes, synthesize
from wakeword.constants import SAMPLE_RATE
from wakeword.errors import ParameterError


@pytest.mark.parametrize(
    "voice", [Voice("espeak-ng", "en-us"), Voice("espeak-ng", "en-gb+f3", 200, 80), Voice("flite", "slt")]
)
def test_phrase_has_speech_like_duration_and_level(voice):
    audio = synthesize("hey computer", voice=voice)
    assert audio.dtype == np.float32
    assert 0.5 < audio.size / SAMPLE_RATE < 2.5
    assert 0.05 < np.abs(audio).max() <= 1.0


def test_faster_speech_is_shorter():
    slow = synthesize("hey computer", voice=Voice(rate=120))
    fast = synthesize("hey computer", voice=Voice(rate=300))
    assert fast.size < 0.7 * slow.size


def test_errors():
    with pytest.raises(SynthesisError, match="empty text"):
        synthesize("   ")
    with pytest.raises(SynthesisError, match="espeak-ng failed"):
        synthesize("hello", voice=Voice("espeak-ng", "xx-nope"))
    with pytest.raises(ParameterError, match="flite voice"):
        Voice("flite", "en-us")
    with pytest.raises(ParameterError, match="engine"):
        Voice("festival", "kal")


def test_phonemes_spot_homophones():
    assert phonemes("hay computer") == phonemes("hey computer")
    assert phonemes("bey computer") != phonemes("hey computer")
