"""TFLite on the device: file size, latency per stride, real-time factor; streaming vs window
form, float vs int8, and openWakeWord, in one run.

    python -m bench.tflite [--run RUN --fleet FLEET] [--no-openwakeword]

1. Every registered model, freshly initialised (size and speed do not depend on training), exported
   as float and int8 in the window form (the whole 1.5 s window per call) and, where the
   architecture streams (tcn), in the streaming form (the newest 100 ms and a state per call).
   Latency is measured in a separate process with one thread (TensorFlow's own thread pools would
   otherwise compete with the interpreter): per call, i.e. per 100 ms stride, through
   `TFLiteModel` as the detector calls it (median and p90 of 2,000 calls after 50 warm-up calls) and
   of `invoke()` alone; real-time factor = seconds to stream 60 s of audio through
   `StreamingDetector` / 60.
2. The peer: openWakeWord 0.5.1 (melspectrogram + embedding + "alexa" head, onnxruntime, one
   thread), fed 80 ms chunks of the same 60 s, real-time factor. Its wheel is downloaded from PyPI
   into the output folder and imported from there only: its models are CC BY-NC-SA, a benchmark
   peer, never a dependency.
3. With --run and --fleet: accuracy of the trained run's int8 vs float file, each evaluated on the
   fleet's held-out phones as `wakeword eval` does (threshold chosen on validation for 0.5 FA/h).

Goals (issue 22): the default model's int8 streaming file <= 48 KB, >= 5x faster per stride than
its window file in the same run, and a real-time factor below openWakeWord's.
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
for _ in range(2000):
    t = time.perf_counter(); model(x); times.append(time.perf_counter() - t)
t = time.perf_counter()
for _ in range(2000):
    model.interpreter.invoke()
invoke = (time.perf_counter() - t) / 2000
audio = np.random.default_rng(1).normal(0, 0.05, 60 * 16000).astype(np.float32)
detector = StreamingDetector(model, model.detector_config())
t = time.perf_counter()
for lo in range(0, audio.size, 800):
    detector.feed(audio[lo : lo + 800])
rtf = (time.perf_counter() - t) / 60
ms = 1000 * np.array(times)
p50, p90 = np.percentile(ms, [50, 90])
print(json.dumps({"ms_median": float(p50), "ms_p90": float(p90), "invoke_ms": 1000 * invoke,
                  "real_time_factor": rtf}))
"""


def latency(path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", LATENCY, str(path)], capture_output=True, text=True, check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


OPENWAKEWORD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
from openwakeword.model import Model
res = sys.argv[1] + "/openwakeword/resources/models/"
model = Model(wakeword_models=[res + "alexa_v0.1.onnx"], inference_framework="onnx", ncpu=1,
              melspec_model_path=res + "melspectrogram.onnx",
              embedding_model_path=res + "embedding_model.onnx")
audio = (np.random.default_rng(1).normal(0, 0.05, 60 * 16000) * 32767).astype(np.int16)
for lo in range(0, 5 * 16000, 1280):
    model.predict(audio[lo : lo + 1280])
model.reset()
t = time.perf_counter()
for lo in range(0, audio.size, 1280):
    model.predict(audio[lo : lo + 1280])
print(json.dumps({"real_time_factor": (time.perf_counter() - t) / 60}))
"""
OPENWAKEWORD_VERSION = "0.5.1"


def openwakeword(folder: Path) -> dict:
    """openWakeWord's real-time factor on one thread (its wheel unpacked into ``folder``)."""
    import zipfile

    home = folder / f"openwakeword-{OPENWAKEWORD_VERSION}"
    if not (home / "openwakeword").is_dir():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", f"openwakeword=={OPENWAKEWORD_VERSION}", "--no-deps",
             "-d", str(folder), "-q"], check=True,
        )  # fmt: skip
        wheel = next(folder.glob(f"openwakeword-{OPENWAKEWORD_VERSION}-*.whl"))
        zipfile.ZipFile(wheel).extractall(home)
    out = subprocess.run(
        [sys.executable, "-c", OPENWAKEWORD, str(home)], capture_output=True, text=True, check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def export_fresh(name: str, quantize: str, folder: Path, *, streaming: bool = False) -> Path:
    from models import build_model
    from orchestrator.export import ExportConfig, export_run
    from orchestrator.run import RunDescription, save_run
    from wakeword.window import DEFAULT_WINDOW as W

    classifier = build_model(name, (W.frames, W.features.n_mels), seed=0)
    description = RunDescription(
        mode="central", model=name, width=1.0, parameters=int(classifier.count_params()),
        window=W.to_dict(), fleet="", phrase="hey computer", training_phones=0,
        validation_phones=[], settings={}, history=[], code="bench",
    )  # fmt: skip
    run = save_run(folder / f"run-{name}", classifier=classifier, description=description)
    out = folder / f"{name}-{'stream' if streaming else 'window'}-{quantize}.tflite"
    config = ExportConfig(quantize=quantize, calibration_clips=24, check_clips=4, streaming=streaming)
    export_run(run, out, config=config)
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


def measure_files(folder: Path) -> list[dict]:
    """Size and speed of every model's exported files (both forms where it streams)."""
    from models import MODELS
    from models.streaming import streamable

    rows = []
    for name in sorted(MODELS):
        for form in ("window", "stream") if streamable(name) else ("window",):
            for quantize in ("none", "int8"):
                path = export_fresh(name, quantize, folder, streaming=form == "stream")
                rows.append({"model": name, "form": form, "quantize": quantize,
                             "kb": round(path.stat().st_size / 1024, 1),
                             **{k: round(v, 4) for k, v in latency(path).items()}})  # fmt: skip
    return rows


def goals_of(rows: list[dict], peer: dict | None) -> tuple[str, dict]:
    """Issue 22's goals for the int8 files of the default model, or of the first architecture that
    streams when the default does not: (model, goals)."""
    from models import DEFAULT_MODEL, MODELS
    from models.streaming import streamable

    name = DEFAULT_MODEL if streamable(DEFAULT_MODEL) else next(n for n in sorted(MODELS) if streamable(n))

    def row(form):
        return next(r for r in rows if r["model"] == name and r["form"] == form and r["quantize"] == "int8")

    stream, window = row("stream"), row("window")
    goals = {
        "int8 streaming <= 48 KB": stream["kb"] <= 48,
        ">= 5x faster per stride than the window file": window["ms_median"] >= 5 * stream["ms_median"],
        "the default model streams": name == DEFAULT_MODEL,
    }
    if peer is not None:
        goals["real-time factor below openWakeWord's"] = stream["real_time_factor"] < peer["real_time_factor"]
    return name, goals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", type=Path, help="a trained run for the int8-vs-float accuracy check")
    parser.add_argument("--fleet", type=Path, help="the fleet to evaluate --run on")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/tflite"))
    parser.add_argument("--no-openwakeword", action="store_true", help="skip the peer (needs PyPI)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = measure_files(args.out)
    peer = None if args.no_openwakeword else openwakeword(args.out)
    header = ("model", "form", "mode", "KB", "ms/stride", "p90 ms", "invoke", "RTF")
    print("{:<10} {:<7} {:<5} {:>7} {:>10} {:>7} {:>7} {:>7}".format(*header))
    for r in rows:
        print(f"{r['model']:<10} {r['form']:<7} {r['quantize']:<5} {r['kb']:>7.1f} {r['ms_median']:>10.3f} "
              f"{r['ms_p90']:>7.3f} {r['invoke_ms']:>7.3f} {r['real_time_factor']:>7.4f}")  # fmt: skip
    if peer is not None:
        rtf = peer["real_time_factor"]
        print(f"openWakeWord {OPENWAKEWORD_VERSION} (alexa, onnxruntime, 1 thread): RTF {rtf:.4f}")
    name, goals = goals_of(rows, peer)
    acc = []
    if args.run and args.fleet:
        acc = accuracy(args.run, args.fleet, args.out)
        for r in acc:
            print(f"trained {r['quantize']:<5}: FRR {r['frr']:.1%} at {r['fa_per_hour']:.2f} FA/h "
                  f"(threshold {r['threshold']:.4f}), oracle FRR {r['oracle_frr']:.1%}")  # fmt: skip
        goals["int8 FRR within 1 point of float (--run)"] = abs(acc[1]["frr"] - acc[0]["frr"]) <= 0.01
    for goal, met in goals.items():
        print(f"goal {goal} ({name}): {'met' if met else 'NOT met'}")
    result = {"rows": rows, "openwakeword": peer, "accuracy": acc, "goals_model": name, "goals": goals}
    print(f"results: {record('tflite', result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
