"""TFLite on the device: file size, latency per window, real-time factor; float vs int8, same run.

    python -m bench.tflite [--run RUN --fleet FLEET]

1. Every registered model, freshly initialised (size and speed do not depend on training), exported
   as float and int8; latency is measured in a separate process with one thread (TensorFlow's own
   thread pools would otherwise compete with the interpreter), 500 windows after 50 warm-up calls;
   real-time factor = seconds to stream 60 s of audio through `StreamingDetector` / 60.
2. With --run and --fleet: accuracy of the trained run's int8 vs float file, each evaluated on the
   fleet's held-out phones as `wakeword eval` does (threshold chosen on validation for 0.5 FA/h).

Goals (issue 7): int8 default model <= 64 KB, <= 1 ms per window, real-time factor <= 0.02, FRR at
the operating point within 1 point of float.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.common import record

LATENCY = r"""
import json, sys, time
import numpy as np
import tensorflow as tf
from wakeword.stream import StreamingDetector, TFLiteModel
model = TFLiteModel(sys.argv[1])
x = np.random.default_rng(0).normal(0, 0.05, model.window_samples).astype(np.float32)
for _ in range(50):
    model(x)
times = []
for _ in range(500):
    t = time.perf_counter(); model(x); times.append(time.perf_counter() - t)
audio = np.random.default_rng(1).normal(0, 0.05, 60 * 16000).astype(np.float32)
detector = StreamingDetector(model, model.detector_config())
t = time.perf_counter()
for lo in range(0, audio.size, 800):
    detector.feed(audio[lo : lo + 800])
rtf = (time.perf_counter() - t) / 60
ms = 1000 * np.array(times)
p50, p90 = np.percentile(ms, [50, 90])
print(json.dumps({"ms_median": float(p50), "ms_p90": float(p90), "real_time_factor": rtf}))
"""


def latency(path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", LATENCY, str(path)], capture_output=True, text=True, check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def export_fresh(name: str, quantize: str, folder: Path) -> Path:
    from models import build_model
    from orchestrator.export import ExportConfig, export_run
    from orchestrator.run import save_run
    from wakeword.window import DEFAULT_WINDOW as W

    classifier = build_model(name, (W.frames, W.features.n_mels), seed=0)
    description = {"mode": "central", "model": name, "width": 1.0, "parameters": classifier.count_params(),
                   "window": W.to_dict(), "phrase": "hey computer", "history": []}  # fmt: skip
    run = save_run(folder / f"run-{name}", classifier=classifier, description=description)
    out = folder / f"{name}-{quantize}.tflite"
    export_run(run, out, config=ExportConfig(quantize=quantize, calibration_clips=24, check_clips=4))
    return out


def accuracy(run: Path, fleet_path: Path, folder: Path) -> list[dict]:
    from data_tools.fleet import Fleet
    from orchestrator.evaluation import EvalConfig, evaluate_fleet
    from orchestrator.export import ExportConfig, export_run
    from wakeword.scoring import TFLiteScorer
    from wakeword.tflite_format import read_metadata, window_from_metadata

    fleet, rows = Fleet(fleet_path), []
    for quantize in ("none", "int8"):
        out = folder / f"trained-{quantize}.tflite"
        export_run(run, out, config=ExportConfig(quantize=quantize, threshold=0.5))
        scorer = TFLiteScorer(out, window_from_metadata(read_metadata(out)))
        report = evaluate_fleet(scorer, fleet, config=EvalConfig(target_fa_per_hour=0.5))
        test = report.test
        rows.append({"quantize": quantize, "kb": round(out.stat().st_size / 1024, 1), "frr": test["frr"],
                     "fa_per_hour": test["fa_per_hour"], "threshold": report.threshold,
                     "oracle_frr": report.test_oracle["frr"]})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", type=Path, help="a trained run for the int8-vs-float accuracy check")
    parser.add_argument("--fleet", type=Path, help="the fleet to evaluate --run on")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/tflite"))
    args = parser.parse_args(argv)
    from models import DEFAULT_MODEL, MODELS

    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in sorted(MODELS):
        for quantize in ("none", "int8"):
            path = export_fresh(name, quantize, args.out)
            rows.append({"model": name, "quantize": quantize, "kb": round(path.stat().st_size / 1024, 1),
                         **{k: round(v, 4) for k, v in latency(path).items()}})  # fmt: skip
    print(f"{'model':<10} {'mode':<5} {'KB':>7} {'ms/window':>10} {'p90 ms':>7} {'RTF':>7}")
    for r in rows:
        print(f"{r['model']:<10} {r['quantize']:<5} {r['kb']:>7.1f} {r['ms_median']:>10.3f} "
              f"{r['ms_p90']:>7.3f} {r['real_time_factor']:>7.4f}")  # fmt: skip
    default = next(r for r in rows if r["model"] == DEFAULT_MODEL and r["quantize"] == "int8")
    goals = {
        "int8 <= 64 KB": default["kb"] <= 64,
        "<= 1 ms per window": default["ms_median"] <= 1.0,
        "real-time factor <= 0.02": default["real_time_factor"] <= 0.02,
    }
    acc = []
    if args.run and args.fleet:
        acc = accuracy(args.run, args.fleet, args.out)
        for r in acc:
            print(f"trained {r['quantize']:<5}: FRR {r['frr']:.1%} at {r['fa_per_hour']:.2f} FA/h "
                  f"(threshold {r['threshold']:.4f}), oracle FRR {r['oracle_frr']:.1%}")  # fmt: skip
        goals["int8 FRR within 1 point of float"] = abs(acc[1]["frr"] - acc[0]["frr"]) <= 0.01
    for goal, met in goals.items():
        print(f"goal {goal} ({DEFAULT_MODEL}): {'met' if met else 'NOT met'}")
    print(f"results: {record('tflite', {'rows': rows, 'accuracy': acc, 'goals': goals})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
