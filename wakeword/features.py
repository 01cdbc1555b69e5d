"""The log-mel frontend, defined once for training, evaluation and devices.

Two implementations of the same computation (``wakeword.frontend.log_mel`` picks one by name):

- :func:`log_mel_librosa`: NumPy/librosa in float64, the reference used by data tools and tests;
- :class:`wakeword.tf_frontend.LogMelFrontend`, a Keras layer built from ``tf.signal`` ops that
  converts to TFLite builtins, so a model carries its own frontend and a device needs no librosa.

Both frame the audio without padding (frame ``t`` covers samples ``[t * hop, t * hop + n_fft)``),
apply a periodic Hann window of ``window_length`` samples centred in ``n_fft``, take the power
spectrum, apply the same Slaney-style mel filterbank (:func:`mel_filterbank`) and return
``log(mel_power + log_floor)``. They agree to 1e-3 in the log domain (tested).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from wakeword.audio import validate_audio
from wakeword.constants import SAMPLE_RATE
from wakeword.errors import AudioShapeError, AudioTooShortError, ParameterError

__all__ = [
    "DEFAULT_FEATURES",
    "EMBEDDING_FEATURES",
    "FEATURE_KINDS",
    "FeatureConfig",
    "analysis_window",
    "check_input",
    "log_mel_librosa",
    "mel_filterbank",
]


@dataclass(frozen=True)
class FeatureConfig:
    """Parameters of the log-mel frontend (frozen: one config is shared by data, model and device).

    The defaults give 49 frames x 40 mel bands for a 1 s window, the input size of the "Hello
    Edge" KWS models (Zhang et al. 2017, arXiv 1711.07128).
    """

    sample_rate: int = SAMPLE_RATE  # Hz; every input is resampled to it
    window_ms: float = 32.0  # analysis window; 512 samples at 16 kHz, a power of two, so no padding
    hop_ms: float = 20.0  # frame step; 50 frames per second
    n_fft: int = 512  # FFT size (>= window); 257 frequency bins
    n_mels: int = 40  # mel bands, as in Hello Edge and kws_streaming
    fmin: float = 20.0  # lowest mel band edge, Hz (below the voice, above DC)
    fmax: float = 7600.0  # highest mel band edge, Hz (below Nyquist's anti-alias roll-off)
    log_floor: float = 1e-5  # added to mel power before the log (silence = log(1e-5)); keeps float32
    # TF/TFLite within 1e-3 of the float64 reference near silence (worst seen: 4e-4 on real speech)
    kind: str = "log_mel"  # or "speech_embedding": the frozen embedding of wakeword.tf_embedding,
    # whose frames are 96-value embeddings every 80 ms over 12,512 samples (EMBEDDING_FEATURES)

    def __post_init__(self) -> None:
        if self.kind not in FEATURE_KINDS:
            raise ParameterError(f"feature kind must be one of {FEATURE_KINDS}, got {self.kind!r}")
        if self.kind == "speech_embedding" and self.to_dict() != _embedding_dict():
            raise ParameterError("the speech-embedding frontend has fixed settings (EMBEDDING_FEATURES)")
        if self.sample_rate <= 0:
            raise ParameterError(f"sample_rate must be positive, got {self.sample_rate}")
        if not 0 < self.hop_ms <= self.window_ms:
            raise ParameterError(f"hop_ms must be in (0, window_ms={self.window_ms}], got {self.hop_ms}")
        if self.window_length > self.n_fft:
            raise ParameterError(
                f"n_fft ({self.n_fft}) must be >= the window length ({self.window_length} samples "
                f"= {self.window_ms} ms at {self.sample_rate} Hz)"
            )
        if self.n_mels < 1:
            raise ParameterError(f"n_mels must be >= 1, got {self.n_mels}")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ParameterError(
                f"need 0 <= fmin < fmax <= sample_rate / 2, got fmin={self.fmin}, fmax={self.fmax}"
            )
        if self.log_floor <= 0:
            raise ParameterError(f"log_floor must be positive, got {self.log_floor}")

    @property
    def silence_value(self) -> float:
        """The feature value of digital silence (pads windows that reach before a clip)."""
        return 0.0 if self.kind == "speech_embedding" else float(np.log(self.log_floor))

    @property
    def lead_samples(self) -> int:
        """Silence put before a clip when its features are cached: for the embedding, the frames
        that straddle the clip's start are then computed as a stream computes them (0 for log-mel,
        whose frames are short enough to pad with silence frames)."""
        return self.n_fft - self.hop_length if self.kind == "speech_embedding" else 0

    def frame_at(self, seconds: float) -> int:
        """The cached frame at ``seconds`` into a clip (log-mel: the nearest frame start; the
        embedding, cached after :attr:`lead_samples`: the first frame ending at or after it)."""
        if self.kind == "speech_embedding":
            return max(0, int(np.ceil(round(seconds * 1000 / self.hop_ms, 6))) - 1)
        return round(seconds * 1000 / self.hop_ms)

    @property
    def window_length(self) -> int:
        """Analysis window length in samples."""
        return round(self.window_ms * self.sample_rate / 1000)

    @property
    def hop_length(self) -> int:
        """Frame step in samples."""
        return round(self.hop_ms * self.sample_rate / 1000)

    @property
    def n_freqs(self) -> int:
        """Number of FFT frequency bins (``n_fft // 2 + 1``)."""
        return self.n_fft // 2 + 1

    def num_frames(self, n_samples: int) -> int:
        """Number of feature frames for ``n_samples`` of audio (0 if shorter than one frame)."""
        if n_samples < self.n_fft:
            return 0
        return 1 + (n_samples - self.n_fft) // self.hop_length

    def to_dict(self) -> dict:
        """Plain-dict form (JSON, Keras layer config)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> FeatureConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ParameterError(f"unknown feature config keys: {sorted(unknown)}")
        return cls(**values)


FEATURE_KINDS = ("log_mel", "speech_embedding")

#: The project's frontend (change it only together with every model trained on it).
DEFAULT_FEATURES = FeatureConfig()


def _embedding_dict() -> dict:
    """EMBEDDING_FEATURES as a dict (its settings are those of the pretrained network)."""
    return {
        "sample_rate": SAMPLE_RATE,
        "window_ms": 782.0,  # one embedding's receptive field: 76 log-mel frames = 12,512 samples
        "hop_ms": 80.0,  # one embedding every 8 log-mel frames of 10 ms
        "n_fft": 12512,
        "n_mels": 96,  # embedding size
        "fmin": 20.0,  # (unused: the mel bands are the network's own)
        "fmax": 7600.0,
        "log_floor": 1e-5,
        "kind": "speech_embedding",
    }


#: Google's speech embedding (wakeword.tf_embedding), described as frames for windows and caches.
EMBEDDING_FEATURES = FeatureConfig(**_embedding_dict())


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (as librosa, htk=False)."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    mel = hz / f_sp
    return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_filterbank(config: FeatureConfig = DEFAULT_FEATURES) -> np.ndarray:
    """Slaney-style triangular mel filterbank with area normalisation.

    Implemented here in NumPy (not taken from librosa) so the TF frontend needs no librosa; it
    equals ``librosa.filters.mel(..., htk=False, norm="slaney").T`` (tested).

    Returns
    -------
    np.ndarray [shape=(n_freqs, n_mels)], float64
        Multiply a power spectrum ``(..., n_freqs)`` by it to get mel power ``(..., n_mels)``.
    """
    fft_freqs = np.linspace(0.0, config.sample_rate / 2, config.n_freqs)
    mel_edges = np.linspace(_hz_to_mel(config.fmin), _hz_to_mel(config.fmax), config.n_mels + 2)
    hz_edges = _mel_to_hz(mel_edges)
    widths = np.diff(hz_edges)
    ramps = hz_edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (hz_edges[2:] - hz_edges[:-2]))[:, None]
    return weights.T


def analysis_window(config: FeatureConfig = DEFAULT_FEATURES) -> np.ndarray:
    """Periodic Hann window of ``window_length`` samples, zero-padded to ``n_fft`` and centred.

    Returns
    -------
    np.ndarray [shape=(n_fft,)], float64
    """
    n = config.window_length
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)
    left = (config.n_fft - n) // 2
    return np.pad(hann, (left, config.n_fft - n - left))


def check_input(y: np.ndarray, config: FeatureConfig, source: str) -> np.ndarray:
    """``y`` as an array of shape (n,) or (batch, n) of finite samples at least one frame long, or
    an :class:`~wakeword.errors.AudioError` naming ``source``."""
    y = np.asarray(y)
    if y.ndim == 1:
        y = validate_audio(y, source=source, sample_rate=config.sample_rate, min_seconds=0, allow_silent=True)
    elif y.ndim == 2:
        if not np.all(np.isfinite(y)):
            validate_audio(y.ravel(), source=source, min_seconds=0, allow_silent=True)
    else:
        raise AudioShapeError(source, f"expected (samples,) or (batch, samples), got shape {y.shape}")
    if y.shape[-1] < config.n_fft:
        raise AudioTooShortError(
            source,
            f"{y.shape[-1]} samples is shorter than one analysis frame ({config.n_fft} samples "
            f"= {1000 * config.n_fft / config.sample_rate:g} ms)",
        )
    return y


def log_mel_librosa(
    y: np.ndarray, *, config: FeatureConfig = DEFAULT_FEATURES, source: str = "<array>"
) -> np.ndarray:
    """Log-mel features with librosa's STFT in float64 (the reference implementation).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (batch, n)], float, ``config.sample_rate`` Hz
    config : FeatureConfig
    source : str
        Name used in error messages.

    Returns
    -------
    np.ndarray [shape=(frames, n_mels) or (batch, frames, n_mels)], float32
        ``frames = config.num_frames(n)``; natural log of mel power plus ``config.log_floor``.
    """
    import librosa  # imported here: ~1 s, and only this backend needs it

    y = check_input(y, config, source).astype(np.float64)
    stft = librosa.stft(
        y,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        win_length=config.window_length,
        window="hann",
        center=False,
    )  # (..., n_freqs, frames), librosa centres the window in n_fft as analysis_window does
    power = np.abs(stft) ** 2
    mel = np.swapaxes(power, -1, -2) @ mel_filterbank(config)
    return np.log(mel + config.log_floor).astype(np.float32)
