"""Export a trained run as one TFLite file a device runs as it is.

The file takes raw 16 kHz audio with the log-mel frontend inside. For a streaming architecture
(trained with --model tcn) it is the streaming form: each call takes the newest 100 ms and the
state the previous call returned, and computes only the new frames (same scores as the window
model, checked); --window writes the form that takes the whole 1.5 s window every call. The file carries
its metadata (phrase, window, stride, smoothing, recommended threshold and the FA/h it was chosen
for, model version), which `wakeword detect` and `wakeword listen` read by themselves.
int8 quantization is calibrated on audio the server synthesizes (never on phone data). The export
checks itself (float TFLite vs Keras within 1e-4, quantized vs float reported) and writes nothing
when a check fails.

The recommended threshold comes from the run's latest `wakeword eval` report (run that first), or
--threshold.

Example:  wakeword export runs/demo/run --out model.tflite --quantize int8
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "convert a run to TFLite (float, float16 or int8) with metadata, self-checked"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path, help="run folder written by `wakeword train`")
    parser.add_argument("--out", type=Path, required=True, help="the .tflite file to write")
    parser.add_argument(
        "--quantize",
        choices=("none", "float16", "int8"),
        help="none = float32; float16 = half-size weights; int8 = integer classifier (default: int8; "
        "float16 for speech_dnn, whose head does not quantize to int8; none with --trainable)",
    )
    parser.add_argument(
        "--threshold", type=float, help="detection threshold to embed (default: from the run's eval report)"
    )
    parser.add_argument(
        "--window",
        action="store_true",
        help="write the window form (the whole 1.5 s window per call) even for a streaming architecture",
    )
    parser.add_argument(
        "--trainable",
        action="store_true",
        help="write the float file a phone fine-tunes to its owner (`wakeword personalize`): "
        "signatures infer, embed, train, logits, save, restore, negatives; the output unit and "
        "(speech_dnn) the dense block before it train",
    )
    parser.add_argument(
        "--max-quantization-error",
        type=float,
        default=0.25,
        help="refuse a quantized model whose probabilities differ from float by more (default 0.25)",
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from orchestrator.export import ExportConfig, export_run

    config = ExportConfig(
        quantize=args.quantize,
        trainable=args.trainable,
        threshold=args.threshold,
        max_quantization_error=args.max_quantization_error,
        streaming=False if args.window else None,
    )
    report = export_run(args.run, args.out, config=config, log=lambda m: print(f"  {m}", file=sys.stderr))
    print(format_report(report))
    return 0


def format_report(report: dict) -> str:
    meta = report["metadata"]
    fa = meta["threshold_fa_per_hour"]
    lines = [
        f"wrote {report['out']}: {report['bytes'] / 1024:.1f} KB, {meta['quantize']}, "
        f"{meta['model']} ({meta['parameters']:,} parameters), version {meta['model_version']}",
        f"  input: {meta['window_samples']} samples at {meta['sample_rate']} Hz "
        f"({meta['window']['seconds']} s window), a new window every {meta['window']['stride_ms']:g} ms",
        f"  phrase {meta['phrase']!r}; threshold {meta['threshold']:.4f}"
        + (f" (chosen for {fa:g} FA/h)" if fa is not None else "")
        + f" from {meta['threshold_source']}",
        f"  form: {_form(meta)}; "
        f"check on {report['check_clips']} server-synthesized clips: float TFLite vs Keras "
        f"max |diff| {report['float_error']:.1e}",
    ]
    if report["quantization_error"] is not None:
        q = report["quantization_error"]
        lines.append(f"  {meta['quantize']} vs float: max |diff| {q['max']:.4f}, mean {q['mean']:.5f}")
    return "\n".join(lines)


def _form(meta: dict) -> str:
    if meta.get("trainable"):
        return "trainable (window per call; its tail fine-tunes on the phone)"
    stride = meta["window"]["stride_ms"]
    return f"streaming ({stride:g} ms and a state per call)" if meta.get("streaming") else "window"
