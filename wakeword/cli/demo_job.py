"""The main job end to end on a small default fleet (``make demo`` / ``wakeword demo``).

1. synthesize a fleet of phones (``wakeword data synth``), 2. the default training recipe
(``wakeword train``): the server pre-trains on voices it synthesizes itself (cached across
runs), then the phones fine-tune its model in federated rounds with TFF, 3. evaluation on the
held-out phones (``wakeword eval``), 4. TFLite export (``wakeword export``), 5. detection
in a generated recording with the phrase at known times (``wakeword detect``), then a summary.
Every step reuses what an earlier run of the demo already built in the output folder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wakeword.errors import ParameterError
from wakeword.options import check_range, setting

TIMING_TOLERANCE_S = 0.3  # a detection matches a spoken phrase if start and end are this close


@dataclass(frozen=True)
class DemoConfig:
    """What ``wakeword demo`` runs."""

    out: Path = setting(Path("runs/demo"), doc="output folder: fleet, run and report (ignored by git)")
    phrase: str = setting("hey computer", doc="the wake phrase")
    devices: int = setting(24, doc="phones in the simulated fleet (20% held out)")
    # a third of the streams are validation negatives, which choose the threshold: 330 minutes give
    # the validation phones 2.1 h of negatives (the tail rule needs 2 h; 90 minutes gave 0.75 h,
    # where 0.5 FA/h allows no event) and the held-out ones 4.4 h (BENCHMARKS section 7, session 39)
    background_minutes: float = setting(330.0, doc="negative streams for false accepts per hour")
    rounds: int = setting(30, doc="federated fine-tuning rounds")
    clip_share: float = setting(
        1.0, doc="clips per phone as a share of a fleet's default (0.05-1; less: faster)"
    )
    # The default recipe's server (`wakeword train`'s): its model ships for "hey computer"
    # (orchestrator/server_models), so the demo's phase 1 is instant; another phrase makes its own
    # once per machine (about 21 minutes on 2 cores, docs/BENCHMARKS.md).
    server_voices: int = setting(122, doc="speakers the server synthesizes for its pre-training (cached)")
    server_clip_share: float = setting(1.0, doc="clips per server speaker as a share of a phone's")
    server_epochs: int = setting(20, doc="at most this many epochs of the server's pre-training")
    clients_per_round: int = 10  # phones per round
    # Gentle fine-tuning (a tenth of `wakeword train`'s server step): 17 synthetic phones pull the
    # model towards their voices and away from real people (docs/BENCHMARKS.md, section 7: 60
    # rounds at the full step found 3 of 10 real clips, these settings 7, the server's model 7).
    server_learning_rate: float = 3e-4
    target_fa_per_hour: float = 0.5  # operating point of the evaluation
    seed: int = 1
    # Kokoro sentences per style among other people talking (0: none; the fleet default, 5, costs
    # ~13 min of synthesis once per machine, more than the demo's budget)
    other_kokoro_texts: int = 0

    def __post_init__(self) -> None:
        from data_tools.fleet_config import MIN_CLIP_SHARE

        check_range("clip_share", self.clip_share, low=MIN_CLIP_SHARE, high=1)
        if self.devices < 3:
            raise ParameterError(
                f"`devices` must be at least 3 (training, validation and held-out phones), got {self.devices}"
            )


def run_demo(
    config: DemoConfig, *, progress: Callable | None = None, echo: Callable[[str], None] = print
) -> dict:
    """Run (or finish) the demo; returns the summary (also printed as a table)."""
    from wakeword.fileio import atomic_write

    started = time.perf_counter()
    timings = {}

    def step(name: str, work: Callable, *args):
        t0 = time.perf_counter()
        result = work(config, *args, progress=progress, echo=echo)
        timings[name] = time.perf_counter() - t0
        return result

    fleet = step("fleet", _make_fleet)
    description = step("training", _train, fleet)
    report, server_report = step("evaluation", _evaluate, fleet, description)
    tflite = step("export", _export)
    echo("[5/5] detection in a generated recording (a held-out voice says the phrase at known times)")
    detection = _detect_in_test_file(config, tflite)
    real = _real_clips(config, tflite)
    timings["total"] = time.perf_counter() - started
    summary = _summary(config, fleet, description, (report, server_report), tflite, detection, timings)
    summary["real recordings (Precise, one speaker)"] = _real_line(config, real)
    echo("")
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        echo(f"  {key:<{width}}  {value}")
    with atomic_write(config.out / "summary.json", "w") as handle:
        json.dump({"summary": summary, "detection": detection, "real_clips": real}, handle, indent=1)
    return summary


def _make_fleet(config: DemoConfig, *, progress: Callable | None, echo: Callable):
    from data_tools.fleet_config import clip_counts
    from data_tools.synth import FleetConfig, synth_fleet

    fleet_dir = config.out / "fleet"
    echo(f"[1/5] fleet: {config.devices} phones saying {config.phrase!r} -> {fleet_dir}")
    fleet_config = FleetConfig(
        phrase=config.phrase,
        devices=config.devices,
        seed=config.seed,
        background_minutes=config.background_minutes,
        other_kokoro_texts=config.other_kokoro_texts,
        **clip_counts(config.clip_share),
    )
    return synth_fleet(
        fleet_config,
        fleet_dir,
        progress=None if progress is None else lambda _store, done, total: progress("fleet", done, total),
    )


def _train(config: DemoConfig, fleet, *, progress: Callable | None, echo: Callable):
    from orchestrator.federated import FederatedConfig
    from orchestrator.pretraining import train_pretrained
    from orchestrator.run import RUN_FILE, read_description

    run_dir = config.out / "run"
    echo(
        f"[2/5] training: the server's model ({config.server_voices} voices of its own; shipped, cached "
        f"or made now), then {config.rounds} federated rounds x {config.clients_per_round} phones "
        "fine-tune (TFF)"
    )
    fed = FederatedConfig(
        rounds=config.rounds,
        clients_per_round=config.clients_per_round,
        server_learning_rate=config.server_learning_rate,
        seed=config.seed,
    )
    if (run_dir / RUN_FILE).exists():
        echo("      reusing the finished run")
    else:
        resume = (run_dir / "checkpoints" / "latest.json").exists()
        train_pretrained(
            fleet, run_dir, fed, pretrain_config(config), resume=resume, progress=progress, log=echo
        )
    return read_description(run_dir)


def pretrain_config(config: DemoConfig):
    """The demo's server settings as a :class:`~orchestrator.pretraining.PretrainConfig` (with
    DemoConfig's defaults it must equal PretrainConfig(), whose model ships: tested)."""
    from orchestrator.pretraining import PretrainConfig

    names = ("server_voices", "server_clip_share", "server_epochs")
    return PretrainConfig(**{name: getattr(config, name) for name in names})


def _evaluate(config: DemoConfig, fleet, description, *, progress: Callable | None, echo: Callable):
    """The trained model on the held-out phones, and the server's model alone (what fine-tuning added)."""
    from orchestrator.evaluation import EvalConfig
    from orchestrator.reports import evaluate_to

    echo(f"[3/5] evaluation on {len(fleet.phone_ids('test'))} held-out phones and the background streams")
    options = {
        "reuse": True,
        "progress": progress,
        "config": EvalConfig(target_fa_per_hour=config.target_fa_per_hour),
    }
    report = evaluate_to(
        config.out / "eval", config.out / "run", fleet, **options,
        title=f"{config.phrase!r}: {description.model}, {config.rounds} federated rounds",
    )  # fmt: skip
    server = None
    if description.phases and description.phases[0].get("kept"):
        server = report  # the run kept the server's model: the same model
    elif description.phases:
        server = evaluate_to(config.out / "eval-server", description.phases[0]["model"], fleet, **options)
    return report, server


def _export(config: DemoConfig, *, progress: Callable | None, echo: Callable) -> Path:
    from orchestrator.export import ExportConfig, export_run
    from orchestrator.reports import REPORT_FILE

    tflite = config.out / "model.tflite"
    echo(f"[4/5] TFLite export (checked on server-synthesized audio) -> {tflite}")
    if tflite.exists():
        echo("      reusing the exported model")
    else:
        report = config.out / "eval" / REPORT_FILE
        export_run(config.out / "run", tflite, config=ExportConfig(), report=report, log=echo)
    return tflite


def _summary(config: DemoConfig, fleet, description, reports, tflite, detection, timings) -> dict:
    """The demo's result table, one line per fact (``reports``: the model's, the server model's)."""
    from wakeword.tflite_format import read_metadata

    report, server = reports
    meta = read_metadata(tflite)
    test = report.test
    hard = test["hard_negative_accept_rate"]
    return {
        "phrase": config.phrase,
        "phones (train / validation / held out)": (
            f"{len(fleet.training_ids())} / {len(fleet.validation_ids())} / {len(fleet.phone_ids('test'))}"
        ),
        "model": f"{description.model} ({description.parameters:,} parameters)",
        **_phase_rows(description),
        "federated rounds": len(description.history),
        f"FRR at {config.target_fa_per_hour:g} FA/h (threshold from validation)": f"{test['frr']:.1%}",
        "FA/h on held-out audio at that threshold": (
            f"{test['fa_per_hour']:.2f} over {test['negative_hours']:.2f} h"
        ),
        "oracle FRR at 0.5 / 1 / 2 / 5 FA/h": _oracle(report),
        **({"the server's model alone, same phones": _server_line(description, server)} if server else {}),
        "hard negatives accepted (partial / sound-alike)": (
            f"{hard.get('partial', float('nan')):.1%} / {hard.get('soundalike', float('nan')):.1%}"
        ),
        "privacy": "FedAvg, mean aggregation: no differential privacy (epsilon = infinity)",
        "TFLite model": (
            f"{meta['quantize']}, {tflite.stat().st_size / 1024:.0f} KB, "
            f"{detection['ms_per_stride']:.2f} ms per {meta['window']['stride_ms']:g} ms "
            f"stride (1 thread), real-time factor {detection['real_time_factor']:.3f}"
        ),
        "detection in test recording": (
            f"{detection['found']} of {detection['phrases']} phrases found (start/end within "
            f"{TIMING_TOLERANCE_S} s), {detection['other']} other detections in {detection['seconds']:.0f} s"
        ),
        "DET plot": str(config.out / "eval" / "det.png"),
        "wall time (fleet / training / evaluation / export)": (
            f"{timings['fleet']:.0f} s / {timings['training']:.0f} s / {timings['evaluation']:.0f} s / "
            f"{timings['export']:.0f} s (total {timings['total']:.0f} s)"
        ),
    }


def _server_line(description, server) -> str:
    """The server model's held-out numbers, or that the run kept it (then the lines above are its)."""
    if description.phases[0].get("kept"):
        return "kept by the run (fewer validation phrases missed than after fine-tuning): as above"
    return _operating_point(server)


def _operating_point(report) -> str:
    test = report.test
    return f"{test['frr']:.1%} FRR at {test['fa_per_hour']:.2f} FA/h; oracle {_oracle(report)}"


def _oracle(report) -> str:
    """The held-out DET curve read at a few budgets (threshold chosen on the held-out data)."""
    points = report.test_oracle_by_budget
    return " / ".join(f"{points[b]['frr']:.1%}" for b in ("0.5", "1", "2", "5") if b in points)


def _real_clips(config: DemoConfig, tflite: Path) -> dict | None:
    """How many real recordings of the phrase (Precise, ``../shared/speech``) the exported model
    finds at its shipped threshold; None where there are none (never a failure)."""
    from data_tools import real_sets
    from wakeword.file_eval import score_files
    from wakeword.stream import TFLiteModel

    paths = real_sets.precise_clips(config.phrase)
    if not paths:
        return None
    model = TFLiteModel(tflite)
    scored = score_files(model, model.detector_config(), list(real_sets.load_clips(paths)))
    found = sum(1 for f in scored.files if f.detections)
    return {
        "clips": len(scored.files),
        "found": found,
        "missed": [f.name for f in scored.files if not f.detections],
    }


def _real_line(config: DemoConfig, real: dict | None) -> str:
    """The summary's line on the real recordings, or why there is none."""
    from data_tools.shared_data import ENV_VAR, shared_speech_dir

    if real is not None:
        return f"{real['found']} of {real['clips']} {config.phrase!r} clips found at the shipped threshold"
    shared = shared_speech_dir()
    if shared is None:
        return f"not counted: no shared/speech folder found (set {ENV_VAR} to it)"
    return f"not counted: {shared} holds no Precise recordings of {config.phrase!r}"


def _phase_rows(description) -> dict:
    """What each training phase took, the validation phones' federated loss after it, what its
    model misses on the validation phones at the threshold chosen for it there (counted by the
    phones in training, :mod:`orchestrator.phase_choice`), and which model the run kept."""
    target = (description.selection or {}).get("target_fa_per_hour")
    rows = {}
    for phase in description.phases or []:
        val = phase["validation"]
        after = f"validation loss {val['loss']:.4f}, " if "loss" in val else ""
        if "frr" in val:
            after += f"FRR {val['frr']:.1%} at {target:g} FA/h, "
        reused = " (cached model reused)" if phase.get("reused") else ""
        reused = " (the model shipped with wakeword)" if phase.get("shipped") else reused
        kept = ", kept" if phase.get("kept") and description.selection else ""
        rows[phase["phase"]] = f"{after}{phase['seconds']:.0f} s{reused}{kept}"
    return rows


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
        "ms_per_stride": ms,  # one model call: a stride of a streaming file, a window otherwise
    }
