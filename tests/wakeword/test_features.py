"""The log-mel frontend: librosa reference vs TF layer vs TFLite, golden output, bad input."""

from __future__ import annotations

import dataclasses

import librosa
import numpy as np
import pytest

from tests.conftest import tone
from tests.data.make_golden import golden_input
from wakeword.audio import load_audio
from wakeword.constants import SAMPLE_RATE
from wakeword.errors import AudioNonFiniteError, AudioShapeError, AudioTooShortError, ParameterError
from wakeword.features import DEFAULT_FEATURES, FeatureConfig, analysis_window, mel_filterbank
from wakeword.frontend import log_mel

GOLDEN = __import__("pathlib").Path(__file__).parents[1] / "data" / "golden_logmel.npy"
TOLERANCE = 1e-3  # absolute, natural-log domain: the agreement the two backends promise


def assert_backends_agree(y: np.ndarray, config: FeatureConfig = DEFAULT_FEATURES) -> np.ndarray:
    ref = log_mel(y, config=config, backend="librosa")
    tf_out = log_mel(y, config=config, backend="tf")
    assert ref.shape == tf_out.shape
    assert ref.shape[-2:] == (config.num_frames(np.shape(y)[-1]), config.n_mels)
    np.testing.assert_allclose(tf_out, ref, atol=TOLERANCE, rtol=0)
    return ref


def test_default_config_shape():
    c = DEFAULT_FEATURES
    assert (c.window_length, c.hop_length, c.n_freqs) == (512, 320, 257)
    assert c.num_frames(SAMPLE_RATE) == 49
    assert c.num_frames(511) == 0


def test_mel_filterbank_matches_librosa():
    small = FeatureConfig(n_mels=20, fmin=100, fmax=4000, n_fft=256, window_ms=16, hop_ms=10)
    for config in (DEFAULT_FEATURES, small):
        ref = librosa.filters.mel(
            sr=config.sample_rate,
            n_fft=config.n_fft,
            n_mels=config.n_mels,
            fmin=config.fmin,
            fmax=config.fmax,
        )
        np.testing.assert_allclose(mel_filterbank(config), ref.T, atol=1e-8)


def test_window_is_centred_periodic_hann():
    config = FeatureConfig(window_ms=25.0)  # 400 samples in a 512-point FFT
    window = analysis_window(config)
    assert window.shape == (512,)
    np.testing.assert_allclose(window[56:456], librosa.filters.get_window("hann", 400, fftbins=True))
    assert not window[:56].any() and not window[456:].any()


@pytest.mark.parametrize("freq", [100.0, 440.0, 1000.0, 3000.0, 7000.0])
def test_backends_agree_on_tones(freq):
    ref = assert_backends_agree(tone(freq, 1.0))
    # the tone's energy lands in the mel band around its frequency
    centres = librosa.mel_frequencies(n_mels=42, fmin=20.0, fmax=7600.0)[1:-1]
    assert abs(int(np.argmax(ref.mean(axis=0))) - int(np.argmin(np.abs(centres - freq)))) <= 1


def test_backends_agree_on_noise(rng):
    assert_backends_agree((0.3 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32))
    assert_backends_agree((1e-3 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32))
    assert_backends_agree(np.clip(rng.standard_normal(SAMPLE_RATE), -1, 1).astype(np.float32))


def test_backends_agree_on_chirp():
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    assert_backends_agree((0.99 * np.sin(2 * np.pi * (100 + 1800 * t) * t)).astype(np.float32))


def test_backends_agree_on_synthesized_speech(phrase_audio):
    for audio in phrase_audio.values():
        assert_backends_agree(audio)
        assert_backends_agree(audio / np.abs(audio).max())  # full scale


def test_backends_agree_on_real_recordings(shared_speech):
    paths = sorted((shared_speech / "fsdd" / "recordings").glob("*.wav"))[::300]  # 8 kHz
    paths += sorted((shared_speech / "speech_commands_v0.02_testset_subset" / "yes").glob("*.wav"))[:5]
    assert len(paths) >= 10
    for path in paths:
        assert_backends_agree(load_audio(path, min_seconds=0.05))


def test_batches_match_single_clips(rng):
    batch = (0.2 * rng.standard_normal((3, 8000))).astype(np.float32)
    ref = log_mel(batch)
    tf_out = log_mel(batch, backend="tf")
    assert ref.shape == tf_out.shape == (3, 24, 40)
    for i in range(3):
        np.testing.assert_allclose(ref[i], log_mel(batch[i]), atol=1e-6)
    np.testing.assert_allclose(tf_out, ref, atol=TOLERANCE)


def test_golden_output():
    """Pins the frontend; regenerate with tests/data/make_golden.py only for an intended change."""
    golden = np.load(GOLDEN)
    assert golden.shape == (11, 40)
    np.testing.assert_allclose(log_mel(golden_input()), golden, atol=1e-5)
    np.testing.assert_allclose(log_mel(golden_input(), backend="tf"), golden, atol=TOLERANCE)


def test_silence_maps_to_the_log_floor():
    out = log_mel(np.zeros(SAMPLE_RATE, np.float32), backend="tf")
    np.testing.assert_allclose(out, np.log(DEFAULT_FEATURES.log_floor), atol=1e-6)


@pytest.mark.parametrize("backend", ["librosa", "tf"])
def test_bad_inputs(backend):
    with pytest.raises(AudioTooShortError, match=r"clip.wav: 100 samples is shorter than one analysis frame"):
        log_mel(np.ones(100, np.float32), backend=backend, source="clip.wav")
    nan = tone(440.0, 1.0)
    nan[5] = np.nan
    with pytest.raises(AudioNonFiniteError):
        log_mel(nan, backend=backend)
    with pytest.raises(AudioShapeError):
        log_mel(np.zeros((2, 2, 1024)), backend=backend)


def test_bad_backend_and_config():
    with pytest.raises(ParameterError, match=r"backend"):
        log_mel(tone(440.0, 1.0), backend="torch")
    with pytest.raises(ParameterError, match=r"n_fft"):
        FeatureConfig(n_fft=256)  # shorter than the 512-sample window
    with pytest.raises(ParameterError, match=r"fmax"):
        FeatureConfig(fmax=9000.0)
    with pytest.raises(ParameterError, match=r"unknown"):
        FeatureConfig.from_dict({"n_mels": 40, "mfcc": 13})
    config = dataclasses.replace(DEFAULT_FEATURES, n_mels=32)
    assert FeatureConfig.from_dict(config.to_dict()) == config
