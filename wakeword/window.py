"""The detector's window: how much audio one model call sees and how often it is called.

Shared by training (windows cut from clips), evaluation (streaming over clips), export and the
on-device detector, so all of them slide the same window by the same stride.
"""

from __future__ import annotations

from dataclasses import dataclass

from wakeword.errors import ParameterError
from wakeword.features import DEFAULT_FEATURES, FeatureConfig

TAIL_SECONDS = 0.2  # silence appended to a clip (evaluation) or a stream's end (flush), so a phrase
# at the very end is still seen whole


@dataclass(frozen=True)
class WindowConfig:
    """Model input window and detector stride."""

    seconds: float = 1.5  # audio per model call: covers "hey computer" at 125 wpm (p99 1.3 s)
    stride_ms: float = 100.0  # the detector scores a new window every 100 ms
    features: FeatureConfig = DEFAULT_FEATURES  # the shared frontend

    def __post_init__(self) -> None:
        if self.frames < 2:
            raise ParameterError(f"window of {self.seconds} s is shorter than two feature frames")
        if self.stride_ms % self.features.hop_ms:
            raise ParameterError(
                f"stride_ms ({self.stride_ms}) must be a multiple of hop_ms ({self.features.hop_ms})"
            )

    @property
    def frames(self) -> int:
        """Feature frames per window (74 by default)."""
        return self.features.num_frames(round(self.seconds * self.features.sample_rate))

    @property
    def samples(self) -> int:
        """Audio samples per window: exactly the samples its frames cover (23,872 by default)."""
        return (self.frames - 1) * self.features.hop_length + self.features.n_fft

    @property
    def stride_frames(self) -> int:
        """Feature frames between two windows (5 by default)."""
        return round(self.stride_ms / self.features.hop_ms)

    @property
    def stride_samples(self) -> int:
        return self.stride_frames * self.features.hop_length

    def to_dict(self) -> dict:
        return {"seconds": self.seconds, "stride_ms": self.stride_ms, "features": self.features.to_dict()}

    @classmethod
    def from_dict(cls, values: dict) -> WindowConfig:
        values = dict(values)
        features = FeatureConfig.from_dict(values.pop("features", DEFAULT_FEATURES.to_dict()))
        return cls(features=features, **values)


DEFAULT_WINDOW = WindowConfig()

__all__ = ["DEFAULT_WINDOW", "TAIL_SECONDS", "WindowConfig"]
