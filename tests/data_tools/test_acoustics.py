"""Simulated acoustics: every noise kind is a loopable, unit-RMS bed; real music from its package."""

from __future__ import annotations

import numpy as np
import pytest

from data_tools import acoustics as ac
from wakeword.errors import ParameterError


@pytest.mark.parametrize("kind", ac.NOISE_KINDS)
def test_every_noise_kind_is_a_unit_rms_bed(kind, rng):
    babble = [np.sin(np.arange(8000) / (3 + k)).astype(np.float32) for k in range(2)]
    bed = ac.noise_bed(kind, 2.0, rng, babble_voices=babble)
    assert bed.shape == (32_000,) and bed.dtype == np.float32
    assert np.sqrt(np.mean(bed.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)


def test_music_is_real_and_deterministic_for_a_seed():
    a = ac.music(48_000, np.random.default_rng(3))
    b = ac.music(48_000, np.random.default_rng(3))
    c = ac.music(48_000, np.random.default_rng(4))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    spectrum = np.abs(np.fft.rfft(a)) ** 2
    freqs = np.fft.rfftfreq(a.size, 1 / 16_000)
    assert spectrum[freqs < 4000].sum() > 100 * spectrum[freqs > 4500].sum()  # 8 kHz tracks, upsampled


def test_missing_music_is_one_clear_error(monkeypatch, tmp_path, rng):
    monkeypatch.setattr(ac, "MUSIC_DIR", tmp_path)
    with pytest.raises(ParameterError, match=r"asterisk-moh-opsound-wav.*|make setup"):
        ac.noise_bed("music", 1.0, rng)


def test_shift_voice_moves_the_spectrum_and_keeps_the_length(rng):
    """An octave down: a 400 Hz tone's energy moves to 200 Hz, the clip keeps its length and the
    same input gives the same bytes (sox pitch, repeatable)."""
    t = np.arange(16_000) / 16_000
    tone = (0.3 * np.sin(2 * np.pi * 400 * t)).astype(np.float32)
    down = ac.shift_voice(tone, semitones=-12)
    assert down.shape == tone.shape and down.dtype == np.float32
    freqs = np.fft.rfftfreq(tone.size, 1 / 16_000)
    assert freqs[np.argmax(np.abs(np.fft.rfft(down)))] == pytest.approx(200, abs=5)
    assert np.array_equal(down, ac.shift_voice(tone, semitones=-12))
    assert ac.shift_voice(tone, semitones=0) is tone


def test_shift_voice_without_sox_is_one_clear_error(monkeypatch, rng):
    from data_tools.espeak import SynthesisError

    monkeypatch.setattr(ac.shutil, "which", lambda _name: None)
    with pytest.raises(SynthesisError, match=r"sox is not installed: run `make setup`"):
        ac.shift_voice(np.ones(1600, np.float32), semitones=-3)
