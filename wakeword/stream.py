"""The on-device detector: audio arrives in chunks of any size, detections come out.

:class:`StreamingDetector` keeps the last window of audio (starting with the silent buffer a device
starts with), scores a window every stride with the model, smooths the scores causally and reports
a detection when the smoothed score reaches the threshold, then waits out the refractory period.
It is the same computation as :mod:`wakeword.scoring` + :mod:`wakeword.detector` (the evaluation),
done incrementally: the detections do not depend on how the audio is cut into chunks.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wakeword.audio import speech_bounds
from wakeword.detector import DetectorConfig
from wakeword.errors import ParameterError, WakewordError

__all__ = ["Detection", "StreamingDetector", "TFLiteModel"]

TAIL_SECONDS = 0.2  # silence appended by flush(), as in evaluation (a phrase at the very end is seen)
BOUNDS_TOP_DB = 20.0  # the phrase's extent in the detection window: frames within 20 dB of its peak


@dataclass(frozen=True)
class Detection:
    """One detection.

    ``start_s``/``end_s`` estimate where the phrase is (seconds from the start of the stream): the
    loud part of the window that fired; ``time_s`` is when the detector fired (end of that window).
    """

    start_s: float
    end_s: float
    time_s: float
    score: float  # smoothed score when it fired

    def to_dict(self) -> dict:
        return {k: round(v, 3) for k, v in self.__dict__.items()}


class TFLiteModel:
    """An exported model: the TFLite interpreter (one thread) and the metadata embedded in the file.

    Calling it with one window ``(window_samples,)`` float32 returns the probability.
    """

    def __init__(self, path: str | os.PathLike | bytes, *, num_threads: int = 1) -> None:
        import tensorflow as tf

        from wakeword.export import native_output_silenced, read_metadata

        self.name = "<bytes>" if isinstance(path, bytes) else str(path)
        self.metadata = read_metadata(path)  # clear error for a missing, non-TFLite or foreign file
        content = path if isinstance(path, bytes) else Path(path).read_bytes()
        try:
            with native_output_silenced():
                self.interpreter = tf.lite.Interpreter(model_content=content, num_threads=num_threads)
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise WakewordError(f"{self.name}: cannot load the TFLite model ({str(exc).splitlines()[0]})") from None
        self._input = self.interpreter.get_input_details()[0]["index"]
        self._output = self.interpreter.get_output_details()[0]["index"]
        self.window_samples = int(self.metadata["window_samples"])

    def __call__(self, window: np.ndarray) -> float:
        self.interpreter.set_tensor(self._input, window.reshape(1, -1).astype(np.float32, copy=False))
        self.interpreter.invoke()
        return float(self.interpreter.get_tensor(self._output).reshape(-1)[0])

    def detector_config(self, *, threshold: float | None = None) -> DetectorConfig:
        from wakeword.export import detector_from_metadata

        return detector_from_metadata(self.metadata, threshold=threshold)


class StreamingDetector:
    """Incremental detection over a stream of audio chunks.

    Parameters
    ----------
    score : callable(np.ndarray [shape=(window.samples,)]) -> float
        The model (e.g. a :class:`TFLiteModel`).
    config : DetectorConfig
        Window, stride, smoothing, refractory period and threshold.
    on_score : callable(float, float), optional
        Called with (time in seconds, smoothed score) after every window (level meters, plots).
    """

    def __init__(
        self,
        score: Callable[[np.ndarray], float],
        config: DetectorConfig,
        *,
        on_score: Callable[[float, float], None] | None = None,
    ) -> None:
        if not 0 < config.threshold <= 1:
            raise ParameterError(f"threshold must be in (0, 1], got {config.threshold}")
        self.score = score
        self.config = config
        self.on_score = on_score
        w = config.window
        self._w, self._s = w.samples, w.stride_samples
        self._rate = w.features.sample_rate
        self._buf = np.zeros(self._w - self._s, np.float32)  # the device starts with a silent buffer
        self._recent: deque[float] = deque(maxlen=config.smooth_windows)
        self._windows = 0  # windows scored so far
        self._next_allowed = 0  # first window index outside the refractory period
        self.samples_in = 0  # audio samples fed so far

    @classmethod
    def from_tflite(
        cls, path: str | os.PathLike | bytes, *, threshold: float | None = None, **kwargs
    ) -> StreamingDetector:
        """A detector with an exported model, configured from the file's metadata."""
        model = TFLiteModel(path)
        return cls(model, model.detector_config(threshold=threshold), **kwargs)

    def feed(self, chunk: np.ndarray) -> list[Detection]:
        """Add audio (float32 at the model's sample rate, any length); return new detections."""
        chunk = np.asarray(chunk, dtype=np.float32).reshape(-1)
        self.samples_in += chunk.size
        self._buf = np.concatenate([self._buf, chunk]) if chunk.size else self._buf
        found, pos = [], 0
        while self._buf.size - pos >= self._w:
            window = self._buf[pos : pos + self._w]
            event = self._step(window)
            if event is not None:
                found.append(event)
            pos += self._s
        if pos:
            self._buf = self._buf[pos:].copy()
        return found

    def flush(self) -> list[Detection]:
        """End of stream: feed the silent tail (as evaluation does) and return the last detections."""
        tail = np.zeros(round(TAIL_SECONDS * self._rate), np.float32)
        before = self.samples_in
        found = self.feed(tail)
        self.samples_in = before
        return found

    def _step(self, window: np.ndarray) -> Detection | None:
        k = self._windows
        self._windows += 1
        self._recent.append(self.score(window))
        smoothed = float(np.mean(self._recent))
        end_time = (k + 1) * self._s / self._rate  # window k ends (k + 1) strides into the audio
        if self.on_score is not None:
            self.on_score(end_time, smoothed)
        if smoothed < self.config.threshold or k < self._next_allowed:
            return None
        self._next_allowed = k + self.config.refractory_windows
        lo, hi = speech_bounds(window, top_db=BOUNDS_TOP_DB, sample_rate=self._rate)
        window_start = end_time - self._w / self._rate
        if hi <= lo:  # a silent window (cannot really fire, but be safe)
            lo, hi = 0, self._w
        return Detection(
            start_s=max(0.0, window_start + lo / self._rate),
            end_s=max(0.0, window_start + hi / self._rate),
            time_s=end_time,
            score=smoothed,
        )
