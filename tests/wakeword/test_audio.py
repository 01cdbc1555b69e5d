"""Audio I/O: formats, rates, downmix, atomic writes, and one error per kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import tone
from wakeword.audio import load_audio, resample, validate_audio, write_wav
from wakeword.constants import SAMPLE_RATE
from wakeword.errors import (
    AudioError,
    AudioNonFiniteError,
    AudioReadError,
    AudioShapeError,
    AudioSilentError,
    AudioTooShortError,
    WakewordError,
    WriteError,
)
from wakeword.fileio import atomic_write


def peak_frequency(y: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.fft.rfftfreq(y.size, 1 / sample_rate)[np.argmax(spectrum)])


def test_wav_round_trip_is_16_bit_exact(tmp_path, rng):
    y = np.clip(0.3 * rng.standard_normal(8000), -0.99, 0.99).astype(np.float32)
    path = write_wav(tmp_path / "a.wav", y)
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
    back = load_audio(path)
    assert back.dtype == np.float32 and back.shape == y.shape
    np.testing.assert_allclose(back, y, atol=0.5 / 32768 + 1e-9)


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_other_rates_are_resampled_to_16k(tmp_path, rate):
    path = tmp_path / f"tone_{rate}.wav"
    sf.write(str(path), tone(440.0, 1.0, sample_rate=rate), rate, subtype="PCM_16")
    y = load_audio(path)
    assert y.size == SAMPLE_RATE
    assert abs(peak_frequency(y) - 440.0) < 2.0
    assert 0.45 < np.abs(y).max() < 0.55


def test_stereo_is_downmixed(tmp_path):
    left = tone(300.0, 0.5)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), stereo, SAMPLE_RATE)
    np.testing.assert_allclose(load_audio(path), left / 2, atol=1e-4)


@pytest.mark.parametrize(("ext", "fmt", "subtype"), [("flac", "FLAC", "PCM_16"), ("ogg", "OGG", "VORBIS")])
def test_flac_and_ogg(tmp_path, ext, fmt, subtype):
    path = tmp_path / f"tone.{ext}"
    sf.write(str(path), tone(1000.0, 0.5, sample_rate=48_000), 48_000, format=fmt, subtype=subtype)
    y = load_audio(path)
    assert abs(y.size - SAMPLE_RATE // 2) <= 1
    assert abs(peak_frequency(y) - 1000.0) < 3.0


def test_resample_keeps_duration():
    assert resample(np.zeros(8000, np.float32), orig_sr=8000).size == 16000
    assert resample(np.zeros(48000, np.float32), orig_sr=48000).size == 16000


# --- bad input: one error type per cause, naming the file ---------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(AudioReadError, match=r"nope.wav: no such file"):
        load_audio(tmp_path / "nope.wav")


def test_folder_is_not_a_file(tmp_path):
    with pytest.raises(AudioReadError, match=r"is a folder"):
        load_audio(tmp_path)


def test_corrupt_file(tmp_path, rng):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(AudioReadError, match=r"corrupt\.wav: cannot decode as audio"):
        load_audio(path)


def test_truncated_wav_header(tmp_path, phrase_wav):
    path = tmp_path / "truncated.wav"
    path.write_bytes(phrase_wav.read_bytes()[:20])
    with pytest.raises(AudioReadError, match=r"truncated.wav"):
        load_audio(path)


def test_empty_wav(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(str(path), np.zeros(0, np.float32), SAMPLE_RATE)
    with pytest.raises(AudioTooShortError, match=r"empty.wav: empty audio"):
        load_audio(path)


def test_too_short(tmp_path):
    path = write_wav(tmp_path / "short.wav", tone(440.0, 0.05))
    with pytest.raises(AudioTooShortError, match=r"short.wav: too short: 0\.050 s"):
        load_audio(path)
    assert load_audio(path, min_seconds=0.01).size == 800


def test_all_silent(tmp_path):
    path = write_wav(tmp_path / "silent.wav", np.zeros(SAMPLE_RATE, np.float32))
    with pytest.raises(AudioSilentError, match=r"silent.wav: all silent"):
        load_audio(path)
    assert load_audio(path, allow_silent=True).size == SAMPLE_RATE


def test_nan_and_inf_samples(tmp_path):
    y = tone(440.0, 0.5)
    y[100], y[200] = np.nan, np.inf
    path = tmp_path / "nan.wav"
    sf.write(str(path), y, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioNonFiniteError, match=r"nan.wav: 2 NaN or infinite samples"):
        load_audio(path)


@pytest.mark.parametrize("bad", [np.zeros((2, 3, 4)), np.array(["a", "b"]), np.zeros(8, complex)])
def test_wrong_shape_or_type(bad):
    with pytest.raises(AudioShapeError, match=r"<array>"):
        validate_audio(bad, min_seconds=0, allow_silent=True)


def test_every_audio_error_is_a_wakeword_error():
    for cls in (AudioReadError, AudioTooShortError, AudioSilentError, AudioNonFiniteError, AudioShapeError):
        assert issubclass(cls, AudioError) and issubclass(cls, WakewordError)
    assert issubclass(WriteError, WakewordError)


# --- atomic writes ---------------------------------------------------------------------------------


def test_failed_write_keeps_the_old_file(tmp_path):
    path = write_wav(tmp_path / "keep.wav", tone(440.0, 0.5))
    before = path.read_bytes()
    bad = tone(440.0, 0.5)
    bad[3] = np.nan
    with pytest.raises(AudioNonFiniteError):
        write_wav(path, bad)
    with pytest.raises(RuntimeError), atomic_write(path) as handle:
        handle.write(b"half a file")
        raise RuntimeError("crash in the middle of a write")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.wav"]  # no temp file left


def test_write_into_missing_folder(tmp_path):
    with pytest.raises(WriteError, match=r"missing/x.wav: cannot write: folder does not exist"):
        write_wav(tmp_path / "missing" / "x.wav", tone(440.0, 0.2))


def test_write_clips_out_of_range(tmp_path):
    path = write_wav(tmp_path / "loud.wav", np.array([2.0, -3.0, 0.5] * 1000, np.float32))
    y = load_audio(path, min_seconds=0)
    assert y.max() == pytest.approx(1.0, abs=1e-4) and y.min() == pytest.approx(-1.0, abs=1e-4)
