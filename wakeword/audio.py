"""Audio input and output: any file soundfile reads in, mono float32 at 16 kHz out.

Every loaded or written clip goes through :func:`validate_audio`, so bad input is caught at the
boundary with an error naming the file and the cause (see :mod:`wakeword.errors`).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from wakeword.constants import MIN_SECONDS, SAMPLE_RATE, SILENCE_PEAK
from wakeword.errors import (
    AudioNonFiniteError,
    AudioReadError,
    AudioShapeError,
    AudioSilentError,
    AudioTooShortError,
    ParameterError,
)
from wakeword.fileio import atomic_write

__all__ = [
    "load_audio",
    "resample",
    "speech_bounds",
    "to_mono",
    "trim_silence",
    "validate_audio",
    "write_wav",
]


def to_mono(y: np.ndarray, *, source: str = "<array>") -> np.ndarray:
    """Downmix to mono by averaging channels.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n, channels)]
        Samples; 2-D input is frames x channels (soundfile's layout).
    source : str
        Name used in error messages.

    Returns
    -------
    np.ndarray [shape=(n,)], float32
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] >= 1:
        y = y.mean(axis=1)
    elif y.ndim != 1:
        raise AudioShapeError(
            source, f"expected 1-D mono or 2-D (frames, channels) audio, got shape {y.shape}"
        )
    return y.astype(np.float32, copy=False)


def resample(y: np.ndarray, *, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono audio with soxr (high quality).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], float32
    orig_sr, target_sr : int
        Sample rates in Hz.

    Returns
    -------
    np.ndarray [shape=(round(n * target_sr / orig_sr),)], float32
    """
    if orig_sr <= 0 or target_sr <= 0:
        raise ParameterError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
    if orig_sr == target_sr:
        return y.astype(np.float32, copy=False)
    return soxr.resample(y, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)


def validate_audio(
    y: np.ndarray,
    *,
    source: str | os.PathLike = "<array>",
    sample_rate: int = SAMPLE_RATE,
    min_seconds: float = MIN_SECONDS,
    allow_silent: bool = False,
) -> np.ndarray:
    """Check that ``y`` is usable audio and return it as mono float32.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n, channels)]
        Samples, full scale = 1.0.
    source : str or os.PathLike
        File name (or description) used in error messages.
    sample_rate : int
        Sample rate of ``y`` in Hz, to measure its duration.
    min_seconds : float
        Shortest accepted duration in seconds.
    allow_silent : bool
        Accept all-silent audio (background recordings may be near-silent).

    Returns
    -------
    np.ndarray [shape=(n,)], float32

    Raises
    ------
    AudioShapeError, AudioTooShortError, AudioNonFiniteError, AudioSilentError
    """
    source = os.fspath(source)
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.number) or np.iscomplexobj(y):
        raise AudioShapeError(source, f"expected real-valued samples, got dtype {y.dtype}")
    y = to_mono(y, source=source)
    if y.size == 0:
        raise AudioTooShortError(source, "empty audio (no samples)", "record or choose a non-empty file")
    if not np.all(np.isfinite(y)):
        bad = int(np.count_nonzero(~np.isfinite(y)))
        raise AudioNonFiniteError(source, f"{bad} NaN or infinite samples", "the file is damaged")
    seconds = y.size / sample_rate
    if seconds < min_seconds:
        raise AudioTooShortError(source, f"too short: {seconds:.3f} s, need at least {min_seconds:g} s")
    if not allow_silent and float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise AudioSilentError(
            source,
            f"all silent (peak below {20 * np.log10(SILENCE_PEAK):.0f} dBFS)",
            "check the microphone or the file",
        )
    return y


def load_audio(
    path: str | os.PathLike,
    *,
    sample_rate: int = SAMPLE_RATE,
    min_seconds: float = MIN_SECONDS,
    allow_silent: bool = False,
) -> np.ndarray:
    """Read an audio file as validated mono float32 at ``sample_rate``.

    Reads whatever libsndfile decodes (WAV, FLAC, OGG/Vorbis, Opus, MP3, AIFF, ...), downmixes to
    mono and resamples (e.g. 8 kHz or 48 kHz sources to 16 kHz).

    Parameters
    ----------
    path : str or os.PathLike
    sample_rate : int
        Output sample rate in Hz.
    min_seconds : float
        Shortest accepted duration in seconds.
    allow_silent : bool
        Accept all-silent audio.

    Returns
    -------
    np.ndarray [shape=(n,)], float32 in [-1, 1] (up to resampling overshoot), ``sample_rate`` Hz

    Raises
    ------
    AudioReadError
        Missing, unreadable or undecodable file.
    AudioTooShortError, AudioNonFiniteError, AudioSilentError, AudioShapeError
        See :func:`validate_audio`.
    """
    path = Path(path)
    if not path.exists():
        raise AudioReadError(path, "no such file")
    if path.is_dir():
        raise AudioReadError(path, "is a folder, not an audio file")
    try:
        data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioReadError(
            path, f"cannot decode as audio ({_first_line(exc)})", "the file is corrupt or not audio"
        ) from None
    except OSError as exc:
        raise AudioReadError(path, f"cannot read ({exc.strerror or exc})") from None
    if data.shape[0] == 0:
        raise AudioTooShortError(path, "empty audio (no samples)", "record or choose a non-empty file")
    # Validate before resampling: NaN/inf would smear across the resampler's kernel.
    mono = validate_audio(
        data, source=path, sample_rate=file_sr, min_seconds=min_seconds, allow_silent=allow_silent
    )
    return resample(mono, orig_sr=int(file_sr), target_sr=sample_rate)


def write_wav(
    path: str | os.PathLike, y: np.ndarray, *, sample_rate: int = SAMPLE_RATE, fsync: bool = True
) -> Path:
    """Write mono audio as 16-bit PCM WAV, atomically (temp file + rename).

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist. An existing file is replaced only on success.
    y : np.ndarray [shape=(n,)], float in [-1, 1]
        Samples; values outside [-1, 1] are clipped.
    sample_rate : int
        Sample rate in Hz.
    fsync : bool
        Flush to disk before the rename (see :func:`wakeword.fileio.atomic_write`).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    AudioShapeError, AudioNonFiniteError, AudioTooShortError
        ``y`` is not writable audio.
    WriteError
        The folder is missing or not writable, or the disk is full.
    """
    path = Path(path)
    y = validate_audio(y, source=path, sample_rate=sample_rate, min_seconds=0, allow_silent=True)
    # Same scale as soundfile's reader (x / 32768), so a round trip is exact to half a step.
    pcm = np.clip(np.round(y.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)
    # encode in memory, then write plain bytes: libsndfile reports a short write (disk full) as a
    # bare AssertionError, a plain write raises OSError(ENOSPC), which atomic_write explains
    encoded = io.BytesIO()
    sf.write(encoded, pcm, sample_rate, format="WAV", subtype="PCM_16")
    with atomic_write(path, fsync=fsync) as handle:
        handle.write(encoded.getbuffer())
    return path


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def speech_bounds(
    y: np.ndarray, *, top_db: float = 40.0, frame_ms: float = 10.0, sample_rate: int = SAMPLE_RATE
) -> tuple[int, int]:
    """Sample range ``[start, end)`` outside which every frame is ``top_db`` below the loudest.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)], float
    top_db : float
        Frames quieter than the loudest frame by more than this (RMS, dB) count as silence.
    frame_ms : float
        Frame length in milliseconds (frames do not overlap).
    sample_rate : int
        Sample rate of ``y`` in Hz.

    Returns
    -------
    (int, int)
        ``(0, 0)`` for all-zero audio.
    """
    frame = max(1, round(frame_ms * sample_rate / 1000))
    n_frames = -(-y.size // frame)
    padded = np.zeros(n_frames * frame, dtype=np.float64)
    padded[: y.size] = y
    rms = np.sqrt(np.mean(padded.reshape(n_frames, frame) ** 2, axis=1))
    if rms.max() <= 0:
        return 0, 0
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-top_db / 20))
    return int(loud[0] * frame), int(min(y.size, (loud[-1] + 1) * frame))


def trim_silence(
    y: np.ndarray, *, top_db: float = 40.0, margin: float = 0.0, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Cut leading and trailing silence (see :func:`speech_bounds`), keeping ``margin`` seconds of
    it on each side; returns a view of ``y``."""
    start, end = speech_bounds(y, top_db=top_db, sample_rate=sample_rate)
    keep = round(margin * sample_rate)
    return y[max(0, start - keep) : min(y.size, end + keep)]
