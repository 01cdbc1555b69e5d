"""The streaming export: one stride of audio and the state in, the probability and the new state out.

What ``wakeword export`` writes for a streamable architecture (:func:`models.streaming.streamable`):
the graph of :class:`models.streaming.StreamingModel` (frontend and convolutions compute only the
stride's new frames), converted from a SavedModel signature so the file keeps named inputs and
outputs (``audio``, ``probability`` and one ``state_*`` tensor per buffer: float32, or in an int8
file int8 wherever the buffer is, so the caller copies each output back as it is;
:mod:`orchestrator.tflite_slim`). The checks
stream whole clips through the file with the device's own runtime (:class:`wakeword.stream.TFLiteModel`)
and compare every window's score with the non-streaming Keras model's.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import numpy as np

from orchestrator.export_checks import FLOAT_TOLERANCE, ExportCheckError, convert_with, detector_windows
from orchestrator.tflite_slim import int8_state_io
from wakeword.scoring import pad_for_streaming
from wakeword.tflite_format import embed_metadata, native_output_silenced
from wakeword.window import WindowConfig

__all__ = ["convert_streaming", "stream_clip_scores", "stream_inputs"]


def convert_streaming(
    classifier, window: WindowConfig, *, quantize: str, calibration=None, float_model: bytes | None = None
) -> bytes:
    """TFLite flatbuffer of the streaming form of ``classifier`` (builtin ops only).

    Parameters
    ----------
    classifier : tf.keras.Model
        A trained classifier of a streamable architecture.
    window : WindowConfig
    quantize : {"none", "float16", "int8"}
    calibration : callable, optional
        For ``int8``: returns an iterator of input dicts (``audio`` and every state), e.g.
        :func:`stream_inputs` over server-synthesized clips through the float file.
    float_model : bytes, optional
        For ``int8``: the float streaming conversion (its frontend tensors stay float).
    """
    import tensorflow as tf

    from models.streaming import StreamingModel

    stream = StreamingModel(classifier, window)
    function = stream.function()
    holder = tf.Module()
    holder.classifier, holder.frontend = classifier, stream.frontend
    with tempfile.TemporaryDirectory() as folder, native_output_silenced():
        tf.saved_model.save(holder, folder, signatures={"serving_default": function.get_concrete_function()})
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        if quantize == "int8" and float_model is None:
            float_model = tf.lite.TFLiteConverter.from_saved_model(folder).convert()
        flatbuffer = convert_with(
            converter, quantize=quantize, representative=calibration, float_model=float_model
        )
    return int8_state_io(flatbuffer) if quantize == "int8" else flatbuffer


def _device_model(flatbuffer: bytes, metadata: dict):
    from wakeword.stream import TFLiteModel

    return TFLiteModel(embed_metadata(flatbuffer, metadata))


def stream_clip_scores(flatbuffer: bytes, metadata: dict, clips: list[np.ndarray], window: WindowConfig):
    """Every window's score of each clip streamed through the file (as the detector pads it),
    concatenated over the clips; the device's runtime runs it."""
    model = _device_model(flatbuffer, metadata)
    scores = []
    for clip in clips:
        model.reset()
        padded, n = pad_for_streaming(clip, window)
        scores += [
            model(padded[k * window.stride_samples : k * window.stride_samples + window.samples])
            for k in range(n)
        ]
    return np.asarray(scores)


def stream_inputs(
    flatbuffer: bytes, metadata: dict, clips: list[np.ndarray], window: WindowConfig, *, per_clip: int
) -> Iterator[dict]:
    """Input dicts (the stride's audio and the state before it) met while streaming ``clips``
    through the file, ``per_clip`` of them per clip spread over it: int8 calibration data."""
    from wakeword.stream import STREAM_AUDIO

    model = _device_model(flatbuffer, metadata)
    for clip in clips:
        model.reset()
        padded, n = pad_for_streaming(clip, window)
        keep = set(np.linspace(0, n - 1, min(n, per_clip)).round().astype(int).tolist())
        for k in range(n):
            win = padded[k * window.stride_samples : k * window.stride_samples + window.samples]
            if k in keep:
                yield {STREAM_AUDIO: win[None, -window.stride_samples :], **model.state}
            model(win)


def export_checked(
    run, classifier, window: WindowConfig, clips: list[np.ndarray], config, metadata: dict, *, say
):
    """The checked streaming flatbuffer of ``classifier``: (flatbuffer, float error, quantization error).

    Every window of the check ``clips`` streamed through the float file must score within
    ``FLOAT_TOLERANCE`` of the non-streaming Keras model; a quantized file within
    ``config.max_quantization_error`` of the float file. A failing model raises ExportCheckError.
    """
    from data_tools.server_audio import calibration_clips
    from models.registry import with_frontend

    keras = with_frontend(classifier, window_samples=window.samples, features=window.features)
    expected = keras.predict(detector_windows(clips, window), batch_size=128, verbose=0).reshape(-1)
    say("converting to float TFLite (streaming)")
    float_model = convert_streaming(classifier, window, quantize="none")
    float_scores = stream_clip_scores(float_model, metadata, clips, window)
    float_error = float(np.max(np.abs(float_scores - expected)))
    if float_error > FLOAT_TOLERANCE:
        raise ExportCheckError(
            f"{run}: streaming float TFLite differs from Keras by {float_error:.2e} "
            f"(> {FLOAT_TOLERANCE:g}); not written"
        )
    if config.quantize == "none":
        return float_model, float_error, None
    calibration = None
    if config.quantize == "int8":
        say("synthesizing int8 calibration audio (server-side voices)")
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, 2]))
        cal = calibration_clips(metadata["phrase"], count=config.calibration_clips, rng=rng)
        calibration = lambda: stream_inputs(float_model, metadata, cal, window, per_clip=6)  # noqa: E731
    say(f"converting to {config.quantize} TFLite (streaming)")
    flatbuffer = convert_streaming(
        classifier, window, quantize=config.quantize, calibration=calibration, float_model=float_model
    )
    diff = np.abs(stream_clip_scores(flatbuffer, metadata, clips, window) - float_scores)
    if diff.max() > config.max_quantization_error:
        raise ExportCheckError(
            f"{run}: {config.quantize} model differs from float by up to {diff.max():.3f} "
            f"(> {config.max_quantization_error}); not written (try `quantize` none or float16)"
        )
    return flatbuffer, float_error, {"max": float(diff.max()), "mean": float(diff.mean())}
