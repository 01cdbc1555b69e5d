"""What both export forms share (:mod:`orchestrator.export`, the window form, and
:mod:`orchestrator.export_stream`): the conversion settings per quantization mode, the tolerance
and error of the checks, and the detector's windows of a clip."""

from __future__ import annotations

import re

import numpy as np

from models.registry import FRONTEND_LAYER
from wakeword.errors import WakewordError
from wakeword.scoring import pad_for_streaming
from wakeword.window import WindowConfig

__all__ = ["FLOAT_TOLERANCE", "ExportCheckError", "convert_with", "detector_windows"]

FLOAT_TOLERANCE = 1e-4  # float TFLite vs Keras, absolute, on probabilities
# ops an int8 file computes in float besides the frontend: the output layer (every model's only
# Dense unit and its sigmoid). An int8 sigmoid outputs steps of 1/256 up to 255/256 = 0.9961, and
# an int8 logit is clipped at the calibration's largest: thresholds of 0.99+, which low false-accept
# rates need, were out of reach (a shipped 0.998 missed every real clip). 25 weights in float.
FLOAT_OPS = ["FULLY_CONNECTED", "LOGISTIC"]


class ExportCheckError(WakewordError):
    """The converted model does not match the trained one closely enough; nothing was written."""


def detector_windows(
    clips: list[np.ndarray], window: WindowConfig, *, per_clip: int | None = None
) -> np.ndarray:
    """Detector windows of clips (as streamed: silent start, one per stride), ``(n, window.samples)``."""
    out = []
    for clip in clips:
        padded, n = pad_for_streaming(clip, window)
        starts = np.arange(n) * window.stride_samples
        if per_clip is not None and n > per_clip:
            starts = starts[np.linspace(0, n - 1, per_clip).round().astype(int)]
        out += [padded[s : s + window.samples] for s in starts]
    return np.stack(out).astype(np.float32)


def convert_with(converter, *, quantize: str, representative=None, float_model: bytes | None = None) -> bytes:
    """Convert with ``converter`` (a ``tf.lite.TFLiteConverter``) in mode ``quantize``, builtin ops only.

    ``int8`` needs ``representative`` (the converter's representative dataset) and the model's
    ``float_model`` conversion, whose tensors under the frontend stay float (8-bit audio or power
    spectra would lose the quiet half of speech); the frontend's constants are then stored as
    float16 (:func:`orchestrator.tflite_slim.float16_constants`).
    """
    import tensorflow as tf

    from orchestrator.tflite_slim import float16_constants

    ops = tf.lite.OpsSet
    converter.target_spec.supported_ops = [ops.TFLITE_BUILTINS]
    if quantize == "none":
        return converter.convert()
    if quantize == "float16":
        # weights stored as float16, computed in float32: the converter's own float16 files let
        # XNNPACK compute in half precision, where the speech embedding's power spectra overflow
        return float16_constants(converter.convert())
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [ops.TFLITE_BUILTINS_INT8, ops.TFLITE_BUILTINS]
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter,
        debug_dataset=representative,
        debug_options=tf.lite.experimental.QuantizationDebugOptions(
            denylisted_nodes=_frontend_names(float_model), denylisted_ops=FLOAT_OPS
        ),
    )
    return float16_constants(debugger.get_nondebug_quantized_model())


def _frontend_names(flat: bytes) -> list[str]:
    """The frontend's tensor names in a float conversion (top level or inside the Keras model)."""
    from tensorflow.lite.python import schema_py_generated as schema

    graph = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flat, 0)).subgraphs[0]
    names = [t.name.decode() for t in graph.tensors]
    scope = re.compile(rf"(^|/){FRONTEND_LAYER}(_\d+)?/")  # TF numbers a scope entered twice
    return [n for n in names if scope.search(n)]
