"""The main job end to end on a small default fleet (``make demo`` / ``wakeword demo``).

1. synthesize a fleet of phones (``wakeword data synth``), 2. federated training with TFF
(``wakeword train``), 3. evaluation on the held-out phones (``wakeword eval``), 4. int8 TFLite
export (``wakeword export``), 5. detection in a generated recording with the phrase at known times
(``wakeword detect``), then a summary. Every step reuses what an earlier run of the demo already
built in the output folder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TIMING_TOLERANCE_S = 0.3  # a detection matches a spoken phrase if start and end are this close


@dataclass(frozen=True)
class DemoConfig:
    """What ``wakeword demo`` runs."""

    out: Path = Path("runs/demo")  # fleet, run and report go here (ignored by git)
    phrase: str = "hey computer"  # the wake phrase
    devices: int = 24  # phones in the simulated fleet (20% held out)
    background_minutes: float = 30.0  # negative streams for false accepts per hour
    rounds: int = 40  # federated rounds
    clients_per_round: int = 10  # phones per round
    target_fa_per_hour: float = 0.5  # operating point of the evaluation
    seed: int = 1
    # Kokoro sentences per style among other people talking (0: none; the fleet default, 5, costs
    # ~13 min of synthesis once per machine, more than the demo's budget)
    other_kokoro_texts: int = 0


def run_demo(
    config: DemoConfig, *, progress: Callable | None = None, echo: Callable[[str], None] = print
) -> dict:
    """Run (or finish) the demo; returns the summary (also printed as a table)."""
    from data_tools.fleet import Fleet
    from data_tools.synth import FleetConfig, synth_fleet
    from orchestrator.evaluation import EvalConfig, evaluate_fleet
    from orchestrator.export import ExportConfig, export_run
    from orchestrator.federated import FederatedConfig, train_federated
    from orchestrator.run import RUN_FILE, load_run
    from wakeword.fileio import atomic_write
    from wakeword.plots import save_det_plot
    from wakeword.scoring import KerasScorer

    started = time.perf_counter()
    fleet_dir, run_dir, eval_dir = config.out / "fleet", config.out / "run", config.out / "eval"
    timings = {}

    echo(f"[1/5] fleet: {config.devices} phones saying {config.phrase!r} -> {fleet_dir}")
    t0 = time.perf_counter()
    fleet_config = FleetConfig(
        phrase=config.phrase,
        devices=config.devices,
        seed=config.seed,
        background_minutes=config.background_minutes,
        other_kokoro_texts=config.other_kokoro_texts,
    )
    fleet = synth_fleet(
        fleet_config,
        fleet_dir,
        progress=None if progress is None else lambda _store, done, total: progress("fleet", done, total),
    )
    timings["fleet"] = time.perf_counter() - t0

    echo(f"[2/5] federated training with TFF: {config.rounds} rounds x {config.clients_per_round} phones")
    t0 = time.perf_counter()
    fed = FederatedConfig(rounds=config.rounds, clients_per_round=config.clients_per_round, seed=config.seed)
    if (run_dir / RUN_FILE).exists():
        echo("      reusing the finished run")
    else:
        resume = (run_dir / "checkpoints" / "latest.json").exists()
        train_federated(Fleet(fleet_dir), run_dir, fed, resume=resume, progress=progress, log=echo)
    classifier, description, window = load_run(run_dir)
    timings["training"] = time.perf_counter() - t0

    echo(f"[3/5] evaluation on {len(fleet.phone_ids('test'))} held-out phones and the background streams")
    t0 = time.perf_counter()
    report_path = eval_dir / "report.json"
    if report_path.exists():
        report = json.loads(report_path.read_text())
    else:
        eval_dir.mkdir(parents=True, exist_ok=True)
        eval_config = EvalConfig(target_fa_per_hour=config.target_fa_per_hour)
        report = evaluate_fleet(KerasScorer(classifier, window), fleet, config=eval_config, progress=progress)
        with atomic_write(report_path, "w") as handle:
            json.dump(report, handle, indent=1)
        test = report["test"]
        save_det_plot(
            eval_dir / "det.png",
            {"federated": report["det_curve"]},
            points={"operating point": (test["fa_per_hour"], test["frr"])},
            target_fa_per_hour=config.target_fa_per_hour,
            title=f"{config.phrase!r}: {description['model']}, {config.rounds} federated rounds",
        )
    timings["evaluation"] = time.perf_counter() - t0

    tflite = config.out / "model-int8.tflite"
    echo(f"[4/5] int8 TFLite export (calibrated on server-synthesized audio) -> {tflite}")
    t0 = time.perf_counter()
    if tflite.exists():
        echo("      reusing the exported model")
    else:
        export_run(run_dir, tflite, config=ExportConfig(quantize="int8"), report=report_path, progress=echo)
    timings["export"] = time.perf_counter() - t0

    echo("[5/5] detection in a generated recording (a held-out voice says the phrase at known times)")
    detection = _detect_in_test_file(config, tflite)

    test = report["test"]
    hard = test["hard_negative_accept_rate"]
    summary = {
        "phrase": config.phrase,
        "phones (train / validation / held out)": (
            f"{len(fleet.training_ids())} / {len(fleet.validation_ids())} / {len(fleet.phone_ids('test'))}"
        ),
        "model": f"{description['model']} ({description['parameters']:,} parameters)",
        "federated rounds": len(description["history"]),
        f"FRR at {config.target_fa_per_hour:g} FA/h (threshold from validation)": f"{test['frr']:.1%}",
        "FA/h on held-out audio at that threshold": (
            f"{test['fa_per_hour']:.2f} over {test['negative_hours']:.2f} h"
        ),
        "hard negatives accepted (partial / sound-alike)": (
            f"{hard.get('partial', float('nan')):.1%} / {hard.get('soundalike', float('nan')):.1%}"
        ),
        "privacy": "FedAvg, mean aggregation: no differential privacy (epsilon = infinity)",
        "TFLite int8 model": (
            f"{tflite.stat().st_size / 1024:.0f} KB, {detection['ms_per_window']:.2f} ms per window "
            f"(1 thread), real-time factor {detection['real_time_factor']:.3f}"
        ),
        "detection in test recording": (
            f"{detection['found']} of {detection['phrases']} phrases found (start/end within "
            f"{TIMING_TOLERANCE_S} s), {detection['other']} other detections in {detection['seconds']:.0f} s"
        ),
        "DET plot": str(eval_dir / "det.png"),
        "wall time (fleet / training / evaluation / export)": (
            f"{timings['fleet']:.0f} s / {timings['training']:.0f} s / {timings['evaluation']:.0f} s / "
            f"{timings['export']:.0f} s (total {time.perf_counter() - started:.0f} s)"
        ),
    }
    echo("")
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        echo(f"  {key:<{width}}  {value}")
    with atomic_write(config.out / "summary.json", "w") as handle:
        json.dump({"summary": summary, "detection": detection}, handle, indent=1)
    return summary


def _detect_in_test_file(config: DemoConfig, tflite: Path) -> dict:
    """Stream a generated recording through the exported model; match detections to the phrases."""
    import numpy as np

    from data_tools.server_audio import phrase_stream
    from wakeword.audio import write_wav
    from wakeword.stream import StreamingDetector, TFLiteModel

    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 5]))
    stream = phrase_stream(config.phrase, occurrences=3, other_speech=4, split="test", rng=rng)
    wav = write_wav(config.out / "test-recording.wav", stream.audio)
    model = TFLiteModel(tflite)
    detector = StreamingDetector(model, model.detector_config())
    started = time.perf_counter()
    found = []
    for lo in range(0, stream.audio.size, 1600):
        found += detector.feed(stream.audio[lo : lo + 1600])
    found += detector.flush()
    rtf = (time.perf_counter() - started) / stream.seconds
    window = np.zeros(model.window_samples, np.float32)
    for _ in range(20):
        model(window)
    t0 = time.perf_counter()
    for _ in range(200):
        model(window)
    ms = (time.perf_counter() - t0) / 200 * 1000
    tol = TIMING_TOLERANCE_S
    matched = [
        any(abs(d.start_s - s) <= tol and abs(d.end_s - e) <= tol for d in found) for s, e in stream.spans
    ]
    other = [d for d in found if not any(abs(d.end_s - e) <= tol for _, e in stream.spans)]
    return {
        "file": str(wav),
        "seconds": stream.seconds,
        "phrases": len(stream.spans),
        "spans": stream.spans,
        "found": int(sum(matched)),
        "other": len(other),
        "detections": [d.to_dict() for d in found],
        "real_time_factor": rtf,
        "ms_per_window": ms,
    }
