"""``wakeword export``: a trained run to one TFLite file a device can run as it is (server side:
it reads the run and calibrates on audio the server synthesizes).

The file takes one raw 16 kHz audio window ``(1, window.samples)`` (the log-mel frontend is inside
the graph) and returns the wake-word probability ``(1, 1)``. Everything else a device needs (phrase,
window and stride, smoothing, refractory period, recommended threshold and the FA/h it was chosen
for, model version) is embedded in the file as TFLite metadata (JSON, :mod:`wakeword.tflite_format`),
which ``wakeword detect`` and ``wakeword listen`` read by themselves.

Quantization modes:

- ``none``: float32.
- ``float16``: weights stored as float16, computed in float32.
- ``int8``: the classifier runs in full-integer arithmetic (int8 weights and activations), calibrated
  on audio the server synthesizes itself (never phone data); the frontend (FFT, mel, log) stays
  float, since 8-bit audio or power spectra would lose the quiet half of speech (its constants are
  stored as float16, :mod:`orchestrator.tflite_slim`).

Forms: an architecture that streams (``models.streaming``: tcn) is written in the streaming form by
default (one 100 ms stride and a state per call, :mod:`orchestrator.export_stream`); the others, or
``streaming=False``, in the window form.

Every export checks itself before writing: the float TFLite model must match Keras within
:data:`FLOAT_TOLERANCE` on test audio; a quantized model's difference from float is measured and
must stay under ``max_quantization_error``. A model that fails is not written.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.registry import with_frontend
from orchestrator.export_checks import FLOAT_TOLERANCE, ExportCheckError, convert_with, detector_windows
from wakeword.detector import DetectorConfig
from wakeword.errors import ParameterError
from wakeword.fileio import atomic_write
from wakeword.tflite_format import METADATA_FORMAT, embed_metadata, native_output_silenced, read_metadata
from wakeword.window import WindowConfig

__all__ = [
    "FLOAT_TOLERANCE",
    "QUANTIZE_MODES",
    "ExportCheckError",
    "ExportConfig",
    "export_run",
]

QUANTIZE_MODES = ("none", "float16", "int8")


@dataclass(frozen=True)
class ExportConfig:
    """Options of one export."""

    quantize: str | None = None  # none | float16 | int8; None: the model's own (int8; float16 for a
    # head on the speech embedding, models.registry.default_quantize; none for a trainable file)
    threshold: float | None = None  # None: from the run's latest evaluation report, else 0.5
    calibration_clips: int = 48  # server-synthesized clips for int8 calibration
    check_clips: int = 12  # other server-synthesized clips for the parity checks
    max_quantization_error: float = 0.25  # largest |quantized - float| probability allowed
    seed: int = 0  # synthesis of calibration and check audio
    streaming: bool | None = None  # None: the streaming form where the architecture has one
    trainable: bool = False  # the float file a phone fine-tunes (orchestrator.export_trainable)
    # a trainable file's hidden block before the output unit trains too, where the model has one
    # (False: the output unit alone, as before; measured in bench.personalize)
    train_block: bool = True

    def __post_init__(self) -> None:
        if self.quantize is not None and self.quantize not in QUANTIZE_MODES:
            raise ParameterError(f"`quantize` must be one of {QUANTIZE_MODES}, got {self.quantize!r}")
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise ParameterError(f"`threshold` must be between 0 and 1, got {self.threshold}")
        if self.calibration_clips < 1 or self.check_clips < 1:
            raise ParameterError("calibration_clips and check_clips must be >= 1")
        if self.trainable and (self.quantize not in (None, "none") or self.streaming):
            raise ParameterError(
                "`trainable` files are float and whole-window: `quantize` none, no `streaming`"
            )


# --- conversion ----------------------------------------------------------------------------------


def audio_model(classifier, window: WindowConfig):
    """Keras model raw audio ``(1, window.samples)`` -> probability ``(1, 1)``: frontend + classifier.

    The batch is fixed at one window (what a device feeds): static shapes convert to fewer TFLite
    ops (0.76 vs 0.96 ms per window here).
    """
    return with_frontend(
        classifier, window_samples=window.samples, features=window.features, batch_size=1, name="wakeword"
    )


def convert(
    model, *, quantize: str, calibration: np.ndarray | None = None, float_model: bytes | None = None
) -> bytes:
    with native_output_silenced():
        return _convert(model, quantize=quantize, calibration=calibration, float_model=float_model)


def _convert(model, *, quantize: str, calibration: np.ndarray | None, float_model: bytes | None) -> bytes:
    """TFLite flatbuffer of a Keras audio model (builtin ops only).

    Parameters
    ----------
    model : tf.keras.Model
        From :func:`audio_model`.
    quantize : {"none", "float16", "int8"}
    calibration : np.ndarray [shape=(n, window.samples)], optional
        Representative windows (required for ``int8``).
    float_model : bytes, optional
        The model's float conversion, if already made (``int8`` reads the frontend's tensor names
        from it).
    """
    import tensorflow as tf

    if quantize == "int8" and (calibration is None or len(calibration) == 0):
        raise ParameterError("int8 quantization needs calibration windows")

    def representative():
        for row in calibration:
            yield [row[None]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize == "int8" and float_model is None:
        float_model = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    return convert_with(converter, quantize=quantize, representative=representative, float_model=float_model)


def tflite_scores(flatbuffer: bytes, windows: np.ndarray) -> np.ndarray:
    """Probabilities of a TFLite audio model for windows ``(n, samples)``, one window per call."""
    import tensorflow as tf

    with native_output_silenced():
        interpreter = tf.lite.Interpreter(model_content=flatbuffer, num_threads=1)
        interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]
    scores = np.empty(len(windows))
    for i, w in enumerate(windows):
        interpreter.set_tensor(inp, w[None])
        interpreter.invoke()
        scores[i] = float(interpreter.get_tensor(out).reshape(-1)[0])
    return scores


# --- the export ----------------------------------------------------------------------------------


def recommended_threshold(
    run: Path, report: str | os.PathLike | None = None
) -> tuple[float, float | None, str]:
    """(threshold, FA/h it was chosen for, source) from ``report`` or the run's newest evaluation."""
    if report is not None:
        reports = [Path(report)]
    else:
        reports = sorted(run.glob("eval-*/report.json"), key=lambda p: p.stat().st_mtime)
    for path in reversed(reports):
        try:
            report = json.loads(path.read_text())
            return float(report["threshold"]), float(report["target_fa_per_hour"]), str(path)
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return 0.5, None, "default (no evaluation report in the run; run `wakeword eval` first)"


def export_run(
    run: str | os.PathLike,
    out: str | os.PathLike,
    *,
    config: ExportConfig = ExportConfig(),
    report: str | os.PathLike | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Convert a training run to a checked TFLite file with metadata; returns the export report.

    Parameters
    ----------
    run : path
        A run folder written by ``wakeword train``.
    out : path
        The .tflite file to write (atomically; an existing file is replaced only on success).
    config : ExportConfig
    report : path, optional
        The evaluation report whose threshold to embed (default: the run's newest ``eval-*``
        report; ``config.threshold`` overrides both).
    log : callable(str), optional
        Called with a short description of each step.

    Raises
    ------
    ExportCheckError
        The converted model failed its parity check (nothing written).
    """
    from data_tools.server_audio import calibration_clips
    from orchestrator.run import load_run

    say = log or (lambda _msg: None)
    run, out = Path(run), Path(out)
    if out.suffix != ".tflite":
        raise ParameterError(f"`out` {out}: the file name must end in .tflite")
    classifier, description, window = load_run(run)
    config = _with_quantize(config, description.model)
    model = audio_model(classifier, window)
    phrase = description.phrase
    streaming = not config.trainable and _streaming_wanted(config, description.model)
    if config.threshold is not None:
        threshold = (config.threshold, None, "--threshold")
    else:
        threshold = recommended_threshold(run, report)
    metadata = _metadata(run, classifier, description, window, config.quantize, threshold)
    metadata["streaming"] = streaming

    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 1]))
    say("synthesizing check audio (server-side voices)")
    clips = calibration_clips(phrase, count=config.check_clips, rng=rng)
    if config.trainable:
        flatbuffer, float_error, quant_error = _trainable(
            run, classifier, window, clips, config, metadata, say
        )
    elif streaming:
        from orchestrator.export_stream import export_checked

        flatbuffer, float_error, quant_error = export_checked(
            run, classifier, window, clips, config, metadata, say=say
        )
    else:
        check = detector_windows(clips, window, per_clip=8)
        say("converting to float TFLite")
        float_model, float_scores, float_error = _float_model(run, model, check)
        flatbuffer, quant_error = float_model, None
        if config.quantize != "none":
            flatbuffer, quant_error = _quantized(
                run, model, float_model, float_scores, check, config, calibration=(phrase, window), say=say
            )
    content = embed_metadata(flatbuffer, metadata)
    assert read_metadata(content) == json.loads(json.dumps(metadata, sort_keys=True))
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, "wb") as handle:
        handle.write(content)
    return {
        "out": str(out),
        "bytes": len(content),
        "float_error": float_error,
        "quantization_error": quant_error,
        "check_clips": len(clips),
        "metadata": metadata,
    }


def _streaming_wanted(config: ExportConfig, model_name: str) -> bool:
    """Whether to write the streaming form (``config.streaming``, default: where there is one)."""
    from models.streaming import streamable

    if config.streaming and not streamable(model_name):
        raise ParameterError(f"model {model_name!r} has no streaming form; export it without --streaming")
    return streamable(model_name) if config.streaming is None else config.streaming


def _trainable(run: Path, classifier, window, clips, config: ExportConfig, metadata: dict, say):
    """The trainable file (float, checked), its float error and no quantization error; notes in
    ``metadata`` what a phone needs to train it."""
    from data_tools.server_audio import phrase_stream
    from orchestrator import export_trainable as trainable
    from orchestrator.trainable_tail import L2_TO_BASE

    say("synthesizing negatives for on-device training (server-side voices, other speech)")
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 3]))
    streams = [
        phrase_stream(metadata["phrase"], occurrences=0, other_speech=4, split="train", rng=rng).audio
        for _ in range(4)
    ]
    negatives = detector_windows(streams, window, per_clip=trainable.NEGATIVE_WINDOWS // len(streams))
    say("converting to a trainable float TFLite file")
    flatbuffer, error, tail = trainable.export_trainable_checked(
        run, classifier, window, clips, negatives, block=config.train_block
    )
    metadata["trainable"] = {
        **tail,
        "signatures": list(trainable.SIGNATURES),
        "batch": trainable.TRAIN_BATCH,
        "learning_rate": {"output": trainable.LEARNING_RATE, "block": trainable.BLOCK_LEARNING_RATE},
        "l2_to_base": L2_TO_BASE,
        "negatives": len(negatives),
    }
    return flatbuffer, error, None


def _float_model(run: Path, model, check: list[np.ndarray]) -> tuple[bytes, np.ndarray, float]:
    """The float flatbuffer, its scores on ``check`` and its largest difference from Keras."""
    expected = np.concatenate([model(w[None]).numpy().reshape(-1) for w in check])
    float_model = convert(model, quantize="none")
    float_scores = tflite_scores(float_model, check)
    float_error = float(np.max(np.abs(float_scores - expected)))
    if float_error > FLOAT_TOLERANCE:
        raise ExportCheckError(
            f"{run}: float TFLite differs from Keras by {float_error:.2e} "
            f"(> {FLOAT_TOLERANCE:g}); not written"
        )
    return float_model, float_scores, float_error


def _with_quantize(config: ExportConfig, model_name: str) -> ExportConfig:
    """``config`` with its quantization decided: the model's default where unset; int8 refused for
    an architecture that cannot take it (a one-line reason)."""
    from models.registry import MODELS, default_quantize

    if config.quantize is None:
        return dataclasses.replace(
            config, quantize="none" if config.trainable else default_quantize(model_name)
        )
    reason = getattr(MODELS.get(model_name), "INT8_REFUSED", None)
    if config.quantize == "int8" and reason:
        raise ParameterError(f"`quantize` int8: {model_name} {reason}; use float16 (its default) or none")
    return config


def _quantized(run: Path, model, float_model, float_scores, check, config: ExportConfig, *, calibration, say):
    """The int8 or float16 flatbuffer and its error against float on ``check`` (checked).

    ``calibration`` is ``(phrase, window)``: int8 calibrates on server-synthesized clips of it."""
    from data_tools.server_audio import calibration_clips

    phrase, window = calibration
    calibration = None
    if config.quantize == "int8":
        say("synthesizing int8 calibration audio (server-side voices)")
        cal_rng = np.random.default_rng(np.random.SeedSequence([config.seed, 2]))
        clips = calibration_clips(phrase, count=config.calibration_clips, rng=cal_rng)
        calibration = detector_windows(clips, window, per_clip=6)
    say(f"converting to {config.quantize} TFLite")
    flatbuffer = convert(model, quantize=config.quantize, calibration=calibration, float_model=float_model)
    diff = np.abs(tflite_scores(flatbuffer, check) - float_scores)
    if diff.max() > config.max_quantization_error:
        raise ExportCheckError(
            f"{run}: {config.quantize} model differs from float by up to {diff.max():.3f} "
            f"(> {config.max_quantization_error}); not written (try `quantize` none or float16)"
        )
    return flatbuffer, {"max": float(diff.max()), "mean": float(diff.mean())}


def _metadata(run: Path, classifier, description: dict, window, quantize: str, threshold) -> dict:
    """What the .tflite file says about itself (wakeword.tflite_format reads it on the device)."""
    value, fa_target, source = threshold
    detector = DetectorConfig(window=window)
    return {
        "format": METADATA_FORMAT,
        "phrase": description.phrase,
        "sample_rate": window.features.sample_rate,
        "window": window.to_dict(),
        "window_samples": window.samples,
        "stride_samples": window.stride_samples,
        "detector": {"smooth_windows": detector.smooth_windows, "refractory_s": detector.refractory_s},
        "threshold": value,
        "threshold_fa_per_hour": fa_target,
        "threshold_source": source,
        "quantize": quantize,
        "model": description.model,
        "parameters": description.parameters,
        "training": description.mode,
        "model_version": _version(run, classifier),
        "exported": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _version(run: Path, classifier) -> str:
    """``<run folder name>-<12 hex digits of the weights' hash>``: changes whenever the weights do."""
    digest = hashlib.sha256()
    for w in classifier.get_weights():
        digest.update(np.ascontiguousarray(w).tobytes())
    return f"{run.resolve().name}-{digest.hexdigest()[:12]}"
