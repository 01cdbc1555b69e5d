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

from wakeword.detector import DetectorConfig
from wakeword.errors import ParameterError, WakewordError
from wakeword.window import TAIL_SECONDS  # flush() appends the same silence as evaluation

__all__ = ["Detection", "StreamingDetector", "TFLiteModel"]

STREAM_AUDIO = "audio"  # a streaming file's signature: the stride of audio in (models.streaming.AUDIO)
STREAM_PROBABILITY = "probability"  # ... and the score out; every other input is a state
BOUNDS_TOP_DB = 20.0  # the phrase's extent in the detection window: frames within 20 dB of its peak
BOUNDS_GAP_S = 0.2  # quieter stretches shorter than this inside the phrase (between words) are bridged
SETTLE_WINDOWS = 3  # a detection is reported this many windows (300 ms) after it fires: peak score
# and the phrase's end are then known (the model may fire before the last syllable)


@dataclass(frozen=True)
class Detection:
    """One detection.

    ``start_s``/``end_s`` estimate where the phrase is (seconds from the start of the stream): the
    loud part of the window that fired; ``time_s`` is when the detector fired (end of that window).
    """

    start_s: float
    end_s: float
    time_s: float
    score: float  # highest smoothed score from firing until reported

    def to_dict(self) -> dict:
        return {k: round(v, 3) for k, v in self.__dict__.items()}


class TFLiteModel:
    """An exported model: the TFLite interpreter (one thread) and the metadata embedded in the file.

    Calling it with one window ``(window_samples,)`` float32 returns the probability. A streaming
    file (metadata ``streaming``: one stride of audio and the state in, the probability and the new
    state out) keeps its state here and reads only the window's last stride, so it must see the
    windows of one stream in order, each once (as :class:`StreamingDetector` calls it);
    :meth:`reset` starts a new stream from silence. A trainable file (``wakeword export
    --trainable``) runs its ``infer`` signature on each window, after restoring the output layer a
    personalized file carries (``wakeword personalize``).
    """

    def __init__(self, path: str | os.PathLike | bytes, *, num_threads: int = 1) -> None:
        import tensorflow as tf

        from wakeword.tflite_format import native_output_silenced, read_metadata

        self.name = "<bytes>" if isinstance(path, bytes) else str(path)
        self.metadata = read_metadata(path)  # clear error for a missing, non-TFLite or foreign file
        content = path if isinstance(path, bytes) else Path(path).read_bytes()
        try:
            with native_output_silenced():
                self.interpreter = tf.lite.Interpreter(model_content=content, num_threads=num_threads)
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            reason = str(exc).splitlines()[0]
            raise WakewordError(f"{self.name}: cannot load the TFLite model ({reason})") from None
        self._input = self.interpreter.get_input_details()[0]["index"]
        self._output = self.interpreter.get_output_details()[0]["index"]
        self.window_samples = int(self.metadata["window_samples"])
        self.streaming = bool(self.metadata.get("streaming"))
        self._infer = None
        if self.metadata.get("trainable"):
            self._load_trainable()
        elif self.streaming:
            self._stride = int(self.metadata["stride_samples"])
            runner = self.interpreter.get_signature_runner()  # names -> tensor indices (subgraph 0)
            inputs, outputs = runner.get_input_details(), runner.get_output_details()
            self._audio = inputs[STREAM_AUDIO]["index"]
            self._score = outputs[STREAM_PROBABILITY]["index"]
            # (state input, state output) tensor indices by name: set and read directly, since the
            # runner itself resizes and reallocates every tensor on every call (5x slower here)
            self._io = {k: (v["index"], outputs[k]["index"]) for k, v in inputs.items() if k != STREAM_AUDIO}
            # (states of an int8 file are int8 tensors: the output's bytes go back in unchanged)
            self._state = {
                k: np.zeros(v["shape"], v["dtype"]) for k, v in inputs.items() if k != STREAM_AUDIO
            }
            del runner  # it holds the interpreter's internals: invoke() refuses to run while it lives
            for _ in range(self.window_samples // self._stride + 1):  # the state silence leaves
                self._step(np.zeros(self._stride, np.float32))
            self._silent = dict(self._state)

    def _load_trainable(self) -> None:
        from wakeword.tflite_format import restore_tail

        head = self.metadata.get("personalized")
        if head is not None:
            restore_tail(self.interpreter, head)
        self._infer = self.interpreter.get_signature_runner("infer")

    def __call__(self, window: np.ndarray) -> float:
        if self._infer is not None:
            out = self._infer(audio=window.reshape(1, -1).astype(np.float32, copy=False))
            return float(out["probability"].reshape(-1)[0])
        if self.streaming:
            return self._step(window[-self._stride :])
        self.interpreter.set_tensor(self._input, window.reshape(1, -1).astype(np.float32, copy=False))
        self.interpreter.invoke()
        return float(self.interpreter.get_tensor(self._output).reshape(-1)[0])

    def _step(self, stride: np.ndarray) -> float:
        interpreter = self.interpreter
        interpreter.set_tensor(self._audio, stride.reshape(1, -1).astype(np.float32, copy=False))
        for name, (index, _) in self._io.items():
            interpreter.set_tensor(index, self._state[name])
        interpreter.invoke()
        self._state = {name: interpreter.get_tensor(out) for name, (_, out) in self._io.items()}
        return float(interpreter.get_tensor(self._score).reshape(-1)[0])

    @property
    def state(self) -> dict:
        """A streaming file's state before the next window (copies; empty for a window file)."""
        return {k: v.copy() for k, v in self._state.items()} if self.streaming else {}

    def reset(self) -> None:
        """Start a new stream (a streaming file forgets the audio it has seen; others hold none)."""
        if self.streaming:
            self._state = dict(self._silent)

    def detector_config(self, *, threshold: float | None = None) -> DetectorConfig:
        from wakeword.tflite_format import detector_from_metadata

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
        if hasattr(score, "reset"):
            score.reset()  # a streaming model starts each stream from silence, as the buffer does
        self.config = config
        self.on_score = on_score
        w = config.window
        self._w, self._s = w.samples, w.stride_samples
        self._rate = w.features.sample_rate
        self._buf = np.zeros(self._w - self._s, np.float32)  # the device starts with a silent buffer
        self._recent: deque[float] = deque(maxlen=config.smooth_windows)
        self._windows = 0  # windows scored so far
        self._next_allowed = 0  # first window index outside the refractory period
        self._pending: list = []  # [window index, time, peak score] of a fired, unreported detection
        self._last_window = np.zeros(self._w, np.float32)
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
        if self._pending:
            found.append(self._report(self._last_window, self._windows - 1))
        return found

    def _step(self, window: np.ndarray) -> Detection | None:
        k = self._windows
        self._windows += 1
        self._last_window = window
        self._recent.append(self.score(window))
        smoothed = float(np.mean(self._recent))
        end_time = (k + 1) * self._s / self._rate  # window k ends (k + 1) strides into the audio
        if self.on_score is not None:
            self.on_score(end_time, smoothed)
        if self._pending:
            self._pending[2] = max(self._pending[2], smoothed)
            if k - self._pending[0] >= SETTLE_WINDOWS:
                return self._report(window, k)
            return None
        if smoothed < self.config.threshold or k < self._next_allowed:
            return None
        self._next_allowed = k + self.config.refractory_windows
        self._pending = [k, end_time, smoothed]
        return None

    def _report(self, window: np.ndarray, k: int) -> Detection:
        """The pending detection, its extent found in ``window`` (the window ``k``)."""
        _, fired, peak = self._pending
        self._pending = []
        window_end = (k + 1) * self._s / self._rate
        window_start = window_end - self._w / self._rate
        fire = round((fired - window_start) * self._rate)
        lo, hi = phrase_bounds(window, fire=fire, sample_rate=self._rate)
        return Detection(
            start_s=max(0.0, window_start + lo / self._rate),
            end_s=max(0.0, window_start + hi / self._rate),
            time_s=fired,
            score=peak,
        )


def phrase_bounds(
    window: np.ndarray, *, fire: int, sample_rate: int, frame_ms: float = 10.0
) -> tuple[int, int]:
    """Sample range of the loud stretch of ``window`` that holds (or last ended before) sample ``fire``.

    Frames within :data:`BOUNDS_TOP_DB` of the loudest are loud; quiet gaps shorter than
    :data:`BOUNDS_GAP_S` between loud frames are bridged (pauses between words).

    Parameters
    ----------
    window : np.ndarray [shape=(n,)]
    fire : int
        Sample index in ``window`` at which the detector fired.
    sample_rate : int
    frame_ms : float

    Returns
    -------
    (int, int)
        ``[start, end)`` in samples; the whole window if it is silent.
    """
    frame = max(1, round(frame_ms * sample_rate / 1000))
    n = window.size // frame
    rms = np.sqrt(np.mean(window[: n * frame].astype(np.float64).reshape(n, frame) ** 2, axis=1))
    if n == 0 or rms.max() <= 0:
        return 0, window.size
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-BOUNDS_TOP_DB / 20))
    gap = max(1, round(BOUNDS_GAP_S * 1000 / frame_ms))
    breaks = np.flatnonzero(np.diff(loud) > gap)
    starts = np.concatenate([[loud[0]], loud[breaks + 1]])
    ends = np.concatenate([loud[breaks], [loud[-1]]]) + 1
    fire_frame = min(n - 1, max(0, fire // frame))
    candidates = np.flatnonzero(starts <= fire_frame)
    i = int(candidates[-1]) if candidates.size else 0
    return int(starts[i] * frame), int(min(window.size, ends[i] * frame))
