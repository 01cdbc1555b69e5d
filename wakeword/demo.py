"""The main job end to end on a small default fleet (``make demo`` / ``wakeword demo``).

1. synthesize a fleet of phones (``wakeword data synth``), 2. federated training with TFF
(``wakeword train``), 3. evaluation on the held-out phones (``wakeword eval``), then a summary.
Every step reuses what an earlier run of the demo already built in the output folder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Steps of the full pipeline that later work adds, with the command that will run them.
STEPS_TO_COME = (
    ("int8 TFLite export", "wakeword export"),
    ("detection in a test file with the phrase at known times", "wakeword detect"),
)


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


def run_demo(
    config: DemoConfig, *, progress: Callable | None = None, echo: Callable[[str], None] = print
) -> dict:
    """Run (or finish) the demo; returns the summary (also printed as a table)."""
    from data_tools.fleet import Fleet
    from data_tools.synth import FleetConfig, synth_fleet
    from orchestrator.evaluation import EvalConfig, evaluate_fleet
    from orchestrator.federated import FederatedConfig, train_federated
    from orchestrator.run import RUN_FILE, load_run
    from wakeword.fileio import atomic_write
    from wakeword.plots import save_det_plot
    from wakeword.scoring import KerasScorer

    started = time.perf_counter()
    fleet_dir, run_dir, eval_dir = config.out / "fleet", config.out / "run", config.out / "eval"
    timings = {}

    echo(f"[1/3] fleet: {config.devices} phones saying {config.phrase!r} -> {fleet_dir}")
    t0 = time.perf_counter()
    fleet_config = FleetConfig(
        phrase=config.phrase,
        devices=config.devices,
        seed=config.seed,
        background_minutes=config.background_minutes,
    )
    fleet = synth_fleet(fleet_config, fleet_dir, progress=progress)
    timings["fleet"] = time.perf_counter() - t0

    echo(f"[2/3] federated training with TFF: {config.rounds} rounds x {config.clients_per_round} phones")
    t0 = time.perf_counter()
    fed = FederatedConfig(rounds=config.rounds, clients_per_round=config.clients_per_round, seed=config.seed)
    if (run_dir / RUN_FILE).exists():
        echo("      reusing the finished run")
    else:
        resume = (run_dir / "checkpoints" / "latest.json").exists()
        train_federated(Fleet(fleet_dir), run_dir, fed, resume=resume, progress=progress, log=echo)
    classifier, description, window = load_run(run_dir)
    timings["training"] = time.perf_counter() - t0

    echo(f"[3/3] evaluation on {len(fleet.phone_ids('test'))} held-out phones and the background streams")
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
        "DET plot": str(eval_dir / "det.png"),
        "wall time (fleet / training / evaluation)": (
            f"{timings['fleet']:.0f} s / {timings['training']:.0f} s / {timings['evaluation']:.0f} s "
            f"(total {time.perf_counter() - started:.0f} s)"
        ),
    }
    echo("")
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        echo(f"  {key:<{width}}  {value}")
    echo("")
    echo("Steps still to come (later issues complete the demo):")
    for what, command in STEPS_TO_COME:
        echo(f"  - {what}: `{command}`")
    return summary
