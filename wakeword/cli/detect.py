"""Find the wake word in audio files with an exported model, the way a device would.

Each file (any length, rate or channel count) is streamed through the model in chunks: a 1.5 s
window is scored every stride, scores are smoothed, one detection is reported per utterance. The
threshold and detector settings come from the model file (`wakeword export`). Detections do not
depend on --chunk-ms (the size of the pieces the audio arrives in).

Example:  wakeword detect --model model.tflite meeting.wav --json
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "detections (start, end, score) in audio files with an exported TFLite model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", type=Path, nargs="+", metavar="FILE", help="audio files")
    parser.add_argument("--model", type=Path, required=True, help="a .tflite file from `wakeword export`")
    parser.add_argument("--threshold", type=float, help="override the model's recommended threshold")
    parser.add_argument(
        "--chunk-ms", type=float, default=100.0, help="audio arrives in pieces of this length (default 100)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from wakeword.audio import load_audio
    from wakeword.errors import ParameterError
    from wakeword.stream import StreamingDetector, TFLiteModel

    if args.chunk_ms <= 0:
        raise ParameterError(f"--chunk-ms must be positive, got {args.chunk_ms}")
    if args.threshold is not None and not 0 < args.threshold <= 1:
        raise ParameterError(f"--threshold must be in (0, 1], got {args.threshold}")
    model = TFLiteModel(args.model)
    config = model.detector_config(threshold=args.threshold)
    rate = config.window.features.sample_rate
    results = []
    for path in args.files:
        audio = load_audio(path, sample_rate=rate, allow_silent=True)
        detector = StreamingDetector(model, config)
        chunk = max(1, round(args.chunk_ms * rate / 1000))
        started = time.perf_counter()
        found = []
        for lo in range(0, audio.size, chunk):
            found += detector.feed(audio[lo : lo + chunk])
        found += detector.flush()
        seconds = audio.size / rate
        results.append(
            {
                "file": str(path),
                "seconds": round(seconds, 3),
                "real_time_factor": round((time.perf_counter() - started) / max(seconds, 1e-9), 4),
                "detections": [d.to_dict() for d in found],
            }
        )
    meta = model.metadata
    if args.json:
        doc = {"model": str(args.model), "phrase": meta["phrase"], "threshold": config.threshold}
        print(json.dumps({**doc, "files": results}, indent=1))
        return 0
    print(f"model {args.model} ({meta['phrase']!r}, threshold {config.threshold:.4f})")
    for res in results:
        n = len(res["detections"])
        print(
            f"{res['file']}: {res['seconds']:.1f} s, {n} detection{'s' * (n != 1)} "
            f"(real-time factor {res['real_time_factor']:.3f})"
        )
        for d in res["detections"]:
            print(f"  {d['start_s']:8.2f} s - {d['end_s']:8.2f} s   score {d['score']:.3f}")
    return 0
