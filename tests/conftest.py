"""Shared fixtures: a seeded rng, synthesized speech, generated audio files, the shared recordings."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path

import numpy as np
import pytest

from data_tools.shared_data import shared_speech_dir
from data_tools.tts import Voice, synthesize
from wakeword.audio import write_wav
from wakeword.constants import SAMPLE_RATE


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator: tests pass it explicitly, nothing seeds globally."""
    return np.random.default_rng(20261125)


@pytest.fixture(scope="session")
def phrase_audio() -> dict[str, np.ndarray]:
    """'hey computer' from two engines, 16 kHz float32 (real espeak-ng and flite runs)."""
    return {
        "espeak-ng": synthesize("hey computer", voice=Voice("espeak-ng", "en-us")),
        "flite": synthesize("hey computer", voice=Voice("flite", "slt")),
    }


@pytest.fixture(scope="session")
def phrase_wav(tmp_path_factory, phrase_audio) -> Path:
    """A 16 kHz WAV file of 'hey computer' (espeak-ng)."""
    path = tmp_path_factory.mktemp("speech") / "hey_computer.wav"
    return write_wav(path, phrase_audio["espeak-ng"])


@pytest.fixture(scope="session")
def shared_speech() -> Path:
    """The real recordings in ../shared/speech; tests that need them skip where it is absent."""
    path = shared_speech_dir()
    if path is None:
        pytest.skip("../shared/speech is absent")
    return path


def tone(
    freq_hz: float, seconds: float, *, amplitude: float = 0.5, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """A sine tone, float32."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
