"""Score audio the way a device does: slide the model window over it, one score per stride.

Window ``k`` covers ``padded[k * stride : k * stride + window]`` where ``padded`` is the audio with
``window - stride`` zero samples before it (the detector's buffer starts silent) and
:data:`TAIL_SECONDS` after it; so window ``k`` ends ``(k + 1) * stride`` into the audio. A Keras
classifier scores features of the whole padded clip cut into windows (hop-aligned, so identical to
per-window features); a TFLite model (frontend inside) scores raw audio windows. Both give the same
scores to float tolerance.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from wakeword.errors import WakewordError
from wakeword.frontend import features_of
from wakeword.window import DEFAULT_WINDOW, TAIL_SECONDS, WindowConfig

__all__ = ["KerasScorer", "TFLiteScorer", "pad_for_streaming", "window_end_seconds"]


def pad_for_streaming(audio: np.ndarray, window: WindowConfig = DEFAULT_WINDOW) -> tuple[np.ndarray, int]:
    """Zero-pad a clip for streaming; returns the padded audio and the number of windows."""
    tail = round(TAIL_SECONDS * window.features.sample_rate)
    padded = np.concatenate(
        [
            np.zeros(window.samples - window.stride_samples, np.float32),
            audio.astype(np.float32),
            np.zeros(tail, np.float32),
        ]
    )
    return padded, (padded.size - window.samples) // window.stride_samples + 1


def window_end_seconds(n_windows: int, window: WindowConfig = DEFAULT_WINDOW) -> np.ndarray:
    """Time in the clip at which each window ends, in seconds."""
    return (np.arange(n_windows) + 1) * window.stride_ms / 1000


class KerasScorer:
    """Scores with a Keras classifier on features ``(frames, n_mels)`` (a run's model)."""

    def __init__(self, classifier, window: WindowConfig = DEFAULT_WINDOW, *, batch_size: int = 512) -> None:
        import tensorflow as tf

        self.classifier = classifier
        self.window = window
        self.batch_size = batch_size
        spec = tf.TensorSpec([None, window.frames, window.features.n_mels], tf.float32)
        # one traced graph for every batch size (Keras' predict() costs ~30 ms per call)
        self._predict = tf.function(lambda x: classifier(x, training=False), input_signature=[spec])

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        """Raw window scores of a clip, shape ``(n_windows,)``."""
        padded, n = pad_for_streaming(audio, self.window)
        feats = features_of(padded, config=self.window.features)
        s, w = self.window.stride_frames, self.window.frames
        windows = np.lib.stride_tricks.sliding_window_view(feats, (w, feats.shape[1]))[::s, 0][:n]
        windows = np.ascontiguousarray(windows, dtype=np.float32)
        out = [self._predict(windows[i : i + self.batch_size]).numpy() for i in range(0, n, self.batch_size)]
        return np.concatenate(out).reshape(-1).astype(np.float64)


class TFLiteScorer:
    """Scores with a TFLite model whose input is one raw audio window ``(1, window.samples)``, or
    a streaming file (one stride and its state per call, :class:`wakeword.stream.TFLiteModel`).
    ``window``: the one in the file's metadata unless given (:data:`DEFAULT_WINDOW` for a file
    without metadata)."""

    def __init__(
        self, model: str | os.PathLike | bytes, window: WindowConfig | None = None, *, batch_size: int = 64
    ) -> None:
        import tensorflow as tf

        content = model if isinstance(model, bytes) else Path(model).read_bytes()
        window = window or _file_window(content)
        self.window = window
        self._stream = None
        if _called_per_window(content):  # one interpreter, the device's own calls
            from wakeword.stream import TFLiteModel

            self._stream = TFLiteModel(content)
            return
        try:
            self.interpreter = tf.lite.Interpreter(model_content=content, num_threads=1)
        except (ValueError, RuntimeError) as exc:
            name = "<bytes>" if isinstance(model, bytes) else str(model)
            raise WakewordError(f"{name}: not a TFLite model ({str(exc).splitlines()[0]})") from None
        self._input = self.interpreter.get_input_details()[0]
        # an exported model takes exactly one window per call; older ones take a batch
        self.batch_size = batch_size if int(self._input["shape_signature"][0]) == -1 else 1
        self._output = self.interpreter.get_output_details()[0]
        if int(self._input["shape"][-1]) != window.samples:
            raise WakewordError(
                f"the TFLite model takes {int(self._input['shape'][-1])} samples per window, "
                f"the window config has {window.samples}"
            )
        self._batch = None

    def _resize(self, batch: int) -> None:
        if self._batch != batch:
            self.interpreter.resize_tensor_input(self._input["index"], [batch, self.window.samples])
            self.interpreter.allocate_tensors()
            self._batch = batch

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        padded, n = pad_for_streaming(audio, self.window)
        starts = np.arange(n) * self.window.stride_samples
        if self._stream is not None:
            self._stream.reset()
            return np.array([self._stream(padded[s : s + self.window.samples]) for s in starts])
        scores = np.empty(n, dtype=np.float64)
        for lo in range(0, n, self.batch_size):
            chunk = starts[lo : lo + self.batch_size]
            batch = np.stack([padded[s : s + self.window.samples] for s in chunk])
            self._resize(len(chunk))
            self.interpreter.set_tensor(self._input["index"], batch)
            self.interpreter.invoke()
            scores[lo : lo + len(chunk)] = self.interpreter.get_tensor(self._output["index"]).reshape(-1)
        return scores


def _called_per_window(content: bytes) -> bool:
    """Whether a file must run through :class:`wakeword.stream.TFLiteModel`, one window per call:
    a streaming file (one stride and its state) or a trainable one (signatures), by its metadata."""
    from wakeword.tflite_format import read_metadata

    try:
        meta = read_metadata(content)
    except WakewordError:  # no wakeword metadata: a plain window file
        return False
    return bool(meta.get("streaming") or meta.get("trainable"))


def _file_window(content: bytes) -> WindowConfig:
    """The window a wakeword TFLite file declares, or the default for a bare flatbuffer."""
    from wakeword.tflite_format import read_metadata

    try:
        return WindowConfig.from_dict(read_metadata(content)["window"])
    except WakewordError:
        return DEFAULT_WINDOW
